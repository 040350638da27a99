//! The plan: a pure function of the desired state and what discovery found,
//! returning the operations that bring the layer there, each with the
//! `common::plan::Change` it records, and the `.alb` section it leads to.
//!
//! Before any operation is returned, every resource an operation would update
//! or delete has had its tags checked (`ctx.check_owned`), duplicates claiming
//! one identity are refused, and a name held by a resource that is not ours
//! stops the run: nothing is applied unless the whole plan is allowed.
//!
//! Operations refer to resources this run creates by `Ref::New(Key)`; apply
//! resolves them as it goes, `--plan` writes `planned:` placeholders instead.
//! `Op::phase` orders them (see `apply`).

use std::collections::BTreeMap;

use common::plan::{Action as ChangeAction, Change};
use common::spec::alb::Conditions;
use common::{Context, Result};

use crate::desired::{Desired, Tls, WantLb, WantTg};
use crate::discover::Actual;
use crate::sg::Diff;

mod lb;
mod listeners;
mod rules;
mod security_group;
mod target_groups;
#[cfg(test)]
mod tests;

/// A resource this run creates: its kind and name, unique within a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub kind: &'static str,
    pub name: String,
}

impl Key {
    pub fn new(kind: &'static str, name: &str) -> Self {
        Key {
            kind,
            name: name.to_owned(),
        }
    }
}

/// An id that exists, or the one a create of this run will return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Have(String),
    New(Key),
}

impl Ref {
    /// The id when it exists already.
    pub fn have(&self) -> Option<&str> {
        match self {
            Ref::Have(id) => Some(id),
            Ref::New(_) => None,
        }
    }
}

/// A listener's default action or a rule's action, as alb-up sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    To(Ref),
    /// HTTP to HTTPS on 443, permanently (301).
    RedirectToHttps,
    /// A fixed 404 when no service takes the requests.
    NotFound,
}

/// A listener as it should be.
#[derive(Debug, Clone, PartialEq)]
pub struct WantListener {
    pub component: String,
    pub name: String,
    pub port: u16,
    pub tls: Option<Tls>,
    pub action: Forward,
}

/// One change to AWS. Updates and deletes carry the change they record,
/// computed by the plan; creates record `+ kind name`.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    CreateSecurityGroup {
        name: String,
        vpc_id: String,
    },
    SecurityGroupRules {
        group: Ref,
        name: String,
        ingress: Diff,
        egress: Diff,
        /// None for a group this run creates: its rules are part of creating it.
        change: Option<Change>,
    },
    CreateTargetGroup(WantTg),
    UpdateTargetGroup {
        arn: String,
        want: WantTg,
        health: bool,
        deregistration_delay: bool,
        change: Change,
    },
    DeleteTargetGroup {
        arn: String,
        change: Change,
    },
    CreateLoadBalancer {
        want: WantLb,
        group: Ref,
    },
    UpdateLoadBalancer {
        arn: String,
        group: Option<Ref>,
        subnets: Option<Vec<String>>,
        ipv4: bool,
        attributes: BTreeMap<String, String>,
        change: Change,
    },
    CreateListener {
        lb: Ref,
        want: WantListener,
    },
    UpdateListener {
        arn: String,
        want: WantListener,
        change: Change,
    },
    /// `early`: before listeners are created (it frees a port).
    DeleteListener {
        arn: String,
        early: bool,
        change: Change,
    },
    DeleteRule {
        arn: String,
        change: Change,
    },
    /// Rules moved to new priorities in one call (AWS swaps them atomically).
    SetRulePriorities {
        moves: Vec<(String, u32)>,
        changes: Vec<Change>,
    },
    CreateRule {
        listener: Ref,
        component: String,
        name: String,
        priority: u32,
        conditions: Conditions,
        target: Ref,
    },
    UpdateRule {
        arn: String,
        conditions: Conditions,
        target: Ref,
        change: Change,
    },
}

/// The `tool` of every change of this layer, whoever runs it (teardown too).
pub const TOOL: &str = "alb-up";
pub const SECURITY_GROUP: &str = "security group";
pub const TARGET_GROUP: &str = "target group";
pub const LOAD_BALANCER: &str = "load balancer";
pub const LISTENER: &str = "listener";
pub const RULE: &str = "listener rule";

impl Op {
    /// The order of application: each phase after the one before, the
    /// operations of one phase concurrently. Security group and target groups
    /// first (the load balancer and listeners name them); the load balancer;
    /// test listeners that free a port; listeners; stale rules (freeing
    /// priorities); priority moves; rules; last what nothing refers to any more.
    pub fn phase(&self) -> u8 {
        match self {
            Op::CreateSecurityGroup { .. }
            | Op::CreateTargetGroup(_)
            | Op::UpdateTargetGroup { .. } => 0,
            Op::SecurityGroupRules { .. }
            | Op::CreateLoadBalancer { .. }
            | Op::UpdateLoadBalancer { .. } => 1,
            Op::DeleteListener { early: true, .. } => 2,
            Op::CreateListener { .. } | Op::UpdateListener { .. } => 3,
            Op::DeleteRule { .. } => 4,
            Op::SetRulePriorities { .. } => 5,
            Op::CreateRule { .. } | Op::UpdateRule { .. } => 6,
            Op::DeleteListener { early: false, .. } | Op::DeleteTargetGroup { .. } => 7,
        }
    }

    /// What the resource this op creates is known as until it exists.
    pub fn creates(&self) -> Option<Key> {
        match self {
            Op::CreateSecurityGroup { name, .. } => Some(Key::new(SECURITY_GROUP, name)),
            Op::CreateTargetGroup(t) => Some(Key::new(TARGET_GROUP, &t.name)),
            Op::CreateLoadBalancer { want, .. } => Some(Key::new(LOAD_BALANCER, &want.name)),
            Op::CreateListener { want, .. } => Some(Key::new(LISTENER, &want.name)),
            Op::CreateRule { name, .. } => Some(Key::new(RULE, name)),
            _ => None,
        }
    }

    /// The changes this op records once done (or planned).
    pub fn changes(&self, _ctx: &Context) -> Vec<Change> {
        if let Some(key) = self.creates() {
            return vec![Change::new(TOOL, ChangeAction::Create, key.kind, &key.name)];
        }
        match self {
            Op::SecurityGroupRules { change, .. } => change.iter().cloned().collect(),
            Op::UpdateTargetGroup { change, .. }
            | Op::DeleteTargetGroup { change, .. }
            | Op::UpdateLoadBalancer { change, .. }
            | Op::UpdateListener { change, .. }
            | Op::DeleteListener { change, .. }
            | Op::DeleteRule { change, .. }
            | Op::UpdateRule { change, .. } => vec![change.clone()],
            Op::SetRulePriorities { changes, .. } => changes.clone(),
            _ => vec![],
        }
    }
}

/// `.alb` as the plan leaves it, with the ids still to be created as refs.
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    pub lb: Ref,
    pub lb_name: String,
    /// The DNS name and hosted zone of a load balancer that exists.
    pub dns: Option<(String, String)>,
    pub security_group: Ref,
    pub http: Ref,
    pub https: Option<Ref>,
    pub target_groups: BTreeMap<String, OutTg>,
    pub rules: BTreeMap<String, (Ref, u32)>,
    pub default_service: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutTg {
    pub arn: Ref,
    pub name: String,
    pub port: u16,
    pub green: Option<(Ref, String)>,
    pub test_port: Option<u16>,
    pub test_listener: Option<Ref>,
}

/// The operations, in the order they were planned, and the section they lead to.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub out: Out,
}

impl Plan {
    /// Every change, in phase order: what `--plan` lists.
    pub fn changes(&self, ctx: &Context) -> Vec<Change> {
        let mut ops: Vec<&Op> = self.ops.iter().collect();
        ops.sort_by_key(|o| o.phase());
        ops.iter().flat_map(|o| o.changes(ctx)).collect()
    }
}

/// Whether what the spec no longer asks for may be removed, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    /// `spec.services` is an explicit, non-empty statement.
    Yes,
    /// It is absent or empty: nothing is removed, with a warning.
    No,
}

/// The whole plan. Refuses (exit 10) before anything is changed when a
/// resource to change is not ours, or two resources claim one identity.
pub fn plan(ctx: &Context, want: &Desired, have: &Actual, prune: Prune) -> Result<Plan> {
    let mut ops = Vec::new();
    let tgs = target_groups::plan(ctx, want, have, prune, &mut ops)?;
    let found = lb::find(ctx, want, have)?;
    let test_ports = listeners::test_ports(ctx, want, have, prune)?;
    let group = security_group::plan(ctx, want, have, &test_ports, &mut ops)?;
    let (lb, dns) = lb::plan(ctx, want, have, found, &group, &mut ops)?;
    let live = listeners::Live::read(ctx, want, have, &tgs);
    let listeners = listeners::plan(ctx, want, have, &lb, &test_ports, &live, prune, &mut ops)?;
    let rules = rules::plan(ctx, want, have, &listeners, &live, prune, &mut ops)?;
    if prune == Prune::No {
        tracing::warn!(
            "spec.services is absent or empty: nothing of the load balancer layer was pruned \
             (only an explicit, non-empty spec.services says what is no longer wanted)"
        );
    }
    let out = Out {
        lb,
        lb_name: want.lb.name.clone(),
        dns,
        security_group: group,
        http: listeners.http.clone(),
        https: listeners.https.clone(),
        target_groups: target_groups::out(want, &tgs, &listeners),
        rules,
        default_service: want.default_service.clone(),
    };
    Ok(Plan { ops, out })
}

/// Items whose tags say this stack's and env's, by component.
fn by_component<'a, T>(
    ctx: &Context,
    items: &'a [T],
    tags: impl Fn(&T) -> &[aws_sdk_elasticloadbalancingv2::types::Tag],
) -> BTreeMap<String, Vec<&'a T>> {
    let mut out: BTreeMap<String, Vec<&T>> = BTreeMap::new();
    for item in items {
        if let Some(c) = crate::names::our_component(ctx, tags(item)) {
            out.entry(c.to_owned()).or_default().push(item);
        }
    }
    out
}

/// Two or more resources claim one identity: which is the real one is not for
/// alb-up to guess.
fn duplicates(kind: &str, name: &str, ids: &[&str]) -> common::Error {
    common::Error::Refused(format!(
        "{} {kind}s are tagged as {name}: {}; delete all but one (teardown removes them all); nothing was changed",
        ids.len(),
        ids.join(", ")
    ))
}

/// An id as a change shows it: the id, or the placeholder of one to be created.
fn shown(r: &Ref) -> String {
    match r {
        Ref::Have(id) => id.clone(),
        Ref::New(k) => common::plan::planned(k.kind, &k.name),
    }
}

fn update(kind: &str, name: &str, id: &str) -> Change {
    Change::new(TOOL, ChangeAction::Update, kind, name).id(id)
}

fn delete(kind: &str, name: &str, id: &str) -> Change {
    Change::new(TOOL, ChangeAction::Delete, kind, name).id(id)
}
