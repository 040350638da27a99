//! Apply: the plan's ops, phase by phase (see `Op::phase`), the ops of a phase
//! concurrently with at most `IN_FLIGHT` at once. Each change is recorded once
//! it is made. A phase runs to its end even when one of its ops fails (no call
//! is abandoned half-way), then the first error stops the run: what was made
//! is tagged, so a re-run finds it and carries on.
//!
//! Ops name the resources they need by key; `Ids` holds the ids of what
//! existed (from the plan) and of what this run made.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::types::NatGatewayState;
use common::{retry, AwsResultExt, Context, Error, Result};
use futures_util::stream::{self, StreamExt};

use crate::aws::Aws;
use crate::components::{Key, Kind};
use crate::desired::Desired;
use crate::plan::{Op, Plan};

mod create;
mod update;

/// At most this many calls of a phase in flight (AWS throttles bursts per
/// account and API).
const IN_FLIGHT: usize = common::bounded::PER_SERVICE;
/// Real NAT gateways take one to five minutes to become available.
const NAT_WAIT: Duration = Duration::from_secs(900);
/// How often a pending NAT gateway is read once the wait is a few seconds old
/// (`retry::wait_for` starts at 0.25 s): a few seconds past ready at most, some
/// 30 calls for a 90-second NAT.
const NAT_POLL: Duration = Duration::from_secs(3);

/// The ids of the network's resources once applied (or planned).
#[derive(Debug, Clone, Default)]
pub struct Ids {
    pub ids: BTreeMap<Key, String>,
    /// Elastic IP component to public IP.
    pub public_ips: BTreeMap<String, String>,
}

impl Ids {
    pub fn get(&self, kind: Kind, component: &str) -> Option<&str> {
        self.ids.get(&Key::new(kind, component)).map(String::as_str)
    }
}

/// What an apply runs with.
pub(crate) struct Applier<'a> {
    pub ctx: &'a Context,
    pub aws: &'a Aws,
    pub desired: &'a Desired,
    pub made: Mutex<Ids>,
    /// NAT gateways that are not available yet (routes to them are refused).
    pub pending_nats: Mutex<Vec<String>>,
}

/// Whether the apply waits for pending NAT gateways (`--no-wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    ForNats,
    /// Stop before the routes when a NAT gateway is still pending.
    No,
}

/// Applies the plan; the ids of everything, for the output.
pub async fn apply(
    ctx: &Context,
    aws: &Aws,
    desired: &Desired,
    plan: &Plan,
    pending: Vec<String>,
    wait: Wait,
) -> Result<Ids> {
    let a = Applier {
        ctx,
        aws,
        desired,
        made: Mutex::new(Ids {
            ids: plan.known.clone(),
            public_ips: plan.public_ips.clone(),
        }),
        pending_nats: Mutex::new(pending),
    };
    for phase in 0..=5u8 {
        if phase == 3 && plan.ops.iter().any(|op| op.phase() == 3) {
            if wait == Wait::No && a.nats_pending() {
                // Everything from the routes on is left to the next run: a
                // removal after them could take a running task's way out.
                let left = plan.ops.iter().filter(|op| op.phase() >= 3).count();
                tracing::info!(
                    "--no-wait: NAT gateway(s) still pending; {left} change(s) from the routes on \
                     are left to the next run"
                );
                break;
            }
            a.wait_for_nats().await?;
        }
        let ops: Vec<&Op> = plan.ops.iter().filter(|op| op.phase() == phase).collect();
        let results: Vec<Result<()>> = stream::iter(ops)
            .map(|op| a.run(op))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(e);
        }
    }
    Ok(a.made.into_inner().expect("ids lock"))
}

/// The ids a plan shows: what exists, and placeholders for what it would make.
pub fn planned(ctx: &Context, plan: &Plan) -> Ids {
    let mut ids = Ids {
        ids: plan.known.clone(),
        public_ips: plan.public_ips.clone(),
    };
    for op in &plan.ops {
        if let Op::Create(key) | Op::Replace { key, .. } = op {
            let placeholder = common::plan::planned(key.kind.label(), &key.name(ctx));
            if key.kind == Kind::Eip {
                ids.public_ips
                    .insert(key.component.clone(), placeholder.clone());
            }
            ids.ids.insert(key.clone(), placeholder);
        }
    }
    ids
}

impl Applier<'_> {
    async fn run(&self, op: &Op) -> Result<()> {
        match op {
            Op::Create(key) => self.create(key).await?,
            Op::Update { key, id, fixes } => {
                for fix in fixes {
                    self.fix(key, id, fix).await?;
                }
            }
            Op::Replace { key, old, .. } => {
                self.delete(key, old).await?;
                self.create(key).await?;
            }
            Op::Delete { key, id } => self.delete(key, id).await?,
        }
        self.ctx.report.change(op.change(self.ctx));
        Ok(())
    }

    /// The id of a resource this run needs: found, or made in an earlier phase.
    pub(crate) fn id(&self, kind: Kind, component: &str) -> Result<String> {
        self.made
            .lock()
            .expect("ids lock")
            .get(kind, component)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Io(format!(
                    "net-up has no id for {} {component} (a bug: please report it)",
                    kind.label()
                ))
            })
    }

    pub(crate) fn made(&self, kind: Kind, component: &str, id: &str) {
        self.made
            .lock()
            .expect("ids lock")
            .ids
            .insert(Key::new(kind, component), id.to_owned());
    }

    fn nats_pending(&self) -> bool {
        !self.pending_nats.lock().expect("nats lock").is_empty()
    }

    /// Waits for the NAT gateways not yet available: AWS refuses a route to a
    /// pending one. Polled up to every `NAT_POLL` rather than by the SDK's waiter,
    /// whose 15 s minimum delay and backoff to 120 s would idle up to a minute
    /// past the moment a NAT (one to two minutes) is ready.
    async fn wait_for_nats(&self) -> Result<()> {
        let ids = self.pending_nats.lock().expect("nats lock").clone();
        if ids.is_empty() {
            return Ok(());
        }
        let what = format!("NAT gateway(s) {} to become available", ids.join(", "));
        retry::wait_for(&what, NAT_WAIT, NAT_POLL, || self.nats_available(&ids)).await
    }

    /// `Some` once every one of `ids` is available; a failed one is an error.
    async fn nats_available(&self, ids: &[String]) -> Result<Option<()>> {
        let out = self
            .aws
            .ec2
            .describe_nat_gateways()
            .set_nat_gateway_ids(Some(ids.to_vec()))
            .send()
            .await
            .aws("DescribeNatGateways")?;
        let nats = out.nat_gateways();
        if let Some(failed) = nats
            .iter()
            .find(|n| n.state() == Some(&NatGatewayState::Failed))
        {
            return Err(Error::Aws(common::error::AwsError {
                op: format!(
                    "NAT gateway {}",
                    failed.nat_gateway_id().unwrap_or_default()
                ),
                code: failed.failure_code().map(str::to_owned),
                message: failed.failure_message().unwrap_or("failed").to_owned(),
                request_id: None,
                transient: false,
            }));
        }
        let ready = nats.len() == ids.len()
            && nats
                .iter()
                .all(|n| n.state() == Some(&NatGatewayState::Available));
        Ok(ready.then_some(()))
    }

    async fn delete(&self, key: &Key, id: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        match key.kind {
            Kind::Subnet => crate::remove::subnet(ec2, id).await,
            Kind::Eip => crate::remove::address(ec2, id).await,
            Kind::Nat => crate::remove::nats(ec2, &[id.to_owned()]).await,
            Kind::RouteTable => crate::remove::table(ec2, id, &[]).await,
            Kind::Route => crate::remove::route(ec2, id).await,
            Kind::Association => crate::remove::association(ec2, id).await,
            Kind::Group => common::ec2::delete_group(ec2, id).await,
            Kind::Endpoint => crate::remove::endpoints(ec2, &[id.to_owned()]).await,
            Kind::FlowLog => crate::remove::flow_logs(ec2, &[id.to_owned()]).await,
            Kind::Role => common::iam::delete_role(&self.aws.iam, id).await,
            Kind::LogGroup => crate::remove::log_group(&self.aws.logs, id).await,
            Kind::Vpc => crate::remove::vpc(ec2, id).await,
            Kind::Igw => crate::remove::igw(ec2, id, &[]).await,
            Kind::DefaultGroup => Ok(()),
        }
    }
}
