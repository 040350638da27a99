//! secrets-up: the secrets layer of a fargate-pipes platform.
//!
//! Secrets Manager secrets named `{stack}--{name}--{env}` (db-credentials,
//! api-keys...), created without a value unless the person running the tool
//! gives one (`values`). Reads `spec.secrets` (flags add to it), writes
//! `.secrets`: names, ARNs and metadata, never a value.
//!
//! The run: desired state (`spec`) and the values, both before any AWS call;
//! the stack's lock; `discover` (reads only); `plan` (pure: creates, updates
//! of drifted settings and of values given anew, restores, prunes, refusals);
//! then `apply` or, with `--plan`, the changes recorded and nothing made.
//! `teardown` removes the layer through `teardown::LAYER`.
//! docs/converge/secrets-up.md lists field by field what is compared.
//!
//! A value never reaches stdout, stderr, the document or a log: it is read once
//! into `values::SecretValue` (which prints as `<redacted>`) and handed only to
//! the AWS calls that store it or compare it with the current one.

use std::collections::BTreeMap;

use clap::Parser;

use common::owner::Mismatches;
use common::sections::{SecretOut, Secrets};
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Error, Result};

mod apply;
pub mod discover;
pub mod plan;
pub mod spec;
pub mod teardown;
pub mod values;

use discover::Actual;
use plan::{Desired, Op, Planned};
use spec::SecretsSpec;
use values::SecretValue;

/// Create the stack's Secrets Manager secrets, named {stack}--{name}--{env} and tagged.
///
/// Reads `spec.secrets` from the document on stdin (flags add to it) and writes
/// `.secrets`: for each secret its name and ARN, KMS key, whether it has a value,
/// and its JSON keys. Names and ARNs only: a secret's value is never printed, logged
/// or written to the document.
///
/// Values come only from the person running secrets-up: a file (--value-file
/// NAME=PATH: a regular file of at most 64 KiB, used as is, trailing newline
/// included), an environment variable (--value-env NAME=VAR), or the terminal
/// (--value-prompt NAME, typed without echo); never from the document or the
/// command line itself. A secret is created without a value unless one is given.
/// A value given for an existing secret is stored when it differs from the current
/// one; the same value again changes nothing, and a run without a value keeps the
/// secret's. Description, KMS key and tags are converged; a secret scheduled for
/// deletion is restored. When spec.secrets lists secrets explicitly, this stack's
/// secrets it no longer lists are scheduled for deletion with their recovery
/// window; an absent or empty spec.secrets removes nothing. A secret of our name
/// not tagged as this stack's, env's and secret's is refused (exit 10), as is a
/// document naming another stack's secrets. With --plan the changes go to the
/// document's "plan" and nothing is changed. `teardown` removes the secrets
/// (deletion with each secret's recovery window).
#[derive(Debug, Parser)]
#[command(name = "secrets-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A secret with default settings, repeatable [adds spec.secrets.NAME]
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// Read a secret's value from a regular file, repeatable [adds spec.secrets.NAME]
    #[arg(long = "value-file", value_name = "NAME=PATH")]
    pub value_files: Vec<String>,
    /// Read a secret's value from an environment variable, repeatable [adds spec.secrets.NAME]
    #[arg(long = "value-env", value_name = "NAME=VAR")]
    pub value_envs: Vec<String>,
    /// Ask for a secret's value on the terminal, not echoed, repeatable [adds spec.secrets.NAME]
    #[arg(long = "value-prompt", value_name = "NAME")]
    pub value_prompts: Vec<String>,
    /// Stray words, refused in `run` without being echoed: a value typed on the
    /// command line by mistake must not end up in an error message.
    #[arg(hide = true)]
    pub stray: Vec<String>,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

impl Args {
    /// The spec with the flags' secrets added.
    fn apply(&self, mut spec: SecretsSpec, valued: impl Iterator<Item = String>) -> SecretsSpec {
        for name in self.secrets.iter().cloned().chain(valued) {
            spec.entry(name).or_default();
        }
        spec
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    if !args.stray.is_empty() {
        return Err(Error::Usage(
            "secrets-up takes no arguments besides flags, and never a secret value: \
             use --value-file NAME=PATH, --value-env NAME=VAR or --value-prompt NAME \
             (see secrets-up --help)"
                .into(),
        ));
    }
    // Whether the user's own spec lists the secrets, before flags add to it: a
    // `--secret x` alone is no statement that the stack has no other secret.
    let prune = common::spec::stated(&doc, "secrets");
    let sources = values::sources(&args.value_files, &args.value_envs, &args.value_prompts)?;
    let mut spec = Spec::load(&doc)?;
    spec.secrets = args.apply(spec.secrets, sources.keys().cloned());
    // The flags' secrets are checked like the spec's, with the whole spec.
    spec.check(&doc)?;
    let wanted = spec::resolve(&ctx, &spec.secrets)?;
    let given = values::read_all(&sources)?;
    for w in &wanted {
        if let Some(v) = given.get(&w.short) {
            values::check_json_keys(&w.short, v, &w.json_keys)?;
        }
    }
    let (hints, windows) = recorded(&doc)?;
    doc.set_spec("secrets", &spec.secrets);
    let desired = Desired {
        wanted,
        prune,
        windows,
    };
    let first_run = doc.get("secrets").is_none();
    let read = || async {
        let mismatches = Mismatches::default();
        let actual = discover::discover(&ctx, &desired.wanted, &given, &hints, &mismatches).await?;
        mismatches.into_result(&ctx)?;
        let planned = plan::plan(&ctx, &desired, &given, &actual)?;
        Ok((actual, planned))
    };
    let (actual, planned) = ctx
        .read_then_lock(first_run, read, |(_, planned)| !planned.is_empty())
        .await?;
    say_unchanged_and_unpruned(&ctx, &desired, &actual, &planned);
    let made = if ctx.plan_only {
        planned_ids(&ctx, &planned)
    } else {
        apply::apply(&ctx, planned, &given).await?
    };
    doc.set_layer("secrets", &section(&ctx, &desired, &given, &actual, &made));
    Ok(doc)
}

/// The document's `.secrets`: its ARNs and names (hints, checked by their
/// tags) and the recovery windows it recorded.
fn recorded(doc: &Document) -> Result<(Vec<String>, BTreeMap<String, u8>)> {
    let secrets: Option<Secrets> = doc.layer("secrets")?;
    let secrets = secrets.unwrap_or_default();
    let hints = secrets
        .values()
        .flat_map(|s| [s.arn.clone(), s.name.clone()])
        .filter(|id| !id.is_empty() && !common::plan::is_planned(id))
        .collect();
    let windows = secrets
        .iter()
        .map(|(short, s)| (short.clone(), s.recovery_window_days))
        .collect();
    Ok((hints, windows))
}

fn say_unchanged_and_unpruned(
    ctx: &Context,
    desired: &Desired,
    actual: &Actual,
    planned: &[Planned],
) {
    for w in &desired.wanted {
        let name = ctx.name(&w.short);
        if let Some(f) = actual.secrets.get(&name) {
            if !planned.iter().any(|p| p.change.name == name) {
                ctx.report.adopted(plan::KIND, &name, &f.arn);
            }
        }
    }
    if desired.prune {
        return;
    }
    let left: Vec<&str> = plan::unwanted(ctx, desired, actual)
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    if !left.is_empty() {
        tracing::warn!(
            "nothing pruned: spec.secrets is absent or empty, which says nothing about which \
             secrets the stack needs, so {} stay{} (list the wanted secrets in spec.secrets to remove the others)",
            left.join(", "),
            if left.len() == 1 { "s" } else { "" }
        );
    }
}

/// `--plan`: each change recorded, and placeholders for the ARNs creates would make.
fn planned_ids(ctx: &Context, planned: &[Planned]) -> apply::Made {
    let mut made = apply::Made::new();
    for p in planned {
        ctx.report.change(p.change.clone());
        if let Op::Create(c) = &p.op {
            made.insert(c.name.clone(), common::plan::planned(plan::KIND, &c.name));
        }
    }
    made
}

/// `.secrets`: every wanted secret, by short name. Never a value.
fn section(
    ctx: &Context,
    desired: &Desired,
    given: &BTreeMap<String, SecretValue>,
    actual: &Actual,
    made: &apply::Made,
) -> Secrets {
    desired
        .wanted
        .iter()
        .map(|w| {
            let name = ctx.name(&w.short);
            let found = actual.secrets.get(&name);
            let arn = made
                .get(&name)
                .or(found.map(|f| &f.arn))
                .cloned()
                .unwrap_or_default();
            let out = SecretOut {
                arn,
                kms_key: w.kms_key.clone(),
                has_value: given.contains_key(&w.short) || found.is_some_and(|f| f.has_value),
                json_keys: w.json_keys.clone(),
                recovery_window_days: w.recovery_window_days,
                name,
            };
            (w.short.clone(), out)
        })
        .collect()
}
