//! cluster-up: the compute layer of a fargate-pipes platform.
//!
//! The ECS cluster (Container Insights, ECS Exec logging), its FARGATE and
//! FARGATE_SPOT capacity providers with a default strategy, the task execution
//! role every task definition uses, and a KMS key CloudWatch Logs encrypts log
//! groups with. Reads `spec.cluster` (flags override it) and `.secrets`, writes
//! `.cluster`. `teardown` removes it with the code in `teardown.rs`.
//!
//! The execution role may read exactly the secrets of `.secrets` and decrypt
//! with exactly their KMS keys: run secrets-up first when services use secrets,
//! and re-run cluster-up after adding one.

use clap::Parser;

use common::sections::Secrets;
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Result};

mod converge;
mod kms;
pub mod spec;
pub mod teardown;

use spec::{ClusterSpec, StrategyEntry};

/// Build the ECS cluster: capacity providers and default strategy, task execution role, KMS key for logs.
///
/// Reads `spec.cluster` from the document on stdin (flags override it) and
/// `.secrets` when present (written by secrets-up: the task execution role may
/// read exactly those secrets, nothing wider). Writes `.cluster`: the cluster
/// name and ARN, the execution role, the log key, the capacity providers and the
/// default strategy. With no stdin (a terminal, or --no-input) it runs from flags
/// alone. Re-running changes nothing; `teardown` removes what it made.
#[derive(Debug, Parser)]
#[command(name = "cluster-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Capacity providers, comma-separated: FARGATE, FARGATE_SPOT [spec.cluster.capacity_providers; default both]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub capacity_providers: Option<Vec<String>>,
    /// Default strategy as PROVIDER:BASE:WEIGHT, comma-separated, e.g. FARGATE:1:1,FARGATE_SPOT:0:4 [spec.cluster.strategy; default FARGATE:0:1]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub strategy: Option<Vec<StrategyEntry>>,
    /// Turn Container Insights off [spec.cluster.container_insights; default on]
    #[arg(long)]
    pub no_container_insights: bool,
    /// Do not log ECS Exec sessions [spec.cluster.exec_logging; default on]
    #[arg(long)]
    pub no_exec_logging: bool,
    /// No KMS key for log encryption [spec.cluster.log_encryption; default on]
    #[arg(long)]
    pub no_log_encryption: bool,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

impl Args {
    /// The spec with the flags applied. A `--strategy` replaces this env's entry
    /// of `strategy_by_env` too, so the recorded spec does what this run did.
    fn apply(&self, mut spec: ClusterSpec, env: &str) -> ClusterSpec {
        if let Some(p) = &self.capacity_providers {
            spec.capacity_providers = Some(p.clone());
        }
        if let Some(s) = &self.strategy {
            spec.strategy = Some(s.clone());
            spec.strategy_by_env.remove(env);
        }
        if self.no_container_insights {
            spec.container_insights = Some(false);
        }
        if self.no_exec_logging {
            spec.exec_logging = Some(false);
        }
        if self.no_log_encryption {
            spec.log_encryption = Some(false);
        }
        spec
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let mut spec = Spec::load(&doc)?;
    spec.cluster = args.apply(spec.cluster, &ctx.env);
    // The flags' values are checked like the spec's, with the whole spec.
    spec.check(&doc)?;
    let plan = spec::plan(&spec.cluster, &ctx.env)?;
    let secrets: Option<Secrets> = doc.layer("secrets")?;
    doc.set_spec("cluster", &spec.cluster);
    ctx.lock().await?;

    let cluster = converge::converge(&ctx, &plan, secrets.as_ref()).await?;
    doc.set_layer("cluster", &cluster);
    Ok(doc)
}
