//! One function per resource kind: find it (by name, then its tags), adopt it
//! (fixing drift) or create it. `converge` is the dependency graph: the ECS
//! services of an earlier run are described first (one that is not ours, or
//! whose deployment controller no longer matches the spec, stops the run before
//! anything changes); log groups, task roles, security groups, the Cloud Map
//! namespace and the CodeDeploy role are independent; the groups are created
//! before their rules (callers name each other's groups); task definitions need
//! the roles and log groups; services need everything; a blue/green service's
//! CodeDeploy application and deployment group need the service. Independent
//! services run concurrently.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType, DesiredStatus, HealthCheck, KeyValuePair, LoadBalancer,
    LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, PortMapping, PropagateTags,
    Secret, Service, ServiceField, ServiceRegistry, TaskDefinition, TransportProtocol,
};
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsRecord, HealthCheckCustomConfig, NamespaceFilter, NamespaceFilterName,
    OperationStatus, OperationTargetType, RecordType, RoutingPolicy, ServiceFilter,
    ServiceFilterName,
};
use serde_json::{json, Value};

use common::ec2::{GroupSpec, Rule, Source};
use common::iam::{self, RoleOut};
use common::sections::{Alb, Cluster, Discovery, Network, ServiceOut, Services};
use common::{retry, try_join_all, AwsResultExt, Context, Error, Result};

use crate::codedeploy;
use crate::spec::{Plan, Planned};

/// The task role's inline policy.
const TASK_POLICY: &str = "service-permissions";
/// How long ECS may refuse a role IAM has just made.
const ROLE_PROPAGATION: Duration = Duration::from_secs(30);

pub(crate) struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sd: aws_sdk_servicediscovery::Client,
    pub cd: aws_sdk_codedeploy::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(ctx: &Context) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(&ctx.sdk),
            ec2: aws_sdk_ec2::Client::new(&ctx.sdk),
            iam: aws_sdk_iam::Client::new(&ctx.sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&ctx.sdk),
            sd: aws_sdk_servicediscovery::Client::new(&ctx.sdk),
            cd: aws_sdk_codedeploy::Client::new(&ctx.sdk),
            sts: aws_sdk_sts::Client::new(&ctx.sdk),
        }
    }
}

/// `/ecs/{stack}/{env}/{service}`.
pub fn log_group_name(ctx: &Context, service: &str) -> String {
    format!("{}{service}", log_group_prefix(ctx))
}

pub fn log_group_prefix(ctx: &Context) -> String {
    format!("/ecs/{}", ctx.path(""))
}

/// The component of a service's security group.
pub fn group_component(service: &str) -> String {
    format!("svc-{service}")
}

/// The component of a service's task role.
pub fn role_component(service: &str) -> String {
    format!("task-{service}")
}

fn built<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::Io(format!("internal: cannot build a request: {e}")))
}

/// Brings the services layer to the plan and describes it.
pub async fn converge(
    ctx: &Context,
    network: &Network,
    cluster: &Cluster,
    alb: Option<&Alb>,
    plan: &Plan,
) -> Result<(Services, Option<Discovery>)> {
    let c = Clients::new(ctx);
    let c = &c;
    let mut existing = existing_services(c, ctx, cluster, plan).await?;
    let blue_green = plan.services.iter().any(|s| s.blue_green.is_some());
    let (logs, roles, groups, namespace, deployer) = tokio::try_join!(
        try_join_all(
            plan.services
                .iter()
                .map(|s| ensure_log_group(c, ctx, cluster, s))
        ),
        try_join_all(
            plan.services
                .iter()
                .map(|s| ensure_task_role(c, ctx, cluster, s))
        ),
        ensure_groups(c, ctx, network, alb, plan),
        async {
            match &plan.namespace {
                Some(ns) => ensure_namespace(c, ctx, &network.vpc_id, ns)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        },
        async {
            if !blue_green {
                return Ok(None);
            }
            let (role, account) = tokio::try_join!(
                codedeploy::ensure_role(&c.iam, ctx),
                codedeploy::account_id(&c.sts)
            )?;
            Ok::<_, Error>(Some((role, account)))
        },
    )?;
    let outs = try_join_all(plan.services.iter().enumerate().map(|(i, s)| {
        let (log_group, role, group) = (&logs[i], &roles[i], &groups[&s.name]);
        let namespace = namespace.as_ref();
        let found = existing.remove(&s.name);
        let deployer = deployer.as_ref();
        async move {
            let discovery_arn = match (s.discovery_ttl, namespace) {
                (Some(ttl), Some(ns)) => {
                    Some(ensure_discovery_service(c, ctx, &ns.namespace_id, &s.name, ttl).await?)
                }
                _ => None,
            };
            let td = ensure_task_definition(c, ctx, cluster, s, role, log_group).await?;
            let svc = ensure_service(
                c,
                ctx,
                network,
                cluster,
                s,
                &td,
                group,
                discovery_arn.as_ref().map(|(arn, _)| arn.as_str()),
                found,
            )
            .await?;
            let codedeploy = match (&s.blue_green, deployer) {
                (Some(bg), Some((cd_role, account))) => {
                    let target = codedeploy::Deployed {
                        cluster: &cluster.name,
                        service: svc.service_name().unwrap_or_default(),
                        running: svc.task_definition(),
                        task_definition: &td,
                        subnets: &network.private_subnet_ids,
                        security_group: group,
                    };
                    Some(codedeploy::ensure(&c.cd, ctx, account, cd_role, s, bg, target).await?)
                }
                _ => None,
            };
            Ok::<_, Error>((
                s.name.clone(),
                ServiceOut {
                    service_name: svc.service_name().unwrap_or_default().to_owned(),
                    service_arn: svc.service_arn().unwrap_or_default().to_owned(),
                    task_definition_arn: td,
                    task_role_arn: role.arn.clone(),
                    security_group_id: group.clone(),
                    log_group: log_group.clone(),
                    discovery_service_arn: discovery_arn.map(|(arn, _)| arn),
                    image: s.image.clone(),
                    codedeploy,
                },
            ))
        }
    }))
    .await?;
    Ok((outs.into_iter().collect(), namespace))
}

// ---------------------------------------------------------------- log groups

async fn ensure_log_group(
    c: &Clients,
    ctx: &Context,
    cluster: &Cluster,
    s: &Planned,
) -> Result<String> {
    let name = log_group_name(ctx, &s.name);
    let kms = cluster.log_kms_key_arn.as_deref();
    let found = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
        .aws(format!("DescribeLogGroups {name}"))?;
    let existing = found
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()))
        .cloned();
    match existing {
        Some(g) => {
            let arn = log_group_arn(&g);
            let tags = log_group_tags(&c.logs, &arn).await?;
            if !ctx.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                return Err(Error::spec(format!(
                    "log group {name} exists but is not tagged for {}/{}: remove it or pick another stack name",
                    ctx.stack, ctx.env
                )));
            }
            ctx.report.adopted("log group", &name, &arn);
            if g.retention_in_days() != Some(s.log_retention_days) {
                put_retention(c, &name, s.log_retention_days).await?;
                ctx.report.updated(
                    "log group",
                    &name,
                    &format!("retention {} days", s.log_retention_days),
                );
            }
            if let Some(key) = kms {
                if g.kms_key_id() != Some(key) {
                    c.logs
                        .associate_kms_key()
                        .log_group_name(&name)
                        .kms_key_id(key)
                        .send()
                        .await
                        .aws(format!("AssociateKmsKey {name}"))?;
                    ctx.report.updated("log group", &name, "KMS key");
                }
            }
        }
        None => {
            let mut req = c
                .logs
                .create_log_group()
                .log_group_name(&name)
                .set_kms_key_id(kms.map(str::to_owned));
            for (k, v) in ctx.tags(&format!("logs-{}", s.name)) {
                req = req.tags(k, v);
            }
            match req.send().await.aws(format!("CreateLogGroup {name}")) {
                Ok(_) => {}
                // A concurrent run made it a moment ago: adopt on the next run's terms.
                Err(e) if e.aws_code() == Some("ResourceAlreadyExistsException") => {}
                Err(e) => return Err(e),
            }
            retry::after_create(&format!("PutRetentionPolicy {name}"), || {
                put_retention(c, &name, s.log_retention_days)
            })
            .await?;
            ctx.report.created("log group", &name, &name);
        }
    }
    Ok(name)
}

/// The log group's ARN without the `:*` DescribeLogGroups appends.
pub(crate) fn log_group_arn(g: &aws_sdk_cloudwatchlogs::types::LogGroup) -> String {
    g.log_group_arn()
        .map(str::to_owned)
        .or_else(|| {
            g.arn()
                .map(|a| a.strip_suffix(":*").unwrap_or(a).to_owned())
        })
        .unwrap_or_default()
}

pub(crate) async fn log_group_tags(
    logs: &aws_sdk_cloudwatchlogs::Client,
    arn: &str,
) -> Result<Vec<(String, String)>> {
    let out = logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .aws(format!("ListTagsForResource {arn}"))?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

async fn put_retention(c: &Clients, name: &str, days: i32) -> Result<()> {
    c.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map(|_| ())
        .aws(format!("PutRetentionPolicy {name}"))
}

// ---------------------------------------------------------------- task roles

async fn ensure_task_role(
    c: &Clients,
    ctx: &Context,
    cluster: &Cluster,
    s: &Planned,
) -> Result<RoleOut> {
    let role = iam::ensure_role(
        &c.iam,
        ctx,
        &role_component(&s.name),
        "ecs-tasks.amazonaws.com",
        &format!("Task role of {} (only its declared permissions)", s.name),
    )
    .await?;
    // The account is not needed in the ARN: the log group's name is ours.
    let log_group_arn = format!(
        "arn:{}:logs:{}:*:log-group:{}",
        iam::partition(&ctx.region),
        ctx.region,
        log_group_name(ctx, &s.name)
    );
    let policy = crate::spec::task_policy(
        s.policy.as_ref(),
        s.exec,
        &log_group_arn,
        cluster.log_kms_key_arn.as_deref(),
    );
    iam::ensure_inline_policy(&c.iam, ctx, &role, TASK_POLICY, policy.as_ref()).await?;
    Ok(role)
}

// ---------------------------------------------------------- security groups

/// Every service's group, by service name. Groups that do not exist yet are
/// created first with the rules whose peers already exist; then every group
/// gets its exact rules (a caller's group may be one of the new ones).
async fn ensure_groups(
    c: &Clients,
    ctx: &Context,
    network: &Network,
    alb: Option<&Alb>,
    plan: &Plan,
) -> Result<BTreeMap<String, String>> {
    let existing = try_join_all(plan.services.iter().map(|s| async move {
        let g = common::ec2::find_group(&c.ec2, ctx, &network.vpc_id, &group_component(&s.name))
            .await?;
        Ok::<_, Error>((
            s.name.clone(),
            g.and_then(|g| g.group_id().map(str::to_owned)),
        ))
    }))
    .await?;
    let known: BTreeMap<String, String> = existing
        .iter()
        .filter_map(|(n, id)| id.clone().map(|id| (n.clone(), id)))
        .collect();
    let missing: Vec<&Planned> = plan
        .services
        .iter()
        .filter(|s| !known.contains_key(&s.name))
        .collect();
    let created = try_join_all(missing.into_iter().map(|s| {
        let known = &known;
        async move {
            let id = ensure_group(c, ctx, network, alb, s, known).await?;
            Ok::<_, Error>((s.name.clone(), id))
        }
    }))
    .await?;
    let mut all = known.clone();
    all.extend(created);
    let all_ref = &all;
    try_join_all(
        plan.services
            .iter()
            .map(|s| ensure_group(c, ctx, network, alb, s, all_ref)),
    )
    .await?;
    Ok(all)
}

/// The service's port from the ALB's group (when routed) and from each
/// caller's group; nothing else. Egress stays AWS's default: tasks reach ECR,
/// Secrets Manager and CloudWatch Logs.
async fn ensure_group(
    c: &Clients,
    ctx: &Context,
    network: &Network,
    alb: Option<&Alb>,
    s: &Planned,
    groups: &BTreeMap<String, String>,
) -> Result<String> {
    let mut ingress = Vec::new();
    if let Some(port) = s.port {
        if let (Some(_), Some(alb)) = (&s.target_group_arn, alb) {
            ingress.push(Rule::tcp(
                port,
                Source::Group(alb.security_group_id.clone()),
                "from the ALB",
            ));
        }
        for caller in &s.callers {
            if let Some(id) = groups.get(caller) {
                ingress.push(Rule::tcp(
                    port,
                    Source::Group(id.clone()),
                    &format!("from {caller}"),
                ));
            }
        }
    }
    let component = group_component(&s.name);
    let description = format!("{}: in only from the ALB and its callers", s.name);
    common::ec2::ensure_group(
        &c.ec2,
        ctx,
        &GroupSpec {
            component: &component,
            description: &description,
            vpc_id: &network.vpc_id,
            ingress,
            egress: None,
        },
    )
    .await
}

// ---------------------------------------------------------------- Cloud Map

async fn ensure_namespace(
    c: &Clients,
    ctx: &Context,
    vpc_id: &str,
    name: &str,
) -> Result<Discovery> {
    if let Some(d) = find_namespace(&c.sd, ctx, name).await? {
        ctx.report.adopted("namespace", name, &d.namespace_id);
        return Ok(d);
    }
    let mut tags = Vec::new();
    for (k, v) in ctx.tags("namespace") {
        tags.push(built(
            aws_sdk_servicediscovery::types::Tag::builder()
                .key(k)
                .value(v)
                .build(),
        )?);
    }
    let op =
        c.sd.create_private_dns_namespace()
            .name(name)
            .vpc(vpc_id)
            .creator_request_id(ctx.token(&["namespace", name]))
            .description(format!("{}/{}: service discovery", ctx.stack, ctx.env))
            .set_tags(Some(tags))
            .send()
            .await
            .aws(format!("CreatePrivateDnsNamespace {name}"))?
            .operation_id()
            .unwrap_or_default()
            .to_owned();
    let id = wait_operation(&c.sd, &op, OperationTargetType::Namespace).await?;
    let ns =
        c.sd.get_namespace()
            .id(&id)
            .send()
            .await
            .aws(format!("GetNamespace {id}"))?;
    ctx.report.created("namespace", name, &id);
    Ok(Discovery {
        namespace_id: id,
        namespace_name: name.to_owned(),
        namespace_arn: ns
            .namespace()
            .and_then(|n| n.arn())
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Our private DNS namespace of that name (by its tags: names are only unique per VPC).
pub(crate) async fn find_namespace(
    sd: &aws_sdk_servicediscovery::Client,
    ctx: &Context,
    name: &str,
) -> Result<Option<Discovery>> {
    Ok(owned_namespaces(sd, ctx, Some(name))
        .await?
        .into_iter()
        .next())
}

/// Our private DNS namespaces (of that name, when given), by their tags.
pub(crate) async fn owned_namespaces(
    sd: &aws_sdk_servicediscovery::Client,
    ctx: &Context,
    name: Option<&str>,
) -> Result<Vec<Discovery>> {
    let filter = built(
        NamespaceFilter::builder()
            .name(NamespaceFilterName::Type)
            .values("DNS_PRIVATE")
            .build(),
    )?;
    let all = sd
        .list_namespaces()
        .filters(filter)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .aws("ListNamespaces")?;
    let all: Vec<_> = all.iter().flat_map(|p| p.namespaces()).collect();
    let mut mine = Vec::new();
    for n in all
        .into_iter()
        .filter(|n| name.is_none() || n.name() == name)
    {
        let arn = n.arn().unwrap_or_default();
        if ctx.owns(
            namespace_tags(sd, arn)
                .await?
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ) {
            mine.push(Discovery {
                namespace_id: n.id().unwrap_or_default().to_owned(),
                namespace_name: n.name().unwrap_or_default().to_owned(),
                namespace_arn: arn.to_owned(),
            });
        }
    }
    Ok(mine)
}

/// The Cloud Map services of a namespace. The namespace filter is AWS's; the
/// emulator ignores it (and answers every namespace's services), so each
/// service's namespace is confirmed: another stack's service of the same name
/// must never be adopted or deleted.
pub(crate) async fn namespace_services(
    sd: &aws_sdk_servicediscovery::Client,
    namespace_id: &str,
) -> Result<Vec<aws_sdk_servicediscovery::types::ServiceSummary>> {
    let filter = built(
        ServiceFilter::builder()
            .name(ServiceFilterName::NamespaceId)
            .values(namespace_id)
            .build(),
    )?;
    let pages = sd
        .list_services()
        .filters(filter)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .aws(format!("ListServices {namespace_id}"))?;
    let mut inside = Vec::new();
    for s in pages.iter().flat_map(|p| p.services()) {
        let id = s.id().unwrap_or_default();
        let out = match sd
            .get_service()
            .id(id)
            .send()
            .await
            .aws(format!("GetService (Cloud Map) {id}"))
        {
            Ok(out) => out,
            // Deleted between the listing and now.
            Err(e) if retry::is_not_found(&e) => continue,
            Err(e) => return Err(e),
        };
        if out.service().and_then(|s| s.namespace_id()) == Some(namespace_id) {
            inside.push(s.clone());
        }
    }
    Ok(inside)
}

async fn namespace_tags(
    sd: &aws_sdk_servicediscovery::Client,
    arn: &str,
) -> Result<Vec<(String, String)>> {
    let out = sd
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .aws(format!("ListTagsForResource {arn}"))?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

/// Polls a Cloud Map operation until it succeeds (bounded), returning its target id.
pub(crate) async fn wait_operation(
    sd: &aws_sdk_servicediscovery::Client,
    op: &str,
    target: OperationTargetType,
) -> Result<String> {
    retry::wait_for(
        &format!("Cloud Map operation {op}"),
        Duration::from_secs(300),
        Duration::from_secs(2),
        || async {
            let out = sd
                .get_operation()
                .operation_id(op)
                .send()
                .await
                .aws(format!("GetOperation {op}"))?;
            let Some(o) = out.operation() else {
                return Ok(None);
            };
            match o.status() {
                Some(OperationStatus::Success) => Ok(Some(
                    o.targets()
                        .and_then(|t| t.get(&target))
                        .cloned()
                        .unwrap_or_default(),
                )),
                Some(OperationStatus::Fail) => Err(Error::Aws(common::error::AwsError {
                    op: format!("Cloud Map operation {op}"),
                    code: o.error_code().map(str::to_owned),
                    message: o.error_message().unwrap_or("failed").to_owned(),
                    request_id: None,
                    transient: false,
                })),
                _ => Ok(None),
            }
        },
    )
    .await
}

/// The discovery service `{service}` in the namespace (A records, MULTIVALUE,
/// ECS-reported health). Returns its ARN and id.
async fn ensure_discovery_service(
    c: &Clients,
    ctx: &Context,
    namespace_id: &str,
    name: &str,
    ttl: i64,
) -> Result<(String, String)> {
    let all = namespace_services(&c.sd, namespace_id).await?;
    if let Some(s) = all.iter().find(|s| s.name() == Some(name)) {
        let (arn, id) = (
            s.arn().unwrap_or_default().to_owned(),
            s.id().unwrap_or_default().to_owned(),
        );
        ctx.report.adopted("discovery service", name, &id);
        let have_ttl = s
            .dns_config()
            .and_then(|d| d.dns_records().first())
            .map(|r| r.ttl());
        if have_ttl.is_some() && have_ttl != Some(ttl) {
            let record = built(DnsRecord::builder().r#type(RecordType::A).ttl(ttl).build())?;
            let change = aws_sdk_servicediscovery::types::ServiceChange::builder()
                .dns_config(built(
                    aws_sdk_servicediscovery::types::DnsConfigChange::builder()
                        .dns_records(record)
                        .build(),
                )?)
                .build();
            c.sd.update_service()
                .id(&id)
                .service(change)
                .send()
                .await
                .aws(format!("UpdateService (Cloud Map) {name}"))?;
            ctx.report
                .updated("discovery service", name, &format!("TTL {ttl}"));
        }
        return Ok((arn, id));
    }
    let record = built(DnsRecord::builder().r#type(RecordType::A).ttl(ttl).build())?;
    let dns = built(
        DnsConfig::builder()
            .routing_policy(RoutingPolicy::Multivalue)
            .dns_records(record)
            .build(),
    )?;
    let mut tags = Vec::new();
    for (k, v) in ctx.tags(&format!("discovery-{name}")) {
        tags.push(built(
            aws_sdk_servicediscovery::types::Tag::builder()
                .key(k)
                .value(v)
                .build(),
        )?);
    }
    let out =
        c.sd.create_service()
            .name(name)
            .namespace_id(namespace_id)
            .dns_config(dns)
            .health_check_custom_config(
                // FailureThreshold is fixed at 1 by Cloud Map (the field is deprecated).
                HealthCheckCustomConfig::builder().build(),
            )
            .creator_request_id(ctx.token(&["discovery", name]))
            .set_tags(Some(tags))
            .send()
            .await
            .aws(format!("CreateService (Cloud Map) {name}"))?;
    let s = out.service();
    let (arn, id) = (
        s.and_then(|s| s.arn()).unwrap_or_default().to_owned(),
        s.and_then(|s| s.id()).unwrap_or_default().to_owned(),
    );
    ctx.report.created("discovery service", name, &id);
    Ok((arn, id))
}

// --------------------------------------------------------- task definitions

/// What we set in a task definition, in one comparable form: built from the
/// plan for what we want, and from DescribeTaskDefinition for what is there.
pub(crate) fn shape(td: &TaskDefinition) -> Value {
    let c = td.container_definitions().first();
    let mut env: Vec<(String, String)> = c
        .map(|c| {
            c.environment()
                .iter()
                .map(|kv| {
                    (
                        kv.name().unwrap_or_default().to_owned(),
                        kv.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    env.sort();
    let mut secrets: Vec<(String, String)> = c
        .map(|c| {
            c.secrets()
                .iter()
                .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    secrets.sort();
    let ports: Vec<i32> = c
        .map(|c| {
            c.port_mappings()
                .iter()
                .filter_map(|p| p.container_port())
                .collect()
        })
        .unwrap_or_default();
    let health = c.and_then(|c| c.health_check()).map(|h| {
        json!({
            "command": h.command(),
            // ECS fills in its defaults; compare with them applied.
            "interval": h.interval().unwrap_or(30),
            "timeout": h.timeout().unwrap_or(5),
            "retries": h.retries().unwrap_or(3),
            "start_period": h.start_period().unwrap_or(0),
        })
    });
    let mut log_options: Vec<(String, String)> = c
        .and_then(|c| c.log_configuration())
        .and_then(|l| l.options())
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    log_options.sort();
    json!({
        "cpu": td.cpu(),
        "memory": td.memory(),
        "network_mode": td.network_mode().map(|m| m.as_str()),
        "compatibilities": td.requires_compatibilities().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "execution_role": td.execution_role_arn(),
        "task_role": td.task_role_arn(),
        "name": c.and_then(|c| c.name()),
        "image": c.and_then(|c| c.image()),
        "essential": c.and_then(|c| c.essential()).unwrap_or(true),
        "ports": ports,
        "environment": env,
        "secrets": secrets,
        "health": health,
        "stop_timeout": c.and_then(|c| c.stop_timeout()),
        "read_only": c.and_then(|c| c.readonly_root_filesystem()).unwrap_or(false),
        "log_driver": c.and_then(|c| c.log_configuration()).map(|l| l.log_driver().as_str()),
        "log_options": log_options,
    })
}

fn wanted_task_definition(
    ctx: &Context,
    cluster: &Cluster,
    s: &Planned,
    role: &RoleOut,
    log_group: &str,
) -> Result<TaskDefinition> {
    let mut container = ContainerDefinition::builder()
        .name(&s.name)
        .image(&s.image)
        .essential(true)
        .readonly_root_filesystem(s.read_only)
        .set_stop_timeout(s.stop_timeout)
        .log_configuration(built(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", log_group)
                .options("awslogs-region", &ctx.region)
                .options("awslogs-stream-prefix", &s.name)
                .build(),
        )?);
    if let Some(port) = s.port {
        container = container.port_mappings(
            PortMapping::builder()
                .container_port(i32::from(port))
                .protocol(TransportProtocol::Tcp)
                .build(),
        );
    }
    for (k, v) in &s.environment {
        container = container.environment(KeyValuePair::builder().name(k).value(v).build());
    }
    for (k, v) in &s.secrets {
        container = container.secrets(built(Secret::builder().name(k).value_from(v).build())?);
    }
    if let Some(h) = &s.health_check {
        container = container.health_check(built(
            HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .interval(h.interval.unwrap_or(30))
                .timeout(h.timeout.unwrap_or(5))
                .retries(h.retries.unwrap_or(3))
                .start_period(h.start_period.unwrap_or(0))
                .build(),
        )?);
    }
    Ok(TaskDefinition::builder()
        .family(ctx.name(&s.name))
        .cpu(s.cpu.to_string())
        .memory(s.memory.to_string())
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .execution_role_arn(&cluster.execution_role_arn)
        .task_role_arn(&role.arn)
        .container_definitions(container.build())
        .build())
}

/// IAM answers before ECS can use a new role: "unable to assume role" / "role is
/// not valid" for a few seconds.
fn is_role_not_ready(e: &Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    matches!(
        e.aws_code(),
        Some("InvalidParameterException" | "ClientException")
    ) && (text.contains("role") || text.contains("assume"))
}

async fn ensure_task_definition(
    c: &Clients,
    ctx: &Context,
    cluster: &Cluster,
    s: &Planned,
    role: &RoleOut,
    log_group: &str,
) -> Result<String> {
    let family = ctx.name(&s.name);
    let want = wanted_task_definition(ctx, cluster, s, role, log_group)?;
    // The latest ACTIVE revision of the family; none yet is ClientException.
    let have = match c
        .ecs
        .describe_task_definition()
        .task_definition(&family)
        .send()
        .await
        .aws(format!("DescribeTaskDefinition {family}"))
    {
        Ok(out) => out.task_definition().cloned(),
        Err(e) if matches!(e.aws_code(), Some("ClientException")) => None,
        Err(e) => return Err(e),
    };
    if let Some(have) = &have {
        if have.status().map(|s| s.as_str()) == Some("ACTIVE") && shape(have) == shape(&want) {
            let arn = have.task_definition_arn().unwrap_or_default().to_owned();
            ctx.report.adopted("task definition", &family, &arn);
            return Ok(arn);
        }
    }
    let tags: Vec<aws_sdk_ecs::types::Tag> = ctx
        .tags(&s.name)
        .into_iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect();
    let policy = retry::Policy {
        budget: ROLE_PROPAGATION,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(5),
    };
    let out = retry::retry(
        &format!("RegisterTaskDefinition {family}"),
        policy,
        is_role_not_ready,
        || async {
            c.ecs
                .register_task_definition()
                .family(&family)
                .set_cpu(want.cpu().map(str::to_owned))
                .set_memory(want.memory().map(str::to_owned))
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .set_execution_role_arn(want.execution_role_arn().map(str::to_owned))
                .set_task_role_arn(want.task_role_arn().map(str::to_owned))
                .set_container_definitions(Some(want.container_definitions().to_vec()))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .aws(format!("RegisterTaskDefinition {family}"))
        },
    )
    .await?;
    let arn = out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_owned();
    match have {
        Some(_) => ctx
            .report
            .updated("task definition", &family, &format!("new revision {arn}")),
        None => ctx.report.created("task definition", &family, &arn),
    }
    Ok(arn)
}

// ------------------------------------------------------------ ECS services

pub(crate) fn ecs_tags_owned(ctx: &Context, tags: &[aws_sdk_ecs::types::Tag]) -> bool {
    ctx.owns(
        tags.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )
}

fn network_configuration(network: &Network, group: &str) -> Result<NetworkConfiguration> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(built(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(network.private_subnet_ids.clone()))
                .security_groups(group)
                .assign_public_ip(AssignPublicIp::Disabled)
                .build(),
        )?)
        .build())
}

/// What drifted between the service and the plan, for UpdateService.
fn network_drift(svc: &Service, network: &Network, group: &str) -> bool {
    let Some(vpc) = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
    else {
        return true;
    };
    let mut subnets = vpc.subnets().to_vec();
    subnets.sort();
    let mut want = network.private_subnet_ids.clone();
    want.sort();
    subnets != want
        || vpc.security_groups() != [group.to_owned()]
        || vpc.assign_public_ip() != Some(&AssignPublicIp::Disabled)
}

/// The deployment controller a service needs: CodeDeploy for blue/green, else ECS.
fn controller(s: &Planned) -> DeploymentControllerType {
    if s.blue_green.is_some() {
        DeploymentControllerType::CodeDeploy
    } else {
        DeploymentControllerType::Ecs
    }
}

/// The planned services that exist already, by service name, described before
/// anything changes: one that is not ours, or whose deployment controller is
/// not the one the spec asks for (it is fixed when a service is created), stops
/// the run here. Describing first matters too because AWS refuses a second
/// CreateService of a name (the emulator silently replaces the service).
async fn existing_services(
    c: &Clients,
    ctx: &Context,
    cluster: &Cluster,
    plan: &Plan,
) -> Result<BTreeMap<String, Service>> {
    let names: Vec<String> = plan.services.iter().map(|s| ctx.name(&s.name)).collect();
    let mut described: BTreeMap<String, Service> = BTreeMap::new();
    // DescribeServices takes at most 10 services.
    for chunk in names.chunks(10) {
        let out = c
            .ecs
            .describe_services()
            .cluster(&cluster.name)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .aws(format!("DescribeServices {}", cluster.name))?;
        for svc in out
            .services()
            .iter()
            .filter(|x| x.status() == Some("ACTIVE"))
        {
            described.insert(
                svc.service_name().unwrap_or_default().to_owned(),
                svc.clone(),
            );
        }
    }
    let mut found = BTreeMap::new();
    for s in &plan.services {
        let name = ctx.name(&s.name);
        let Some(svc) = described.remove(&name) else {
            continue;
        };
        if !ecs_tags_owned(ctx, svc.tags()) {
            return Err(Error::spec(format!(
                "ECS service {name} exists in {} but is not tagged for {}/{}: left alone",
                cluster.name, ctx.stack, ctx.env
            )));
        }
        let have = svc
            .deployment_controller()
            .map_or(DeploymentControllerType::Ecs, |d| d.r#type().clone());
        let want = controller(s);
        if have != want {
            let asked = if s.blue_green.is_some() {
                "blue-green"
            } else {
                "rolling"
            };
            return Err(Error::spec(format!(
                "ECS service {name} was created with the {} deployment controller and spec.services.{}.deployment \
                 is now \"{asked}\" ({}): a service's controller cannot change, so it must be recreated: \
                 delete the ECS service (teardown, or aws ecs delete-service --force), then run svc-up again",
                have.as_str(),
                s.name,
                want.as_str()
            )));
        }
        found.insert(s.name.clone(), svc);
    }
    Ok(found)
}

/// The service in its cluster. A rolling service gets a changed task
/// definition through UpdateService; a blue/green one through CodeDeploy
/// (`codedeploy::ensure`, after this), since AWS refuses that update for it.
/// A scaled service's desired count is set only at creation: afterwards it is
/// Application Auto Scaling's, and a re-run must not undo its scaling.
#[allow(clippy::too_many_arguments)]
async fn ensure_service(
    c: &Clients,
    ctx: &Context,
    network: &Network,
    cluster: &Cluster,
    s: &Planned,
    task_definition: &str,
    group: &str,
    registry_arn: Option<&str>,
    existing: Option<Service>,
) -> Result<Service> {
    let name = ctx.name(&s.name);
    let network_config = network_configuration(network, group)?;
    if let Some(svc) = existing {
        let arn = svc.service_arn().unwrap_or_default().to_owned();
        ctx.report.adopted("ecs service", &name, &arn);
        let mut what = Vec::new();
        let mut req = c.ecs.update_service().cluster(&cluster.name).service(&name);
        if s.blue_green.is_none() && svc.task_definition() != Some(task_definition) {
            what.push("task definition");
            req = req.task_definition(task_definition);
        }
        let count = i32::try_from(s.desired_count).unwrap_or(i32::MAX);
        if !s.scaled && svc.desired_count() != count {
            what.push("desired count");
            req = req.desired_count(count);
        }
        if svc.enable_execute_command() != s.exec {
            what.push("ECS Exec");
            req = req.enable_execute_command(s.exec);
        }
        if network_drift(&svc, network, group) {
            if s.blue_green.is_some() {
                // AWS refuses it for a CODE_DEPLOY service; the AppSpec of every
                // deployment carries the network.
                tracing::warn!(
                    "the network of blue/green service {name} drifted: its next deployment (a new task definition) applies it"
                );
            } else {
                what.push("network");
                req = req.network_configuration(network_config);
            }
        }
        if what.is_empty() {
            return Ok(svc);
        }
        let out = req.send().await.aws(format!("UpdateService {name}"))?;
        ctx.report.updated("ecs service", &name, &what.join(", "));
        return Ok(out.service().cloned().unwrap_or(svc));
    }

    let tags: Vec<aws_sdk_ecs::types::Tag> = ctx
        .tags(&s.name)
        .into_iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect();
    let mut deployment = DeploymentConfiguration::builder()
        .minimum_healthy_percent(100)
        .maximum_percent(200);
    // The circuit breaker is the ECS controller's; AWS rejects it with CODE_DEPLOY,
    // where CodeDeploy's automatic rollback does that job.
    if s.blue_green.is_none() {
        deployment = deployment.deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        );
    }
    let deployment = deployment.build();
    let deployment_controller = built(
        DeploymentController::builder()
            .r#type(controller(s))
            .build(),
    )?;
    let load_balancers: Vec<LoadBalancer> = match (&s.target_group_arn, s.port) {
        (Some(tg), Some(port)) => vec![LoadBalancer::builder()
            .target_group_arn(tg)
            .container_name(&s.name)
            .container_port(i32::from(port))
            .build()],
        _ => vec![],
    };
    let registries: Vec<ServiceRegistry> = registry_arn
        .map(|arn| ServiceRegistry::builder().registry_arn(arn).build())
        .into_iter()
        .collect();
    let policy = retry::Policy {
        budget: ROLE_PROPAGATION,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(5),
    };
    let out = retry::retry(
        &format!("CreateService {name}"),
        policy,
        is_role_not_ready,
        || async {
            c.ecs
                .create_service()
                .cluster(&cluster.name)
                .service_name(&name)
                .task_definition(task_definition)
                .desired_count(i32::try_from(s.desired_count).unwrap_or(i32::MAX))
                // No launch type and no strategy: the cluster's default strategy applies.
                .network_configuration(network_config.clone())
                .deployment_configuration(deployment.clone())
                .deployment_controller(deployment_controller.clone())
                .set_health_check_grace_period_seconds((!load_balancers.is_empty()).then_some(60))
                .set_load_balancers(Some(load_balancers.clone()))
                .set_service_registries(Some(registries.clone()))
                .enable_execute_command(s.exec)
                .propagate_tags(PropagateTags::Service)
                .set_tags(Some(tags.clone()))
                .client_token(ctx.token(&["service", &s.name]))
                .send()
                .await
                .aws(format!("CreateService {name}"))
        },
    )
    .await?;
    let svc = out
        .service()
        .cloned()
        .ok_or_else(|| Error::Io(format!("CreateService {name} returned no service")))?;
    ctx.report
        .created("ecs service", &name, svc.service_arn().unwrap_or_default());
    Ok(svc)
}

// ------------------------------------------------------------------ --wait

/// Waits for steady state; on failure names why the stopped tasks stopped.
pub async fn wait_stable(
    ctx: &Context,
    cluster: &str,
    services: &Services,
    max: Duration,
) -> Result<()> {
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let names: Vec<String> = services.values().map(|s| s.service_name.clone()).collect();
    let mut failed = Vec::new();
    // DescribeServices takes at most 10 services.
    for chunk in names.chunks(10) {
        let r = ecs
            .wait_until_services_stable()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .wait(max)
            .await;
        if r.is_err() {
            failed.extend(chunk.iter().cloned());
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let mut reasons = Vec::new();
    for name in &failed {
        let tasks = ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(name)
            .desired_status(DesiredStatus::Stopped)
            .send()
            .await
            .aws(format!("ListTasks {name}"))?;
        if tasks.task_arns().is_empty() {
            continue;
        }
        let described = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(tasks.task_arns().iter().take(100).cloned().collect()))
            .send()
            .await
            .aws(format!("DescribeTasks {name}"))?;
        for t in described.tasks() {
            if let Some(r) = t.stopped_reason() {
                let r = format!("{name}: {r}");
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
        }
    }
    let why = if reasons.is_empty() {
        String::from("no stopped tasks")
    } else {
        format!("stopped tasks: {}", reasons.join("; "))
    };
    Err(Error::Timeout {
        what: format!(
            "services {} to become stable ({why}); see the ECS console or aws ecs describe-services",
            failed.join(", ")
        ),
        secs: max.as_secs(),
    })
}
