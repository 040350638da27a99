//! Applying a plan: its operations in dependency order, each recorded once
//! it is made, and `.scaling` from what was made.
//!
//! Phase 0 registers targets, puts alarms and deletes policies; phase 1 puts
//! policies (AWS refuses one without its target) and deregisters targets
//! (after their policies are gone). Within a phase the operations are
//! independent and run concurrently (the shared HTTP client bounds the calls
//! in flight per service).

use std::collections::BTreeMap;

use common::sdk::{try_join_bounded, IN_FLIGHT};
use common::sections::{ScalingOut, ScalingPolicyOut};
use common::{Context, Error, Result};

use crate::calls;
use crate::discover::Clients;
use crate::plan::{configuration, Op, Plan};

/// Makes every change of the plan; returns `.scaling`.
pub async fn apply(
    ctx: &Context,
    c: &Clients,
    plan: &Plan,
) -> Result<BTreeMap<String, ScalingOut>> {
    let mut put = BTreeMap::new();
    for phase in 0..=1 {
        let ops = plan.ops.iter().filter(|o| o.phase() == phase);
        let done = try_join_bounded(ops.map(|op| run(ctx, c, op)), IN_FLIGHT).await?;
        put.extend(done.into_iter().flatten());
    }
    output(plan, &put)
}

/// Makes one operation and records its changes. Returns (policy name, ARN)
/// for a policy put.
pub async fn run(ctx: &Context, c: &Clients, op: &Op) -> Result<Option<(String, String)>> {
    let mut arn = None;
    match op {
        Op::RegisterTarget {
            resource_id,
            min,
            max,
            tag,
            ..
        } => {
            calls::register_target(c, ctx, resource_id, (*min, *max), tag.as_deref()).await?;
        }
        Op::PutPolicy {
            resource_id,
            name,
            policy,
            scale_in_cooldown,
            scale_out_cooldown,
            ..
        } => {
            let cfg = configuration(policy, *scale_in_cooldown, *scale_out_cooldown)?;
            let put = calls::put_policy(c, resource_id, name, cfg).await?;
            arn = Some((name.clone(), put));
        }
        Op::DeletePolicy {
            resource_id, name, ..
        } => calls::delete_policy(c, resource_id, name).await?,
        Op::DeregisterTarget { resource_id, .. } => {
            calls::deregister_target(c, resource_id).await?
        }
        Op::PutAlarm {
            service,
            alarm,
            cluster,
            tag,
            ..
        } => calls::put_alarm(c, ctx, cluster, (service, alarm), tag.as_deref()).await?,
        Op::DeleteAlarms { names, .. } => calls::delete_alarms(c, names).await?,
    }
    for change in op.changes() {
        ctx.report.change(change);
    }
    Ok(arn)
}

/// `.scaling`: the plan's output with the ARNs of the policies just put.
fn output(plan: &Plan, put: &BTreeMap<String, String>) -> Result<BTreeMap<String, ScalingOut>> {
    plan.out
        .iter()
        .map(|(service, o)| {
            let policies = o
                .policies
                .iter()
                .map(|(key, (name, kept))| {
                    let arn = kept
                        .clone()
                        .or_else(|| put.get(name).cloned())
                        .ok_or_else(|| {
                            Error::Io(format!(
                                "internal: scaling policy {name} was neither kept nor put"
                            ))
                        })?;
                    Ok((
                        key.clone(),
                        ScalingPolicyOut {
                            name: name.clone(),
                            arn,
                        },
                    ))
                })
                .collect::<Result<_>>()?;
            Ok((
                service.clone(),
                ScalingOut {
                    resource_id: o.resource_id.clone(),
                    min: o.min,
                    max: o.max,
                    policies,
                    alarms: o.alarms.clone(),
                },
            ))
        })
        .collect()
}

/// `.scaling` in plan mode: a policy still to be put has a placeholder ARN.
pub fn planned(plan: &Plan) -> BTreeMap<String, ScalingOut> {
    let put: BTreeMap<String, String> = plan
        .ops
        .iter()
        .filter_map(|o| match o {
            Op::PutPolicy { name, .. } => Some((
                name.clone(),
                common::plan::planned(crate::plan::POLICY, name),
            )),
            _ => None,
        })
        .collect();
    output(plan, &put).unwrap_or_default()
}
