//! Removing the scaling layer (`LAYER`, walked by `teardown`).
//!
//! Discovery is scale-up's own, with nothing wanted and sweeping: the targets
//! on services of this stack's cluster, the alarms of this stack's names, and
//! the document's `.scaling` resource ids and alarm names as hints (one that
//! is another stack's, or untagged, is a mismatch: the whole teardown stops
//! before any delete). The deletes are the plan's pruning of everything: a
//! target only when its own tags say this stack, env and `{service}-scaling`
//! (its policies, which keep no tags, go with it first), an alarm only when
//! tagged ours. teardown runs this before the services: a target outlives its
//! ECS service in AWS, and an alarm is meaningless without one.

use futures_util::future::BoxFuture;

use common::layer::{Layer, Owned, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Change, Leftovers};
use common::sections::Scaling;
use common::{Context, Document, Result};

use crate::desired::Desired;
use crate::discover::{self, Clients, Hints, Scope};
use crate::plan::{self, Op, Plan, Prune};

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct ScalingLayer;

pub static LAYER: ScalingLayer = ScalingLayer;

impl Layer for ScalingLayer {
    fn tool(&self) -> &'static str {
        "scale-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["scaling"]
    }

    fn check(&self, doc: &Document) -> Result<()> {
        doc.layer::<Scaling>("scaling").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a Document,
        mismatches: &'a Mismatches,
    ) -> BoxFuture<'a, Result<Box<dyn Owned>>> {
        Box::pin(async move {
            let scaling: Option<Scaling> = doc.layer("scaling")?;
            let found = find(ctx, scaling.as_ref(), mismatches).await?;
            Ok(Box::new(found) as Box<dyn Owned>)
        })
    }
}

/// What the layer found: the deletes, checked against their tags.
#[derive(Debug)]
pub struct Found {
    c: Clients,
    plan: Plan,
}

/// Finds the layer (reads only) and plans its removal. A target or alarm of
/// ours whose tags name another component is refused (exit 10).
pub async fn find(
    ctx: &Context,
    section: Option<&Scaling>,
    mismatches: &Mismatches,
) -> Result<Found> {
    let c = Clients::new(ctx);
    let nothing = Desired {
        cluster: ctx.name("cluster"),
        services: vec![],
    };
    let mut hints = Hints::default();
    for (_, o) in section.iter().flat_map(|s| s.iter()) {
        hints.resource_ids.push(o.resource_id.clone());
        hints.alarms.extend(o.alarms.iter().cloned());
    }
    let scope = Scope {
        want: &nothing,
        sweep: true,
    };
    let actual = discover::discover(&c, ctx, scope, &hints, mismatches).await?;
    let plan = plan::plan(ctx, &nothing, &actual, Prune::Yes)?;
    Ok(Found { c, plan })
}

impl Owned for Found {
    fn plan(&self, _ctx: &Context) -> Vec<Change> {
        self.plan.changes()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: TeardownOptions,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Policies and alarms, then the targets: a failed policy delete
            // does not stop its target's (deregistering takes it along).
            for phase in 0..=1 {
                let ops = self.plan.ops.iter().filter(|o| o.phase() == phase);
                common::sdk::join_bounded(
                    ops.map(|op| attempt(ctx, &self.c, left, op)),
                    common::sdk::IN_FLIGHT,
                )
                .await;
            }
        })
    }
}

async fn attempt(ctx: &Context, c: &Clients, left: &Leftovers, op: &Op) {
    let first = op.changes().into_iter().next();
    let (kind, name) = first.map(|c| (c.kind, c.name)).unwrap_or_default();
    left.attempt(&kind, &name, async {
        crate::apply::run(ctx, c, op).await.map(drop)
    })
    .await;
}
