//! Discovery: what exists of the scaling layer and of what it hangs on, in as
//! few calls as the APIs allow. Reads only.
//!
//! - ECS: the cluster (one DescribeClusters with its tags) and the scaled
//!   services (DescribeServices, 10 per call, with tags): a target is ours only
//!   on a service and in a cluster tagged this stack's and env's.
//! - Application Auto Scaling: the targets by resource id (50 per call), or,
//!   when pruning, every ECS target of the region (paginated) kept to this
//!   cluster's; each target's tags (ListTagsForResource: AWS has no batch);
//!   the policies by name (DescribeScalingPolicies, 50 names per call).
//! - CloudWatch: the alarms by name (100 per call), or by the `{stack}--` prefix
//!   when pruning; each alarm's tags (one call each: no batch).
//! - ELBv2: the tags of the load balancer and target groups `.alb` names for
//!   request-count policies (DescribeTags, 20 per call).
//!
//! The document's names and ids (`.cluster.name`, `.services.*.service_name`,
//! `.scaling.*.resource_id` and alarm names, `.alb` ARNs) are hints: each one
//! that is not this run's own is looked up, and one whose tags say another
//! stack or env goes into `owner::Mismatches`, refused before any change.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_applicationautoscaling::types::{
    ScalableDimension, ScalableTarget, ScalingPolicy, ServiceNamespace,
};
use aws_sdk_cloudwatch::types::MetricAlarm;
use aws_sdk_ecs::types::{ClusterField, ServiceField};

use common::owner::Mismatches;
use common::sdk::{try_join_bounded, SdkResultExt, IN_FLIGHT};
use common::{naming, AwsResultExt, Context, Error, Result};

use crate::desired::{Desired, KEYS};

/// Tags as (key, value) pairs, whatever the service's shape of them.
pub type Tags = Vec<(String, String)>;

pub fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

#[derive(Debug, Clone)]
pub struct FoundTarget {
    pub target: ScalableTarget,
    pub tags: Tags,
}

#[derive(Debug, Clone)]
pub struct FoundAlarm {
    pub alarm: MetricAlarm,
    pub tags: Tags,
}

/// What exists.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    /// This stack's cluster, when it exists: its tags.
    pub cluster: Option<Tags>,
    /// The scaled (and hinted) services that exist in it, by ECS name: their tags.
    pub services: BTreeMap<String, Tags>,
    /// Targets on services of this stack's cluster (and the hinted ones that are ours).
    pub targets: Vec<FoundTarget>,
    /// The policies of those targets that have one of our policy names.
    pub policies: Vec<ScalingPolicy>,
    /// Alarms of our names.
    pub alarms: Vec<FoundAlarm>,
}

/// The clients of the layer.
#[derive(Debug, Clone)]
pub struct Clients {
    pub aas: aws_sdk_applicationautoscaling::Client,
    pub cw: aws_sdk_cloudwatch::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
}

impl Clients {
    pub fn new(ctx: &Context) -> Self {
        Clients {
            aas: aws_sdk_applicationautoscaling::Client::new(&ctx.sdk),
            cw: aws_sdk_cloudwatch::Client::new(&ctx.sdk),
            ecs: aws_sdk_ecs::Client::new(&ctx.sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&ctx.sdk),
        }
    }
}

/// The document's names and ids, as hints.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub cluster: Option<String>,
    pub services: Vec<String>,
    pub resource_ids: Vec<String>,
    pub alarms: Vec<String>,
    /// Load balancer and target group ARNs, with the component each must have.
    pub elb: Vec<(String, String)>,
}

/// What to read.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub want: &'a Desired,
    /// Sweep for what the spec no longer asks for (else read only what it asks for).
    pub sweep: bool,
}

pub fn namespace() -> ServiceNamespace {
    ServiceNamespace::Ecs
}

pub fn dimension() -> ScalableDimension {
    ScalableDimension::EcsServiceDesiredCount
}

/// Everything, with the hints checked.
pub async fn discover(
    c: &Clients,
    ctx: &Context,
    scope: Scope<'_>,
    hints: &Hints,
    mismatches: &Mismatches,
) -> Result<Actual> {
    let cluster = scope.want.cluster.as_str();
    let (clusters, services, targets, alarms, ()) = tokio::try_join!(
        clusters(c, cluster, hints.cluster.as_deref()),
        services(c, cluster, scope, hints),
        targets(c, cluster, scope, hints),
        alarms(c, ctx, scope, hints),
        elb_hints(c, ctx, hints, mismatches),
    )?;
    let mut actual = Actual {
        cluster: clusters.get(cluster).cloned(),
        ..Actual::default()
    };
    for (name, tags) in clusters.iter().filter(|(n, _)| n.as_str() != cluster) {
        mismatches.note(ctx, "ecs cluster", name, pairs(tags));
    }
    for (name, tags) in services {
        if !scope.want.services.iter().any(|s| s.ecs_service == name) {
            mismatches.note(ctx, "ecs service", &name, pairs(&tags));
        }
        actual.services.insert(name, tags);
    }
    let targets = tag_targets(c, targets).await?;
    let prefix = format!("service/{cluster}/");
    for t in targets {
        if t.target.resource_id().starts_with(&prefix) {
            actual.targets.push(t);
        } else {
            mismatches.note(
                ctx,
                "scalable target",
                t.target.resource_id(),
                pairs(&t.tags),
            );
        }
    }
    actual.policies = policies(c, ctx, &actual.targets).await?;
    actual.alarms = alarms;
    for a in &actual.alarms {
        let name = a.alarm.alarm_name().unwrap_or_default();
        if hints.alarms.iter().any(|h| h == name) {
            mismatches.note(ctx, "cloudwatch alarm", name, pairs(&a.tags));
        }
    }
    Ok(actual)
}

/// The clusters of these names that exist, with their tags.
async fn clusters(c: &Clients, ours: &str, hint: Option<&str>) -> Result<BTreeMap<String, Tags>> {
    let mut names = vec![ours.to_owned()];
    names.extend(
        hint.filter(|h| *h != ours && !common::plan::is_planned(h))
            .map(str::to_owned),
    );
    let out = c
        .ecs
        .describe_clusters()
        .set_clusters(Some(names))
        .include(ClusterField::Tags)
        .send()
        .await
        .aws("DescribeClusters")?;
    Ok(out
        .clusters()
        .iter()
        .filter(|cl| cl.status() != Some("INACTIVE"))
        .map(|cl| {
            let tags = cl
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            (cl.cluster_name().unwrap_or_default().to_owned(), tags)
        })
        .collect())
}

/// The scaled services and the hinted ones that exist in this cluster, with tags.
async fn services(
    c: &Clients,
    cluster: &str,
    scope: Scope<'_>,
    hints: &Hints,
) -> Result<BTreeMap<String, Tags>> {
    let mut names: BTreeSet<String> = scope
        .want
        .services
        .iter()
        .map(|s| s.ecs_service.clone())
        .collect();
    names.extend(
        hints
            .services
            .iter()
            .filter(|s| !common::plan::is_planned(s))
            .cloned(),
    );
    let names: Vec<String> = names.into_iter().collect();
    let calls = names.chunks(10).map(|chunk| async move {
        let out = c
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .gone_if(format!("DescribeServices {cluster}"), |e| {
                e.is_cluster_not_found_exception()
            })?;
        Ok(out
            .iter()
            .flat_map(|o| o.services())
            .filter(|s| s.status() != Some("INACTIVE"))
            .map(|s| {
                let tags = s
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_owned(),
                            t.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect::<Tags>();
                (s.service_name().unwrap_or_default().to_owned(), tags)
            })
            .collect::<Vec<_>>())
    });
    Ok(try_join_bounded(calls, IN_FLIGHT)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// The scalable targets of this cluster's services (all of them when
/// sweeping, else the wanted ones), and the hinted ones.
async fn targets(
    c: &Clients,
    cluster: &str,
    scope: Scope<'_>,
    hints: &Hints,
) -> Result<Vec<ScalableTarget>> {
    let mut ids: BTreeSet<String> = scope
        .want
        .services
        .iter()
        .map(|s| s.resource_id.clone())
        .collect();
    ids.extend(
        hints
            .resource_ids
            .iter()
            .filter(|r| !common::plan::is_planned(r))
            .cloned(),
    );
    if scope.sweep {
        let prefix = format!("service/{cluster}/");
        let all = describe_targets(c, None).await?;
        return Ok(all
            .into_iter()
            .filter(|t| t.resource_id().starts_with(&prefix) || ids.contains(t.resource_id()))
            .collect());
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let found = try_join_bounded(
        ids.chunks(50).map(|chunk| describe_targets(c, Some(chunk))),
        IN_FLIGHT,
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// DescribeScalableTargets of ECS desired counts, of these resource ids or all.
pub async fn describe_targets(c: &Clients, ids: Option<&[String]>) -> Result<Vec<ScalableTarget>> {
    c.aas
        .describe_scalable_targets()
        .service_namespace(namespace())
        .scalable_dimension(dimension())
        .set_resource_ids(ids.map(<[String]>::to_vec))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeScalableTargets ecs")
}

/// Each target's tags (a target gone meanwhile is left out).
pub async fn tag_targets(c: &Clients, targets: Vec<ScalableTarget>) -> Result<Vec<FoundTarget>> {
    let read = try_join_bounded(
        targets.into_iter().map(|target| async move {
            let arn = target.scalable_target_arn().unwrap_or_default().to_owned();
            let out = c
                .aas
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .gone_if(format!("ListTagsForResource {arn}"), |e| {
                    e.is_resource_not_found_exception()
                })?;
            Ok(out.map(|o| {
                let mut tags: Tags = o
                    .tags()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                tags.sort();
                FoundTarget { target, tags }
            }))
        }),
        IN_FLIGHT,
    )
    .await?;
    Ok(read.into_iter().flatten().collect())
}

/// The policies with one of our names on the given targets.
pub async fn policies(
    c: &Clients,
    ctx: &Context,
    targets: &[FoundTarget],
) -> Result<Vec<ScalingPolicy>> {
    let ids: BTreeSet<&str> = targets.iter().map(|t| t.target.resource_id()).collect();
    let mut names = BTreeSet::new();
    for t in targets {
        if let Some(service) = service_of(ctx, t.target.resource_id()) {
            names.extend(
                KEYS.iter()
                    .map(|k| crate::desired::policy_name(ctx, service, k)),
            );
        }
    }
    let names: Vec<String> = names.into_iter().collect();
    let calls = names.chunks(50).map(|chunk| async move {
        let found: Vec<ScalingPolicy> = c
            .aas
            .describe_scaling_policies()
            .service_namespace(namespace())
            .scalable_dimension(dimension())
            .set_policy_names(Some(chunk.to_vec()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws("DescribeScalingPolicies")?;
        Ok(found)
    });
    let found = try_join_bounded(calls, IN_FLIGHT).await?;
    Ok(found
        .into_iter()
        .flatten()
        .filter(|p| ids.contains(p.resource_id()))
        .collect())
}

/// The spec's service name of a resource id of this stack's cluster.
pub fn service_of<'a>(ctx: &Context, resource_id: &'a str) -> Option<&'a str> {
    let ecs = resource_id.strip_prefix(&format!("service/{}/", ctx.name("cluster")))?;
    naming::component_in(ecs, &ctx.stack, &ctx.env)
}

/// The alarms of our names (all of this stack's shape when sweeping), with tags.
async fn alarms(
    c: &Clients,
    ctx: &Context,
    scope: Scope<'_>,
    hints: &Hints,
) -> Result<Vec<FoundAlarm>> {
    let mut names: BTreeSet<String> = scope
        .want
        .services
        .iter()
        .flat_map(|s| s.alarms.iter().map(|a| a.name.clone()))
        .collect();
    names.extend(hints.alarms.iter().cloned());
    let mut found = if scope.sweep {
        let swept = alarms_by_prefix(c, ctx).await?;
        swept
            .into_iter()
            .filter(|a| {
                let name = a.alarm_name().unwrap_or_default();
                names.contains(name) || crate::plan::parse_alarm_name(ctx, name).is_some()
            })
            .collect()
    } else {
        alarms_by_name(c, &names.into_iter().collect::<Vec<_>>()).await?
    };
    found.sort_by(|a, b| a.alarm_name().cmp(&b.alarm_name()));
    tag_alarms(c, found).await
}

/// Every metric alarm named `{stack}--...`.
pub async fn alarms_by_prefix(c: &Clients, ctx: &Context) -> Result<Vec<MetricAlarm>> {
    let prefix = naming::name_prefix(&ctx.stack);
    let pages: Vec<_> =
        c.cw.describe_alarms()
            .alarm_name_prefix(&prefix)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .aws(format!("DescribeAlarms {prefix}*"))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.metric_alarms())
        .cloned()
        .collect())
}

async fn alarms_by_name(c: &Clients, names: &[String]) -> Result<Vec<MetricAlarm>> {
    let calls = names.chunks(100).map(|chunk| async move {
        let pages: Vec<_> =
            c.cw.describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .into_paginator()
                .send()
                .try_collect()
                .await
                .aws("DescribeAlarms")?;
        Ok(pages
            .iter()
            .flat_map(|p| p.metric_alarms())
            .cloned()
            .collect::<Vec<_>>())
    });
    Ok(try_join_bounded(calls, IN_FLIGHT)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// Each alarm's tags (an alarm gone meanwhile is left out).
pub async fn tag_alarms(c: &Clients, alarms: Vec<MetricAlarm>) -> Result<Vec<FoundAlarm>> {
    let read = try_join_bounded(
        alarms.into_iter().map(|alarm| async move {
            let arn = alarm.alarm_arn().unwrap_or_default().to_owned();
            let out =
                c.cw.list_tags_for_resource()
                    .resource_arn(&arn)
                    .send()
                    .await
                    .gone_if(format!("ListTagsForResource {arn}"), |e| {
                        e.is_resource_not_found_exception()
                    })?;
            Ok(out.map(|o| FoundAlarm {
                tags: o
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_owned(),
                            t.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
                alarm,
            }))
        }),
        IN_FLIGHT,
    )
    .await?;
    Ok(read.into_iter().flatten().collect())
}

/// The `.alb` ARNs a request-count policy reads: ours, each of its component,
/// or a mismatch; gone is an error (the document is stale: re-run alb-up).
async fn elb_hints(
    c: &Clients,
    ctx: &Context,
    hints: &Hints,
    mismatches: &Mismatches,
) -> Result<()> {
    if hints.elb.is_empty() {
        return Ok(());
    }
    let arns: Vec<String> = hints.elb.iter().map(|(a, _)| a.clone()).collect();
    let out = c
        .elb
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .gone_if("DescribeTags", |e| {
            e.is_load_balancer_not_found_exception() || e.is_target_group_not_found_exception()
        })?
        .ok_or_else(|| {
            Error::Document(
                "the load balancer or a target group .alb names does not exist: re-run alb-up"
                    .into(),
            )
        })?;
    for d in out.tag_descriptions() {
        let arn = d.resource_arn().unwrap_or_default();
        let tags: Vec<(&str, &str)> = d
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
            .collect();
        mismatches.note(ctx, "load balancer resource", arn, tags.iter().copied());
        let component = hints
            .elb
            .iter()
            .find(|(a, _)| a == arn)
            .map(|(_, c)| c.as_str());
        if ctx.owns(tags.iter().copied()) {
            ctx.check_owned(
                "load balancer resource",
                arn,
                tags.iter().copied(),
                component.unwrap_or(""),
            )?;
        }
    }
    Ok(())
}
