//! Discovery: what AWS holds of this stack's and env's network, read in as few
//! calls as the APIs allow. One call per kind, filtered by our tags (and
//! checked against them again: some filters are not honoured everywhere),
//! all at once; then, for our VPC, its DNS attributes and default group (AWS
//! has no batch for those). Only net-up's components are kept (`components`).
//!
//! The document's ids are hints: any that discovery did not find by tag is
//! described by id, and one whose tags name another stack or env goes into
//! `Mismatches`, so such a document is refused before any change.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Tag, VpcAttributeName};
use common::ec2::{filter, owner_filters};
use common::{AwsResultExt, Context, Result};

use crate::actual::*;
use crate::aws::Aws;
use crate::components::{self as c, Kind};
use crate::desired::Desired;

mod convert;
mod hints;
pub(crate) mod named;

pub use convert::endpoint_state;
pub use hints::check_hints;

/// Everything of the network, read.
pub async fn discover(aws: &Aws, ctx: &Context, desired: &Desired) -> Result<Actual> {
    let (mut actual, (log_group, role)) =
        tokio::try_join!(tagged(aws, ctx), named::flow_log_resources(aws, ctx))?;
    actual.log_group = log_group;
    actual.role = role;
    if let Some(vpc) = actual.vpcs.iter_mut().find(|v| v.component() == c::VPC) {
        let (dns, default_group) =
            tokio::try_join!(dns_attributes(aws, &vpc.id), default_group(aws, &vpc.id))?;
        (vpc.state.dns_support, vpc.state.dns_hostnames) = dns;
        actual.default_group = default_group;
    }
    actual.enis = enis_of_stale_subnets(aws, &actual, desired).await?;
    Ok(actual)
}

/// Whether tags say this stack's and env's, as `kind`'s component of ours.
fn mine(ctx: &Context, kind: Kind, tags: &[Tag]) -> bool {
    common::ec2::owned(ctx, tags)
        && common::ec2::component(tags).is_some_and(|comp| c::is_ours(kind, comp))
}

fn owners(ctx: &Context) -> Option<Vec<Filter>> {
    Some(owner_filters(ctx))
}

/// The tagged kinds, one call each, concurrently.
pub(crate) async fn tagged(aws: &Aws, ctx: &Context) -> Result<Actual> {
    let ec2 = &aws.ec2;
    let (vpcs, subnets, igws, eips, nats, tables, groups, endpoints, flow_logs) = tokio::try_join!(
        async {
            ec2.describe_vpcs()
                .set_filters(owners(ctx))
                .send()
                .await
                .aws("DescribeVpcs")
        },
        async {
            ec2.describe_subnets()
                .set_filters(owners(ctx))
                .send()
                .await
                .aws("DescribeSubnets")
        },
        async {
            ec2.describe_internet_gateways()
                .set_filters(owners(ctx))
                .send()
                .await
                .aws("DescribeInternetGateways")
        },
        async {
            ec2.describe_addresses()
                .set_filters(owners(ctx))
                .send()
                .await
                .aws("DescribeAddresses")
        },
        async {
            let mut f = owner_filters(ctx);
            f.push(filter("state", ["pending", "available"]));
            ec2.describe_nat_gateways()
                .set_filter(Some(f))
                .send()
                .await
                .aws("DescribeNatGateways")
        },
        async {
            ec2.describe_route_tables()
                .set_filters(owners(ctx))
                .send()
                .await
                .aws("DescribeRouteTables")
        },
        async {
            ec2.describe_security_groups()
                .set_filters(owners(ctx))
                .send()
                .await
                .aws("DescribeSecurityGroups")
        },
        async {
            ec2.describe_vpc_endpoints()
                .set_filters(owners(ctx))
                .send()
                .await
                .aws("DescribeVpcEndpoints")
        },
        async {
            ec2.describe_flow_logs()
                .set_filter(owners(ctx))
                .send()
                .await
                .aws("DescribeFlowLogs")
        },
    )?;
    let keep = |kind: Kind, tags: &[Tag]| mine(ctx, kind, tags);
    Ok(Actual {
        vpcs: vpcs
            .vpcs()
            .iter()
            .filter(|v| keep(Kind::Vpc, v.tags()))
            .map(convert::vpc)
            .collect(),
        subnets: subnets
            .subnets()
            .iter()
            .filter(|s| keep(Kind::Subnet, s.tags()))
            .map(convert::subnet)
            .collect(),
        igws: igws
            .internet_gateways()
            .iter()
            .filter(|g| keep(Kind::Igw, g.tags()))
            .map(convert::igw)
            .collect(),
        eips: eips
            .addresses()
            .iter()
            .filter(|a| keep(Kind::Eip, a.tags()))
            .map(convert::eip)
            .collect(),
        nats: nats
            .nat_gateways()
            .iter()
            .filter(|n| keep(Kind::Nat, n.tags()) && convert::nat_live(n))
            .map(convert::nat)
            .collect(),
        tables: tables
            .route_tables()
            .iter()
            .filter(|t| keep(Kind::RouteTable, t.tags()))
            .map(convert::table)
            .collect(),
        groups: groups
            .security_groups()
            .iter()
            .filter(|g| keep(Kind::Group, g.tags()))
            .map(convert::group)
            .collect(),
        endpoints: endpoints
            .vpc_endpoints()
            .iter()
            .filter(|e| keep(Kind::Endpoint, e.tags()) && convert::endpoint_live(e))
            .map(convert::endpoint)
            .collect(),
        flow_logs: flow_logs
            .flow_logs()
            .iter()
            .filter(|f| keep(Kind::FlowLog, f.tags()))
            .map(convert::flow_log)
            .collect(),
        ..Actual::default()
    })
}

/// (enableDnsSupport, enableDnsHostnames): one call each, AWS has no other way.
async fn dns_attributes(aws: &Aws, vpc: &str) -> Result<(Option<bool>, Option<bool>)> {
    let ask = |attr: VpcAttributeName| async move {
        aws.ec2
            .describe_vpc_attribute()
            .vpc_id(vpc)
            .attribute(attr)
            .send()
            .await
            .aws(format!("DescribeVpcAttribute {vpc}"))
    };
    let (support, hostnames) = tokio::try_join!(
        ask(VpcAttributeName::EnableDnsSupport),
        ask(VpcAttributeName::EnableDnsHostnames)
    )?;
    Ok((
        support.enable_dns_support().and_then(|v| v.value()),
        hostnames.enable_dns_hostnames().and_then(|v| v.value()),
    ))
}

/// The default security group of our VPC.
pub async fn default_group(aws: &Aws, vpc: &str) -> Result<Option<Res<GroupState>>> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", [vpc]))
        .filters(filter("group-name", ["default"]))
        .send()
        .await
        .aws(format!("DescribeSecurityGroups {vpc} default"))?;
    Ok(out
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some("default"))
        .map(convert::group))
}

/// Per subnet the spec no longer has, the network interfaces that would keep
/// it from being deleted: any but those of the NAT gateways and endpoints
/// this run removes with it. One call, only when there is such a subnet.
async fn enis_of_stale_subnets(
    aws: &Aws,
    actual: &Actual,
    desired: &Desired,
) -> Result<BTreeMap<String, usize>> {
    let stale: Vec<String> = actual
        .subnets
        .iter()
        .filter(|s| desired.subnet(s.component()).is_none())
        .map(|s| s.id.clone())
        .collect();
    if stale.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = aws
        .ec2
        .describe_network_interfaces()
        .filters(filter("subnet-id", stale.clone()))
        .send()
        .await
        .aws("DescribeNetworkInterfaces")?;
    let mut counts: BTreeMap<String, usize> = stale.into_iter().map(|s| (s, 0)).collect();
    for eni in out.network_interfaces() {
        let ours = matches!(
            eni.interface_type().map(|t| t.as_str()),
            Some("nat_gateway" | "vpc_endpoint")
        );
        if let (false, Some(n)) = (ours, eni.subnet_id().and_then(|s| counts.get_mut(s))) {
            *n += 1;
        }
    }
    Ok(counts)
}
