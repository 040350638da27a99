//! teardown: removes a fargate-pipes stack, layer by layer in reverse order.
//!
//! Each layer crate owns the knowledge of its resources (`<layer>::teardown`):
//! how to find them by tag and how to delete them in AWS's dependency order.
//! This crate only orders the layers, prints the plan for `--dry-run`, and turns
//! whatever could not be deleted into the "left behind" error (exit 9).

use clap::Parser;
use serde_json::json;

use common::plan::{Leftovers, Step};
use common::{CommonArgs, Context, Document, Result};

/// Remove everything of a stack and env: from the document, and by tag.
///
/// With a document on stdin it removes what the document lists and sweeps by tag
/// for anything a crashed run created but never wrote down; with --stack and --env
/// alone (no stdin) it finds everything by tag. Only resources tagged with this stack
/// and env are ever touched, in every layer: scaling first (policies, targets, alarms);
/// then services; then load balancer, cluster, secrets and repositories
/// (concurrently); the network last. Prints the document without the removed layers
/// (the spec stays, ready to bring up again); with --dry-run, prints the plan and
/// changes nothing. Exit code 9 names what could not be removed.
#[derive(Debug, Parser)]
#[command(name = "teardown", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print the deletions, in order, as JSON ({"plan": [...]}) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Delete secrets at once instead of scheduling them with their recovery window
    #[arg(long)]
    pub force_delete_secrets: bool,
}

impl AsRef<CommonArgs> for Args {
    fn as_ref(&self) -> &CommonArgs {
        &self.common
    }
}

/// The output sections teardown removes from the document.
const LAYERS: &[&str] = &[
    "scaling",
    "services",
    "discovery",
    "alb",
    "cluster",
    "secrets",
    "ecr",
    "network",
];

/// What every layer found, discovered concurrently.
struct Found {
    scaling: scale_up::teardown::Found,
    services: svc_up::teardown::Found,
    alb: alb_up::teardown::Found,
    cluster: cluster_up::teardown::Found,
    secrets: secrets_up::teardown::Found,
    ecr: ecr_up::teardown::Found,
    network: net_up::teardown::Found,
}

async fn discover(ctx: &Context, doc: &Document) -> Result<Found> {
    let (scaling, services, discovery, alb, cluster, secrets, ecr, network) = (
        doc.layer("scaling")?,
        doc.layer("services")?,
        doc.layer("discovery")?,
        doc.layer("alb")?,
        doc.layer("cluster")?,
        doc.layer("secrets")?,
        doc.layer("ecr")?,
        doc.layer("network")?,
    );
    let (scaling, services, alb, cluster, secrets, ecr, network) = tokio::try_join!(
        scale_up::teardown::discover(ctx, scaling.as_ref()),
        svc_up::teardown::discover(ctx, services.as_ref(), discovery.as_ref()),
        alb_up::teardown::discover(ctx, alb.as_ref()),
        cluster_up::teardown::discover(ctx, cluster.as_ref()),
        secrets_up::teardown::discover(ctx, secrets.as_ref()),
        ecr_up::teardown::discover(ctx, ecr.as_ref()),
        net_up::teardown::discover(ctx, network.as_ref()),
    )?;
    Ok(Found {
        scaling,
        services,
        alb,
        cluster,
        secrets,
        ecr,
        network,
    })
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let found = discover(&ctx, &doc).await?;

    if args.dry_run {
        let mut plan: Vec<Step> = Vec::new();
        plan.extend(found.scaling.plan(&ctx));
        plan.extend(found.services.plan(&ctx));
        plan.extend(found.alb.plan(&ctx));
        plan.extend(found.cluster.plan(&ctx));
        plan.extend(found.secrets.plan(&ctx));
        plan.extend(found.ecr.plan(&ctx));
        plan.extend(found.network.plan(&ctx));
        // Later layers' sweeps (task roles, groups) see what an earlier layer owns:
        // each resource is listed once, where it is deleted first.
        let mut seen = std::collections::HashSet::new();
        plan.retain(|step| seen.insert((step.kind, step.id.clone())));
        let mut out = Document::new();
        out.set("stack", ctx.stack.as_str());
        out.set("env", ctx.env.as_str());
        out.set("region", ctx.region.as_str());
        out.set("plan", json!(plan));
        return Ok(out);
    }

    let left = Leftovers::default();
    // Scaling first: a scalable target outlives its ECS service in AWS, and
    // would scale a service being deleted.
    found.scaling.destroy(&ctx, &left).await;
    // Then services: they hold target groups, task roles, groups and ENIs.
    found.services.destroy(&ctx, &left).await;
    // The load balancer's ENIs and group sit in the network; nothing else needs it.
    // Cluster, secrets and repositories do not depend on one another.
    tokio::join!(
        found.alb.destroy(&ctx, &left),
        found.cluster.destroy(&ctx, &left),
        found
            .secrets
            .destroy(&ctx, &left, args.force_delete_secrets),
        found.ecr.destroy(&ctx, &left),
    );
    found.network.destroy(&ctx, &left).await;
    left.into_result()?;
    for layer in LAYERS {
        doc.remove(layer);
    }
    Ok(doc)
}
