//! One function per resource kind: find it, adopt it (fixing drift in place) or
//! create it, and remove what scale-up made that the spec no longer asks for.
//!
//! Application Auto Scaling targets and policies are found by resource id: a
//! target lives on `service/{cluster}/{service}` and the cluster is this
//! stack's and env's, so everything under it is ours. Alarms are found by name
//! and kept only when tagged ours. Per service the target comes before its
//! policies (AWS refuses a policy without a target); alarms depend on neither.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget,
    ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};

use common::sections::{alarm_name, AlarmMetric, ScalingOut, ScalingPolicyOut};
use common::{naming, retry, try_join_all, AwsResultExt, Context, Error, Result};

use crate::spec::{AlarmPlan, Plan, Planned, PolicyPlan, Tracked};

#[derive(Debug)]
pub(crate) struct Clients {
    pub aas: aws_sdk_applicationautoscaling::Client,
    pub cw: aws_sdk_cloudwatch::Client,
}

impl Clients {
    pub fn new(ctx: &Context) -> Self {
        Clients {
            aas: aws_sdk_applicationautoscaling::Client::new(&ctx.sdk),
            cw: aws_sdk_cloudwatch::Client::new(&ctx.sdk),
        }
    }
}

fn namespace() -> ServiceNamespace {
    ServiceNamespace::Ecs
}

fn dimension() -> ScalableDimension {
    ScalableDimension::EcsServiceDesiredCount
}

/// `{stack}-{service}-{cpu|memory|requests}-{env}`.
pub fn policy_name(ctx: &Context, service: &str, tracked: Tracked) -> String {
    ctx.name(&format!("{service}-{}", tracked.key()))
}

/// The spec's service name and the metric, when `name` is one of our alarms'
/// names (`{stack}-{service}-cpu-high-{env}`); `None` for any other alarm.
pub fn parse_alarm_name(stack: &str, env: &str, name: &str) -> Option<(String, AlarmMetric)> {
    let middle = naming::component_in(name, stack, env)?;
    AlarmMetric::ALL.into_iter().find_map(|m| {
        let service = middle.strip_suffix(&format!("-{}-high", m.key()))?;
        (!service.is_empty() && alarm_name(stack, env, service, m) == name)
            .then(|| (service.to_owned(), m))
    })
}

fn built<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::Io(format!("internal: cannot build a request: {e}")))
}

/// Brings scaling to the plan and describes it (`.scaling`).
pub async fn converge(ctx: &Context, plan: &Plan) -> Result<BTreeMap<String, ScalingOut>> {
    let c = Clients::new(ctx);
    let c = &c;
    let (targets, alarms) =
        tokio::try_join!(list_targets(c, &plan.cluster, &[]), list_alarms(c, ctx))?;
    // Refuse before changing anything: an alarm of our name that is not ours.
    for s in &plan.services {
        for a in &s.alarms {
            let name = alarm_name(&ctx.stack, &ctx.env, &s.service, a.metric);
            if let Some(found) = alarms.get(&name) {
                if !found.owned {
                    return Err(Error::spec(format!(
                        "CloudWatch alarm {name} exists but is not tagged for {}/{}: it is not ours to change (delete it, or use another stack name)",
                        ctx.stack, ctx.env
                    )));
                }
            }
        }
    }
    let (targets, alarms) = (&targets, &alarms);
    let wanted: BTreeSet<&str> = plan
        .services
        .iter()
        .map(|s| s.resource_id.as_str())
        .collect();
    let (outs, (), ()) = tokio::try_join!(
        try_join_all(plan.services.iter().map(|s| async move {
            let target = targets.iter().find(|t| t.resource_id() == s.resource_id);
            let (policies, alarms) = tokio::try_join!(
                async {
                    ensure_target(c, ctx, s, target).await?;
                    ensure_policies(c, ctx, s).await
                },
                try_join_all(s.alarms.iter().map(|a| ensure_alarm(
                    c,
                    ctx,
                    &plan.cluster,
                    s,
                    a,
                    alarms.get(&alarm_name(&ctx.stack, &ctx.env, &s.service, a.metric))
                ))),
            )?;
            Ok::<_, Error>((
                s.service.clone(),
                ScalingOut {
                    resource_id: s.resource_id.clone(),
                    min: s.min,
                    max: s.max,
                    policies,
                    alarms,
                },
            ))
        })),
        // Services that lost `scaling` (or left the spec): their target goes, policies first.
        async {
            try_join_all(
                targets
                    .iter()
                    .filter(|t| !wanted.contains(t.resource_id()))
                    .map(|t| remove_target(c, ctx, t.resource_id())),
            )
            .await
            .map(|_| ())
        },
        remove_alarms(c, ctx, plan, alarms),
    )?;
    Ok(outs.into_iter().collect())
}

// ---------------------------------------------------------- scalable targets

/// The ECS scalable targets on services of `cluster`, and those of `also`.
pub(crate) async fn list_targets(
    c: &Clients,
    cluster: &str,
    also: &[String],
) -> Result<Vec<ScalableTarget>> {
    let prefix = format!("service/{cluster}/");
    let all: Vec<ScalableTarget> = c
        .aas
        .describe_scalable_targets()
        .service_namespace(namespace())
        .scalable_dimension(dimension())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeScalableTargets ecs")?;
    Ok(all
        .into_iter()
        .filter(|t| {
            t.resource_id().starts_with(&prefix) || also.iter().any(|a| a == t.resource_id())
        })
        .collect())
}

/// Right after svc-up, AWS may not see the new ECS service yet ("ECS service
/// doesn't exist"), and the first target of an account makes AWS create the
/// service-linked role AWSServiceRoleForApplicationAutoScaling_ECSService,
/// which it cannot assume for a few seconds; concurrent changes to one target
/// answer ConcurrentUpdateException. All of them pass with time.
fn is_target_not_ready(e: &Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    match e.aws_code() {
        Some("ConcurrentUpdateException") => true,
        Some("ValidationException") => {
            text.contains("not exist") || text.contains("doesn't exist") || text.contains("role")
        }
        _ => false,
    }
}

async fn ensure_target(
    c: &Clients,
    ctx: &Context,
    s: &Planned,
    existing: Option<&ScalableTarget>,
) -> Result<()> {
    let rid = &s.resource_id;
    if let Some(t) = existing {
        let arn = t.scalable_target_arn().unwrap_or_default();
        ctx.report.adopted("scalable target", rid, arn);
        if (t.min_capacity(), t.max_capacity()) == (s.min, s.max) {
            return Ok(());
        }
    }
    let op = format!("RegisterScalableTarget {rid}");
    let out = retry::retry(
        &op,
        retry::Policy::consistency(),
        is_target_not_ready,
        || {
            let mut req = c
                .aas
                .register_scalable_target()
                .service_namespace(namespace())
                .scalable_dimension(dimension())
                .resource_id(rid)
                .min_capacity(s.min)
                .max_capacity(s.max);
            // Tags are taken only when the target is created; registering an
            // existing target again is AWS's way to change its bounds in place.
            if existing.is_none() {
                for (k, v) in ctx.tags(&format!("{}-scaling", s.service)) {
                    req = req.tags(k, v);
                }
            }
            let op = &op;
            async move { req.send().await.aws(op) }
        },
    )
    .await?;
    match existing {
        Some(t) => {
            let mut what = Vec::new();
            if t.min_capacity() != s.min {
                what.push(format!("min {} -> {}", t.min_capacity(), s.min));
            }
            if t.max_capacity() != s.max {
                what.push(format!("max {} -> {}", t.max_capacity(), s.max));
            }
            ctx.report.updated("scalable target", rid, &what.join(", "));
        }
        None => ctx.report.created(
            "scalable target",
            rid,
            out.scalable_target_arn().unwrap_or_default(),
        ),
    }
    Ok(())
}

/// Deletes every policy of the target, then the target (AWS would take the
/// policies with it; deleting them first keeps the order teardown shows).
async fn remove_target(c: &Clients, ctx: &Context, resource_id: &str) -> Result<()> {
    let policies = list_policies(c, resource_id).await?;
    try_join_all(policies.iter().map(|p| async move {
        delete_policy(c, resource_id, p.policy_name()).await?;
        ctx.report.deleted("scaling policy", p.policy_name());
        Ok::<_, Error>(())
    }))
    .await?;
    deregister_target(c, resource_id).await?;
    ctx.report.deleted("scalable target", resource_id);
    Ok(())
}

/// AWS answers ObjectNotFoundException for a target or policy that is gone;
/// the emulator a ValidationException "No scalable target / scaling policy found".
pub(crate) fn is_gone(e: &Error) -> bool {
    retry::is_not_found(e)
        || (e.aws_code() == Some("ValidationException") && e.to_string().contains("No scal"))
}

/// A delete of a target or policy: retried while the target settles, done
/// once the object is gone.
async fn delete_until_gone<F, Fut>(op: &str, call: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    match retry::retry(op, retry::Policy::consistency(), is_target_not_ready, call).await {
        Err(e) if is_gone(&e) => Ok(()),
        other => other,
    }
}

pub(crate) async fn deregister_target(c: &Clients, resource_id: &str) -> Result<()> {
    let op = format!("DeregisterScalableTarget {resource_id}");
    delete_until_gone(&op, || async {
        c.aas
            .deregister_scalable_target()
            .service_namespace(namespace())
            .scalable_dimension(dimension())
            .resource_id(resource_id)
            .send()
            .await
            .map(|_| ())
            .aws(&op)
    })
    .await
}

// ---------------------------------------------------------- scaling policies

/// The policies on one target (every policy, ours or not).
pub(crate) async fn list_policies(c: &Clients, resource_id: &str) -> Result<Vec<ScalingPolicy>> {
    let all: Vec<ScalingPolicy> = c
        .aas
        .describe_scaling_policies()
        .service_namespace(namespace())
        .scalable_dimension(dimension())
        .resource_id(resource_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("DescribeScalingPolicies {resource_id}"))?;
    // The resource id filter is exact in AWS; the emulator matches substrings.
    Ok(all
        .into_iter()
        .filter(|p| p.resource_id() == resource_id)
        .collect())
}

pub(crate) async fn delete_policy(c: &Clients, resource_id: &str, name: &str) -> Result<()> {
    let op = format!("DeleteScalingPolicy {name}");
    delete_until_gone(&op, || async {
        c.aas
            .delete_scaling_policy()
            .service_namespace(namespace())
            .scalable_dimension(dimension())
            .resource_id(resource_id)
            .policy_name(name)
            .send()
            .await
            .map(|_| ())
            .aws(&op)
    })
    .await
}

/// A target registered a moment ago may not be visible yet
/// (ObjectNotFoundException); right after AWS made the service-linked role,
/// the policy's alarms cannot be read or made yet (FailedResourceAccessException).
fn is_policy_not_ready(e: &Error) -> bool {
    retry::is_not_found(e)
        || matches!(
            e.aws_code(),
            Some("FailedResourceAccessException" | "ConcurrentUpdateException")
        )
}

fn metric_type(t: Tracked) -> MetricType {
    match t {
        Tracked::Cpu => MetricType::EcsServiceAverageCpuUtilization,
        Tracked::Memory => MetricType::EcsServiceAverageMemoryUtilization,
        Tracked::Requests => MetricType::AlbRequestCountPerTarget,
    }
}

fn wanted_configuration(
    s: &Planned,
    p: &PolicyPlan,
) -> Result<TargetTrackingScalingPolicyConfiguration> {
    built(
        TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(p.target)
            .predefined_metric_specification(built(
                PredefinedMetricSpecification::builder()
                    .predefined_metric_type(metric_type(p.tracked))
                    .set_resource_label(p.resource_label.clone())
                    .build(),
            )?)
            .scale_in_cooldown(s.scale_in_cooldown)
            .scale_out_cooldown(s.scale_out_cooldown)
            .disable_scale_in(false)
            .build(),
    )
}

/// Whether a policy is the target-tracking policy we want.
fn policy_matches(have: &ScalingPolicy, want: &TargetTrackingScalingPolicyConfiguration) -> bool {
    let Some(cfg) = have.target_tracking_scaling_policy_configuration() else {
        return false;
    };
    let metric = |c: &TargetTrackingScalingPolicyConfiguration| {
        c.predefined_metric_specification().map(|m| {
            (
                m.predefined_metric_type().clone(),
                m.resource_label().map(str::to_owned),
            )
        })
    };
    have.policy_type() == &PolicyType::TargetTrackingScaling
        && cfg.target_value() == want.target_value()
        && metric(cfg) == metric(want)
        && cfg.customized_metric_specification().is_none()
        && cfg.scale_in_cooldown() == want.scale_in_cooldown()
        && cfg.scale_out_cooldown() == want.scale_out_cooldown()
        && !cfg.disable_scale_in().unwrap_or(false)
}

/// The service's target-tracking policies, by metric key; ours it no longer
/// asks for are deleted (other policies on the target are left alone).
async fn ensure_policies(
    c: &Clients,
    ctx: &Context,
    s: &Planned,
) -> Result<BTreeMap<String, ScalingPolicyOut>> {
    let have = list_policies(c, &s.resource_id).await?;
    let by_name = |name: &str| have.iter().find(|p| p.policy_name() == name);
    let outs = try_join_all(s.policies.iter().map(|p| {
        let name = policy_name(ctx, &s.service, p.tracked);
        let existing = by_name(&name);
        async move {
            let want = wanted_configuration(s, p)?;
            if let Some(e) = existing {
                ctx.report.adopted("scaling policy", &name, e.policy_arn());
                if policy_matches(e, &want) {
                    return Ok::<_, Error>((
                        p.tracked.key().to_owned(),
                        ScalingPolicyOut {
                            name,
                            arn: e.policy_arn().to_owned(),
                        },
                    ));
                }
            }
            let op = format!("PutScalingPolicy {name}");
            let out = retry::retry(
                &op,
                retry::Policy::consistency(),
                is_policy_not_ready,
                || async {
                    c.aas
                        .put_scaling_policy()
                        .policy_name(&name)
                        .service_namespace(namespace())
                        .scalable_dimension(dimension())
                        .resource_id(&s.resource_id)
                        .policy_type(PolicyType::TargetTrackingScaling)
                        .target_tracking_scaling_policy_configuration(want.clone())
                        .send()
                        .await
                        .aws(&op)
                },
            )
            .await?;
            let arn = out.policy_arn().to_owned();
            match existing {
                Some(_) => ctx.report.updated(
                    "scaling policy",
                    &name,
                    &format!("track {} at {}", p.tracked.key(), p.target),
                ),
                None => ctx.report.created("scaling policy", &name, &arn),
            }
            Ok((p.tracked.key().to_owned(), ScalingPolicyOut { name, arn }))
        }
    }))
    .await?;
    let unwanted: Vec<String> = Tracked::ALL
        .into_iter()
        .filter(|t| !s.policies.iter().any(|p| p.tracked == *t))
        .map(|t| policy_name(ctx, &s.service, t))
        .filter(|name| by_name(name).is_some())
        .collect();
    try_join_all(unwanted.iter().map(|name| async move {
        delete_policy(c, &s.resource_id, name).await?;
        ctx.report.deleted("scaling policy", name);
        Ok::<_, Error>(())
    }))
    .await?;
    Ok(outs.into_iter().collect())
}

// ------------------------------------------------------------------ alarms

/// An alarm of this stack's shape (`{stack}-...-{env}`) and whether its tags say ours.
#[derive(Debug, Clone)]
pub(crate) struct FoundAlarm {
    pub alarm: MetricAlarm,
    pub owned: bool,
}

/// The metric alarms named `{stack}-...-{env}`, by name, with their ownership.
pub(crate) async fn list_alarms(
    c: &Clients,
    ctx: &Context,
) -> Result<BTreeMap<String, FoundAlarm>> {
    let prefix = naming::name_prefix(&ctx.stack);
    let suffix = naming::name_suffix(&ctx.env);
    let pages: Vec<_> =
        c.cw.describe_alarms()
            .alarm_name_prefix(&prefix)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .aws(format!("DescribeAlarms {prefix}*"))?;
    let shaped: Vec<MetricAlarm> = pages
        .iter()
        .flat_map(|p| p.metric_alarms())
        .filter(|a| a.alarm_name().is_some_and(|n| n.ends_with(&suffix)))
        .cloned()
        .collect();
    let found = try_join_all(shaped.into_iter().map(|alarm| async move {
        let arn = alarm.alarm_arn().unwrap_or_default();
        let owned = match c
            .cw
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(format!("ListTagsForResource {arn}"))
        {
            Ok(out) => ctx.owns(
                out.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            ),
            // Deleted meanwhile: not ours to keep.
            Err(e) if retry::is_not_found(&e) => false,
            Err(e) => return Err(e),
        };
        let name = alarm.alarm_name().unwrap_or_default().to_owned();
        Ok::<_, Error>((name, FoundAlarm { alarm, owned }))
    }))
    .await?;
    Ok(found.into_iter().collect())
}

fn metric_name(m: AlarmMetric) -> &'static str {
    match m {
        AlarmMetric::Cpu => "CPUUtilization",
        AlarmMetric::Memory => "MemoryUtilization",
    }
}

/// What an alarm should be, in the shape DescribeAlarms answers.
fn wanted_alarm(ctx: &Context, cluster: &str, s: &Planned, a: &AlarmPlan) -> MetricAlarm {
    let what = match a.metric {
        AlarmMetric::Cpu => "CPU",
        AlarmMetric::Memory => "memory",
    };
    let mut actions = a.actions.clone();
    actions.sort();
    MetricAlarm::builder()
        .alarm_name(alarm_name(&ctx.stack, &ctx.env, &s.service, a.metric))
        .alarm_description(format!(
            "{}/{}: {} average {what} above {}% for {} x {} s (scale-up)",
            ctx.stack, ctx.env, s.service, a.threshold, a.evaluation_periods, a.period
        ))
        .namespace("AWS/ECS")
        .metric_name(metric_name(a.metric))
        .dimensions(
            Dimension::builder()
                .name("ClusterName")
                .value(cluster)
                .build(),
        )
        .dimensions(
            Dimension::builder()
                .name("ServiceName")
                .value(&s.service_name)
                .build(),
        )
        .statistic(Statistic::Average)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .threshold(a.threshold)
        .period(a.period)
        .evaluation_periods(a.evaluation_periods)
        .set_alarm_actions(Some(actions))
        .actions_enabled(true)
        .build()
}

/// The fields we set, comparable (dimensions and actions in order).
fn alarm_shape(a: &MetricAlarm) -> impl PartialEq + std::fmt::Debug {
    let mut dims: Vec<(String, String)> = a
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_owned(),
                d.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    dims.sort();
    let mut actions = a.alarm_actions().to_vec();
    actions.sort();
    (
        (
            a.alarm_description().map(str::to_owned),
            a.namespace().map(str::to_owned),
            a.metric_name().map(str::to_owned),
            a.statistic().cloned(),
            a.comparison_operator().cloned(),
        ),
        (
            a.threshold(),
            a.period(),
            a.evaluation_periods(),
            a.actions_enabled().unwrap_or(true),
            dims,
            actions,
        ),
    )
}

/// Creates the alarm or fixes its drift (PutMetricAlarm replaces the whole
/// alarm of that name); returns its name.
async fn ensure_alarm(
    c: &Clients,
    ctx: &Context,
    cluster: &str,
    s: &Planned,
    a: &AlarmPlan,
    existing: Option<&FoundAlarm>,
) -> Result<String> {
    let want = wanted_alarm(ctx, cluster, s, a);
    let name = want.alarm_name().unwrap_or_default().to_owned();
    if let Some(found) = existing {
        let arn = found.alarm.alarm_arn().unwrap_or_default();
        ctx.report.adopted("cloudwatch alarm", &name, arn);
        if alarm_shape(&found.alarm) == alarm_shape(&want) {
            return Ok(name);
        }
    }
    let op = format!("PutMetricAlarm {name}");
    let mut req =
        c.cw.put_metric_alarm()
            .alarm_name(&name)
            .set_alarm_description(want.alarm_description().map(str::to_owned))
            .set_namespace(want.namespace().map(str::to_owned))
            .set_metric_name(want.metric_name().map(str::to_owned))
            .set_dimensions(Some(want.dimensions().to_vec()))
            .set_statistic(want.statistic().cloned())
            .set_comparison_operator(want.comparison_operator().cloned())
            .set_threshold(want.threshold())
            .set_period(want.period())
            .set_evaluation_periods(want.evaluation_periods())
            .set_alarm_actions(Some(want.alarm_actions().to_vec()))
            .actions_enabled(true);
    // Tags count only when the alarm is created (AWS ignores them on an update).
    if existing.is_none() {
        for (k, v) in ctx.tags(&format!("{}-{}-high", s.service, a.metric.key())) {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
    }
    req.send().await.aws(&op)?;
    match existing {
        Some(_) => ctx.report.updated(
            "cloudwatch alarm",
            &name,
            &format!(
                "above {}% for {} x {} s",
                a.threshold, a.evaluation_periods, a.period
            ),
        ),
        None => ctx.report.created("cloudwatch alarm", &name, &name),
    }
    Ok(name)
}

/// Deletes our alarms (by shape and tags) that no service asks for any more.
async fn remove_alarms(
    c: &Clients,
    ctx: &Context,
    plan: &Plan,
    found: &BTreeMap<String, FoundAlarm>,
) -> Result<()> {
    let wanted: BTreeSet<String> = plan
        .services
        .iter()
        .flat_map(|s| {
            s.alarms
                .iter()
                .map(|a| alarm_name(&ctx.stack, &ctx.env, &s.service, a.metric))
        })
        .collect();
    let unwanted: Vec<String> = found
        .iter()
        .filter(|(name, f)| {
            f.owned
                && !wanted.contains(*name)
                && parse_alarm_name(&ctx.stack, &ctx.env, name).is_some()
        })
        .map(|(name, _)| name.clone())
        .collect();
    if unwanted.is_empty() {
        return Ok(());
    }
    delete_alarms(c, &unwanted).await?;
    for name in &unwanted {
        ctx.report.deleted("cloudwatch alarm", name);
    }
    Ok(())
}

/// DeleteAlarms takes up to 100 names; names that do not exist are no error.
pub(crate) async fn delete_alarms(c: &Clients, names: &[String]) -> Result<()> {
    for chunk in names.chunks(100) {
        c.cw.delete_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send()
            .await
            .aws(format!("DeleteAlarms {}", chunk.join(", ")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_names_are_recognised_only_in_our_shape() {
        let parse = |n: &str| parse_alarm_name("pay", "dev", n);
        assert_eq!(
            parse("pay--api-cpu-high--dev"),
            Some(("api".to_owned(), AlarmMetric::Cpu))
        );
        assert_eq!(
            parse("pay--fraud-detector-memory-high--dev"),
            Some(("fraud-detector".to_owned(), AlarmMetric::Memory))
        );
        for other in [
            "pay--api-cpu-high--prod",
            "payx--api-cpu-high--dev",
            "pay--api-latency-high--dev",
            "pay--cpu-high--dev",
            "pay-api-cpu-high-dev",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn target_not_ready_is_only_consistency() {
        let aws = |code: &str, msg: &str| {
            Error::Aws(common::error::AwsError {
                op: "RegisterScalableTarget".into(),
                code: Some(code.into()),
                message: msg.into(),
                request_id: None,
                transient: false,
            })
        };
        assert!(is_target_not_ready(&aws(
            "ValidationException",
            "ECS service doesn't exist: service/a/b"
        )));
        assert!(is_target_not_ready(&aws(
            "ValidationException",
            "Unable to assume IAM role: arn:aws:iam::1:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
        )));
        assert!(is_target_not_ready(&aws(
            "ConcurrentUpdateException",
            "busy"
        )));
        assert!(!is_target_not_ready(&aws(
            "ValidationException",
            "Maximum capacity cannot be less than minimum capacity"
        )));
        assert!(is_policy_not_ready(&aws(
            "ObjectNotFoundException",
            "No scalable target"
        )));
        assert!(is_policy_not_ready(&aws(
            "FailedResourceAccessException",
            "no access"
        )));
        assert!(!is_policy_not_ready(&aws("ValidationException", "bad")));
        assert!(is_gone(&aws(
            "ObjectNotFoundException",
            "No scalable target"
        )));
        assert!(is_gone(&aws(
            "ValidationException",
            "No scaling policy found for service namespace: ecs"
        )));
    }
}
