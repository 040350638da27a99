//! Discovery: what the layer finds in AWS, read only, batched, every kind at
//! once. One call per kind where the API allows (groups by tag filter, ECS
//! services 10 per DescribeServices, log groups by prefix, roles and
//! applications and namespaces each listed once), then the per-resource reads
//! AWS has no batch for (a log group's, role's or Cloud Map resource's tags,
//! a role's policies, a family's latest task definition).
//!
//! The document's ids are hints: each one discovery did not find as ours is
//! looked up and, when its tags name another stack or env, noted in
//! `Mismatches`, and the run is refused before any change. The same holds for
//! what the layer hangs its resources on: the cluster, its execution role, the
//! private subnets, the ALB's target groups.

use std::collections::BTreeMap;

use common::owner::Mismatches;
use common::plan::is_planned;
use common::sections::Services;
use common::{AwsResultExt, Context, Result};

use crate::aws::Clients;
use crate::desired::Desired;
use crate::names::{self, pairs, Tags};
use crate::{cloudmap, codedeploy, ecs, groups, logs, roles, taskdefs};

/// Everything of the layer discovery found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actual {
    /// Log groups under `/ecs/{stack}/{env}/`, by name.
    pub logs: BTreeMap<String, logs::Have>,
    /// Roles by name: the wanted ones that exist, and the stack's candidates.
    pub roles: BTreeMap<String, roles::Have>,
    /// Security groups of this stack and env in the VPC (every component).
    pub groups: Vec<groups::Have>,
    /// Namespaces that may be ours, with their tags.
    pub namespaces: Vec<cloudmap::Namespace>,
    /// Cloud Map services in our namespaces.
    pub discovery: Vec<cloudmap::Service>,
    /// The latest ACTIVE revision of each wanted family.
    pub taskdefs: BTreeMap<String, taskdefs::Have>,
    /// Every revision of this stack's families that no wanted service has.
    pub stale_revisions: Vec<taskdefs::Revision>,
    /// The cluster's services.
    pub services: Vec<ecs::Have>,
    /// CodeDeploy applications named like ours.
    pub codedeploy: Vec<codedeploy::Have>,
}

impl Actual {
    /// Whether discovery found anything of the layer.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
            && self.roles.is_empty()
            && self.namespaces.is_empty()
            && self.stale_revisions.is_empty()
            && self.taskdefs.is_empty()
            && self.services.is_empty()
            && self.codedeploy.is_empty()
    }
}

/// What discovery looks for besides the desired state: the document's ids.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub services: Option<Services>,
    pub namespace_id: Option<String>,
}

/// Discovers the layer for `d`. Upstream layers a `--plan` run has not made
/// yet hold nothing: they are not read.
pub async fn discover(
    c: &Clients,
    ctx: &Context,
    d: &Desired,
    hints: &Hints,
    m: &Mismatches,
) -> Result<Actual> {
    let families: Vec<String> = d.services.iter().map(|s| ctx.name(&s.name)).collect();
    let role_names = wanted_roles(ctx, d);
    let mut namespace_names: Vec<String> = d.namespace.iter().cloned().collect();
    namespace_names.push(common::spec::DiscoverySpec::default().namespace(&ctx.stack, &ctx.env));
    let namespace_ids: Vec<String> = hints.namespace_id.iter().cloned().collect();
    let (logs, roles, groups, namespaces, taskdefs, stale, services, codedeploy) = tokio::try_join!(
        logs::discover(c, ctx),
        roles::discover(c, ctx, &role_names),
        async {
            if d.planned.network {
                return Ok(vec![]);
            }
            groups::discover(c, ctx, Some(&d.vpc_id)).await
        },
        cloudmap::namespaces(c, ctx, &namespace_names, &namespace_ids),
        taskdefs::latest(c, &families),
        taskdefs::stale(c, ctx, &families),
        async {
            if d.planned.cluster {
                return Ok(vec![]);
            }
            ecs::discover(c, &d.cluster).await
        },
        applications(c, ctx, d),
    )?;
    let discovery = discovered(c, ctx, &namespaces).await?;
    let actual = Actual {
        logs,
        roles,
        groups,
        namespaces,
        discovery,
        taskdefs,
        stale_revisions: stale,
        services,
        codedeploy,
    };
    tokio::try_join!(
        hinted(c, ctx, &d.cluster, hints, &actual, m),
        upstream(c, ctx, d, &actual, m)
    )?;
    Ok(actual)
}

fn wanted_roles(ctx: &Context, d: &Desired) -> Vec<String> {
    let mut out: Vec<String> = d
        .services
        .iter()
        .map(|s| common::iam::role_name(ctx, &names::role_component(&s.name)))
        .collect();
    if d.blue_green() {
        out.push(common::iam::role_name(ctx, names::CODEDEPLOY_ROLE));
    }
    out
}

/// The Cloud Map services of our namespaces.
pub async fn discovered(
    c: &Clients,
    ctx: &Context,
    namespaces: &[cloudmap::Namespace],
) -> Result<Vec<cloudmap::Service>> {
    let mine = cloudmap::owned(ctx, namespaces)?;
    let all = common::try_join_all(mine.iter().map(|n| cloudmap::services(c, &n.id))).await?;
    Ok(all.into_iter().flatten().collect())
}

/// The CodeDeploy applications named like ours, with their groups and
/// deployments. Their ARNs hold the account: the cluster's, or STS's.
async fn applications(c: &Clients, ctx: &Context, d: &Desired) -> Result<Vec<codedeploy::Have>> {
    let wanted: Vec<String> = d
        .services
        .iter()
        .filter(|s| s.blue_green.is_some())
        .map(|s| ctx.name(&s.name))
        .collect();
    let names = codedeploy::candidates(c, ctx, &wanted).await?;
    if names.is_empty() {
        return Ok(vec![]);
    }
    let account = match d.account() {
        Some(a) => a.to_owned(),
        None => codedeploy::account_id(c).await?,
    };
    let found = common::try_join_all(
        names
            .iter()
            .map(|n| codedeploy::discover(c, ctx, &account, n)),
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Notes every id of the document's `.services` and `.discovery` that
/// discovery did not find as ours and whose tags name another stack or env.
pub async fn hinted(
    c: &Clients,
    ctx: &Context,
    cluster: &str,
    hints: &Hints,
    a: &Actual,
    m: &Mismatches,
) -> Result<()> {
    let Some(services) = &hints.services else {
        return Ok(());
    };
    let real = |id: &String| !id.is_empty() && !is_planned(id);
    let groups: Vec<String> = services
        .values()
        .map(|s| s.security_group_id.clone())
        .filter(real)
        .filter(|id| !a.groups.iter().any(|g| &g.id == id))
        .collect();
    for g in groups::by_ids(c, &groups).await? {
        m.note(ctx, groups::KIND, &g.id, pairs(&g.tags));
    }
    let service_arns: Vec<String> = services
        .values()
        .map(|s| s.service_arn.clone())
        .filter(real)
        .filter(|arn| !a.services.iter().any(|h| &h.arn == arn))
        .collect();
    for arn in &service_arns {
        let cluster = ecs::cluster_of(arn).unwrap_or_else(|| cluster.to_owned());
        for h in ecs::describe(c, &cluster, std::slice::from_ref(arn)).await? {
            m.note(ctx, ecs::KIND, &h.arn, pairs(&h.tags));
        }
    }
    for role in services
        .values()
        .map(|s| s.task_role_arn.clone())
        .filter(real)
    {
        let name = role.rsplit('/').next().unwrap_or_default();
        if a.roles.contains_key(name) {
            continue;
        }
        if let Some(h) = roles::get(c, name).await? {
            m.note(ctx, roles::KIND, &h.arn, pairs(&h.tags));
        }
    }
    for td in services
        .values()
        .map(|s| s.task_definition_arn.clone())
        .filter(real)
    {
        if !a.taskdefs.values().any(|h| h.arn == td) {
            note_task_definition(c, ctx, &td, m).await?;
        }
    }
    Ok(())
}

async fn note_task_definition(c: &Clients, ctx: &Context, arn: &str, m: &Mismatches) -> Result<()> {
    let out = match c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_client_exception()) =>
        {
            return Ok(())
        }
        Err(e) => {
            return Err(common::error::aws_error(
                format!("DescribeTaskDefinition {arn}"),
                e,
            ))
        }
    };
    let tags: Tags = out
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    m.note(ctx, taskdefs::KIND, arn, pairs(&tags));
    Ok(())
}

/// What the layer hangs on, checked like the document's ids: the cluster and
/// its execution role, the private subnets (in the VPC), the ALB's group and
/// target groups. A layer `--plan` has not made yet is not read.
async fn upstream(
    c: &Clients,
    ctx: &Context,
    d: &Desired,
    a: &Actual,
    m: &Mismatches,
) -> Result<()> {
    if d.services.is_empty() {
        return Ok(());
    }
    tokio::try_join!(
        async {
            if d.planned.cluster {
                return Ok(());
            }
            cluster(c, ctx, d, m).await
        },
        async {
            if d.planned.network {
                return Ok(());
            }
            subnets(c, ctx, d, m).await?;
            alb_group(c, ctx, d, a, m).await
        },
        async {
            if d.planned.alb {
                return Ok(());
            }
            target_groups(c, ctx, d, m).await
        },
    )?;
    Ok(())
}

async fn cluster(c: &Clients, ctx: &Context, d: &Desired, m: &Mismatches) -> Result<()> {
    let out = c
        .ecs
        .describe_clusters()
        .clusters(&d.cluster)
        .include(aws_sdk_ecs::types::ClusterField::Tags)
        .send()
        .await
        .aws(format!("DescribeClusters {}", d.cluster))?;
    for cl in out.clusters() {
        let tags: Tags = cl
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        m.note(
            ctx,
            "ecs cluster",
            cl.cluster_arn().unwrap_or(&d.cluster),
            pairs(&tags),
        );
    }
    let role = d.execution_role.rsplit('/').next().unwrap_or_default();
    if let Some(h) = roles::get(c, role).await? {
        m.note(ctx, roles::KIND, &h.arn, pairs(&h.tags));
    }
    Ok(())
}

async fn subnets(c: &Clients, ctx: &Context, d: &Desired, m: &Mismatches) -> Result<()> {
    if d.subnets.is_empty() {
        return Ok(());
    }
    let out = c
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(d.subnets.clone()))
        .send()
        .await
        .aws("DescribeSubnets")?;
    for s in out.subnets() {
        let id = s.subnet_id().unwrap_or_default();
        if s.vpc_id() != Some(d.vpc_id.as_str()) {
            return Err(common::Error::Refused(format!(
                "subnet {id} of .network.private_subnet_ids is not in .network.vpc_id {}; \
                 use the document net-up wrote; nothing was changed",
                d.vpc_id
            )));
        }
        m.note(ctx, "subnet", id, common::ec2::pairs(s.tags()));
    }
    Ok(())
}

async fn alb_group(
    c: &Clients,
    ctx: &Context,
    d: &Desired,
    a: &Actual,
    m: &Mismatches,
) -> Result<()> {
    let Some(id) = d.alb_group.as_ref().filter(|id| !is_planned(id)) else {
        return Ok(());
    };
    if a.groups.iter().any(|g| &g.id == id) {
        return Ok(());
    }
    for g in groups::by_ids(c, std::slice::from_ref(id)).await? {
        m.note(ctx, groups::KIND, &g.id, pairs(&g.tags));
    }
    Ok(())
}

async fn target_groups(c: &Clients, ctx: &Context, d: &Desired, m: &Mismatches) -> Result<()> {
    let arns: Vec<String> = d
        .target_groups
        .iter()
        .filter(|a| !is_planned(a))
        .cloned()
        .collect();
    // DescribeTags takes 20 ARNs at a time.
    for chunk in arns.chunks(20) {
        let out = c
            .elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .aws("DescribeTags (target groups)")?;
        for t in out.tag_descriptions() {
            let tags: Tags = t
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            m.note(
                ctx,
                "target group",
                t.resource_arn().unwrap_or_default(),
                pairs(&tags),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_discovery_is_empty() {
        assert!(Actual::default().is_empty());
        let a = Actual {
            services: vec![],
            logs: BTreeMap::from([(
                "x".to_owned(),
                logs::Have {
                    name: "x".into(),
                    arn: "a".into(),
                    retention_days: None,
                    kms_key: None,
                    tags: vec![],
                },
            )]),
            ..Actual::default()
        };
        assert!(!a.is_empty());
        let _ = names::NAMESPACE;
    }
}
