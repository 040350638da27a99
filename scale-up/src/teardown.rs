//! Removing the scaling layer: discovery from the document's `.scaling` and by
//! sweep, then deletion in order: scaling policies, scalable targets, alarms.
//!
//! Scalable targets are found by resource id: every target on a service of the
//! stack's cluster (`service/{stack}--cluster--{env}/...`) is this layer's, since
//! the cluster is the stack's and env's own. Alarms are found by name
//! (`{stack}-{service}-{cpu|memory}-high-{env}`) and kept only when tagged ours.
//! teardown runs this before the services: a target outlives its ECS service in
//! AWS, and an alarm is meaningless without one.

use common::plan::{Leftovers, Step};
use common::sections::Scaling;
use common::{join_all, Context, Result};

use crate::converge::{self, Clients};

const SECTION: &str = "scaling";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundItem {
    pub id: String,
    pub name: String,
}

/// A scalable target and the scaling policies on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundTarget {
    /// `service/{cluster}/{service}`.
    pub resource_id: String,
    /// Policy ARN and name.
    pub policies: Vec<FoundItem>,
}

/// Everything of the scaling layer that belongs to this stack and env.
#[derive(Debug, Default)]
pub struct Found {
    pub targets: Vec<FoundTarget>,
    /// Alarm ARN and name.
    pub alarms: Vec<FoundItem>,
}

pub async fn discover(ctx: &Context, section: Option<&Scaling>) -> Result<Found> {
    let c = Clients::new(ctx);
    let listed: Vec<String> = section
        .map(|s| s.iter().map(|(_, o)| o.resource_id.clone()).collect())
        .unwrap_or_default();
    let cluster = ctx.name("cluster");
    let (targets, alarms) = tokio::try_join!(
        converge::list_targets(&c, &cluster, &listed),
        converge::list_alarms(&c, ctx),
    )?;
    let targets = common::try_join_all(targets.iter().map(|t| {
        let c = &c;
        async move {
            let rid = t.resource_id().to_owned();
            let policies = converge::list_policies(c, &rid)
                .await?
                .iter()
                .map(|p| FoundItem {
                    id: p.policy_arn().to_owned(),
                    name: p.policy_name().to_owned(),
                })
                .collect();
            Ok::<_, common::Error>(FoundTarget {
                resource_id: rid,
                policies,
            })
        }
    }))
    .await?;
    // The document's alarm names are of our shape too: the sweep finds them.
    let alarms = alarms
        .into_iter()
        .filter(|(name, f)| {
            f.owned && converge::parse_alarm_name(&ctx.stack, &ctx.env, name).is_some()
        })
        .map(|(name, f)| FoundItem {
            id: f.alarm.alarm_arn().unwrap_or_default().to_owned(),
            name,
        })
        .collect();
    Ok(Found { targets, alarms })
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.alarms.is_empty()
    }

    /// The deletions, in order: every policy, then the targets, then the alarms.
    pub fn steps(&self, _ctx: &Context) -> Vec<Step> {
        let mut steps: Vec<Step> = self
            .targets
            .iter()
            .flat_map(|t| {
                t.policies.iter().map(|p| Step {
                    layer: SECTION,
                    kind: "scaling policy",
                    id: p.id.clone(),
                    name: p.name.clone(),
                })
            })
            .collect();
        steps.extend(self.targets.iter().map(|t| Step {
            layer: SECTION,
            kind: "scalable target",
            id: t.resource_id.clone(),
            name: t.resource_id.clone(),
        }));
        steps.extend(self.alarms.iter().map(|a| Step {
            layer: SECTION,
            kind: "cloudwatch alarm",
            id: a.id.clone(),
            name: a.name.clone(),
        }));
        steps
    }

    /// Deletes everything found; what fails is recorded in `left`.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        let c = Clients::new(ctx);
        let c = &c;
        let report = &ctx.report;
        join_all(self.targets.iter().flat_map(|t| {
            t.policies.iter().map(move |p| async move {
                if left
                    .attempt(
                        "scaling policy",
                        &p.name,
                        converge::delete_policy(c, &t.resource_id, &p.name),
                    )
                    .await
                {
                    report.deleted("scaling policy", &p.name);
                }
            })
        }))
        .await;
        // Deregistering also takes any policy that failed above with it in AWS.
        join_all(self.targets.iter().map(|t| async move {
            let rid = &t.resource_id;
            if left
                .attempt("scalable target", rid, converge::deregister_target(c, rid))
                .await
            {
                report.deleted("scalable target", rid);
            }
        }))
        .await;

        if self.alarms.is_empty() {
            return;
        }
        let names: Vec<String> = self.alarms.iter().map(|a| a.name.clone()).collect();
        if left
            .attempt(
                "cloudwatch alarms",
                &names.join(", "),
                converge::delete_alarms(c, &names),
            )
            .await
        {
            for name in &names {
                report.deleted("cloudwatch alarm", name);
            }
        }
    }
}

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct ScalingLayer;

pub static LAYER: ScalingLayer = ScalingLayer;

impl common::layer::Layer for ScalingLayer {
    fn tool(&self) -> &'static str {
        "scale-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["scaling"]
    }

    fn check(&self, doc: &common::Document) -> Result<()> {
        doc.layer::<Scaling>("scaling").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a common::Document,
        _mismatches: &'a common::owner::Mismatches,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn common::layer::Owned>>> {
        Box::pin(async move {
            let scaling: Option<Scaling> = doc.layer("scaling")?;
            Ok(Box::new(discover(ctx, scaling.as_ref()).await?) as Box<dyn common::layer::Owned>)
        })
    }
}

impl common::layer::Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<common::plan::Change> {
        self.steps(ctx)
            .iter()
            .map(|s| s.change("scale-up"))
            .collect()
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
