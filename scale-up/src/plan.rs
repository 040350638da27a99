//! The plan: a pure function of what is wanted and what exists, returning the
//! operations (each with the `Change` it records) and the `.scaling` section.
//!
//! Ownership before anything changes: the cluster and each scaled ECS service
//! must be tagged this stack's and env's (a target hangs on them), every
//! target to update or delete must carry our tags (`{service}-scaling`), and
//! every alarm its own (`{service}-{metric}-high`). Policies keep no tags: a
//! policy is ours through its target. One refusal and nothing is applied.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalingPolicy,
    TargetTrackingScalingPolicyConfiguration,
};
use serde_json::{json, Value};

use common::plan::{Action, Change};
use common::sections::{alarm_name, AlarmMetric};
use common::{naming, Context, Error, Result};

use crate::desired::{
    alarm_component, target_component, Desired, Tracked, WantAlarm, WantPolicy, WantService,
};
use crate::discover::{pairs, Actual, FoundAlarm, FoundTarget};

/// The `tool` of every change of this layer, whoever runs it (teardown too).
pub const TOOL: &str = "scale-up";
pub const TARGET: &str = "scalable target";
pub const POLICY: &str = "scaling policy";
pub const ALARM: &str = "cloudwatch alarm";

/// One change to AWS, with the change it records.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Creates the target (with its tags) or changes its bounds in place.
    RegisterTarget {
        resource_id: String,
        min: i32,
        max: i32,
        /// The component to tag a new target with; `None` for an update.
        tag: Option<String>,
        change: Change,
    },
    PutPolicy {
        resource_id: String,
        name: String,
        policy: WantPolicy,
        scale_in_cooldown: i32,
        scale_out_cooldown: i32,
        change: Change,
    },
    DeletePolicy {
        resource_id: String,
        name: String,
        change: Change,
    },
    DeregisterTarget {
        resource_id: String,
        change: Change,
    },
    /// Creates or replaces (PutMetricAlarm) the alarm of this name.
    PutAlarm {
        service: WantService,
        alarm: WantAlarm,
        cluster: String,
        /// The component to tag a new alarm with; `None` for an update.
        tag: Option<String>,
        change: Change,
    },
    DeleteAlarms {
        names: Vec<String>,
        changes: Vec<Change>,
    },
}

impl Op {
    /// Targets, alarm puts and policy deletes first; policies need their
    /// target, and a target goes after its policies (alarm deletes with the
    /// targets, so a teardown lists policies, targets, alarms).
    pub fn phase(&self) -> u8 {
        match self {
            Op::PutPolicy { .. } | Op::DeregisterTarget { .. } | Op::DeleteAlarms { .. } => 1,
            _ => 0,
        }
    }

    pub fn changes(&self) -> Vec<Change> {
        match self {
            Op::RegisterTarget { change, .. }
            | Op::PutPolicy { change, .. }
            | Op::DeletePolicy { change, .. }
            | Op::DeregisterTarget { change, .. }
            | Op::PutAlarm { change, .. } => vec![change.clone()],
            Op::DeleteAlarms { changes, .. } => changes.clone(),
        }
    }
}

/// `.scaling.<service>` as the plan leaves it: ARNs of policies to be put are
/// known only after apply.
#[derive(Debug, Clone, PartialEq)]
pub struct OutService {
    pub resource_id: String,
    pub min: i32,
    pub max: i32,
    /// Key to (name, ARN when it exists and stays).
    pub policies: BTreeMap<String, (String, Option<String>)>,
    pub alarms: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub out: BTreeMap<String, OutService>,
}

impl Plan {
    /// Every change, in phase order: what `--plan` lists.
    pub fn changes(&self) -> Vec<Change> {
        let mut ops: Vec<&Op> = self.ops.iter().collect();
        ops.sort_by_key(|o| o.phase());
        ops.iter().flat_map(|o| o.changes()).collect()
    }
}

/// Whether what the spec no longer asks for may be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    Yes,
    No,
}

/// The whole plan, or the refusal that changes nothing.
pub fn plan(ctx: &Context, want: &Desired, have: &Actual, prune: Prune) -> Result<Plan> {
    let mut ops = Vec::new();
    let mut out = BTreeMap::new();
    check_parents(ctx, want, have)?;
    for s in &want.services {
        let target = target_of(ctx, s, have)?;
        plan_target(s, target, &mut ops);
        let policies = plan_policies(s, have, prune, &mut ops);
        for a in &s.alarms {
            plan_alarm(ctx, want, s, a, have, &mut ops)?;
        }
        out.insert(
            s.service.clone(),
            OutService {
                resource_id: s.resource_id.clone(),
                min: s.min,
                max: s.max,
                policies,
                alarms: s.alarms.iter().map(|a| a.name.clone()).collect(),
            },
        );
    }
    match prune {
        Prune::Yes => {
            prune_targets(ctx, want, have, &mut ops)?;
            prune_alarms(ctx, want, have, &mut ops)?;
        }
        Prune::No => tracing::warn!(
            "spec.services is absent or empty: no scaling was pruned \
             (only an explicit, non-empty spec.services says what is no longer wanted)"
        ),
    }
    Ok(Plan { ops, out })
}

/// The cluster and every scaled service that exist must be ours; a scaled
/// service that does not exist cannot be scaled (svc-up first).
fn check_parents(ctx: &Context, want: &Desired, have: &Actual) -> Result<()> {
    if let Some(tags) = &have.cluster {
        ctx.check_owned("ecs cluster", &want.cluster, pairs(tags), "cluster")?;
    }
    for s in want.services.iter().filter(|s| !s.planned) {
        match have.services.get(&s.ecs_service) {
            Some(tags) => {
                ctx.check_owned("ecs service", &s.ecs_service, pairs(tags), &s.service)?
            }
            None => {
                return Err(Error::MissingLayer {
                    section: format!(
                        "services.{} (ECS service {} is not in AWS)",
                        s.service, s.ecs_service
                    ),
                    tool: "svc-up",
                })
            }
        }
    }
    Ok(())
}

/// The service's existing target, checked ours.
fn target_of<'a>(
    ctx: &Context,
    s: &WantService,
    have: &'a Actual,
) -> Result<Option<&'a FoundTarget>> {
    let found = have
        .targets
        .iter()
        .find(|t| t.target.resource_id() == s.resource_id);
    if let Some(t) = found {
        ctx.check_owned(
            TARGET,
            &s.resource_id,
            pairs(&t.tags),
            &target_component(&s.service),
        )?;
    }
    Ok(found)
}

fn plan_target(s: &WantService, found: Option<&FoundTarget>, ops: &mut Vec<Op>) {
    let rid = &s.resource_id;
    let (tag, change) = match found {
        None => (
            Some(target_component(&s.service)),
            Change::new(TOOL, Action::Create, TARGET, rid),
        ),
        Some(t) => {
            let (min, max) = (t.target.min_capacity(), t.target.max_capacity());
            if (min, max) == (s.min, s.max) {
                return;
            }
            let mut c = Change::new(TOOL, Action::Update, TARGET, rid)
                .id(t.target.scalable_target_arn().unwrap_or(rid));
            if min != s.min {
                c = c.field("min", min, s.min);
            }
            if max != s.max {
                c = c.field("max", max, s.max);
            }
            (None, c)
        }
    };
    ops.push(Op::RegisterTarget {
        resource_id: rid.clone(),
        min: s.min,
        max: s.max,
        tag,
        change,
    });
}

/// The service's policies: each put where missing or drifted; ours it no
/// longer asks for deleted (when pruning). Returns key to (name, kept ARN).
fn plan_policies(
    s: &WantService,
    have: &Actual,
    prune: Prune,
    ops: &mut Vec<Op>,
) -> BTreeMap<String, (String, Option<String>)> {
    let on_target: Vec<&ScalingPolicy> = have
        .policies
        .iter()
        .filter(|p| p.resource_id() == s.resource_id)
        .collect();
    let mut out = BTreeMap::new();
    for p in &s.policies {
        let found = on_target.iter().find(|h| h.policy_name() == p.name);
        let fields = found.map(|h| policy_fields(h, s, p)).unwrap_or_default();
        let kept = found
            .filter(|_| fields.is_empty())
            .map(|h| h.policy_arn().to_owned());
        if kept.is_none() {
            let change = match found {
                None => Change::new(TOOL, Action::Create, POLICY, &p.name),
                Some(h) => fields.into_iter().fold(
                    Change::new(TOOL, Action::Update, POLICY, &p.name).id(h.policy_arn()),
                    |c, (f, from, to)| c.field(f, from, to),
                ),
            };
            ops.push(Op::PutPolicy {
                resource_id: s.resource_id.clone(),
                name: p.name.clone(),
                policy: p.clone(),
                scale_in_cooldown: s.scale_in_cooldown,
                scale_out_cooldown: s.scale_out_cooldown,
                change,
            });
        }
        out.insert(p.key.to_owned(), (p.name.clone(), kept));
    }
    let wanted: BTreeSet<&str> = s.policies.iter().map(|p| p.name.as_str()).collect();
    for h in on_target
        .iter()
        .filter(|h| !wanted.contains(h.policy_name()))
    {
        if prune == Prune::No {
            tracing::warn!(
                "scaling policy {} is no longer wanted; kept (spec.services is not stated)",
                h.policy_name()
            );
            continue;
        }
        ops.push(delete_policy(&s.resource_id, h));
    }
    out
}

fn delete_policy(resource_id: &str, p: &ScalingPolicy) -> Op {
    Op::DeletePolicy {
        resource_id: resource_id.to_owned(),
        name: p.policy_name().to_owned(),
        change: Change::new(TOOL, Action::Delete, POLICY, p.policy_name()).id(p.policy_arn()),
    }
}

fn metric_type(t: Tracked) -> MetricType {
    match t {
        Tracked::Cpu => MetricType::EcsServiceAverageCpuUtilization,
        Tracked::Memory => MetricType::EcsServiceAverageMemoryUtilization,
        Tracked::Requests => MetricType::AlbRequestCountPerTarget,
    }
}

/// The configuration a policy is put with.
pub fn configuration(
    p: &WantPolicy,
    scale_in_cooldown: i32,
    scale_out_cooldown: i32,
) -> Result<TargetTrackingScalingPolicyConfiguration> {
    let built = |e: aws_sdk_applicationautoscaling::error::BuildError| {
        Error::Io(format!("internal: cannot build a request: {e}"))
    };
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(metric_type(p.tracked))
        .set_resource_label(p.label.clone())
        .build()
        .map_err(built)?;
    TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(p.target)
        .predefined_metric_specification(metric)
        .scale_in_cooldown(scale_in_cooldown)
        .scale_out_cooldown(scale_out_cooldown)
        .disable_scale_in(false)
        .build()
        .map_err(built)
}

/// Every field of a policy that differs from what is wanted: (field, from, to).
fn policy_fields(
    h: &ScalingPolicy,
    s: &WantService,
    p: &WantPolicy,
) -> Vec<(&'static str, Value, Value)> {
    let cfg = h.target_tracking_scaling_policy_configuration();
    let metric = cfg.and_then(|c| c.predefined_metric_specification());
    let fields = [
        (
            "policy_type",
            json!(h.policy_type().as_str()),
            json!(PolicyType::TargetTrackingScaling.as_str()),
        ),
        (
            "metric",
            json!(metric.map(|m| m.predefined_metric_type().as_str())),
            json!(metric_type(p.tracked).as_str()),
        ),
        (
            "resource_label",
            json!(metric.and_then(|m| m.resource_label())),
            json!(p.label),
        ),
        (
            "target_value",
            json!(cfg.map(|c| c.target_value())),
            json!(p.target),
        ),
        (
            "scale_in_cooldown",
            json!(cfg.and_then(|c| c.scale_in_cooldown())),
            json!(s.scale_in_cooldown),
        ),
        (
            "scale_out_cooldown",
            json!(cfg.and_then(|c| c.scale_out_cooldown())),
            json!(s.scale_out_cooldown),
        ),
        (
            "disable_scale_in",
            json!(cfg.map(|c| c.disable_scale_in().unwrap_or(false))),
            json!(false),
        ),
        (
            "custom_metric",
            json!(cfg.is_some_and(|c| c.customized_metric_specification().is_some())),
            json!(false),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, from, to)| from != to)
        .collect()
}

/// The alarm: created with its tags, or put again when a field drifted.
fn plan_alarm(
    ctx: &Context,
    want: &Desired,
    s: &WantService,
    a: &WantAlarm,
    have: &Actual,
    ops: &mut Vec<Op>,
) -> Result<()> {
    let component = alarm_component(&s.service, a.metric);
    let found = have
        .alarms
        .iter()
        .find(|f| f.alarm.alarm_name() == Some(a.name.as_str()));
    let (tag, change) = match found {
        None => (
            Some(component),
            Change::new(TOOL, Action::Create, ALARM, &a.name),
        ),
        Some(f) => {
            ctx.check_owned(ALARM, &a.name, pairs(&f.tags), &component)?;
            let fields = alarm_fields(ctx, &want.cluster, s, a, f);
            if fields.is_empty() {
                return Ok(());
            }
            let c = Change::new(TOOL, Action::Update, ALARM, &a.name)
                .id(f.alarm.alarm_arn().unwrap_or(&a.name));
            (
                None,
                fields
                    .into_iter()
                    .fold(c, |c, (n, from, to)| c.field(n, from, to)),
            )
        }
    };
    ops.push(Op::PutAlarm {
        service: s.clone(),
        alarm: a.clone(),
        cluster: want.cluster.clone(),
        tag,
        change,
    });
    Ok(())
}

/// What an alarm watches and when it fires, as its fields.
pub struct AlarmShape {
    pub description: String,
    pub metric_name: &'static str,
    pub dimensions: Vec<(String, String)>,
}

pub fn alarm_shape(ctx: &Context, cluster: &str, s: &WantService, a: &WantAlarm) -> AlarmShape {
    let (what, metric_name) = match a.metric {
        AlarmMetric::Cpu => ("CPU", "CPUUtilization"),
        AlarmMetric::Memory => ("memory", "MemoryUtilization"),
    };
    AlarmShape {
        description: format!(
            "{}/{}: {} average {what} above {}% for {} x {} s (scale-up)",
            ctx.stack, ctx.env, s.service, a.threshold, a.evaluation_periods, a.period
        ),
        metric_name,
        dimensions: vec![
            ("ClusterName".to_owned(), cluster.to_owned()),
            ("ServiceName".to_owned(), s.ecs_service.clone()),
        ],
    }
}

fn alarm_fields(
    ctx: &Context,
    cluster: &str,
    s: &WantService,
    a: &WantAlarm,
    f: &FoundAlarm,
) -> Vec<(&'static str, Value, Value)> {
    let h = &f.alarm;
    let shape = alarm_shape(ctx, cluster, s, a);
    let mut dims: Vec<(String, String)> = h
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
    let mut actions = h.alarm_actions().to_vec();
    actions.sort();
    let fields = [
        (
            "description",
            json!(h.alarm_description()),
            json!(shape.description),
        ),
        ("namespace", json!(h.namespace()), json!("AWS/ECS")),
        ("metric", json!(h.metric_name()), json!(shape.metric_name)),
        ("dimensions", json!(dims), json!(shape.dimensions)),
        (
            "statistic",
            json!(h.statistic().map(|s| s.as_str())),
            json!("Average"),
        ),
        (
            "comparison",
            json!(h.comparison_operator().map(|c| c.as_str())),
            json!("GreaterThanThreshold"),
        ),
        ("threshold", json!(h.threshold()), json!(a.threshold)),
        ("period", json!(h.period()), json!(a.period)),
        (
            "evaluation_periods",
            json!(h.evaluation_periods()),
            json!(a.evaluation_periods),
        ),
        ("actions", json!(actions), json!(a.actions)),
        (
            "actions_enabled",
            json!(h.actions_enabled().unwrap_or(true)),
            json!(true),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, from, to)| from != to)
        .collect()
}

/// Targets of ours on this cluster that no scaled service asks for: their
/// policies, then the target.
fn prune_targets(ctx: &Context, want: &Desired, have: &Actual, ops: &mut Vec<Op>) -> Result<()> {
    let wanted: BTreeSet<&str> = want
        .services
        .iter()
        .map(|s| s.resource_id.as_str())
        .collect();
    for t in have
        .targets
        .iter()
        .filter(|t| !wanted.contains(t.target.resource_id()))
    {
        let rid = t.target.resource_id();
        let Some(service) = crate::discover::service_of(ctx, rid) else {
            continue;
        };
        if !ctx.owns(pairs(&t.tags)) {
            tracing::warn!(
                "scalable target {rid} is not tagged for {}/{}: left alone",
                ctx.stack,
                ctx.env
            );
            continue;
        }
        ctx.check_owned(TARGET, rid, pairs(&t.tags), &target_component(service))?;
        if let Some(tags) = have.services.get(&ctx.name(service)) {
            ctx.check_owned("ecs service", &ctx.name(service), pairs(tags), service)?;
        }
        for p in have.policies.iter().filter(|p| p.resource_id() == rid) {
            ops.push(delete_policy(rid, p));
        }
        ops.push(Op::DeregisterTarget {
            resource_id: rid.to_owned(),
            change: Change::new(TOOL, Action::Delete, TARGET, rid)
                .id(t.target.scalable_target_arn().unwrap_or(rid)),
        });
    }
    Ok(())
}

/// Alarms of ours (our name's shape and our tags) no scaled service asks for.
fn prune_alarms(ctx: &Context, want: &Desired, have: &Actual, ops: &mut Vec<Op>) -> Result<()> {
    let wanted: BTreeSet<&str> = want
        .services
        .iter()
        .flat_map(|s| s.alarms.iter().map(|a| a.name.as_str()))
        .collect();
    let mut names = Vec::new();
    let mut changes = Vec::new();
    for f in &have.alarms {
        let name = f.alarm.alarm_name().unwrap_or_default();
        let Some((service, metric)) = parse_alarm_name(ctx, name) else {
            continue;
        };
        if wanted.contains(name) || !ctx.owns(pairs(&f.tags)) {
            continue;
        }
        ctx.check_owned(
            ALARM,
            name,
            pairs(&f.tags),
            &alarm_component(&service, metric),
        )?;
        names.push(name.to_owned());
        changes.push(
            Change::new(TOOL, Action::Delete, ALARM, name).id(f.alarm.alarm_arn().unwrap_or(name)),
        );
    }
    if !names.is_empty() {
        ops.push(Op::DeleteAlarms { names, changes });
    }
    Ok(())
}

/// The spec's service name and the metric, when `name` is one of our alarms'
/// names (`{stack}--{service}-cpu-high--{env}`); `None` for any other alarm.
pub fn parse_alarm_name(ctx: &Context, name: &str) -> Option<(String, AlarmMetric)> {
    let middle = naming::component_in(name, &ctx.stack, &ctx.env)?;
    AlarmMetric::ALL.into_iter().find_map(|m| {
        let service = middle.strip_suffix(&format!("-{}-high", m.key()))?;
        (!service.is_empty() && alarm_name(&ctx.stack, &ctx.env, service, m) == name)
            .then(|| (service.to_owned(), m))
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
