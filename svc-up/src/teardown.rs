//! Removing the services layer: discovery by name and tag (and from the
//! document), then deletion in dependency order: CodeDeploy first (running
//! deployments stopped, deployment groups, applications: a group names its ECS
//! service), ECS services (scaled to 0, deleted, waited inactive so their ENIs
//! and registrations go), Cloud Map services then the namespace, task
//! definitions, log groups, task roles and the CodeDeploy role, and last the
//! security groups (references between them revoked first).

use std::time::Duration;

use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::types::{ServiceField, TaskDefinitionStatus};
use aws_sdk_servicediscovery::types::OperationTargetType;

use common::plan::{Leftovers, Step};
use common::sections::{Discovery, Services};
use common::{iam, naming, retry, AwsResultExt, Context, Error, Result};

use crate::codedeploy;
pub use crate::codedeploy::FoundApplication;
use crate::converge::{
    self, ecs_tags_owned, log_group_arn, log_group_prefix, log_group_tags, namespace_services,
    owned_namespaces, wait_operation,
};

const SECTION: &str = "services";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundItem {
    pub id: String,
    pub name: String,
}

/// Everything of the services layer that belongs to this stack and env.
#[derive(Debug, Default)]
pub struct Found {
    pub cluster: String,
    /// Blue/green services' CodeDeploy applications, with their groups.
    pub codedeploy: Vec<FoundApplication>,
    pub services: Vec<FoundItem>,
    pub discovery_services: Vec<FoundItem>,
    pub namespaces: Vec<FoundItem>,
    pub task_definitions: Vec<FoundItem>,
    pub log_groups: Vec<FoundItem>,
    pub roles: Vec<FoundItem>,
    pub groups: Vec<FoundItem>,
}

pub async fn discover(
    ctx: &Context,
    services: Option<&Services>,
    discovery: Option<&Discovery>,
) -> Result<Found> {
    let c = converge::Clients::new(ctx);
    let cluster = ctx.name("cluster");
    let mut found = Found {
        cluster: cluster.clone(),
        ..Found::default()
    };

    // ECS services of the cluster, tagged ours.
    let arns = match c
        .ecs
        .list_services()
        .cluster(&cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("ListServices {cluster}"))
    {
        Ok(a) => a,
        Err(e) if e.aws_code() == Some("ClusterNotFoundException") => vec![],
        Err(e) => return Err(e),
    };
    for chunk in arns.chunks(10) {
        let out = c
            .ecs
            .describe_services()
            .cluster(&cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .aws(format!("DescribeServices {cluster}"))?;
        for s in out.services() {
            if s.status() != Some("INACTIVE") && ecs_tags_owned(ctx, s.tags()) {
                found.services.push(FoundItem {
                    id: s.service_arn().unwrap_or_default().to_owned(),
                    name: s.service_name().unwrap_or_default().to_owned(),
                });
            }
        }
    }

    // CodeDeploy applications `{stack}-{service}-{env}`, tagged ours.
    let documented: Vec<String> = services
        .map(|s| {
            s.values()
                .filter_map(|o| o.codedeploy.as_ref().map(|d| d.application.clone()))
                .collect()
        })
        .unwrap_or_default();
    found.codedeploy = codedeploy::discover(&c.cd, &c.sts, ctx, &documented).await?;

    // Namespaces tagged ours, whatever their name (`spec.discovery.namespace`
    // may have named it), with their services.
    let namespaces = owned_namespaces(&c.sd, ctx, None).await?;
    if let Some(d) = discovery {
        if !namespaces.iter().any(|n| n.namespace_id == d.namespace_id) {
            tracing::warn!(
                "the document's namespace {} is gone or not tagged for {}/{}: left alone",
                d.namespace_name,
                ctx.stack,
                ctx.env
            );
        }
    }
    for ns in namespaces {
        for s in namespace_services(&c.sd, &ns.namespace_id).await? {
            found.discovery_services.push(FoundItem {
                id: s.id().unwrap_or_default().to_owned(),
                name: s.name().unwrap_or_default().to_owned(),
            });
        }
        found.namespaces.push(FoundItem {
            id: ns.namespace_id,
            name: ns.namespace_name,
        });
    }

    // Task definitions of our families: `{stack}-{service}-{env}`.
    let mut names: Vec<String> = services
        .map(|s| s.values().map(|o| o.service_name.clone()).collect())
        .unwrap_or_default();
    names.extend(found.services.iter().map(|s| s.name.clone()));
    let tds = c
        .ecs
        .list_task_definitions()
        .status(TaskDefinitionStatus::Active)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("ListTaskDefinitions")?;
    for arn in tds {
        let family = arn
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once(':'))
            .map(|(f, _)| f.to_owned())
            .unwrap_or_default();
        // familyPrefix is a whole family name in AWS: list all and filter here.
        if naming::component_in(&family, &ctx.stack, &ctx.env).is_none() {
            continue;
        }
        let tags = c
            .ecs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .aws(format!("ListTagsForResource {arn}"))?;
        if ecs_tags_owned(ctx, tags.tags()) || names.contains(&family) {
            found.task_definitions.push(FoundItem {
                id: arn.clone(),
                name: family,
            });
        }
    }

    // Log groups under `/ecs/{stack}/{env}/`, tagged ours.
    let prefix = log_group_prefix(ctx);
    let groups = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("DescribeLogGroups {prefix}"))?;
    for g in groups {
        let arn = log_group_arn(&g);
        let tags = log_group_tags(&c.logs, &arn).await?;
        if ctx.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            found.log_groups.push(FoundItem {
                id: arn,
                name: g.log_group_name().unwrap_or_default().to_owned(),
            });
        }
    }

    // Task roles `{stack}--task-*` and the CodeDeploy role.
    let role_prefix = naming::name_prefix(&ctx.stack) + "task-";
    let codedeploy_role = iam::role_name(ctx, codedeploy::ROLE_COMPONENT);
    for r in iam::owned_roles(&c.iam, ctx).await? {
        if r.role_name().starts_with(&role_prefix) || r.role_name() == codedeploy_role {
            found.roles.push(FoundItem {
                id: r.arn().to_owned(),
                name: r.role_name().to_owned(),
            });
        }
    }

    // Security groups of components `svc-*`.
    let sgs = c
        .ec2
        .describe_security_groups()
        .set_filters(Some(common::ec2::owner_filters(ctx)))
        .send()
        .await
        .aws("DescribeSecurityGroups")?;
    for g in sgs.security_groups() {
        if common::ec2::owned(ctx, g.tags())
            && common::ec2::component(g.tags()).is_some_and(|c| c.starts_with("svc-"))
        {
            found.groups.push(FoundItem {
                id: g.group_id().unwrap_or_default().to_owned(),
                name: g.group_name().unwrap_or_default().to_owned(),
            });
        }
    }
    Ok(found)
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.codedeploy.is_empty()
            && self.services.is_empty()
            && self.discovery_services.is_empty()
            && self.namespaces.is_empty()
            && self.task_definitions.is_empty()
            && self.log_groups.is_empty()
            && self.roles.is_empty()
            && self.groups.is_empty()
    }

    /// The deletions, in order.
    pub fn steps(&self, _ctx: &Context) -> Vec<Step> {
        let step = |kind: &'static str| {
            move |i: &FoundItem| Step {
                layer: SECTION,
                kind,
                id: i.id.clone(),
                name: i.name.clone(),
            }
        };
        let mut steps = Vec::new();
        for app in &self.codedeploy {
            steps.extend(app.active_deployments.iter().map(|id| Step {
                layer: SECTION,
                kind: "codedeploy deployment (stop)",
                id: id.clone(),
                name: app.name.clone(),
            }));
            steps.extend(app.groups.iter().map(|g| Step {
                layer: SECTION,
                kind: "codedeploy deployment group",
                id: format!("{}/{g}", app.name),
                name: g.clone(),
            }));
            steps.push(Step {
                layer: SECTION,
                kind: "codedeploy application",
                id: app.name.clone(),
                name: app.name.clone(),
            });
        }
        steps.extend(self.services.iter().map(step("ecs service")));
        steps.extend(
            self.discovery_services
                .iter()
                .map(step("discovery service")),
        );
        steps.extend(self.namespaces.iter().map(step("namespace")));
        steps.extend(self.task_definitions.iter().map(step("task definition")));
        steps.extend(self.log_groups.iter().map(step("log group")));
        steps.extend(self.roles.iter().map(step("iam role")));
        steps.extend(self.groups.iter().map(step("security group")));
        steps
    }

    /// Deletes everything found; what fails is recorded in `left`.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        let c = converge::Clients::new(ctx);
        let c = &c;
        let report = &ctx.report;
        let cluster = self.cluster.as_str();

        // 0. CodeDeploy: a deployment group names its ECS service (and a running
        //    deployment would start tasks of it).
        common::join_all(self.codedeploy.iter().map(|app| async move {
            left.attempt(
                "codedeploy application",
                &app.name,
                codedeploy::destroy(&c.cd, ctx, app),
            )
            .await;
        }))
        .await;

        // 1. ECS services: their tasks hold ENIs in our groups and Cloud Map instances.
        common::join_all(self.services.iter().map(|s| async move {
            if left
                .attempt("ecs service", &s.name, delete_service(c, cluster, &s.name))
                .await
            {
                report.deleted("ecs service", &s.name);
            }
        }))
        .await;

        // 2. Cloud Map: instances, services, then the namespace.
        for s in &self.discovery_services {
            if left
                .attempt(
                    "discovery service",
                    &s.name,
                    delete_discovery_service(c, &s.id),
                )
                .await
            {
                report.deleted("discovery service", &s.name);
            }
        }
        for n in &self.namespaces {
            if left
                .attempt("namespace", &n.name, delete_namespace(c, &n.id))
                .await
            {
                report.deleted("namespace", &n.name);
            }
        }

        // 3. Task definitions, log groups and roles are independent.
        let tds = common::join_all(self.task_definitions.iter().map(|t| async move {
            let fut = async {
                c.ecs
                    .deregister_task_definition()
                    .task_definition(&t.id)
                    .send()
                    .await
                    .map(|_| ())
                    .aws(format!("DeregisterTaskDefinition {}", t.id))
            };
            if left.attempt("task definition", &t.id, fut).await {
                report.deleted("task definition", &t.id);
            }
        }));
        let logs = common::join_all(self.log_groups.iter().map(|g| async move {
            let what = format!("DeleteLogGroup {}", g.name);
            let fut = retry::delete(&what, || async {
                c.logs
                    .delete_log_group()
                    .log_group_name(&g.name)
                    .send()
                    .await
                    .map(|_| ())
                    .aws(format!("DeleteLogGroup {}", g.name))
            });
            if left.attempt("log group", &g.name, fut).await {
                report.deleted("log group", &g.name);
            }
        }));
        let roles = common::join_all(self.roles.iter().map(|r| async move {
            if left
                .attempt("iam role", &r.name, iam::delete_role(&c.iam, &r.name))
                .await
            {
                report.deleted("iam role", &r.name);
            }
        }));
        tokio::join!(tds, logs, roles);

        // 4. Security groups: references between them first, then the groups.
        if !self.groups.is_empty() {
            let ids: Vec<String> = self.groups.iter().map(|g| g.id.clone()).collect();
            match c
                .ec2
                .describe_security_groups()
                .set_group_ids(Some(ids))
                .send()
                .await
                .aws("DescribeSecurityGroups")
            {
                Ok(out) => {
                    for g in out.security_groups() {
                        let name = g.group_name().unwrap_or_default();
                        left.attempt(
                            "security group rules",
                            name,
                            common::ec2::revoke_group_references(&c.ec2, g),
                        )
                        .await;
                    }
                }
                Err(e) => tracing::warn!("cannot read the service groups' rules: {e}"),
            }
            common::join_all(self.groups.iter().map(|g| async move {
                if left
                    .attempt(
                        "security group",
                        &g.name,
                        common::ec2::delete_group(&c.ec2, &g.id),
                    )
                    .await
                {
                    report.deleted("security group", &g.name);
                }
            }))
            .await;
        }
    }
}

/// Scales to 0, deletes (force), and waits until the service is inactive.
async fn delete_service(c: &converge::Clients, cluster: &str, name: &str) -> Result<()> {
    match c
        .ecs
        .update_service()
        .cluster(cluster)
        .service(name)
        .desired_count(0)
        .send()
        .await
        .aws(format!("UpdateService {name}"))
    {
        Ok(_) => {}
        Err(e) if retry::is_not_found(&e) || e.aws_code() == Some("ServiceNotActiveException") => {
            return Ok(())
        }
        Err(e) => return Err(e),
    }
    c.ecs
        .delete_service()
        .cluster(cluster)
        .service(name)
        .force(true)
        .send()
        .await
        .aws(format!("DeleteService {name}"))?;
    c.ecs
        .wait_until_services_inactive()
        .cluster(cluster)
        .services(name)
        .wait(Duration::from_secs(600))
        .await
        .map_err(|e| Error::Timeout {
            what: format!("ECS service {name} to become inactive ({e})"),
            secs: 600,
        })?;
    Ok(())
}

async fn delete_discovery_service(c: &converge::Clients, id: &str) -> Result<()> {
    // Instances ECS registered (it deregisters them as tasks stop; a leftover blocks the delete).
    let instances = match c
        .sd
        .list_instances()
        .service_id(id)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .aws(format!("ListInstances {id}"))
    {
        Ok(pages) => pages
            .iter()
            .flat_map(|p| p.instances().to_vec())
            .collect::<Vec<_>>(),
        Err(e) if retry::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for i in instances {
        let iid = i.id().unwrap_or_default().to_owned();
        let op =
            c.sd.deregister_instance()
                .service_id(id)
                .instance_id(&iid)
                .send()
                .await
                .aws(format!("DeregisterInstance {iid}"))?;
        if let Some(op) = op.operation_id() {
            wait_operation(&c.sd, op, OperationTargetType::Instance).await?;
        }
    }
    retry::delete(&format!("DeleteService (Cloud Map) {id}"), || async {
        c.sd.delete_service()
            .id(id)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteService (Cloud Map) {id}"))
    })
    .await
}

async fn delete_namespace(c: &converge::Clients, id: &str) -> Result<()> {
    let out = match c
        .sd
        .delete_namespace()
        .id(id)
        .send()
        .await
        .aws(format!("DeleteNamespace {id}"))
    {
        Ok(o) => o,
        Err(e) if retry::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some(op) = out.operation_id() {
        wait_operation(&c.sd, op, OperationTargetType::Namespace).await?;
    }
    Ok(())
}

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct ServicesLayer;

pub static LAYER: ServicesLayer = ServicesLayer;

impl common::layer::Layer for ServicesLayer {
    fn tool(&self) -> &'static str {
        "svc-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["services", "discovery"]
    }

    fn check(&self, doc: &common::Document) -> Result<()> {
        doc.layer::<Services>("services")?;
        doc.layer::<Discovery>("discovery").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a common::Document,
        _mismatches: &'a common::owner::Mismatches,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn common::layer::Owned>>> {
        Box::pin(async move {
            let services: Option<Services> = doc.layer("services")?;
            let discovery: Option<Discovery> = doc.layer("discovery")?;
            Ok(
                Box::new(discover(ctx, services.as_ref(), discovery.as_ref()).await?)
                    as Box<dyn common::layer::Owned>,
            )
        })
    }
}

impl common::layer::Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<common::plan::Change> {
        self.steps(ctx).iter().map(|s| s.change("svc-up")).collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: common::layer::TeardownOptions,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(Found::delete_all(*self, ctx, left))
    }
}
