//! ecr-up: the image registry layer of a fargate-pipes platform.
//!
//! One ECR repository per service that builds its own image, named
//! `{stack}-{service}-{env}`: scan on push, immutable tags, encrypted (AES256 or
//! KMS), and a lifecycle policy keeping the last N images. Reads `spec.ecr` and
//! `spec.services` (flags override `spec.ecr`), writes `.ecr`. `teardown` removes
//! it with the code in `teardown.rs`.

use clap::Parser;

use common::sections::Ecr;
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Result};

mod converge;
pub mod spec;
pub mod teardown;

use spec::{EcrSpec, Encryption};

/// Make the ECR repositories: one per service, scanned on push, immutable tags, encrypted, lifecycle keep-N.
///
/// Reads `spec.ecr` and `spec.services` from the document on stdin (flags override
/// `spec.ecr`). A repository is made for each service in `spec.ecr.repositories`, or by
/// default for each service of `spec.services` that has no "image" of its own. Writes
/// `.ecr`: name, ARN and URL of each repository, by service
/// (`jq -r .ecr.repositories.api.url`). With no stdin (a terminal, or --no-input) it
/// runs from flags alone. Re-running changes nothing, and a changed scan, tag or
/// lifecycle setting is updated in place; encryption cannot change once a repository
/// exists. `teardown` removes the repositories, images included.
#[derive(Debug, Parser)]
#[command(name = "ecr-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A service to make a repository for, repeatable or comma-separated [spec.ecr.repositories; default: spec.services without an image]
    #[arg(long = "repository", value_name = "SERVICE", value_delimiter = ',')]
    pub repositories: Vec<String>,
    /// Images to keep per repository, 1 to 1000 [spec.ecr.keep_images; default 10]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub keep_images: Option<i64>,
    /// Let a tag be pushed again to another image [spec.ecr.immutable_tags: false; default: immutable]
    #[arg(long)]
    pub mutable_tags: bool,
    /// Do not scan images on push [spec.ecr.scan_on_push: false; default: scan]
    #[arg(long)]
    pub no_scan: bool,
    /// Encryption at rest, fixed at creation [spec.ecr.encryption; default aes256]
    #[arg(long, value_enum)]
    pub encryption: Option<Encryption>,
    /// KMS key ARN, alias or id, with --encryption kms [spec.ecr.kms_key; default: the AWS managed key]
    #[arg(long, value_name = "KEY")]
    pub kms_key: Option<String>,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

impl Args {
    /// The spec with the flags applied.
    fn apply(&self, mut spec: EcrSpec) -> EcrSpec {
        if !self.repositories.is_empty() {
            spec.repositories = Some(self.repositories.clone());
        }
        if let Some(n) = self.keep_images {
            spec.keep_images = Some(n);
        }
        if self.mutable_tags {
            spec.immutable_tags = Some(false);
        }
        if self.no_scan {
            spec.scan_on_push = Some(false);
        }
        if let Some(e) = self.encryption {
            spec.encryption = Some(e);
        }
        if let Some(k) = &self.kms_key {
            spec.kms_key = Some(k.clone());
        }
        spec
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let mut spec = Spec::load(&doc)?;
    spec.ecr = args.apply(spec.ecr);
    // The flags' values are checked like the spec's, with the whole spec.
    spec.check(&doc)?;
    let plan = spec::plan(&spec.ecr, &spec.services)?;
    doc.set_spec("ecr", &spec.ecr);

    let ecr = if plan.services.is_empty() {
        tracing::info!(
            "no repositories to make: spec.ecr.repositories is empty and no service of spec.services builds its own image"
        );
        Ecr::default()
    } else {
        ctx.lock().await?;
        let client = aws_sdk_ecr::Client::new(&ctx.sdk);
        converge::converge(&client, &ctx, &plan).await?
    };
    doc.set_layer("ecr", &ecr);
    Ok(doc)
}
