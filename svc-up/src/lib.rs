//! svc-up: the services layer of a fargate-pipes platform.
//!
//! Per service of `spec.services`: a log group, a least-privilege task role, a
//! security group open only to the ALB and the declared callers, a task
//! definition, an optional Cloud Map service in the stack's private DNS
//! namespace, and the ECS service in the cluster's private subnets. A
//! blue/green service gets the `CODE_DEPLOY` controller, a CodeDeploy
//! application and deployment group wired to alb-up's target group pair and
//! listeners, and a deployment whenever it should run something new.
//!
//! The shape of every tool (docs/architecture.md): `desired` (pure, checked),
//! the stack's lock, `actual::discover` (reads only), `plan::plan` (pure: the
//! ops, each with its `Change`, ownership checked), then `--plan` records the
//! changes and changes nothing, or `apply` makes them phase by phase. What
//! each field converges to is in docs/converge/svc-up.md; `teardown` removes
//! the layer through `teardown::LAYER`.

use std::time::Duration;

use clap::Parser;

use common::owner::Mismatches;
use common::sections::{Cluster, Discovery, Ecr, Services};
use common::{CommonArgs, Context, Document, Result};

mod actual;
mod apply;
mod aws;
mod cloudmap;
mod codedeploy;
mod deploy;
mod desired;
mod ecs;
mod egress;
mod groups;
mod images;
mod logs;
mod names;
mod ops;
mod plan;
mod roles;
pub mod spec;
mod status;
mod taskdefs;
pub mod teardown;
#[cfg(test)]
mod testing;
mod wait;

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
/// Re-running changes nothing; a changed field changes exactly what it says
/// (docs/converge/svc-up.md); a service removed from an explicit, non-empty
/// spec.services is removed (its log group is kept). --plan lists the changes
/// and makes none. Refuses (exit 10) to touch anything not tagged for this
/// stack and env. `teardown` removes what it made.
#[derive(Debug, Parser)]
#[command(name = "svc-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Deploy IMAGE to SERVICE, repeatable: `api=registry/app:v2`, or `api=:v2`
    /// for a tag of the service's ECR repository. Recorded in the document's
    /// spec, so later runs from that document keep it
    #[arg(long = "image", value_name = "SERVICE=IMAGE", value_parser = deploy::parse_image)]
    pub images: Vec<(String, String)>,
    /// Start new tasks of SERVICE on the revision it runs (after a rotated
    /// secret, say), repeatable
    #[arg(long, value_name = "SERVICE")]
    pub force_new_deployment: Vec<String>,
    /// Follow each service's deployment (a blue/green one's through
    /// CodeDeploy) until it completes, with progress on stderr; exit 12 when
    /// one is rolled back or its tasks keep stopping, naming why
    #[arg(long)]
    pub wait: bool,
    /// Print what each service runs and how it is doing (JSON on stdout, a
    /// table on a terminal's stderr) instead of the document; changes nothing
    #[arg(long, conflicts_with_all = ["images", "force_new_deployment", "wait"])]
    pub status: bool,
    /// How long --wait waits, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub wait_timeout: u64,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn read_only(&self) -> bool {
        self.common.plan || self.status
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    if args.status {
        let cluster: Cluster = doc.require("cluster", "cluster-up")?;
        let spec = common::spec::Spec::load(&doc)?;
        let names: Vec<String> = spec.services.keys().cloned().collect();
        return status::report(&ctx, &cluster.name, &names).await;
    }
    deploy::record_images(&mut doc, &args.images)?;
    let mut desired = desired::Desired::read(&ctx, &doc)?;
    deploy::force(&mut desired.services, &args.force_new_deployment)?;
    if desired.services.is_empty() && !desired.stated {
        tracing::warn!(
            "spec.services is absent or empty: nothing to run, and nothing was pruned \
             (only an explicit, non-empty spec.services removes services)"
        );
        return Ok(doc);
    }
    let c = aws::Clients::new(&ctx);
    let hints = actual::Hints {
        services: doc.layer::<Services>("services")?,
        namespace_id: doc.layer::<Discovery>("discovery")?.map(|d| d.namespace_id),
    };
    let ecr: Option<Ecr> = doc.layer("ecr")?;
    let read = || async {
        let mismatches = Mismatches::default();
        let found = actual::discover(&c, &ctx, &desired, &hints, &mismatches).await?;
        mismatches.into_result(&ctx)?;
        // The images depend on what runs: settled on a copy, read by read.
        let mut settled = desired.clone();
        images::settle(&ctx, &c, ecr.as_ref(), &mut settled.services, &found).await?;
        let plan = plan::plan(&ctx, &settled, &found)?;
        Ok((settled, plan))
    };
    let first_run = hints.services.is_none();
    let changes = |(_, plan): &(desired::Desired, plan::Plan)| !plan.ops.is_empty();
    let (desired, plan) = ctx.read_then_lock(first_run, read, changes).await?;
    let (mut services, mut discovery) = (plan.services.clone(), plan.discovery.clone());
    if ctx.plan_only {
        for change in plan.ops.iter().filter_map(|op| op.change(&ctx)) {
            ctx.report.change(change);
        }
    } else {
        let ids = ops::Ids::default();
        apply::apply(&ctx, &c, &plan.ops, &ids, &desired.egress).await?;
        (services, discovery) = resolved(&ids, services, discovery);
        if args.wait {
            let targets = wait_targets(&desired, &services);
            let max = Duration::from_secs(args.wait_timeout);
            wait::follow(&ctx, &desired.cluster, &targets, max).await?;
        }
    }
    doc.set_layer("services", &services);
    match discovery {
        Some(d) => doc.set_layer("discovery", &d),
        None => {
            doc.remove("discovery");
        }
    }
    Ok(doc)
}

/// The services `--wait` follows: rolling ones at the revision this run left
/// them on, blue/green ones by their last CodeDeploy deployment.
fn wait_targets(desired: &desired::Desired, services: &Services) -> Vec<wait::Target> {
    desired
        .services
        .iter()
        .filter_map(|s| {
            let out = services.get(&s.name)?;
            let deployment = out
                .codedeploy
                .as_ref()
                .map(|c| c.last_deployment_id.clone());
            if s.blue_green.is_some() && deployment.as_ref().is_none_or(Option::is_none) {
                return None; // never deployed through CodeDeploy: nothing rolls out
            }
            Some(wait::Target {
                service: s.name.clone(),
                name: out.service_name.clone(),
                task_definition: out.task_definition_arn.clone(),
                deployment: deployment.flatten(),
            })
        })
        .collect()
}

/// The output sections with every placeholder replaced by what was created.
fn resolved(
    ids: &ops::Ids,
    services: Services,
    discovery: Option<Discovery>,
) -> (Services, Option<Discovery>) {
    let mut s = serde_json::to_value(&services).expect("services serialize");
    ids.resolve(&mut s);
    let mut d = serde_json::to_value(&discovery).expect("discovery serializes");
    ids.resolve(&mut d);
    (
        serde_json::from_value(s).unwrap_or(services),
        serde_json::from_value(d).unwrap_or(discovery),
    )
}
