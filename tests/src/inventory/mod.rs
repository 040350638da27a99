//! What the emulator holds for one stack and env, read through the AWS SDK
//! independently of the tools (so a tool's own bookkeeping cannot fool a test).

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::types::{NatGatewayState, Tag};

mod alb;
mod cluster;
mod codedeploy;
mod ecr;
mod scaling;
mod secrets;
mod services;

const STACK: &str = "fargate-pipes:stack";
const ENV: &str = "fargate-pipes:env";

/// Resource ids by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub ids: BTreeMap<String, Vec<String>>,
}

impl Inventory {
    /// Reads on a thread and a runtime of its own, so that async tests can call
    /// it too (a runtime cannot block on another inside itself).
    pub fn read(endpoint: &str, region: &str, stack: &str, env: &str) -> Inventory {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime")
                        .block_on(read(endpoint, region, stack, env))
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Counts by kind, leaving out kinds with none.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.ids
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.len()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.counts().is_empty()
    }

    pub(crate) fn add(&mut self, kind: &str, id: Option<&str>) {
        self.ids
            .entry(kind.to_owned())
            .or_default()
            .push(id.unwrap_or_default().to_owned());
    }
}

/// Whether (key, value) pairs carry this stack's and env's tags.
pub(crate) fn owned_pairs<'a>(
    mut pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    stack: &str,
    env: &str,
) -> bool {
    pairs.clone().any(|(k, v)| k == STACK && v == stack) && pairs.any(|(k, v)| k == ENV && v == env)
}

fn owned(tags: &[Tag], stack: &str, env: &str) -> bool {
    let has = |k: &str, v: &str| {
        tags.iter()
            .any(|t| t.key() == Some(k) && t.value() == Some(v))
    };
    has(STACK, stack) && has(ENV, env)
}

/// An SDK configuration for the emulator at `endpoint`, signing with access key
/// `key` (the emulator takes any; fault lanes tell their calls apart by it).
pub async fn sdk_config(endpoint: &str, key: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(common::aws::http_client())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            key,
            crate::CREDENTIALS,
            None,
            None,
            "tests",
        ))
        .load()
        .await
}

async fn read(endpoint: &str, region: &str, stack: &str, env: &str) -> Inventory {
    let sdk = sdk_config(endpoint, crate::CREDENTIALS, region).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let mut inv = Inventory::default();
    let mine = |tags: &[Tag]| owned(tags, stack, env);

    // No filters: the tools' own filters are what is under test.
    let vpcs = ec2.describe_vpcs().send().await.expect("DescribeVpcs");
    for v in vpcs.vpcs().iter().filter(|v| mine(v.tags())) {
        inv.add("vpc", v.vpc_id());
    }
    let subnets = ec2
        .describe_subnets()
        .send()
        .await
        .expect("DescribeSubnets");
    for s in subnets.subnets().iter().filter(|s| mine(s.tags())) {
        inv.add("subnet", s.subnet_id());
    }
    let igws = ec2
        .describe_internet_gateways()
        .send()
        .await
        .expect("DescribeInternetGateways");
    for g in igws.internet_gateways().iter().filter(|g| mine(g.tags())) {
        inv.add("internet_gateway", g.internet_gateway_id());
    }
    let nats = ec2
        .describe_nat_gateways()
        .send()
        .await
        .expect("DescribeNatGateways");
    for n in nats.nat_gateways().iter().filter(|n| {
        mine(n.tags())
            && !matches!(
                n.state(),
                Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
            )
    }) {
        inv.add("nat_gateway", n.nat_gateway_id());
    }
    let eips = ec2
        .describe_addresses()
        .send()
        .await
        .expect("DescribeAddresses");
    for a in eips.addresses().iter().filter(|a| mine(a.tags())) {
        inv.add("elastic_ip", a.allocation_id());
    }
    let rts = ec2
        .describe_route_tables()
        .send()
        .await
        .expect("DescribeRouteTables");
    for t in rts.route_tables().iter().filter(|t| mine(t.tags())) {
        inv.add("route_table", t.route_table_id());
    }
    let sgs = ec2
        .describe_security_groups()
        .send()
        .await
        .expect("DescribeSecurityGroups");
    for g in sgs.security_groups().iter().filter(|g| mine(g.tags())) {
        inv.add("security_group", g.group_id());
    }
    let eps = ec2
        .describe_vpc_endpoints()
        .send()
        .await
        .expect("DescribeVpcEndpoints");
    let live = |e: &&aws_sdk_ec2::types::VpcEndpoint| {
        !matches!(
            e.state()
                .map(|s| s.as_str().to_ascii_lowercase())
                .as_deref(),
            Some("deleted" | "deleting")
        )
    };
    for e in eps
        .vpc_endpoints()
        .iter()
        .filter(|e| mine(e.tags()))
        .filter(live)
    {
        inv.add("vpc_endpoint", e.vpc_endpoint_id());
    }
    ecr::read(&sdk, &mut inv, stack, env).await;
    secrets::read(&sdk, &mut inv, stack, env).await;
    cluster::read(&sdk, &mut inv, stack, env).await;
    alb::read(&sdk, &mut inv, stack, env).await;
    services::read(&sdk, &mut inv, stack, env).await;
    codedeploy::read(&sdk, &mut inv, stack, env).await;
    scaling::read(&sdk, &mut inv, stack, env).await;
    inv
}
