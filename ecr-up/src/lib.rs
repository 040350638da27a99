//! ecr-up: the image registry layer of a fargate-pipes platform.
//!
//! One ECR repository per service that builds its own image, named
//! `{stack}/{env}/{service}`: scan on push, immutable tags, encrypted (AES256 or
//! KMS), and a lifecycle policy keeping the last N images. Reads `spec.ecr` and
//! `spec.services` (flags override `spec.ecr`), writes `.ecr`.
//!
//! The run: desired state (`spec`), the stack's lock, `discover` (reads only),
//! `plan` (pure: creates, updates of drifted settings, replaces of empty
//! repositories whose encryption changed, refusals), then `apply` or, with
//! `--plan`, the changes recorded and nothing made. `teardown` removes the
//! layer through `teardown::LAYER`. docs/converge/ecr-up.md lists field by
//! field what is compared and how it is fixed.

use clap::Parser;

use common::owner::Mismatches;
use common::sections::{Ecr, EcrRepository};
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Result};

mod apply;
pub mod discover;
pub mod plan;
pub mod spec;
pub mod teardown;

use discover::Actual;
use plan::{Op, Planned};
use spec::{Desired, EcrSpec, Encryption};

/// Make the ECR repositories: one per service, scanned on push, immutable tags, encrypted, lifecycle keep-N.
///
/// Reads `spec.ecr` and `spec.services` from the document on stdin (flags override
/// `spec.ecr`). A repository is made for each service in `spec.ecr.repositories`, or by
/// default for each service of `spec.services` that has no "image" of its own. Writes
/// `.ecr`: name, ARN and URL of each repository, by service
/// (`jq -r .ecr.repositories.api.url`). With no stdin (a terminal, or --no-input) it
/// runs from flags alone. Re-running changes nothing, and a changed scan, tag or
/// lifecycle setting is updated in place; encryption cannot change once a repository
/// exists: an empty repository is replaced, one holding images refused. The
/// repository of a service dropped from the spec is kept (images outlive a service).
/// A repository of our name that is not tagged as this stack's, env's and service's
/// is refused (exit 10), as is a document naming another stack's repositories.
/// With --plan the changes go to the document's "plan" and nothing is changed.
/// `teardown` removes the repositories, images included.
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
    let desired = spec::desired(&spec.ecr, &spec.services)?;
    let hints = hints(&doc)?;
    doc.set_spec("ecr", &spec.ecr);
    if desired.services.is_empty() {
        tracing::info!(
            "no repositories to make: spec.ecr.repositories is empty and no service of spec.services builds its own image"
        );
        doc.set_layer("ecr", &Ecr::default());
        return Ok(doc);
    }
    let first_run = doc.get("ecr").is_none();
    let read = || async {
        let mismatches = Mismatches::default();
        let actual = discover::discover(&ctx, &desired, &hints, &mismatches).await?;
        mismatches.into_result(&ctx)?;
        let planned = plan::plan(&ctx, &desired, &actual)?;
        Ok((actual, planned))
    };
    let (actual, planned) = ctx
        .read_then_lock(first_run, read, |(_, planned)| !planned.is_empty())
        .await?;
    say_kept(&ctx, &desired, &actual, &planned);
    let made = if ctx.plan_only {
        planned_ids(&ctx, &planned)
    } else {
        apply::apply(&ctx, planned).await?
    };
    doc.set_layer("ecr", &section(&ctx, &desired, &actual, &made));
    Ok(doc)
}

/// The repository names the document records: hints, checked by their tags.
fn hints(doc: &Document) -> Result<Vec<String>> {
    let ecr: Option<Ecr> = doc.layer("ecr")?;
    Ok(ecr
        .into_iter()
        .flat_map(|e| e.repositories.into_values())
        .map(|r| r.name)
        .filter(|n| !n.is_empty() && !common::plan::is_planned(n))
        .collect())
}

/// Logs the unchanged repositories, and the ones kept although their service
/// left the spec.
fn say_kept(ctx: &Context, desired: &Desired, actual: &Actual, planned: &[Planned]) {
    for service in &desired.services {
        let name = ctx.path(service);
        if let Some(repo) = actual.repos.get(&name) {
            if !planned.iter().any(|p| p.change.name == name) {
                ctx.report.adopted(plan::KIND, &name, &repo.arn);
            }
        }
    }
    for name in plan::kept(ctx, desired, actual) {
        tracing::info!(
            "kept {} {name}: its service is no longer in the spec, and images outlive a service \
             (teardown removes it)",
            plan::KIND
        );
    }
}

/// `--plan`: each change recorded, and placeholders for what creates would make.
fn planned_ids(ctx: &Context, planned: &[Planned]) -> apply::Made {
    let mut made = apply::Made::new();
    for p in planned {
        ctx.report.change(p.change.clone());
        if let Op::Create(c) | Op::Replace { create: c, .. } = &p.op {
            let ids = (
                common::plan::planned(plan::KIND, &c.name),
                common::plan::planned("ecr repository url", &c.name),
            );
            made.insert(c.name.clone(), ids);
        }
    }
    made
}

/// `.ecr`: every wanted repository, by service.
fn section(ctx: &Context, desired: &Desired, actual: &Actual, made: &apply::Made) -> Ecr {
    let repositories = desired
        .services
        .iter()
        .map(|service| {
            let name = ctx.path(service);
            let (arn, url) = match (made.get(&name), actual.repos.get(&name)) {
                (Some((arn, url)), _) => (arn.clone(), url.clone()),
                (None, Some(r)) => (r.arn.clone(), r.uri.clone()),
                (None, None) => Default::default(),
            };
            (service.clone(), EcrRepository { name, arn, url })
        })
        .collect();
    Ecr { repositories }
}
