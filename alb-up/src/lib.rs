//! alb-up: the load balancer layer of a fargate-pipes platform.
//!
//! An application load balancer in the public subnets (private when internal)
//! with its own security group, an HTTP listener (and HTTPS with a certificate,
//! HTTP then redirecting), one IP target group per routed service, and listener
//! rules by path, host or header whose priorities stay put across re-runs. A
//! blue/green service gets a second (green) target group and a test listener
//! for CodeDeploy (svc-up owns the deployment group; see docs/blue-green.md).
//! Reads `.network`, `spec.alb` and the routing parts of `spec.services`; writes
//! `.alb`. `teardown` removes it with the code in `teardown.rs`.
//!
//! ECS services are not attached here: svc-up reads `.alb.target_groups` and
//! registers each service with its target group.

use clap::Parser;

use common::owner::Mismatches;
use common::plan::is_planned;
use common::sections::{Alb, Network};
use common::spec::{AlbSpec, Spec};
use common::{CommonArgs, Context, Document, Error, Result};

mod access_logs;
mod apply;
mod desired;
mod discover;
mod names;
mod output;
mod plan;
mod ports;
mod sg;
pub mod teardown;

use plan::Prune;

/// Build the load balancer: ALB, its security group, listeners, target groups, routing rules.
///
/// Reads `.network` (from net-up), `spec.alb` (flags override it) and, from
/// `spec.services`, each service's `port`, `route` (paths, hosts, headers,
/// priority, default), `health_check`, `deregistration_delay` and whether
/// `deployment` is blue-green (and its `test_port`); services without a `route`
/// are not behind the ALB. Writes `.alb`: the ALB's ARN, DNS name and zone, its
/// security group, the listener ARNs, and the target group and rule of each
/// routed service (a blue/green one's also with its green group and test
/// listener). Re-running changes nothing; rule priorities and test ports never
/// move when services are added or removed, and traffic CodeDeploy moved to a
/// green group stays there. `teardown` removes what it made.
#[derive(Debug, Parser)]
#[command(name = "alb-up", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Certificate ARN (ACM): adds HTTPS on 443, HTTP redirects to it [spec.alb.certificate_arn]
    #[arg(long, value_name = "ARN")]
    pub certificate_arn: Option<String>,
    /// Who may connect, repeatable [spec.alb.ingress_cidrs; default 0.0.0.0/0]
    #[arg(long = "ingress-cidr", value_name = "CIDR")]
    pub ingress_cidrs: Vec<String>,
    /// Deletion protection [spec.alb.deletion_protection; default: true when env is prod]
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub deletion_protection: Option<bool>,
    /// Idle connection timeout in seconds, 1-4000 [spec.alb.idle_timeout; default 60]
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u32>,
    /// TLS policy of the HTTPS listener [spec.alb.ssl_policy; default ELBSecurityPolicy-TLS13-1-2-2021-06]
    #[arg(long, value_name = "POLICY")]
    pub ssl_policy: Option<String>,
    /// An internal ALB in the private subnets [spec.alb.internal]
    #[arg(long)]
    pub internal: bool,
    /// The service that gets requests no rule matches [spec.alb.default_service]
    #[arg(long, value_name = "SERVICE")]
    pub default_service: Option<String>,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

impl Args {
    /// The spec with the flags applied.
    fn apply(&self, mut spec: AlbSpec) -> AlbSpec {
        if let Some(c) = &self.certificate_arn {
            spec.certificate_arn = Some(c.clone());
        }
        if !self.ingress_cidrs.is_empty() {
            spec.ingress_cidrs = Some(self.ingress_cidrs.clone());
        }
        if let Some(d) = self.deletion_protection {
            spec.deletion_protection = Some(d);
        }
        if let Some(t) = self.idle_timeout {
            spec.idle_timeout = Some(i64::from(t));
        }
        if let Some(p) = &self.ssl_policy {
            spec.ssl_policy = Some(p.clone());
        }
        if self.internal {
            spec.internal = Some(true);
        }
        if let Some(d) = &self.default_service {
            spec.default_service = Some(d.clone());
        }
        spec
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let network: Network = doc.require("network", "net-up")?;
    let mut spec = Spec::load(&doc)?;
    spec.alb = args.apply(spec.alb);
    // The flags' values are checked like the spec's, with the whole spec.
    spec.check(&doc)?;
    let protected = common::spec::is_protected(&doc, &ctx.env);
    let routing = common::spec::alb::plan(&spec.alb, &spec.services, protected)?;
    check_network(&network, routing.internal)?;
    doc.set_spec("alb", &spec.alb);
    let logs = match routing.access_log_days {
        Some(days) => {
            let account = common::account::account_id(&ctx.sdk).await?;
            Some(access_logs::Bucket::new(&ctx, &account, days))
        }
        None => None,
    };
    let want = desired::build(
        &ctx,
        &routing,
        &network,
        logs.as_ref().map(|b| b.name.as_str()),
    );
    let prune = if common::spec::stated(&doc, "services") {
        Prune::Yes
    } else {
        Prune::No
    };
    let hints: Option<Alb> = doc.layer("alb")?;
    let c = discover::Clients::new(&ctx);
    let read = || async {
        let actual = if is_planned(&network.vpc_id) {
            // The VPC is still to be created: nothing of this layer can exist in it.
            discover::Actual::default()
        } else {
            let mismatches = Mismatches::default();
            let vpc = Some(network.vpc_id.as_str());
            let actual = discover::discover(&c, &ctx, vpc, hints.as_ref(), &mismatches).await?;
            mismatches.into_result(&ctx)?;
            actual
        };
        let bucket_ops = match &logs {
            Some(b) => access_logs::plan(&ctx, b, access_logs::discover(&c.s3, b).await?.as_ref())?,
            None => Vec::new(),
        };
        Ok((bucket_ops, plan::plan(&ctx, &want, &actual, prune)?))
    };
    let changes =
        |(bucket, plan): &(Vec<_>, plan::Plan)| !bucket.is_empty() || !plan.ops.is_empty();
    let (bucket_ops, plan) = ctx.read_then_lock(hints.is_none(), read, changes).await?;
    let mut alb = if ctx.plan_only {
        let bucket = bucket_ops.iter().map(|(_, change)| change.clone());
        for change in bucket.chain(plan.changes(&ctx)) {
            ctx.report.change(change);
        }
        output::planned_section(&plan.out)
    } else {
        // The bucket first: AWS checks that ELB may write to it when the
        // load balancer's access-log attributes are set.
        if let Some(b) = &logs {
            access_logs::apply(&ctx, &c.s3, b, &bucket_ops).await?;
        }
        let applied = apply::apply(&ctx, &c, &plan).await?;
        output::applied(&plan.out, &applied)?
    };
    alb.access_logs_bucket = logs.map(|b| b.name);
    doc.set_layer("alb", &alb);
    Ok(doc)
}

/// What the ALB needs from the network, checked before any call: AWS wants
/// subnets in at least two AZs, and the VPC's CIDR bounds the egress rule.
fn check_network(network: &Network, internal: bool) -> Result<()> {
    common::cidr::parse(".network.cidr", &network.cidr)
        .map_err(|e| Error::Document(format!("{e} (the document's .network is damaged)")))?;
    let (tier, subnets) = if internal {
        ("private", &network.private_subnet_ids)
    } else {
        ("public", &network.public_subnet_ids)
    };
    if subnets.len() < 2 {
        return Err(Error::spec(format!(
            "an ALB needs {tier} subnets in at least two AZs, the network has {}: run net-up with --azs 2 or more",
            subnets.len()
        )));
    }
    Ok(())
}
