//! teardown: removes a fargate-pipes stack, layer by layer in reverse order.
//!
//! Each layer crate owns the knowledge of its resources (`<layer>::teardown`):
//! how to find them by tag and how to delete them in AWS's dependency order.
//! This crate only orders the layers (`STAGES`), refuses a document whose ids
//! belong to another stack or env, lists the deletes for `--plan`/`--dry-run`,
//! and turns whatever could not be deleted into the "left behind" error (exit 9).

use clap::Parser;

use common::layer::{Layer, Owned, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Change, Leftovers};
use common::{join_all, CommonArgs, Context, Document, Result};

/// Remove everything of a stack and env: from the document, and by tag.
///
/// With a document on stdin it removes what the document lists and sweeps by tag
/// for anything a crashed run created but never wrote down; with --stack and --env
/// alone (no stdin) it finds everything by tag. Only resources tagged with this stack
/// and env are ever touched, in every layer: scaling first (policies, targets, alarms);
/// then services; then load balancer, cluster, secrets and repositories
/// (concurrently); the network last. Prints the document without the removed layers
/// (the spec stays, ready to bring up again); with --plan (or --dry-run), adds the
/// deletes to the document's "plan" array and changes nothing. A document whose
/// ids belong to another stack or env is refused (exit 10) before anything is
/// deleted. Exit code 9 names what could not be removed.
#[derive(Debug, Parser)]
#[command(name = "teardown", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Delete secrets at once instead of scheduling them with their recovery window
    #[arg(long)]
    pub force_delete_secrets: bool,
    /// Remove a protected stack/env (spec.protected; prod by default): name it exactly
    #[arg(long, value_name = "STACK/ENV")]
    pub confirm: Option<String>,
}

/// A protected stack/env goes only when `--confirm` names it exactly.
fn check_protection(args: &Args, ctx: &Context, doc: &Document) -> Result<()> {
    if ctx.plan_only || !common::spec::is_protected(doc, &ctx.env) {
        return Ok(());
    }
    let wanted = format!("{}/{}", ctx.stack, ctx.env);
    if args.confirm.as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    Err(common::Error::Spec(format!(
        "{wanted} is protected (spec.protected, prod by default): nothing was deleted; \
         to remove it, run teardown again with --confirm {wanted}"
    )))
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// The layers in teardown order: each stage's layers go concurrently, after the
/// stage before. Scaling first: a scalable target outlives its ECS service in
/// AWS and would scale a service being deleted. Then services: they hold target
/// groups, task roles, groups and ENIs. The load balancer, cluster, secrets and
/// repositories do not depend on one another. The network last: everything
/// else sits in it.
const STAGES: &[&[&dyn Layer]] = &[
    &[&scale_up::teardown::LAYER],
    &[&svc_up::teardown::LAYER],
    &[
        &alb_up::teardown::LAYER,
        &cluster_up::teardown::LAYER,
        &secrets_up::teardown::LAYER,
        &ecr_up::teardown::LAYER,
    ],
    &[&net_up::teardown::LAYER],
];

fn layers() -> impl Iterator<Item = &'static dyn Layer> {
    STAGES.iter().flat_map(|stage| stage.iter().copied())
}

/// What every layer found, stage by stage, discovered concurrently.
async fn discover(ctx: &Context, doc: &Document) -> Result<Vec<Vec<Box<dyn Owned>>>> {
    for layer in layers() {
        layer.check(doc)?;
    }
    // The document is read (a malformed section stops above, exit 3): now the
    // locks, every layer's, since teardown deletes them all.
    let tools: Vec<&str> = layers().map(|layer| layer.tool()).collect();
    ctx.lock_layers(&tools).await?;
    let mismatches = Mismatches::default();
    let found =
        common::try_join_all(layers().map(|layer| layer.discover(ctx, doc, &mismatches))).await?;
    mismatches.into_result(ctx)?;
    let mut found = found.into_iter();
    Ok(STAGES
        .iter()
        .map(|stage| found.by_ref().take(stage.len()).collect())
        .collect())
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    check_protection(&args, &ctx, &doc)?;
    let stages = discover(&ctx, &doc).await?;
    let plan: Vec<Change> = stages.iter().flatten().flat_map(|o| o.plan(&ctx)).collect();
    if plan.is_empty() {
        tracing::warn!(
            "found nothing of {}/{} in {}: nothing to remove",
            ctx.stack,
            ctx.env,
            ctx.region
        );
    }
    if ctx.plan_only {
        for change in plan {
            ctx.report.change(change);
        }
        return Ok(doc);
    }
    let left = Leftovers::default();
    let opts = TeardownOptions {
        force_delete_secrets: args.force_delete_secrets,
    };
    for stage in stages {
        join_all(stage.into_iter().map(|o| o.destroy(&ctx, &left, opts))).await;
    }
    left.into_result()?;
    for section in layers().flat_map(|l| l.sections()) {
        doc.remove(section);
    }
    Ok(doc)
}
