//! secrets-up: the secrets layer of a fargate-pipes platform.
//!
//! Secrets Manager secrets named `{stack}-{name}-{env}` (db-credentials,
//! api-keys...), created without a value unless one is given from a file or an
//! environment variable. Reads `spec.secrets` (flags add to it), writes
//! `.secrets`: names, ARNs and metadata, never a value. `teardown` removes the
//! secrets with the code in `teardown.rs`.
//!
//! A value never reaches stdout, stderr, the document or a log: it is read once
//! into `spec::SecretValue` (which prints as `<redacted>`) and handed only to the
//! AWS call that stores it, and no flag takes a value.

use std::path::PathBuf;

use clap::Parser;

use common::spec::Spec;
use common::{CommonArgs, Context, Document, Error, Result};

mod converge;
pub mod spec;
pub mod teardown;

use spec::SecretsSpec;

/// Create the stack's Secrets Manager secrets, named {stack}-{name}-{env} and tagged.
///
/// Reads `spec.secrets` from the document on stdin (flags add to it) and writes
/// `.secrets`: for each secret its name and ARN, KMS key, whether it has a value,
/// and its JSON keys. Names and ARNs only: a secret's value is never printed, logged
/// or written to the document.
///
/// A secret is created without a value (set it out of band) unless one is given,
/// and values come only from a file (--value-file, value_file) or an environment
/// variable (--value-env, value_env), never from the command line. A file is used
/// as is, trailing newline included. An existing secret is adopted: a secret without
/// a value gets the given one, a secret with a value keeps it unless --overwrite.
/// A secret scheduled for deletion is restored. Re-running changes nothing;
/// `teardown` removes the secrets (deletion with each secret's recovery window).
#[derive(Debug, Parser)]
#[command(name = "secrets-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A secret with default settings, repeatable [adds spec.secrets.NAME]
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// Read a secret's value from a file, repeatable [spec.secrets.NAME.value_file]
    #[arg(long = "value-file", value_name = "NAME=PATH")]
    pub value_files: Vec<String>,
    /// Read a secret's value from an environment variable, repeatable [spec.secrets.NAME.value_env]
    #[arg(long = "value-env", value_name = "NAME=VAR")]
    pub value_envs: Vec<String>,
    /// Store the given values on secrets that already have one (without it, an existing value is never touched)
    #[arg(long)]
    pub overwrite: bool,
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

/// `NAME=REST`, split by us rather than by clap, whose error would quote the
/// whole argument: a value typed there by mistake must not be echoed.
fn split_pair<'a>(flag: &str, arg: &'a str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k, v)),
        _ => Err(Error::Usage(format!(
            "{flag} expects NAME=PATH or NAME=VAR (see secrets-up --help)"
        ))),
    }
}

impl Args {
    /// The spec with the flags applied. A flag's value source replaces the spec's.
    fn apply(&self, mut spec: SecretsSpec) -> Result<SecretsSpec> {
        for name in &self.secrets {
            spec.entry(name.clone()).or_default();
        }
        let files = self
            .value_files
            .iter()
            .map(|a| split_pair("--value-file", a))
            .collect::<Result<Vec<_>>>()?;
        let envs = self
            .value_envs
            .iter()
            .map(|a| split_pair("--value-env", a))
            .collect::<Result<Vec<_>>>()?;
        for (name, path) in files {
            if envs.iter().any(|(n, _)| *n == name) {
                return Err(Error::spec(format!(
                    "secret '{}': give --value-file or --value-env, not both",
                    common::error::shown(name)
                )));
            }
            let entry = spec.entry(name.to_owned()).or_default();
            entry.value_file = Some(PathBuf::from(path));
            entry.value_env = None;
        }
        for (name, var) in envs {
            let entry = spec.entry(name.to_owned()).or_default();
            entry.value_env = Some(var.to_owned());
            entry.value_file = None;
        }
        Ok(spec)
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    if !args.stray.is_empty() {
        return Err(Error::Usage(
            "secrets-up takes no arguments besides flags, and never a secret value: \
             use --value-file NAME=PATH or --value-env NAME=VAR (see secrets-up --help)"
                .into(),
        ));
    }
    let mut spec = Spec::load(&doc)?;
    spec.secrets = args.apply(spec.secrets)?;
    // The flags' secrets are checked like the spec's, with the whole spec.
    spec.check(&doc)?;
    let wanted = spec::resolve(&spec.secrets)?;
    doc.set_spec("secrets", &spec.secrets);
    ctx.lock().await?;

    let sm = aws_sdk_secretsmanager::Client::new(&ctx.sdk);
    let secrets = converge::converge(&sm, &ctx, &wanted, args.overwrite).await?;
    doc.set_layer("secrets", &secrets);
    Ok(doc)
}
