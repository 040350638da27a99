//! net-up: the network layer of a fargate-pipes platform.
//!
//! A VPC across N AZs (where Fargate runs) with public and private subnets, an
//! internet gateway, NAT gateways with Elastic IPs (none, single or per AZ),
//! route tables, the VPC endpoints the spec asks for, VPC flow logs, and a
//! default security group without rules. Reads `spec.network` (flags override
//! it), writes `.network`. `teardown` removes it through `teardown::LAYER`.
//! With `spec.network.existing` it adopts a VPC it does not own instead
//! (`adopt`): reads and checks only, and changes nothing.
//!
//! The run: desired state (pure) -> lock -> discover (reads) -> plan (pure,
//! `plan`) -> quotas (reads) -> `--plan`: the changes; else apply.

use clap::Parser;

use common::owner::Mismatches;
use common::sections::Network;
use common::spec::network::{check_egress, Azs, NatMode, NetworkSpec};
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Result};

mod actual;
mod adopt;
mod apply;
mod aws;
mod azs;
mod components;
mod desired;
mod discover;
mod output;
pub mod plan;
mod policy;
pub mod quota;
mod remove;
mod rules;
pub mod teardown;

/// Build the network: VPC, subnets across AZs, internet and NAT gateways, routes,
/// VPC endpoints, flow logs.
///
/// Reads `spec.network` from the document on stdin (flags override it) and writes
/// `.network`: the VPC, subnet, gateway, route table and endpoint ids, AZs and CIDRs,
/// and the flow log. With no stdin (a terminal, or --no-input) it runs from flags
/// alone. Re-running changes nothing; a changed spec changes what it says (and, when
/// spec.network is stated, removes what it no longer has); --plan lists the changes
/// without making them. `teardown` removes what it made.
#[derive(Debug, Parser)]
#[command(name = "net-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// VPC CIDR [spec.network.cidr; default 10.0.0.0/16]
    #[arg(long, value_name = "CIDR")]
    pub cidr: Option<String>,
    /// AZ count, or a comma-separated list of AZ names [spec.network.azs; default 2]
    #[arg(long, value_name = "N|NAMES")]
    pub azs: Option<Azs>,
    /// NAT gateways [spec.network.nat; default single]
    #[arg(long, value_enum)]
    pub nat: Option<NatMode>,
    /// Subnet prefix length [spec.network.subnet_prefix; default VPC prefix + 4]
    #[arg(long, value_name = "N")]
    pub subnet_prefix: Option<u8>,
    /// VPC endpoints, comma-separated: ecr.api, ecr.dkr, logs, secretsmanager, ssmmessages, s3;
    /// "none" for none
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub endpoints: Option<Vec<String>>,
    /// VPC flow logs to CloudWatch Logs [spec.network.flow_logs; default true]
    #[arg(long, value_name = "BOOL")]
    pub flow_logs: Option<bool>,
    /// Days flow log records are kept [spec.network.flow_logs_retention_days; default 365]
    #[arg(long, value_name = "DAYS")]
    pub flow_logs_retention: Option<i32>,
    /// Do not wait for NAT gateways still pending: stop before the routes to them
    /// (and any removal after those), which the next run without this flag makes.
    /// svc-up starts no task until the private subnets have their route out.
    #[arg(long)]
    pub no_wait: bool,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

impl Args {
    /// The spec with the flags applied.
    fn apply(&self, mut spec: NetworkSpec) -> NetworkSpec {
        set(&mut spec.cidr, &self.cidr);
        set(&mut spec.azs, &self.azs);
        set(&mut spec.nat, &self.nat);
        set(&mut spec.subnet_prefix, &self.subnet_prefix);
        set(&mut spec.flow_logs, &self.flow_logs);
        set(
            &mut spec.flow_logs_retention_days,
            &self.flow_logs_retention,
        );
        if let Some(e) = &self.endpoints {
            spec.endpoints = Some(e.iter().filter(|e| e.as_str() != "none").cloned().collect());
        }
        spec
    }
}

/// A flag's value, when given, overrides the spec's.
fn set<T: Clone>(field: &mut Option<T>, flag: &Option<T>) {
    if flag.is_some() {
        field.clone_from(flag);
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    // Only the document's own statement may prune: flags (a run without a
    // spec) never do, so this is read before the flags are written into it.
    let prune = common::spec::stated(&doc, "network");
    let mut spec = Spec::load(&doc)?;
    spec.network = args.apply(spec.network);
    // The flags' values are checked like the spec's, with the whole spec.
    spec.check(&doc)?;
    check_egress(&spec)?;
    let shape = spec.network.shape()?;
    doc.set_spec("network", &spec.network);
    if let Some(existing) = &spec.network.existing {
        // Reads only: nothing to lock against, nothing to plan.
        let network = adopt::adopt(&ctx, &spec, existing).await?;
        doc.set_layer("network", &network);
        return Ok(doc);
    }
    let hints: Option<Network> = doc.layer("network")?;
    let aws = aws::Aws::new(&ctx.sdk);
    // The AZs finish checking the spec: read before the lock, so a wrong one
    // is refused without a single change.
    let zones = azs::select(&shape, &ctx.region, &aws.zones(&ctx).await?)?;
    let desired = desired::Desired::new(&shape, zones);

    let read = || async {
        let actual = discover::discover(&aws, &ctx, &desired).await?;
        if let Some(hints) = &hints {
            let mismatches = Mismatches::default();
            discover::check_hints(&aws, &ctx, hints, &actual, &mismatches).await?;
            mismatches.into_result(&ctx)?;
        }
        let plan = plan::plan(&ctx, &desired, &actual, prune)?;
        Ok((actual, plan))
    };
    // A NAT gateway still pending is waited for, under the lock, like a change.
    let changes = |(actual, plan): &(actual::Actual, plan::Plan)| {
        !plan.ops.is_empty() || actual.nats.iter().any(|n| !n.state.available)
    };
    let (actual, plan) = ctx.read_then_lock(hints.is_none(), read, changes).await?;
    for warning in &plan.warnings {
        tracing::warn!("{warning}");
    }
    quota::check(&aws, &ctx, &plan).await?;
    let ids = if ctx.plan_only {
        for op in plan.ordered() {
            ctx.report.change(op.change(&ctx));
        }
        apply::planned(&ctx, &plan)
    } else {
        let pending = actual
            .nats
            .iter()
            .filter(|n| !n.state.available)
            .map(|n| n.id.clone())
            .collect();
        let wait = if args.no_wait {
            apply::Wait::No
        } else {
            apply::Wait::ForNats
        };
        apply::apply(&ctx, &aws, &desired, &plan, pending, wait).await?
    };
    doc.set_layer("network", &output::network(&ctx, &desired, &ids));
    Ok(doc)
}
