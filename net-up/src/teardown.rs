//! Removing the network layer: discovery by tag (and from the document), then
//! deletion in the order AWS demands.
//!
//! Endpoints and NAT gateways hold ENIs in the subnets and NAT gateways hold the
//! Elastic IPs, so both go first and are waited for; the internet gateway cannot
//! be detached while public addresses are still mapped; route tables, subnets and
//! security groups before the VPC. Dependency errors are retried for a bounded time.

use std::time::Duration;

use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{
    Address, InternetGateway, NatGateway, NatGatewayState, RouteTable, SecurityGroup, Subnet, Tag,
    Vpc, VpcEndpoint,
};
use aws_sdk_ec2::Client;

use common::ec2::{filter, owned, owner_filters};
use common::plan::{Leftovers, Step};
use common::sections::Network;
use common::{join_all, retry, AwsResultExt, Context, Result};

use common::retry::waiter_error;

const SECTION: &str = "network";
const GONE_WAIT: Duration = Duration::from_secs(900);

/// Everything of the network layer that belongs to this stack and env.
#[derive(Debug)]
pub struct Found {
    ec2: Client,
    pub vpcs: Vec<Vpc>,
    pub endpoints: Vec<VpcEndpoint>,
    pub nats: Vec<NatGateway>,
    pub addresses: Vec<Address>,
    pub igws: Vec<InternetGateway>,
    pub route_tables: Vec<RouteTable>,
    pub subnets: Vec<Subnet>,
    pub groups: Vec<SecurityGroup>,
}

/// NAT gateways of this stack in a VPC that are not deleted. Scoped by VPC because
/// NAT gateway tag filters are not honoured everywhere; ownership checked by tag.
pub async fn live_nats(ec2: &Client, ctx: &Context, vpc_id: &str) -> Result<Vec<NatGateway>> {
    let out = ec2
        .describe_nat_gateways()
        .filter(filter("vpc-id", [vpc_id]))
        .filter(filter("state", ["pending", "available"]))
        .send()
        .await
        .aws(format!("DescribeNatGateways {vpc_id}"))?;
    Ok(out
        .nat_gateways()
        .iter()
        .filter(|n| owned(ctx, n.tags()))
        .filter(|n| {
            matches!(
                n.state(),
                Some(NatGatewayState::Pending | NatGatewayState::Available)
            )
        })
        .cloned()
        .collect())
}

/// Finds the stack's network resources: everything tagged for it, plus the
/// document's VPC when its tags confirm it is ours.
pub async fn discover(ctx: &Context, doc: Option<&Network>) -> Result<Found> {
    let client = Client::new(&ctx.sdk);
    let ec2 = &client;
    let owners = || Some(owner_filters(ctx));
    let (vpcs, endpoints, addresses, igws, tables, subnets, groups) = tokio::try_join!(
        async {
            ec2.describe_vpcs()
                .set_filters(owners())
                .send()
                .await
                .aws("DescribeVpcs")
        },
        async {
            ec2.describe_vpc_endpoints()
                .set_filters(owners())
                .send()
                .await
                .aws("DescribeVpcEndpoints")
        },
        async {
            ec2.describe_addresses()
                .set_filters(owners())
                .send()
                .await
                .aws("DescribeAddresses")
        },
        async {
            ec2.describe_internet_gateways()
                .set_filters(owners())
                .send()
                .await
                .aws("DescribeInternetGateways")
        },
        async {
            ec2.describe_route_tables()
                .set_filters(owners())
                .send()
                .await
                .aws("DescribeRouteTables")
        },
        async {
            ec2.describe_subnets()
                .set_filters(owners())
                .send()
                .await
                .aws("DescribeSubnets")
        },
        async {
            ec2.describe_security_groups()
                .set_filters(owners())
                .send()
                .await
                .aws("DescribeSecurityGroups")
        },
    )?;
    let mine = |tags: &[Tag]| owned(ctx, tags);
    let mut found = Found {
        vpcs: vpcs
            .vpcs()
            .iter()
            .filter(|v| mine(v.tags()))
            .cloned()
            .collect(),
        endpoints: endpoints
            .vpc_endpoints()
            .iter()
            .filter(|e| mine(e.tags()) && endpoint_live(e))
            .cloned()
            .collect(),
        addresses: addresses
            .addresses()
            .iter()
            .filter(|a| mine(a.tags()))
            .cloned()
            .collect(),
        igws: igws
            .internet_gateways()
            .iter()
            .filter(|g| mine(g.tags()))
            .cloned()
            .collect(),
        route_tables: tables
            .route_tables()
            .iter()
            .filter(|t| mine(t.tags()) && !t.associations().iter().any(|a| a.main() == Some(true)))
            .cloned()
            .collect(),
        subnets: subnets
            .subnets()
            .iter()
            .filter(|s| mine(s.tags()))
            .cloned()
            .collect(),
        groups: groups
            .security_groups()
            .iter()
            .filter(|g| mine(g.tags()) && g.group_name() != Some("default"))
            .cloned()
            .collect(),
        nats: vec![],
        ec2: client.clone(),
    };
    if let Some(doc_vpc) = doc.map(|n| n.vpc_id.as_str()).filter(|id| !id.is_empty()) {
        if !found.vpcs.iter().any(|v| v.vpc_id() == Some(doc_vpc)) {
            match ec2
                .describe_vpcs()
                .vpc_ids(doc_vpc)
                .send()
                .await
                .aws("DescribeVpcs")
            {
                Ok(out) => {
                    for v in out.vpcs() {
                        if mine(v.tags()) {
                            found.vpcs.push(v.clone());
                        } else {
                            tracing::warn!(
                                "the document's VPC {doc_vpc} is not tagged for {}/{}: left alone",
                                ctx.stack,
                                ctx.env
                            );
                        }
                    }
                }
                Err(e) if retry::is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for vpc in &found.vpcs {
        found
            .nats
            .extend(live_nats(ec2, ctx, vpc.vpc_id().unwrap_or_default()).await?);
    }
    Ok(found)
}

fn name_of(ctx: &Context, tags: &[Tag], id: &str) -> String {
    common::ec2::component(tags).map_or_else(|| id.to_owned(), |c| ctx.name(c))
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.plan_with(None).is_empty()
    }

    /// The deletions, in order.
    pub fn steps(&self, ctx: &Context) -> Vec<Step> {
        self.plan_with(Some(ctx))
    }

    fn plan_with(&self, ctx: Option<&Context>) -> Vec<Step> {
        let step = |kind: &'static str, id: &str, tags: &[Tag]| Step {
            layer: SECTION,
            kind,
            id: id.to_owned(),
            name: ctx.map_or_else(String::new, |c| name_of(c, tags, id)),
        };
        let mut steps = Vec::new();
        steps.extend(self.endpoints.iter().map(|e| {
            step(
                "vpc endpoint",
                e.vpc_endpoint_id().unwrap_or_default(),
                e.tags(),
            )
        }));
        steps.extend(self.nats.iter().map(|n| {
            step(
                "nat gateway",
                n.nat_gateway_id().unwrap_or_default(),
                n.tags(),
            )
        }));
        steps.extend(self.addresses.iter().map(|a| {
            step(
                "elastic ip",
                a.allocation_id().unwrap_or_default(),
                a.tags(),
            )
        }));
        steps.extend(self.igws.iter().map(|g| {
            step(
                "internet gateway",
                g.internet_gateway_id().unwrap_or_default(),
                g.tags(),
            )
        }));
        steps.extend(self.route_tables.iter().map(|t| {
            step(
                "route table",
                t.route_table_id().unwrap_or_default(),
                t.tags(),
            )
        }));
        steps.extend(
            self.subnets
                .iter()
                .map(|s| step("subnet", s.subnet_id().unwrap_or_default(), s.tags())),
        );
        steps.extend(
            self.groups
                .iter()
                .map(|g| step("security group", g.group_id().unwrap_or_default(), g.tags())),
        );
        steps.extend(
            self.vpcs
                .iter()
                .map(|v| step("vpc", v.vpc_id().unwrap_or_default(), v.tags())),
        );
        steps
    }

    /// Deletes everything found, in dependency order; what fails is recorded.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        let ec2 = &self.ec2;
        let report = &ctx.report;
        // 1. Endpoints, and wait for them: their ENIs pin subnets and the group.
        let endpoint_ids: Vec<String> = self
            .endpoints
            .iter()
            .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
            .collect();
        if !endpoint_ids.is_empty() {
            let names = endpoint_ids.join(", ");
            let ok = left
                .attempt("vpc endpoints", &names, async {
                    let out = ec2
                        .delete_vpc_endpoints()
                        .set_vpc_endpoint_ids(Some(endpoint_ids.clone()))
                        .send()
                        .await
                        .aws("DeleteVpcEndpoints")?;
                    // A batch call: failures come back per item, not as an error.
                    if let Some(item) = out.unsuccessful().first() {
                        let why = item.error().and_then(|e| e.message()).unwrap_or("refused");
                        return Err(common::Error::Aws(common::error::AwsError {
                            op: format!(
                                "DeleteVpcEndpoints {}",
                                item.resource_id().unwrap_or_default()
                            ),
                            code: item.error().and_then(|e| e.code()).map(str::to_owned),
                            message: why.to_owned(),
                            request_id: None,
                            transient: false,
                        }));
                    }
                    wait_endpoints_gone(ec2, &endpoint_ids).await
                })
                .await;
            if ok {
                for e in &self.endpoints {
                    report.deleted(
                        "vpc endpoint",
                        &name_of(ctx, e.tags(), e.vpc_endpoint_id().unwrap_or_default()),
                    );
                }
            }
        }

        // 2. NAT gateways, waited for: they hold the Elastic IPs and ENIs.
        delete_nats(ec2, ctx, &self.nats, left).await;

        // 3. Elastic IPs, now unmapped.
        join_all(
            self.addresses
                .iter()
                .map(|a| release_address(ec2, ctx, a, left)),
        )
        .await;

        // 4. Internet gateways: detach (refused while addresses are still mapped), delete.
        join_all(self.igws.iter().map(|g| async move {
            let id = g.internet_gateway_id().unwrap_or_default();
            let name = name_of(ctx, g.tags(), id);
            let ok = left
                .attempt("internet gateway", &name, async {
                    for a in g.attachments() {
                        let vpc = a.vpc_id().unwrap_or_default();
                        retry::delete(&format!("DetachInternetGateway {id}"), || async {
                            ec2.detach_internet_gateway()
                                .internet_gateway_id(id)
                                .vpc_id(vpc)
                                .send()
                                .await
                                .map(|_| ())
                                .aws(format!("DetachInternetGateway {name}"))
                        })
                        .await?;
                    }
                    retry::delete(&format!("DeleteInternetGateway {id}"), || async {
                        ec2.delete_internet_gateway()
                            .internet_gateway_id(id)
                            .send()
                            .await
                            .map(|_| ())
                            .aws(format!("DeleteInternetGateway {name}"))
                    })
                    .await
                })
                .await;
            if ok {
                report.deleted("internet gateway", &name);
            }
        }))
        .await;

        // 5. Route tables: associations first.
        join_all(self.route_tables.iter().map(|t| async move {
            let id = t.route_table_id().unwrap_or_default();
            let name = name_of(ctx, t.tags(), id);
            let ok = left
                .attempt("route table", &name, async {
                    for a in t.associations().iter().filter(|a| a.main() != Some(true)) {
                        let assoc = a.route_table_association_id().unwrap_or_default();
                        retry::delete(&format!("DisassociateRouteTable {assoc}"), || async {
                            ec2.disassociate_route_table()
                                .association_id(assoc)
                                .send()
                                .await
                                .map(|_| ())
                                .aws(format!("DisassociateRouteTable {assoc}"))
                        })
                        .await?;
                    }
                    retry::delete(&format!("DeleteRouteTable {id}"), || async {
                        ec2.delete_route_table()
                            .route_table_id(id)
                            .send()
                            .await
                            .map(|_| ())
                            .aws(format!("DeleteRouteTable {name}"))
                    })
                    .await
                })
                .await;
            if ok {
                report.deleted("route table", &name);
            }
        }))
        .await;

        // 6. Subnets: ENIs of stopped tasks and load balancers may still be leaving.
        join_all(self.subnets.iter().map(|s| async move {
            let id = s.subnet_id().unwrap_or_default();
            let name = name_of(ctx, s.tags(), id);
            let ok = left
                .attempt(
                    "subnet",
                    &name,
                    retry::delete(&format!("DeleteSubnet {id}"), || async {
                        ec2.delete_subnet()
                            .subnet_id(id)
                            .send()
                            .await
                            .map(|_| ())
                            .aws(format!("DeleteSubnet {name}"))
                    }),
                )
                .await;
            if ok {
                report.deleted("subnet", &name);
            }
        }))
        .await;

        // 7. Security groups: rules naming other groups first, so order does not matter.
        join_all(self.groups.iter().map(|g| async move {
            let name = name_of(ctx, g.tags(), g.group_id().unwrap_or_default());
            left.attempt(
                "security group rules",
                &name,
                common::ec2::revoke_group_references(ec2, g),
            )
            .await;
        }))
        .await;
        join_all(self.groups.iter().map(|g| async move {
            let id = g.group_id().unwrap_or_default();
            let name = name_of(ctx, g.tags(), id);
            if left
                .attempt("security group", &name, common::ec2::delete_group(ec2, id))
                .await
            {
                report.deleted("security group", &name);
            }
        }))
        .await;

        // 8. The VPC.
        join_all(self.vpcs.iter().map(|v| async move {
            let id = v.vpc_id().unwrap_or_default();
            let name = name_of(ctx, v.tags(), id);
            let ok = left
                .attempt(
                    "vpc",
                    &name,
                    retry::delete(&format!("DeleteVpc {id}"), || async {
                        ec2.delete_vpc()
                            .vpc_id(id)
                            .send()
                            .await
                            .map(|_| ())
                            .aws(format!("DeleteVpc {name}"))
                    }),
                )
                .await;
            if ok {
                report.deleted("vpc", &name);
            }
        }))
        .await;
    }
}

/// An endpoint's state, lower case: AWS answers `available`, `deleted`..., which
/// the SDK's `State` enum (capitalised variants) does not recognise.
pub fn endpoint_state(e: &VpcEndpoint) -> String {
    e.state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Not deleted, not on its way out, not failed.
pub fn endpoint_live(e: &VpcEndpoint) -> bool {
    !matches!(
        endpoint_state(e).as_str(),
        "deleted" | "deleting" | "failed" | "rejected" | "expired"
    )
}

async fn wait_endpoints_gone(ec2: &Client, ids: &[String]) -> Result<()> {
    retry::wait_for(
        "VPC endpoints to be deleted",
        GONE_WAIT,
        Duration::from_secs(5),
        || async {
            let out = ec2
                .describe_vpc_endpoints()
                .set_vpc_endpoint_ids(Some(ids.to_vec()))
                .send()
                .await;
            let out = match out.aws("DescribeVpcEndpoints") {
                Ok(out) => out,
                Err(e) if retry::is_not_found(&e) => return Ok(Some(())),
                Err(e) => return Err(e),
            };
            let remaining = out
                .vpc_endpoints()
                .iter()
                .any(|e| endpoint_state(e) != "deleted");
            Ok((!remaining).then_some(()))
        },
    )
    .await
}

/// Deletes NAT gateways and waits until they are gone (their EIPs and ENIs are freed then).
async fn delete_nats(ec2: &Client, ctx: &Context, nats: &[NatGateway], left: &Leftovers) {
    let deleted = join_all(nats.iter().map(|n| async move {
        let id = n.nat_gateway_id().unwrap_or_default().to_owned();
        let name = name_of(ctx, n.tags(), &id);
        let ok = left
            .attempt(
                "nat gateway",
                &name,
                retry::delete(&format!("DeleteNatGateway {id}"), || async {
                    ec2.delete_nat_gateway()
                        .nat_gateway_id(&id)
                        .send()
                        .await
                        .map(|_| ())
                        .aws(format!("DeleteNatGateway {name}"))
                }),
            )
            .await;
        ok.then_some((id, name))
    }))
    .await;
    let deleted: Vec<(String, String)> = deleted.into_iter().flatten().collect();
    if deleted.is_empty() {
        return;
    }
    let ids: Vec<String> = deleted.iter().map(|(id, _)| id.clone()).collect();
    let ok = left
        .attempt("nat gateways", &ids.join(", "), async {
            ec2.wait_until_nat_gateway_deleted()
                .set_nat_gateway_ids(Some(ids.clone()))
                .wait(GONE_WAIT)
                .await
                .map(|_| ())
                .map_err(|e| waiter_error("NAT gateways to be deleted", GONE_WAIT, e))
        })
        .await;
    if ok {
        for (_, name) in &deleted {
            ctx.report.deleted("nat gateway", name);
        }
    }
}

async fn release_address(ec2: &Client, ctx: &Context, a: &Address, left: &Leftovers) {
    let id = a.allocation_id().unwrap_or_default();
    let name = name_of(ctx, a.tags(), id);
    let ok = left
        .attempt(
            "elastic ip",
            &name,
            retry::delete(&format!("ReleaseAddress {id}"), || async {
                ec2.release_address()
                    .allocation_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .aws(format!("ReleaseAddress {name}"))
            }),
        )
        .await;
    if ok {
        ctx.report.deleted("elastic ip", &name);
    }
}

/// After a change to a narrower NAT mode (per-az to single or none), deletes the NAT
/// gateways no longer wanted and releases their addresses. Routes were moved first.
pub async fn remove_unwanted_nats(
    ec2: &Client,
    ctx: &Context,
    vpc_id: &str,
    wanted: &[String],
) -> Result<()> {
    let unwanted: Vec<NatGateway> = live_nats(ec2, ctx, vpc_id)
        .await?
        .into_iter()
        .filter(|n| {
            !common::ec2::component(n.tags()).is_some_and(|c| wanted.iter().any(|w| w == c))
        })
        .collect();
    let wanted_eips: Vec<String> = wanted
        .iter()
        .map(|w| w.replacen("nat-", "nat-eip-", 1))
        .collect();
    let addresses = ec2
        .describe_addresses()
        .set_filters(Some(owner_filters(ctx)))
        .send()
        .await
        .aws("DescribeAddresses")?;
    let stale_eips: Vec<&Address> = addresses
        .addresses()
        .iter()
        .filter(|a| owned(ctx, a.tags()))
        .filter(|a| {
            common::ec2::component(a.tags())
                .is_some_and(|c| c.starts_with("nat-eip-") && !wanted_eips.iter().any(|w| w == c))
        })
        .collect();
    if unwanted.is_empty() && stale_eips.is_empty() {
        return Ok(());
    }
    let left = Leftovers::default();
    delete_nats(ec2, ctx, &unwanted, &left).await;
    join_all(
        stale_eips
            .into_iter()
            .map(|a| release_address(ec2, ctx, a, &left)),
    )
    .await;
    left.into_result()
}

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct NetworkLayer;

pub static LAYER: NetworkLayer = NetworkLayer;

impl common::layer::Layer for NetworkLayer {
    fn tool(&self) -> &'static str {
        "net-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["network"]
    }

    fn check(&self, doc: &common::Document) -> Result<()> {
        doc.layer::<Network>("network").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a common::Document,
        _mismatches: &'a common::owner::Mismatches,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn common::layer::Owned>>> {
        Box::pin(async move {
            let network: Option<Network> = doc.layer("network")?;
            Ok(Box::new(discover(ctx, network.as_ref()).await?) as Box<dyn common::layer::Owned>)
        })
    }
}

impl common::layer::Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<common::plan::Change> {
        self.steps(ctx).iter().map(|s| s.change("net-up")).collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: common::layer::TeardownOptions,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(Found::delete_all(*self, ctx, left))
    }
}
