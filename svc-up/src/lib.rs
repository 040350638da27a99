//! svc-up: the services layer of a fargate-pipes platform.
//!
//! Per service of `spec.services`: a log group, a least-privilege task role, a
//! security group open only to the ALB and the declared callers, a task
//! definition (registered only when it changes), an optional Cloud Map service
//! in the stack's private DNS namespace, and the ECS service in the cluster's
//! private subnets. A blue/green service gets the `CODE_DEPLOY` deployment
//! controller, a CodeDeploy application and deployment group wired to alb-up's
//! target group pair and listeners, and a deployment for each new task
//! definition (`codedeploy.rs`, docs/blue-green.md). Reads `.network`,
//! `.cluster`, and when present `.ecr`, `.secrets`, `.alb`; writes `.services`
//! (and `.discovery`). `teardown` removes it with the code in `teardown.rs`.

use std::time::Duration;

use clap::Parser;

use common::sections::{Alb, Cluster, Ecr, Network, Secrets};
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Error, Result};

mod codedeploy;
mod converge;
pub mod spec;
pub mod teardown;

use spec::Upstream;

/// Run the services: log groups, task roles, security groups, task definitions,
/// Cloud Map discovery, ECS services, CodeDeploy for blue/green services.
///
/// Reads `.network` (net-up), `.cluster` (cluster-up), and when present `.ecr`
/// (images), `.secrets` (secret references), `.alb` (target groups, listeners
/// and the ALB's group); `spec.services` (image, cpu, memory, sizes, port,
/// desired_count, environment, secrets, container_health_check, stop_timeout,
/// read_only_root_filesystem, exec, discovery, callers, permissions,
/// log_retention_days, deployment, and whether scaling is set) and
/// `spec.discovery.namespace`. Writes `.services` (with `.codedeploy` for a
/// blue/green service) and, when a service is discovered, `.discovery`.
/// Re-running changes nothing; a changed task definition registers exactly one
/// new revision, rolled out by ECS (rolling) or by one CodeDeploy deployment
/// (blue-green); a scaled service's desired count is left to Application Auto
/// Scaling once it exists. `teardown` removes what it made.
#[derive(Debug, Parser)]
#[command(name = "svc-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Wait until every service is stable (steady state)
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub wait_timeout: u64,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let network: Network = doc.require("network", "net-up")?;
    let cluster: Cluster = doc.require("cluster", "cluster-up")?;
    let ecr: Option<Ecr> = doc.layer("ecr")?;
    let secrets: Option<Secrets> = doc.layer("secrets")?;
    let alb: Option<Alb> = doc.layer("alb")?;
    let spec = Spec::validate(&doc)?;
    let up = Upstream {
        cluster: &cluster,
        ecr: ecr.as_ref(),
        secrets: secrets.as_ref(),
        alb: alb.as_ref(),
    };
    let plan = spec::plan(&spec.services, &spec.discovery, up, &ctx.stack, &ctx.env)?;
    if network.private_subnet_ids.is_empty() && !plan.services.is_empty() {
        return Err(Error::Document(
            ".network has no private subnets: tasks run only in private subnets (re-run net-up)"
                .into(),
        ));
    }
    if plan.services.is_empty() {
        tracing::warn!("spec.services is empty: nothing to run");
    }
    ctx.lock().await?;

    let (out, disc) = converge::converge(&ctx, &network, &cluster, alb.as_ref(), &plan).await?;
    if args.wait && !out.is_empty() {
        converge::wait_stable(
            &ctx,
            &cluster.name,
            &out,
            Duration::from_secs(args.wait_timeout),
        )
        .await?;
    }
    doc.set_layer("services", &out);
    match disc {
        Some(d) => doc.set_layer("discovery", &d),
        None => {
            doc.remove("discovery");
        }
    }
    Ok(doc)
}
