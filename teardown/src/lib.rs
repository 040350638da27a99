//! teardown: removes a fargate-pipes stack, layer by layer in reverse order.
//!
//! Each layer crate owns the knowledge of its resources (`<layer>::teardown`):
//! how to find them by tag and how to delete them in AWS's dependency order.
//! This crate only orders the layers, prints the plan for `--dry-run`, and turns
//! whatever could not be deleted into the "left behind" error.

use clap::Parser;
use serde_json::json;

use common::plan::{Leftovers, Step};
use common::sections::Network;
use common::{CommonArgs, Context, Document, Result};

/// Remove everything of a stack and env: from the document, and by tag.
///
/// With a document on stdin it removes what the document lists and sweeps by tag
/// for anything a crashed run created but never wrote down; with --stack and --env
/// alone (no stdin) it finds everything by tag. Only resources tagged with this stack
/// and env are ever touched. Prints the document without the removed layers (the
/// spec stays, ready to bring up again); with --dry-run, prints the plan instead and
/// changes nothing. Exit code 9 names what could not be removed.
#[derive(Debug, Parser)]
#[command(name = "teardown", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print the deletions, in order, as JSON ({"plan": [...]}) and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl AsRef<CommonArgs> for Args {
    fn as_ref(&self) -> &CommonArgs {
        &self.common
    }
}

/// The output sections teardown removes from the document, last layer first.
const LAYERS: &[&str] = &["network"];

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let ec2 = aws_sdk_ec2::Client::new(&ctx.sdk);
    let network = doc.layer::<Network>("network")?;
    let found = net_up::teardown::discover(&ec2, &ctx, network.as_ref()).await?;

    if args.dry_run {
        let plan: Vec<Step> = found.plan(&ctx);
        let mut out = Document::new();
        out.set("stack", ctx.stack.as_str());
        out.set("env", ctx.env.as_str());
        out.set("region", ctx.region.as_str());
        out.set("plan", json!(plan));
        return Ok(out);
    }

    let left = Leftovers::default();
    found.destroy(&ec2, &ctx, &left).await;
    left.into_result()?;
    for layer in LAYERS {
        doc.remove(layer);
    }
    Ok(doc)
}
