//! cluster-up: the compute layer of a fargate-pipes platform.
//!
//! The ECS cluster (Container Insights, ECS Exec logging), its FARGATE and
//! FARGATE_SPOT capacity providers with a default strategy, the task execution
//! role every task definition uses, and a KMS key CloudWatch Logs encrypts log
//! groups with. Reads `spec.cluster` (flags override it) and `.secrets`, writes
//! `.cluster`.
//!
//! The run: desired state (`spec`), the stack's lock, `discover` (reads only,
//! every kind at once), `plan` (pure: one op per kind, refusals), then the
//! ops applied (the key and the role at once, then the cluster, whose ECS
//! Exec configuration names the key) or, with `--plan`, the changes recorded
//! and nothing made. One module per kind: `key`, `role`, `cluster`, and
//! `grants` (what the role may read). `teardown` removes the layer through
//! `teardown::LAYER`. docs/converge/cluster-up.md lists what is compared.
//!
//! The execution role may read exactly the stack's secrets of `.secrets` and
//! decrypt with exactly their KMS keys: run secrets-up first when services use
//! secrets, and re-run cluster-up after adding one.

use clap::Parser;

use common::owner::Mismatches;
use common::sections::Secrets;
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Result};

pub mod cluster;
pub mod discover;
pub mod grants;
pub mod key;
pub mod plan;
pub mod role;
pub mod spec;
pub mod teardown;

use spec::{ClusterSpec, StrategyEntry};

/// The tool, as its plan entries name it.
pub const TOOL: &str = "cluster-up";

/// Build the ECS cluster: capacity providers and default strategy, task execution role, KMS key for logs.
///
/// Reads `spec.cluster` from the document on stdin (flags override it) and
/// `.secrets` when present (written by secrets-up: the task execution role may
/// read exactly those secrets, nothing wider). Writes `.cluster`: the cluster
/// name and ARN, the execution role, the log key, the capacity providers and the
/// default strategy. With no stdin (a terminal, or --no-input) it runs from flags
/// alone. Re-running changes nothing; a changed setting is updated in place. A
/// cluster, role or key of our names that is not tagged as this stack's, env's and
/// component's is refused (exit 10), as are two keys tagged as the log key and a
/// document naming another stack's resources (cluster, role, key or secrets).
/// Turning log encryption off keeps the key (log groups encrypted with it need it);
/// teardown schedules its deletion. With --plan the changes go to the document's
/// "plan" and nothing is changed. `teardown` removes what it made.
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
    let desired = spec::desired(&spec.cluster, &ctx.env)?;
    let secrets: Option<Secrets> = doc.layer("secrets")?;
    let hints = discover::Hints::read(&doc)?;
    doc.set_spec("cluster", &spec.cluster);
    let first_run = doc.get("cluster").is_none();
    let read = || async {
        let mismatches = Mismatches::default();
        let actual =
            discover::discover(&ctx, &desired, secrets.as_ref(), &hints, &mismatches).await?;
        mismatches.into_result(&ctx)?;
        let plan = plan::plan(&ctx, &desired, &actual)?;
        Ok((actual, plan))
    };
    let (actual, plan) = ctx
        .read_then_lock(first_run, read, |(_, plan)| !plan.changes().is_empty())
        .await?;
    let cluster = if ctx.plan_only {
        plan.record(&ctx);
        plan.section(&ctx, &desired, &actual, &plan.planned_ids(&ctx))
    } else {
        let made = plan.apply(&ctx).await?;
        plan.section(&ctx, &desired, &actual, &made)
    };
    doc.set_layer("cluster", &cluster);
    Ok(doc)
}
