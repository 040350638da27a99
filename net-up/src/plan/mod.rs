//! The plan: a pure function of the desired network and what AWS holds.
//!
//! It makes no AWS call, so every rule is unit-tested (`tests.rs`, one test per
//! row of docs/converge/net-up.md). Each `Op` is one change to one resource and
//! knows its `common::plan::Change`; `apply` runs them in `phase` order. Before
//! any op exists, the plan refuses (exit 10) two resources claiming one
//! component, and every update or delete is preceded by the ownership check on
//! the tags AWS returned (kinds without tags through their tagged parent).
//! Deletions of what the spec no longer asks for happen only when the spec's
//! `network` section is an explicit statement (`prune`); otherwise they become
//! warnings.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::IpPermission;
use common::plan::{Action, Change};
use common::{Context, Error, Result};
use serde_json::Value;

use crate::actual::{Actual, Res};
use crate::components::{Key, Kind};
use crate::desired::Desired;

mod endpoints;
pub(crate) mod flowlogs;
mod gateways;
mod routing;
#[cfg(test)]
mod tests;
mod vpc;

/// An in-place change to one field of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub field: &'static str,
    pub from: Value,
    pub to: Value,
    pub what: What,
}

/// What a fix does, with what its AWS calls need.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// Set these tags (CreateTags, TagRole, TagResource).
    Tags(Vec<(String, String)>),
    DnsSupport,
    DnsHostnames,
    /// `map_public_ip_on_launch` off.
    NoPublicIps,
    /// Attach the internet gateway to our VPC, detaching it from another first.
    Attach {
        detach_from: Option<String>,
    },
    /// Point the default route at the desired target (the table's id is the op's).
    RouteTarget,
    /// Move the association to the desired table.
    AssocTable,
    /// Authorize and revoke ingress rules.
    Ingress {
        add: Vec<IpPermission>,
        revoke: Vec<IpPermission>,
    },
    /// Revoke every rule of the default group (for a VPC still to be created,
    /// the ones AWS gives it, read when it exists).
    ClearDefault {
        ingress: Vec<IpPermission>,
        egress: Vec<IpPermission>,
    },
    EndpointSubnets {
        add: Vec<String>,
        remove: Vec<String>,
    },
    EndpointTables {
        add: Vec<String>,
        remove: Vec<String>,
    },
    EndpointGroups {
        add: Vec<String>,
        remove: Vec<String>,
    },
    PrivateDns,
    Retention(i32),
    Trust(Value),
    Policy(Value),
    /// Shown in the change only: another fix of the op does the work.
    Shown,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Made from the desired state (`apply` reads its parameters there).
    Create(Key),
    /// Fields changed in place. `id`: the resource's (the route table's for a
    /// route, the association's for an association; empty for the default
    /// group of a VPC still to be created).
    Update {
        key: Key,
        id: String,
        fixes: Vec<Fix>,
    },
    /// Deleted and made again: AWS cannot change these fields in place.
    Replace {
        key: Key,
        old: String,
        fields: Vec<(&'static str, Value, Value)>,
    },
    Delete {
        key: Key,
        id: String,
    },
}

impl Op {
    pub fn key(&self) -> &Key {
        match self {
            Op::Create(key)
            | Op::Update { key, .. }
            | Op::Replace { key, .. }
            | Op::Delete { key, .. } => key,
        }
    }

    /// The change it makes, as plans and logs show it.
    pub fn change(&self, ctx: &Context) -> Change {
        let key = self.key();
        let name = key.name(ctx);
        let kind = key.kind.label();
        let tool = ctx.tool.as_str();
        match self {
            Op::Create(_) => Change::new(tool, Action::Create, kind, &name),
            Op::Update { id, fixes, .. } => {
                let mut c = Change::new(tool, Action::Update, kind, &name);
                if !id.is_empty() {
                    c = c.id(id);
                }
                fixes
                    .iter()
                    .fold(c, |c, f| c.field(f.field, &f.from, &f.to))
            }
            Op::Replace { old, fields, .. } => fields.iter().fold(
                Change::new(tool, Action::Replace, kind, &name).id(old),
                |c, (f, from, to)| c.field(f, from, to),
            ),
            Op::Delete { id, .. } => Change::new(tool, Action::Delete, kind, &name).id(id),
        }
    }

    /// When it can run: an op needs what earlier phases made (subnets need the
    /// VPC, NAT gateways the subnets, routes the NAT gateways) or removed
    /// (subnets go after the NAT gateways in them). Ops of one phase are
    /// independent.
    pub fn phase(&self) -> u8 {
        use Kind::*;
        match self {
            Op::Create(k) => match k.kind {
                Vpc | Eip | LogGroup | Role => 0,
                Subnet | Igw | RouteTable | Group | FlowLog => 1,
                Nat | Endpoint | Association => 2,
                Route => 3,
                DefaultGroup => 1,
            },
            Op::Update { key, .. } => match key.kind {
                Vpc | Eip | LogGroup | Role => 0,
                Endpoint | Association | Nat => 2,
                Route => 3,
                _ => 1,
            },
            Op::Replace { key, .. } => match key.kind {
                FlowLog => 1,
                _ => 2,
            },
            Op::Delete { key, .. } => match key.kind {
                Route => 3,
                Nat | Endpoint | FlowLog | Association => 4,
                _ => 5,
            },
        }
    }
}

/// The plan of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// The ids of what exists and stays, by key (routes and associations aside).
    pub known: BTreeMap<Key, String>,
    /// Public IPs of the Elastic IPs found, by component.
    pub public_ips: BTreeMap<String, String>,
    /// What was not pruned, and why.
    pub warnings: Vec<String>,
}

impl Plan {
    /// The id of an existing resource.
    pub fn id(&self, kind: Kind, component: &str) -> Option<&str> {
        self.known
            .get(&Key::new(kind, component))
            .map(String::as_str)
    }

    /// How many resources of a kind the plan creates.
    pub fn creates(&self, kind: Kind) -> usize {
        self.ops
            .iter()
            .filter(|op| matches!(op, Op::Create(k) if k.kind == kind))
            .count()
    }

    /// The ops, in the order apply runs them (stable within a phase).
    pub fn ordered(&self) -> Vec<&Op> {
        let mut ops: Vec<&Op> = self.ops.iter().collect();
        ops.sort_by_key(|op| op.phase());
        ops
    }
}

/// Works the plan out. `prune`: the spec's `network` section is an explicit
/// statement, so what it no longer asks for may be deleted.
pub fn plan(ctx: &Context, desired: &Desired, actual: &Actual, prune: bool) -> Result<Plan> {
    let mut p = Planner {
        ctx,
        desired,
        actual,
        prune,
        plan: Plan::default(),
    };
    p.refuse_duplicates()?;
    p.vpc()?;
    p.subnets()?;
    p.gateways()?;
    p.tables()?;
    p.endpoints()?;
    p.flow_logs()?;
    if !prune && !p.plan.warnings.is_empty() {
        // Said once, so a user who expected a removal knows why none happened.
        p.plan.warnings.insert(
            0,
            "spec.network is absent or empty, so nothing was pruned (state the network to prune)"
                .to_owned(),
        );
    }
    Ok(p.plan)
}

/// The state of a plan being worked out.
struct Planner<'a> {
    ctx: &'a Context,
    desired: &'a Desired,
    actual: &'a Actual,
    prune: bool,
    plan: Plan,
}

impl Planner<'_> {
    /// Refuses two resources of one kind tagged for the same component: which
    /// one is "the" VPC (or subnet, NAT gateway...) would be a guess.
    fn refuse_duplicates(&self) -> Result<()> {
        let a = self.actual;
        let all = [
            (Kind::Vpc, pairs(&a.vpcs)),
            (Kind::Subnet, pairs(&a.subnets)),
            (Kind::Igw, pairs(&a.igws)),
            (Kind::Eip, pairs(&a.eips)),
            (Kind::Nat, pairs(&a.nats)),
            (Kind::RouteTable, pairs(&a.tables)),
            (Kind::Group, pairs(&a.groups)),
            (Kind::Endpoint, pairs(&a.endpoints)),
            (Kind::FlowLog, pairs(&a.flow_logs)),
        ]
        .into_iter()
        .flat_map(|(kind, items)| items.into_iter().map(move |(c, id)| (kind, c, id)));
        let mut seen: BTreeMap<(Kind, &str), &str> = BTreeMap::new();
        for (kind, component, id) in all {
            if let Some(first) = seen.insert((kind, component), id) {
                return Err(Error::Refused(format!(
                    "two {}s claim to be {}/{}'s {component}: {first} and {id}; \
                     delete the one that is not in use (teardown removes both), then re-run; nothing was changed",
                    kind.label(),
                    self.ctx.stack,
                    self.ctx.env
                )));
            }
        }
        Ok(())
    }

    /// The ownership check before an update or delete.
    fn owned<T>(&self, kind: Kind, res: &Res<T>) -> Result<()> {
        let name = Key::new(kind, res.component()).name(self.ctx);
        self.ctx
            .check_owned(kind.label(), &name, res.pairs(), res.component())
    }

    /// Records an existing resource's id, for later ops and the output.
    fn know(&mut self, kind: Kind, component: &str, id: &str) {
        self.plan
            .known
            .insert(Key::new(kind, component), id.to_owned());
    }

    fn push(&mut self, op: Op) {
        self.plan.ops.push(op);
    }

    /// An update of `res` with `fixes`, after its ownership check; nothing when
    /// there is nothing to fix.
    fn update<T>(&mut self, kind: Kind, res: &Res<T>, fixes: Vec<Fix>) -> Result<()> {
        if fixes.is_empty() {
            return Ok(());
        }
        self.owned(kind, res)?;
        self.push(Op::Update {
            key: Key::new(kind, res.component()),
            id: res.id.clone(),
            fixes,
        });
        Ok(())
    }

    /// A delete of what the spec no longer asks for: checked, and only when
    /// the spec says so explicitly.
    fn prune<T>(&mut self, kind: Kind, res: &Res<T>) -> Result<()> {
        let key = Key::new(kind, res.component());
        if !self.prune {
            let name = key.name(self.ctx);
            self.plan.warnings.push(format!(
                "{} {name} ({}) is no longer in the spec; kept",
                kind.label(),
                res.id
            ));
            return Ok(());
        }
        self.owned(kind, res)?;
        self.push(Op::Delete {
            key,
            id: res.id.clone(),
        });
        Ok(())
    }

    /// The tags to set on `res`: ours and the user's, where AWS's differ.
    /// Tags of others (cost tools, AWS Config) are left alone.
    fn tag_fix<T>(&self, res: &Res<T>) -> Option<Fix> {
        let want = self.ctx.tags(res.component());
        let wrong: Vec<(String, String)> = want
            .into_iter()
            .filter(|(k, v)| res.tags.get(k) != Some(v))
            .collect();
        if wrong.is_empty() {
            return None;
        }
        let from: BTreeMap<&str, Option<&String>> = wrong
            .iter()
            .map(|(k, _)| (k.as_str(), res.tags.get(k)))
            .collect();
        let to: BTreeMap<&str, &str> = wrong
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Some(Fix {
            field: "tags",
            from: serde_json::to_value(from).unwrap_or_default(),
            to: serde_json::to_value(to).unwrap_or_default(),
            what: What::Tags(wrong),
        })
    }

    /// The name plans show for a resource of this stack (`{stack}--{c}--{env}`).
    fn name(&self, component: &str) -> String {
        self.ctx.name(component)
    }
}

/// (component, id) of each resource, for the duplicate check.
fn pairs<T>(items: &[Res<T>]) -> Vec<(&str, &str)> {
    items
        .iter()
        .map(|r| (r.component(), r.id.as_str()))
        .collect()
}

/// The one resource of `items` with this component.
fn find<'a, T>(items: &'a [Res<T>], component: &str) -> Option<&'a Res<T>> {
    items.iter().find(|r| r.component() == component)
}

/// A list of ids or names as a plan shows it, sorted.
fn sorted(items: &[String]) -> Value {
    let mut v = items.to_vec();
    v.sort();
    Value::from(v)
}
