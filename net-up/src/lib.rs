//! net-up: the network layer of a fargate-pipes platform.
//!
//! A VPC across N AZs with public and private subnets, an internet gateway, NAT
//! gateways with Elastic IPs (none, single or per AZ), route tables, and the VPC
//! endpoints the spec asks for. Reads `spec.network` (flags override it), writes
//! `.network`. `teardown` removes it with the code in `teardown.rs`.

use clap::Parser;

use common::sections::Network;
use common::spec::Spec;
use common::{CommonArgs, Context, Document, Result};

mod converge;
pub mod spec;
pub mod teardown;

use spec::{Azs, NatMode, NetworkSpec};

/// Build the network: VPC, subnets across AZs, internet and NAT gateways, routes, VPC endpoints.
///
/// Reads `spec.network` from the document on stdin (flags override it) and writes
/// `.network`: the VPC, subnet, gateway, route table and endpoint ids, AZs and CIDRs.
/// With no stdin (a terminal, or --no-input) it runs from flags alone.
/// Re-running changes nothing; `teardown` removes what it made.
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
    /// VPC endpoints, comma-separated: ecr.api, ecr.dkr, logs, secretsmanager, s3; "none" for none
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub endpoints: Option<Vec<String>>,
}

impl common::Tool for Args {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

impl Args {
    /// The spec with the flags applied.
    fn apply(&self, mut spec: NetworkSpec) -> NetworkSpec {
        if let Some(c) = &self.cidr {
            spec.cidr = Some(c.clone());
        }
        if let Some(a) = &self.azs {
            spec.azs = Some(a.clone());
        }
        if let Some(n) = self.nat {
            spec.nat = Some(n);
        }
        if let Some(p) = self.subnet_prefix {
            spec.subnet_prefix = Some(p);
        }
        if let Some(e) = &self.endpoints {
            spec.endpoints = Some(e.iter().filter(|e| e.as_str() != "none").cloned().collect());
        }
        spec
    }
}

pub async fn run(args: Args, ctx: Context, mut doc: Document) -> Result<Document> {
    let mut spec = Spec::load(&doc)?;
    spec.network = args.apply(spec.network);
    // The flags' values are checked like the spec's, with the whole spec.
    spec.check(&doc)?;
    let shape = spec.network.shape()?;
    doc.set_spec("network", &spec.network);
    ctx.lock().await?;

    let ec2 = aws_sdk_ec2::Client::new(&ctx.sdk);
    let available = available_azs(&ec2, &ctx).await?;
    let azs = spec::az_names(&shape, &ctx.region, &available)?;
    let network: Network = converge::converge(&ec2, &ctx, &shape, &azs).await?;
    doc.set_layer("network", &network);
    Ok(doc)
}

/// The region's available AZs (not Local or Wavelength Zones), sorted by name.
async fn available_azs(ec2: &aws_sdk_ec2::Client, ctx: &Context) -> Result<Vec<String>> {
    use common::AwsResultExt;
    let out = ec2
        .describe_availability_zones()
        .send()
        .await
        .aws(format!("DescribeAvailabilityZones {}", ctx.region))?;
    let mut names: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter(|z| z.state().is_none_or(|s| s.as_str() == "available"))
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}
