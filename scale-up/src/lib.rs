//! scale-up: the scaling layer of a fargate-pipes platform.
//!
//! Per service with `scaling` in `spec.services`: an Application Auto Scaling
//! target on the ECS service's desired count (min/max, per env), target-tracking
//! policies on CPU, memory and ALB requests per target, and CloudWatch alarms on
//! CPU and memory. Reads `.cluster`, `.services` and (for requests) `.alb`;
//! writes `.scaling`. `teardown` removes it with the code in `teardown.rs`.

use clap::Parser;

use common::owner::Mismatches;
use common::plan::is_planned;
use common::sections::{Alb, Cluster, Scaling, Services};
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Error, Result};

mod apply;
mod calls;
mod desired;
mod discover;
mod plan;
pub mod teardown;

use discover::{Actual, Clients, Hints, Scope};
use plan::Prune;

/// Scale the services: auto scaling targets, target-tracking policies, CloudWatch alarms.
///
/// Reads `spec.services.<name>.scaling` (min, max, sizes, cpu, memory, requests,
/// scale_in_cooldown, scale_out_cooldown, alarms; like every tool it checks the
/// whole spec first), `.cluster` (cluster-up), `.services` (svc-up) and,
/// for request-count scaling, `.alb` (alb-up). For each scaled service: a scalable
/// target on its desired count, a target-tracking policy per metric named
/// `{stack}-{service}-{cpu|memory|requests}-{env}`, and alarms
/// `{stack}-{service}-{cpu|memory}-high-{env}`. Writes `.scaling`: per service its
/// resource id, bounds, policies and alarm names (`jq .scaling.api.max`). Re-running
/// changes nothing; changed bounds, targets or thresholds are updated in place; a
/// service that loses `scaling` loses its target, policies and alarms. `teardown`
/// removes what it made.
#[derive(Debug, Parser)]
#[command(name = "scale-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub async fn run(_args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let spec = Spec::validate(&doc)?;
    let checked = desired::read(&spec.services, &ctx.env);
    let cluster: Option<Cluster> = match doc.layer("cluster")? {
        Some(c) => Some(c),
        // Nothing to scale and no cluster: nothing scale-up made can exist
        // either (a target hangs on a service in the cluster), so no call.
        None if checked.is_empty() => {
            tracing::info!("no service of spec.services has scaling: nothing to do");
            doc.set_layer("scaling", &Scaling::default());
            return Ok(doc);
        }
        None => {
            return Err(Error::MissingLayer {
                section: "cluster".into(),
                tool: "cluster-up",
            })
        }
    };
    let deployed: Option<Services> = doc.layer("services")?;
    let alb: Option<Alb> = doc.layer("alb")?;
    let scaling: Option<Scaling> = doc.layer("scaling")?;
    let mut want = desired::build(&ctx, &checked, deployed.as_ref(), alb.as_ref())?;
    let prune = if common::spec::stated(&doc, "services") {
        Prune::Yes
    } else {
        Prune::No
    };
    let hints = hints(
        &want,
        cluster.as_ref(),
        deployed.as_ref(),
        alb.as_ref(),
        scaling.as_ref(),
    );
    let c = Clients::new(&ctx);
    let upstream_planned = cluster.as_ref().is_none_or(|cl| is_planned(&cl.arn));
    if upstream_planned {
        want.mark_planned(|_| true);
    } else {
        want.mark_planned(|s| {
            deployed
                .as_ref()
                .and_then(|d| d.get(s))
                .is_none_or(|o| is_planned(&o.service_arn))
        });
    }
    let read = || async {
        let actual = if upstream_planned {
            // No cluster yet (or only planned): nothing of this layer can exist.
            Actual::default()
        } else {
            let mismatches = Mismatches::default();
            let scope = Scope {
                want: &want,
                sweep: prune == Prune::Yes,
            };
            let actual = discover::discover(&c, &ctx, scope, &hints, &mismatches).await?;
            mismatches.into_result(&ctx)?;
            actual
        };
        plan::plan(&ctx, &want, &actual, prune)
    };
    let changes = |plan: &plan::Plan| !plan.changes().is_empty();
    let plan = ctx.read_then_lock(scaling.is_none(), read, changes).await?;
    let mut out = if ctx.plan_only {
        for change in plan.changes() {
            ctx.report.change(change);
        }
        apply::planned(&plan)
    } else {
        apply::apply(&ctx, &c, &plan).await?
    };
    if prune == Prune::No {
        // Nothing was pruned: what the document said of services no longer
        // asked for is still so in AWS.
        for (service, o) in scaling.iter().flat_map(|s| s.iter()) {
            out.entry(service.clone()).or_insert_with(|| o.clone());
        }
    }
    doc.set_layer("scaling", &Scaling(out));
    Ok(doc)
}

/// The document's names and ids that are not this run's own: each is looked
/// up and, when it is another stack's, refused (they are hints, never proof).
fn hints(
    want: &desired::Desired,
    cluster: Option<&Cluster>,
    deployed: Option<&Services>,
    alb: Option<&Alb>,
    scaling: Option<&Scaling>,
) -> Hints {
    let mut h = Hints {
        cluster: cluster
            .map(|c| c.name.clone())
            .filter(|n| *n != want.cluster),
        ..Hints::default()
    };
    if let Some(services) = deployed {
        h.services = services
            .iter()
            .map(|(_, o)| o.service_name.clone())
            .filter(|n| !want.services.iter().any(|s| s.ecs_service == *n))
            .collect();
    }
    if let Some(scaling) = scaling {
        for (_, o) in scaling.iter() {
            h.resource_ids.push(o.resource_id.clone());
            h.alarms.extend(o.alarms.iter().cloned());
        }
    }
    let requests = want
        .services
        .iter()
        .filter(|s| s.policies.iter().any(|p| p.label.is_some()));
    if let Some(alb) = alb {
        for s in requests {
            h.elb.push((alb.arn.clone(), "alb".to_owned()));
            if let Some(tg) = alb.target_groups.get(&s.service) {
                h.elb.push((tg.arn.clone(), format!("tg-{}", s.service)));
                if let Some(g) = &tg.green {
                    let green = common::spec::alb::green_service(&s.service);
                    h.elb.push((g.arn.clone(), format!("tg-{green}")));
                }
            }
        }
    }
    h.elb.sort();
    h.elb.dedup();
    h
}
