//! Adopting a VPC the stack does not own (`spec.network.existing`): four
//! reads (the VPC, its subnets, route tables and endpoints), the pure checks
//! of `check`, and `.network` marked `adopted`. No call here changes AWS:
//! the VPC, its subnets, gateways, route tables, flow logs and default
//! security group stay exactly as their owner made them, and untagged, so
//! teardown (which finds by this stack's tags) never meets them.

use aws_sdk_ec2::types::{Route, RouteState, RouteTable, VpcEndpoint, VpcEndpointType};
use common::ec2::{filter, owner_filters};
use common::sections::Network;
use common::spec::network::{needed_endpoints, Azs, Existing, DEFAULT_AZS};
use common::spec::Spec;
use common::{AwsResultExt, Context, Error, Result};

use crate::aws::Aws;
use crate::components as c;

pub mod check;

use check::{EndpointSeen, Seen, SubnetSeen, TableSeen, Want};

/// Checks the adopted VPC and returns its `.network`; refused (exit 5) before
/// anything is changed when the VPC is not fit for the services.
pub async fn adopt(ctx: &Context, spec: &Spec, existing: &Existing) -> Result<Network> {
    let aws = Aws::new(&ctx.sdk);
    let want = Want {
        existing,
        // Checked with the rest of the spec (`existing::check`).
        azs: spec.network.azs.clone().unwrap_or(Azs::Count(DEFAULT_AZS)),
        needed: needed_endpoints(spec),
        region: &ctx.region,
    };
    let (seen, made) = tokio::try_join!(read(&aws, existing, &ctx.region), made_vpc(&aws, ctx))?;
    if let Some(id) = made {
        return Err(Error::Refused(format!(
            "{}/{} already has a VPC net-up made ({id}); tear the network layer down before adopting \
             spec.network.existing.vpc_id, or remove existing to keep it",
            ctx.stack, ctx.env
        )));
    }
    let network = check::check(&want, &seen)?;
    ctx.report.adopted("vpc", &network.vpc_id, &network.vpc_id);
    Ok(network)
}

/// A VPC net-up made for this stack and env: switching to an adopted one
/// would leave it (and its NAT gateways) running unseen.
async fn made_vpc(aws: &Aws, ctx: &Context) -> Result<Option<String>> {
    let out = aws
        .ec2
        .describe_vpcs()
        .set_filters(Some(owner_filters(ctx)))
        .send()
        .await
        .aws("DescribeVpcs")?;
    Ok(out
        .vpcs()
        .iter()
        .find(|v| {
            common::ec2::owned(ctx, v.tags()) && common::ec2::component(v.tags()) == Some(c::VPC)
        })
        .and_then(|v| v.vpc_id().map(str::to_owned)))
}

/// The four reads, at once. Filters rather than ids: an id AWS does not know
/// is then an empty answer the checks name, not an error code to parse.
async fn read(aws: &Aws, e: &Existing, region: &str) -> Result<Seen> {
    let ec2 = &aws.ec2;
    let vpc = [e.vpc_id.as_str()];
    let subnet_ids: Vec<&str> = e
        .public_subnets
        .iter()
        .chain(&e.private_subnets)
        .map(String::as_str)
        .collect();
    let (vpcs, subnets, tables, endpoints) = tokio::try_join!(
        async {
            ec2.describe_vpcs()
                .filters(filter("vpc-id", vpc))
                .send()
                .await
                .aws(format!("DescribeVpcs {}", e.vpc_id))
        },
        async {
            ec2.describe_subnets()
                .filters(filter("subnet-id", subnet_ids.clone()))
                .send()
                .await
                .aws("DescribeSubnets")
        },
        async {
            ec2.describe_route_tables()
                .filters(filter("vpc-id", vpc))
                .send()
                .await
                .aws(format!("DescribeRouteTables {}", e.vpc_id))
        },
        async {
            ec2.describe_vpc_endpoints()
                .filters(filter("vpc-id", vpc))
                .send()
                .await
                .aws(format!("DescribeVpcEndpoints {}", e.vpc_id))
        },
    )?;
    Ok(Seen {
        vpc_cidr: vpcs
            .vpcs()
            .iter()
            .find(|v| v.vpc_id() == Some(e.vpc_id.as_str()))
            .map(|v| v.cidr_block().unwrap_or_default().to_owned()),
        subnets: subnets
            .subnets()
            .iter()
            .map(|s| SubnetSeen {
                id: s.subnet_id().unwrap_or_default().to_owned(),
                vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
                az: s.availability_zone().unwrap_or_default().to_owned(),
                az_id: s.availability_zone_id().unwrap_or_default().to_owned(),
                cidr: s.cidr_block().unwrap_or_default().to_owned(),
            })
            .collect(),
        tables: tables.route_tables().iter().map(table).collect(),
        endpoints: endpoints
            .vpc_endpoints()
            .iter()
            .filter_map(|ep| endpoint(ep, region))
            .collect(),
    })
}

fn table(t: &RouteTable) -> TableSeen {
    let default = t.routes().iter().find(|r| {
        r.destination_cidr_block() == Some(c::ANY) && r.state() != Some(&RouteState::Blackhole)
    });
    TableSeen {
        id: t.route_table_id().unwrap_or_default().to_owned(),
        main: t.associations().iter().any(|a| a.main() == Some(true)),
        subnets: t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id().map(str::to_owned))
            .collect(),
        way_out: default.and_then(way_out),
        to_igw: default
            .and_then(Route::gateway_id)
            .is_some_and(|g| g.starts_with("igw-")),
    }
}

/// A default route's target when it carries traffic out for a task without a
/// public IP: a NAT or transit gateway, a Cloud WAN core network, an
/// appliance (instance or network interface), a Gateway Load Balancer
/// endpoint or a virtual private gateway (egress through the owner's own
/// network). An internet gateway is not: it needs a public IP on the task.
fn way_out(r: &Route) -> Option<String> {
    let gateway = r
        .gateway_id()
        .filter(|g| g.starts_with("vpce-") || g.starts_with("vgw-"));
    r.nat_gateway_id()
        .or(r.transit_gateway_id())
        .or(r.core_network_arn())
        .or(r.network_interface_id())
        .or(r.instance_id())
        .or(gateway)
        .map(str::to_owned)
}

/// A live endpoint of this region's AWS services, by short name.
fn endpoint(ep: &VpcEndpoint, region: &str) -> Option<EndpointSeen> {
    // AWS answers `Available`, some emulators `available`: compared lowercased.
    let state = crate::discover::endpoint_state(ep);
    if !matches!(state.as_str(), "available" | "pending") {
        return None;
    }
    let prefix = format!("com.amazonaws.{region}.");
    let short = ep.service_name()?.strip_prefix(&prefix)?;
    Some(EndpointSeen {
        short: short.to_owned(),
        gateway: ep.vpc_endpoint_type() == Some(&VpcEndpointType::Gateway),
        private_dns: ep.private_dns_enabled().unwrap_or(false),
        tables: ep.route_table_ids().to_vec(),
    })
}
