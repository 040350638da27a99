//! One function per resource kind: find it by tag, adopt it (fixing drift) or
//! create it, and return what later steps need. `converge` is the dependency
//! graph: independent resources are created concurrently.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, NatGatewayState, ResourceType, RouteTable, VpcAttributeName,
    VpcEndpointType,
};
use aws_sdk_ec2::Client;
use common::cidr::Ipv4Net;

use common::ec2::{component_filters, filter, owned, tag_spec, GroupSpec, Rule, Source};
use common::sections::{Network, Subnet};
use common::{retry, try_join_all, AwsResultExt, Context, Error, Result};

use crate::spec::{EndpointKind, NatMode, Shape, ENDPOINTS};

/// Real NAT gateways take one to five minutes to become available.
const NAT_WAIT: Duration = Duration::from_secs(900);

/// Brings the network to the plan and describes it.
pub async fn converge(
    ec2: &Client,
    ctx: &Context,
    shape: &Shape,
    azs: &[String],
) -> Result<Network> {
    let nat_azs: Vec<&String> = match shape.nat {
        NatMode::None => vec![],
        NatMode::Single => azs.iter().take(1).collect(),
        NatMode::PerAz => azs.iter().collect(),
    };
    // Elastic IPs do not depend on the VPC: allocate them while it is created.
    let (vpc_id, eips) = tokio::try_join!(
        ensure_vpc(ec2, ctx, shape.vpc),
        try_join_all(
            nat_azs
                .iter()
                .map(|az| ensure_eip(ec2, ctx, format!("nat-eip-{az}")))
        ),
    )?;

    let public = azs
        .iter()
        .zip(&shape.public)
        .map(|(az, cidr)| ensure_subnet(ec2, ctx, &vpc_id, "public", az, *cidr));
    let private = azs
        .iter()
        .zip(&shape.private)
        .map(|(az, cidr)| ensure_subnet(ec2, ctx, &vpc_id, "private", az, *cidr));
    let private_tables = azs
        .iter()
        .map(|az| ensure_route_table(ec2, ctx, &vpc_id, format!("rt-private-{az}")));
    let interface_endpoints = shape
        .endpoints
        .iter()
        .any(|e| kind_of(e) == EndpointKind::Interface);
    let (igw_id, public, private, public_rt, private_rts, endpoint_sg) = tokio::try_join!(
        ensure_igw(ec2, ctx, &vpc_id),
        try_join_all(public),
        try_join_all(private),
        ensure_route_table(ec2, ctx, &vpc_id, "rt-public".to_owned()),
        try_join_all(private_tables),
        ensure_endpoint_group(ec2, ctx, &vpc_id, shape.vpc, interface_endpoints),
    )?;

    // A public NAT gateway needs the internet gateway attached and a public subnet.
    let nats = try_join_all(nat_azs.iter().zip(&eips).map(|(az, eip)| {
        let subnet = public
            .iter()
            .find(|s| &&s.az == az)
            .expect("a public subnet per AZ");
        ensure_nat(ec2, ctx, &vpc_id, format!("nat-{az}"), &subnet.id, &eip.0)
    }))
    .await?;
    let nat_ids: Vec<String> = nats.iter().map(|(id, _)| id.clone()).collect();
    if nats.iter().any(|(_, ready)| !ready) {
        // Routes to a NAT gateway that is still pending are refused by AWS.
        ec2.wait_until_nat_gateway_available()
            .set_nat_gateway_ids(Some(nat_ids.clone()))
            .wait(NAT_WAIT)
            .await
            .map_err(|e| retry::waiter_error("NAT gateways to become available", NAT_WAIT, e))?;
    }

    let all_tables: Vec<&RouteTable> = std::iter::once(&public_rt).chain(&private_rts).collect();
    let mut routes = vec![ensure_default_route(
        ec2,
        ctx,
        &public_rt,
        Target::Gateway(&igw_id),
    )];
    for (i, rt) in private_rts.iter().enumerate() {
        let target = match shape.nat {
            NatMode::None => Target::Nothing,
            NatMode::Single => Target::Nat(&nat_ids[0]),
            NatMode::PerAz => Target::Nat(&nat_ids[i]),
        };
        routes.push(ensure_default_route(ec2, ctx, rt, target));
    }
    let mut associations = Vec::new();
    for s in &public {
        associations.push(ensure_association(ec2, ctx, &all_tables, &public_rt, &s.id));
    }
    for (s, rt) in private.iter().zip(&private_rts) {
        associations.push(ensure_association(ec2, ctx, &all_tables, rt, &s.id));
    }
    let private_subnet_ids: Vec<String> = private.iter().map(|s| s.id.clone()).collect();
    let private_rt_ids: Vec<String> = private_rts.iter().map(id_of).collect();
    let endpoints = shape.endpoints.iter().map(|short| {
        ensure_endpoint(
            ec2,
            ctx,
            &vpc_id,
            short,
            &private_subnet_ids,
            endpoint_sg.as_deref(),
            &private_rt_ids,
        )
    });
    let (_, _, endpoint_ids) = tokio::try_join!(
        try_join_all(routes),
        try_join_all(associations),
        try_join_all(endpoints)
    )?;

    // NAT gateways of an earlier, wider NAT mode: their routes were re-pointed above.
    let wanted: Vec<String> = nat_azs.iter().map(|az| format!("nat-{az}")).collect();
    crate::teardown::remove_unwanted_nats(ec2, ctx, &vpc_id, &wanted).await?;

    Ok(Network {
        vpc_id,
        cidr: shape.vpc.to_string(),
        azs: azs.to_vec(),
        public_subnet_ids: public.iter().map(|s| s.id.clone()).collect(),
        private_subnet_ids,
        public_subnets: public,
        private_subnets: private,
        internet_gateway_id: igw_id,
        nat: shape.nat.as_str().to_owned(),
        nat_gateway_ids: nat_ids,
        nat_public_ips: eips.iter().map(|(_, ip)| ip.clone()).collect(),
        elastic_ip_allocation_ids: eips.into_iter().map(|(id, _)| id).collect(),
        public_route_table_id: id_of(&public_rt),
        private_route_table_ids: private_rt_ids,
        endpoint_security_group_id: endpoint_sg,
        endpoints: shape
            .endpoints
            .iter()
            .cloned()
            .zip(endpoint_ids)
            .collect::<BTreeMap<_, _>>(),
    })
}

/// The group of the interface endpoints: HTTPS from inside the VPC, nothing else.
async fn ensure_endpoint_group(
    ec2: &Client,
    ctx: &Context,
    vpc_id: &str,
    vpc: Ipv4Net,
    needed: bool,
) -> Result<Option<String>> {
    if !needed {
        return Ok(None);
    }
    let spec = GroupSpec {
        component: "endpoints",
        description: "VPC interface endpoints: HTTPS from inside the VPC",
        vpc_id,
        ingress: vec![Rule::tcp(
            443,
            Source::Cidr(vpc.to_string()),
            "HTTPS from the VPC",
        )],
        egress: None,
    };
    common::ec2::ensure_group(ec2, ctx, &spec).await.map(Some)
}

fn kind_of(short: &str) -> EndpointKind {
    ENDPOINTS
        .iter()
        .find(|(n, _)| *n == short)
        .map_or(EndpointKind::Interface, |(_, k)| *k)
}

fn id_of(rt: &RouteTable) -> String {
    rt.route_table_id().unwrap_or_default().to_owned()
}

async fn ensure_vpc(ec2: &Client, ctx: &Context, cidr: Ipv4Net) -> Result<String> {
    let name = ctx.name("vpc");
    let found = ec2
        .describe_vpcs()
        .set_filters(Some(component_filters(ctx, "vpc")))
        .send()
        .await
        .aws(format!("DescribeVpcs {name}"))?;
    if let Some(vpc) = found.vpcs().iter().find(|v| owned(ctx, v.tags())) {
        let id = vpc.vpc_id().unwrap_or_default().to_owned();
        let have = vpc.cidr_block().unwrap_or_default();
        if have != cidr.to_string() {
            return Err(Error::spec(format!(
                "VPC {name} ({id}) has CIDR {have} but the spec asks for {cidr}: a VPC's CIDR cannot change, tear the network down first"
            )));
        }
        ctx.report.adopted("vpc", &name, &id);
        ensure_dns(ec2, ctx, &id, false).await?;
        return Ok(id);
    }
    let id = ec2
        .create_vpc()
        .cidr_block(cidr.to_string())
        .tag_specifications(tag_spec(ctx, ResourceType::Vpc, "vpc"))
        .send()
        .await
        .aws(format!("CreateVpc {name}"))?
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_owned();
    ctx.report.created("vpc", &name, &id);
    ensure_dns(ec2, ctx, &id, true).await?;
    Ok(id)
}

/// DNS support and hostnames on: interface endpoints' private DNS and Cloud Map need both.
async fn ensure_dns(ec2: &Client, ctx: &Context, vpc_id: &str, fresh: bool) -> Result<()> {
    for attr in [
        VpcAttributeName::EnableDnsSupport,
        VpcAttributeName::EnableDnsHostnames,
    ] {
        if !fresh {
            let out = ec2
                .describe_vpc_attribute()
                .vpc_id(vpc_id)
                .attribute(attr.clone())
                .send()
                .await
                .aws(format!("DescribeVpcAttribute {vpc_id}"))?;
            let on = match attr {
                VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
                _ => out.enable_dns_hostnames(),
            }
            .and_then(|v| v.value())
            .unwrap_or(false);
            if on {
                continue;
            }
        }
        let value = Some(AttributeBooleanValue::builder().value(true).build());
        retry::after_create(&format!("ModifyVpcAttribute {vpc_id}"), || async {
            let call = ec2.modify_vpc_attribute().vpc_id(vpc_id);
            let call = match attr {
                VpcAttributeName::EnableDnsSupport => call.set_enable_dns_support(value.clone()),
                _ => call.set_enable_dns_hostnames(value.clone()),
            };
            call.send()
                .await
                .map(|_| ())
                .aws(format!("ModifyVpcAttribute {vpc_id}"))
        })
        .await?;
        if !fresh {
            ctx.report
                .updated("vpc", &ctx.name("vpc"), &format!("{attr} turned on"));
        }
    }
    Ok(())
}

async fn ensure_subnet(
    ec2: &Client,
    ctx: &Context,
    vpc_id: &str,
    tier: &str,
    az: &str,
    cidr: Ipv4Net,
) -> Result<Subnet> {
    let component = format!("{tier}-{az}");
    let name = ctx.name(&component);
    let mut filters = component_filters(ctx, &component);
    filters.push(filter("vpc-id", [vpc_id]));
    let found = ec2
        .describe_subnets()
        .set_filters(Some(filters))
        .send()
        .await
        .aws(format!("DescribeSubnets {name}"))?;
    if let Some(s) = found.subnets().iter().find(|s| owned(ctx, s.tags())) {
        let id = s.subnet_id().unwrap_or_default().to_owned();
        let have = s.cidr_block().unwrap_or_default();
        if have != cidr.to_string() {
            return Err(Error::spec(format!(
                "subnet {name} ({id}) has CIDR {have} but the spec asks for {cidr}: subnets cannot change, tear the network down first"
            )));
        }
        ctx.report.adopted("subnet", &name, &id);
        return Ok(Subnet {
            id,
            az: az.to_owned(),
            cidr: have.to_owned(),
        });
    }
    let id = retry::after_create(&format!("CreateSubnet {name}"), || async {
        ec2.create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(cidr.to_string())
            .availability_zone(az)
            .tag_specifications(tag_spec(ctx, ResourceType::Subnet, &component))
            .send()
            .await
            .aws(format!("CreateSubnet {name}"))
    })
    .await?
    .subnet()
    .and_then(|s| s.subnet_id())
    .unwrap_or_default()
    .to_owned();
    ctx.report.created("subnet", &name, &id);
    Ok(Subnet {
        id,
        az: az.to_owned(),
        cidr: cidr.to_string(),
    })
}

async fn ensure_igw(ec2: &Client, ctx: &Context, vpc_id: &str) -> Result<String> {
    let name = ctx.name("igw");
    let found = ec2
        .describe_internet_gateways()
        .set_filters(Some(component_filters(ctx, "igw")))
        .send()
        .await
        .aws(format!("DescribeInternetGateways {name}"))?;
    let (id, attached, fresh) = match found
        .internet_gateways()
        .iter()
        .find(|g| owned(ctx, g.tags()))
    {
        Some(g) => {
            let id = g.internet_gateway_id().unwrap_or_default().to_owned();
            ctx.report.adopted("internet gateway", &name, &id);
            (
                id,
                g.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)),
                false,
            )
        }
        None => {
            let id = ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(ctx, ResourceType::InternetGateway, "igw"))
                .send()
                .await
                .aws(format!("CreateInternetGateway {name}"))?
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .unwrap_or_default()
                .to_owned();
            ctx.report.created("internet gateway", &name, &id);
            (id, false, true)
        }
    };
    if !attached {
        retry::after_create(&format!("AttachInternetGateway {name}"), || async {
            ec2.attach_internet_gateway()
                .internet_gateway_id(&id)
                .vpc_id(vpc_id)
                .send()
                .await
                .map(|_| ())
                .aws(format!("AttachInternetGateway {name}"))
        })
        .await?;
        if !fresh {
            ctx.report
                .updated("internet gateway", &name, &format!("attached to {vpc_id}"));
        }
    }
    Ok(id)
}

/// Returns (allocation id, public IP).
async fn ensure_eip(ec2: &Client, ctx: &Context, component: String) -> Result<(String, String)> {
    let component = component.as_str();
    let name = ctx.name(component);
    let found = ec2
        .describe_addresses()
        .set_filters(Some(component_filters(ctx, component)))
        .send()
        .await
        .aws(format!("DescribeAddresses {name}"))?;
    if let Some(a) = found.addresses().iter().find(|a| owned(ctx, a.tags())) {
        let id = a.allocation_id().unwrap_or_default().to_owned();
        ctx.report.adopted("elastic ip", &name, &id);
        return Ok((id, a.public_ip().unwrap_or_default().to_owned()));
    }
    let out = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tag_spec(ctx, ResourceType::ElasticIp, component))
        .send()
        .await
        .aws(format!("AllocateAddress {name}"))?;
    let id = out.allocation_id().unwrap_or_default().to_owned();
    ctx.report.created("elastic ip", &name, &id);
    Ok((id, out.public_ip().unwrap_or_default().to_owned()))
}

/// Returns (NAT gateway id, already available).
async fn ensure_nat(
    ec2: &Client,
    ctx: &Context,
    vpc_id: &str,
    component: String,
    subnet_id: &str,
    allocation_id: &str,
) -> Result<(String, bool)> {
    let component = component.as_str();
    let name = ctx.name(component);
    for nat in crate::teardown::live_nats(ec2, ctx, vpc_id).await? {
        if common::ec2::component(nat.tags()) == Some(component) {
            let id = nat.nat_gateway_id().unwrap_or_default().to_owned();
            ctx.report.adopted("nat gateway", &name, &id);
            return Ok((id, nat.state() == Some(&NatGatewayState::Available)));
        }
    }
    // The token covers a retry or a re-run racing a create that AWS already accepted.
    let token = ctx.token(&["nat", component, subnet_id, allocation_id]);
    let out = retry::after_create(&format!("CreateNatGateway {name}"), || async {
        ec2.create_nat_gateway()
            .subnet_id(subnet_id)
            .allocation_id(allocation_id)
            .client_token(&token)
            .tag_specifications(tag_spec(ctx, ResourceType::Natgateway, component))
            .send()
            .await
            .aws(format!("CreateNatGateway {name}"))
    })
    .await?;
    let nat = out.nat_gateway();
    let id = nat
        .and_then(|n| n.nat_gateway_id())
        .unwrap_or_default()
        .to_owned();
    ctx.report.created("nat gateway", &name, &id);
    Ok((
        id,
        nat.and_then(|n| n.state()) == Some(&NatGatewayState::Available),
    ))
}

async fn ensure_route_table(
    ec2: &Client,
    ctx: &Context,
    vpc_id: &str,
    component: String,
) -> Result<RouteTable> {
    let component = component.as_str();
    let name = ctx.name(component);
    let mut filters = component_filters(ctx, component);
    filters.push(filter("vpc-id", [vpc_id]));
    let found = ec2
        .describe_route_tables()
        .set_filters(Some(filters))
        .send()
        .await
        .aws(format!("DescribeRouteTables {name}"))?;
    if let Some(rt) = found.route_tables().iter().find(|r| owned(ctx, r.tags())) {
        ctx.report.adopted(
            "route table",
            &name,
            rt.route_table_id().unwrap_or_default(),
        );
        return Ok(rt.clone());
    }
    let rt = retry::after_create(&format!("CreateRouteTable {name}"), || async {
        ec2.create_route_table()
            .vpc_id(vpc_id)
            .tag_specifications(tag_spec(ctx, ResourceType::RouteTable, component))
            .send()
            .await
            .aws(format!("CreateRouteTable {name}"))
    })
    .await?
    .route_table()
    .cloned()
    .unwrap_or_else(|| RouteTable::builder().build());
    ctx.report.created(
        "route table",
        &name,
        rt.route_table_id().unwrap_or_default(),
    );
    Ok(rt)
}

enum Target<'a> {
    Gateway(&'a str),
    Nat(&'a str),
    Nothing,
}

async fn ensure_default_route(
    ec2: &Client,
    ctx: &Context,
    rt: &RouteTable,
    target: Target<'_>,
) -> Result<()> {
    const ANY: &str = "0.0.0.0/0";
    let rt_id = id_of(rt);
    let name = format!("{rt_id} {ANY}");
    let current = rt
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(ANY));
    let matches = current.is_some_and(|r| {
        r.state() != Some(&aws_sdk_ec2::types::RouteState::Blackhole)
            && match target {
                Target::Gateway(g) => r.gateway_id() == Some(g),
                Target::Nat(n) => r.nat_gateway_id() == Some(n),
                Target::Nothing => false,
            }
    });
    if matches {
        return Ok(());
    }
    match (current, &target) {
        (None, Target::Nothing) => Ok(()),
        (Some(_), Target::Nothing) => {
            ec2.delete_route()
                .route_table_id(&rt_id)
                .destination_cidr_block(ANY)
                .send()
                .await
                .aws(format!("DeleteRoute {name}"))?;
            ctx.report
                .updated("route", &name, "removed (no NAT gateway)");
            Ok(())
        }
        (existing, target) => {
            let (gw, nat) = match target {
                Target::Gateway(g) => (Some(g.to_string()), None),
                Target::Nat(n) => (None, Some(n.to_string())),
                Target::Nothing => unreachable!("handled above"),
            };
            let via = gw.clone().or(nat.clone()).unwrap_or_default();
            retry::after_create(&format!("CreateRoute {name}"), || async {
                if existing.is_some() {
                    ec2.replace_route()
                        .route_table_id(&rt_id)
                        .destination_cidr_block(ANY)
                        .set_gateway_id(gw.clone())
                        .set_nat_gateway_id(nat.clone())
                        .send()
                        .await
                        .map(|_| ())
                        .aws(format!("ReplaceRoute {name}"))
                } else {
                    ec2.create_route()
                        .route_table_id(&rt_id)
                        .destination_cidr_block(ANY)
                        .set_gateway_id(gw.clone())
                        .set_nat_gateway_id(nat.clone())
                        .send()
                        .await
                        .map(|_| ())
                        .aws(format!("CreateRoute {name}"))
                }
            })
            .await
            .or_else(|e| {
                if e.aws_code() == Some("RouteAlreadyExists") {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
            if existing.is_some() {
                ctx.report
                    .updated("route", &name, &format!("now via {via}"));
            } else {
                ctx.report.created("route", &name, &via);
            }
            Ok(())
        }
    }
}

/// Associates a subnet with its route table, moving it from another of ours if needed.
async fn ensure_association(
    ec2: &Client,
    ctx: &Context,
    ours: &[&RouteTable],
    rt: &RouteTable,
    subnet_id: &str,
) -> Result<()> {
    let rt_id = id_of(rt);
    if rt
        .associations()
        .iter()
        .any(|a| a.subnet_id() == Some(subnet_id))
    {
        return Ok(());
    }
    let elsewhere = ours
        .iter()
        .flat_map(|t| t.associations())
        .find(|a| a.subnet_id() == Some(subnet_id))
        .and_then(|a| a.route_table_association_id());
    let name = format!("{subnet_id} -> {rt_id}");
    if let Some(assoc) = elsewhere {
        ec2.replace_route_table_association()
            .association_id(assoc)
            .route_table_id(&rt_id)
            .send()
            .await
            .aws(format!("ReplaceRouteTableAssociation {name}"))?;
        ctx.report
            .updated("route table association", &name, "moved");
        return Ok(());
    }
    retry::after_create(&format!("AssociateRouteTable {name}"), || async {
        ec2.associate_route_table()
            .route_table_id(&rt_id)
            .subnet_id(subnet_id)
            .send()
            .await
            .map(|_| ())
            .aws(format!("AssociateRouteTable {name}"))
    })
    .await?;
    tracing::info!("associated {name}");
    Ok(())
}

pub(crate) fn endpoint_component(short: &str) -> String {
    format!("vpce-{}", short.replace('.', "-"))
}

async fn ensure_endpoint(
    ec2: &Client,
    ctx: &Context,
    vpc_id: &str,
    short: &str,
    subnet_ids: &[String],
    sg_id: Option<&str>,
    rt_ids: &[String],
) -> Result<String> {
    let component = endpoint_component(short);
    let name = ctx.name(&component);
    let kind = kind_of(short);
    let mut filters = component_filters(ctx, &component);
    filters.push(filter("vpc-id", [vpc_id]));
    let found = ec2
        .describe_vpc_endpoints()
        .set_filters(Some(filters))
        .send()
        .await
        .aws(format!("DescribeVpcEndpoints {name}"))?;
    if let Some(e) = found
        .vpc_endpoints()
        .iter()
        .find(|e| owned(ctx, e.tags()) && crate::teardown::endpoint_live(e))
    {
        let id = e.vpc_endpoint_id().unwrap_or_default().to_owned();
        ctx.report.adopted("vpc endpoint", &name, &id);
        // Keep the endpoint's subnets (interface) or route tables (gateway) as planned.
        let (have, want) = match kind {
            EndpointKind::Interface => (e.subnet_ids(), subnet_ids),
            EndpointKind::Gateway => (e.route_table_ids(), rt_ids),
        };
        let add: Vec<String> = want.iter().filter(|w| !have.contains(w)).cloned().collect();
        let remove: Vec<String> = have.iter().filter(|h| !want.contains(h)).cloned().collect();
        if !add.is_empty() || !remove.is_empty() {
            let call = ec2.modify_vpc_endpoint().vpc_endpoint_id(&id);
            let call = match kind {
                EndpointKind::Interface => call
                    .set_add_subnet_ids(Some(add))
                    .set_remove_subnet_ids(Some(remove)),
                EndpointKind::Gateway => call
                    .set_add_route_table_ids(Some(add))
                    .set_remove_route_table_ids(Some(remove)),
            };
            call.send().await.aws(format!("ModifyVpcEndpoint {name}"))?;
            ctx.report
                .updated("vpc endpoint", &name, "subnets or route tables changed");
        }
        return Ok(id);
    }
    let service = format!("com.amazonaws.{}.{short}", ctx.region);
    let token = ctx.token(&["vpce", short, vpc_id]);
    let out = retry::after_create(&format!("CreateVpcEndpoint {name}"), || async {
        let call = ec2
            .create_vpc_endpoint()
            .vpc_id(vpc_id)
            .service_name(&service)
            .client_token(&token)
            .tag_specifications(tag_spec(ctx, ResourceType::VpcEndpoint, &component));
        let call = match kind {
            EndpointKind::Interface => call
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .set_subnet_ids(Some(subnet_ids.to_vec()))
                .set_security_group_ids(sg_id.map(|s| vec![s.to_owned()]))
                .private_dns_enabled(true),
            EndpointKind::Gateway => call
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .set_route_table_ids(Some(rt_ids.to_vec())),
        };
        call.send().await.aws(format!("CreateVpcEndpoint {name}"))
    })
    .await?;
    let id = out
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .unwrap_or_default()
        .to_owned();
    ctx.report.created("vpc endpoint", &name, &id);
    Ok(id)
}
