//! scale-up: the scaling layer of a fargate-pipes platform.
//!
//! Per service with `scaling` in `spec.services`: an Application Auto Scaling
//! target on the ECS service's desired count (min/max, per env), target-tracking
//! policies on CPU, memory and ALB requests per target, and CloudWatch alarms on
//! CPU and memory. Reads `.cluster`, `.services` and (for requests) `.alb`;
//! writes `.scaling`. `teardown` removes it with the code in `teardown.rs`.

use clap::Parser;

use common::sections::{Alb, Cluster, Scaling, Services};
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Error, Result};

mod converge;
mod spec;
pub mod teardown;

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
    let checked = spec::read(&spec.services, &ctx.env);
    let cluster: Cluster = match doc.layer("cluster")? {
        Some(c) => c,
        // Nothing to scale and no cluster: nothing scale-up made can exist either.
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
    let plan = spec::plan(
        &checked,
        spec::Upstream {
            cluster: &cluster,
            services: deployed.as_ref(),
            alb: alb.as_ref(),
        },
    )?;
    ctx.lock().await?;
    let out = converge::converge(&ctx, &plan).await?;
    doc.set_layer("scaling", &Scaling(out));
    Ok(doc)
}
