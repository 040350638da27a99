//! No task starts without a way out.
//!
//! Tasks run in the private subnets, and pull their images and secrets through
//! the NAT gateways' routes (or the VPC endpoints). `net-up --no-wait` leaves
//! those routes to a second net-up run, which the stack scripts run beside
//! alb-up and svc-up so that the NAT's minutes of provisioning overlap the rest
//! of the bring-up. So before the phase that starts tasks (ECS services, and
//! CodeDeploy deployments) svc-up checks that every private route table routes
//! 0.0.0.0/0 to a NAT gateway, and waits while it does not: as long as a NAT
//! gateway is still pending (AWS is making it), then `GRACE` for the other
//! net-up to add the routes. After that it stops (exit 8) and names the fix.
//! The check is reads only, and a network without NAT gateways needs none.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{NatGatewayState, RouteState};
use aws_sdk_ec2::Client;

use common::error::AwsResultExt;
use common::sections::Network;
use common::{retry, Error, Result};

/// AWS makes a NAT gateway in one to five minutes; net-up waits as long.
const MAX: Duration = Duration::from_secs(900);
/// How long the routes may lag once every NAT gateway is available.
const GRACE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_secs(3);

/// The private route tables that must route out through the NAT gateways.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Egress {
    pub route_tables: Vec<String>,
    pub nats: Vec<String>,
}

impl Egress {
    /// What the network's tasks need: nothing when it has no NAT gateway (no
    /// route to wait for) or is adopted (its routes are not ours to make).
    pub fn of(network: &Network) -> Egress {
        if network.adopted || network.nat_gateway_ids.is_empty() {
            return Egress::default();
        }
        Egress {
            route_tables: network.private_route_table_ids.clone(),
            nats: network.nat_gateway_ids.clone(),
        }
    }

    /// Returns once every private route table routes out through a NAT gateway.
    pub async fn ready(&self, ec2: &Client) -> Result<()> {
        if self.route_tables.is_empty() {
            return Ok(());
        }
        let what =
            "a route out of the private subnets (NAT gateways available, routes made by net-up)";
        let settled: Mutex<Option<Instant>> = Mutex::new(None);
        retry::wait_for(what, MAX, POLL, || async {
            let missing = self.without_route(ec2).await?;
            if missing.is_empty() {
                return Ok(Some(()));
            }
            let pending = self.pending_nats(ec2).await?;
            let mut since = settled.lock().expect("egress lock");
            if !pending.is_empty() {
                *since = None;
                return Ok(None);
            }
            if since.get_or_insert_with(Instant::now).elapsed() < GRACE {
                return Ok(None);
            }
            Err(Error::Timeout {
                what: format!(
                    "a route out of route table(s) {}: the NAT gateways are available but not \
                     routed to; run net-up (without --no-wait) to make the routes, then svc-up",
                    missing.join(", ")
                ),
                secs: GRACE.as_secs(),
            })
        })
        .await
    }

    /// The route tables with no active 0.0.0.0/0 route to a NAT gateway.
    async fn without_route(&self, ec2: &Client) -> Result<Vec<String>> {
        let out = ec2
            .describe_route_tables()
            .set_route_table_ids(Some(self.route_tables.clone()))
            .send()
            .await
            .aws("DescribeRouteTables (the private subnets' routes out)")?;
        let routed = |id: &str| {
            out.route_tables().iter().any(|t| {
                t.route_table_id() == Some(id)
                    && t.routes().iter().any(|r| {
                        r.destination_cidr_block() == Some("0.0.0.0/0")
                            && r.nat_gateway_id().is_some()
                            && r.state() == Some(&RouteState::Active)
                    })
            })
        };
        Ok(self
            .route_tables
            .iter()
            .filter(|id| !routed(id))
            .cloned()
            .collect())
    }

    /// The NAT gateways AWS is still making.
    async fn pending_nats(&self, ec2: &Client) -> Result<Vec<String>> {
        let out = ec2
            .describe_nat_gateways()
            .set_nat_gateway_ids(Some(self.nats.clone()))
            .send()
            .await
            .aws("DescribeNatGateways")?;
        Ok(out
            .nat_gateways()
            .iter()
            .filter(|n| n.state() == Some(&NatGatewayState::Pending))
            .filter_map(|n| n.nat_gateway_id().map(str::to_owned))
            .collect())
    }
}
