//! Applies a plan: phase by phase (`ops::Phase`, dependency order), the ops of
//! a phase concurrently, at most `IN_FLIGHT` per AWS service. Each change is
//! recorded once it is made. A failed op does not cancel the others of its
//! phase (they finish, and are recorded); the run stops after the phase with
//! the first error, and a re-run picks up from what exists.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Semaphore;

use common::plan::Leftovers;
use common::{Context, Error, Result};

use crate::aws::Clients;
use crate::egress::Egress;
use crate::ops::{Ids, Op, Phase};

/// Calls in flight per AWS service: well under every API's burst rate, so a
/// large stack is not throttled into the SDK's backoff.
pub const IN_FLIGHT: usize = common::bounded::PER_SERVICE;

/// Runs every op; `ids` maps the placeholders of what was created. The phases
/// that start tasks wait for the private subnets' way out first (`egress`).
pub async fn apply(
    ctx: &Context,
    c: &Clients,
    ops: &[Op],
    ids: &Ids,
    egress: &Egress,
) -> Result<()> {
    let mut phases: BTreeMap<Phase, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        phases.entry(op.phase()).or_default().push(op);
    }
    let limits = Limits::default();
    let mut way_out = false;
    for (phase, ops) in phases {
        if !way_out && matches!(phase, Phase::Services | Phase::Deployments) {
            egress.ready(&c.ec2).await?;
            way_out = true;
        }
        let results =
            common::join_all(ops.into_iter().map(|op| run(ctx, c, ids, &limits, op))).await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(e);
        }
    }
    Ok(())
}

/// Teardown: every op, phase by phase; what fails is recorded in `left` and
/// the rest goes on (a delete that depends on it fails too, and is named).
pub async fn destroy(ctx: &Context, c: &Clients, ops: &[Op], left: &Leftovers) {
    let mut phases: BTreeMap<Phase, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        phases.entry(op.phase()).or_default().push(op);
    }
    let (limits, ids) = (Limits::default(), Ids::default());
    for (_, ops) in phases {
        common::join_all(ops.into_iter().map(|op| {
            let (limits, ids) = (&limits, &ids);
            async move {
                let (kind, name) = op.change(ctx).map_or_else(
                    || ("security group rules".to_owned(), String::new()),
                    |c| (c.kind, c.name),
                );
                left.attempt(&kind, &name, run(ctx, c, ids, limits, op))
                    .await;
            }
        }))
        .await;
    }
}

async fn run(ctx: &Context, c: &Clients, ids: &Ids, limits: &Limits, op: &Op) -> Result<()> {
    let permit = limits.of(op.aws_service());
    let _held = permit
        .acquire()
        .await
        .map_err(|e| Error::Io(format!("internal: {e}")))?;
    let created = op.apply(c, ctx, ids).await?;
    if let Some(mut change) = op.change(ctx) {
        if change.id.is_none() {
            change.id = created;
        }
        ctx.report.change(change);
    }
    Ok(())
}

/// One semaphore per AWS service.
#[derive(Debug, Default)]
struct Limits(std::sync::Mutex<HashMap<&'static str, Arc<Semaphore>>>);

impl Limits {
    fn of(&self, service: &'static str) -> Arc<Semaphore> {
        self.0
            .lock()
            .expect("limits lock")
            .entry(service)
            .or_insert_with(|| Arc::new(Semaphore::new(IN_FLIGHT)))
            .clone()
    }
}
