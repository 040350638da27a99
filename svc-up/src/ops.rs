//! The plan's unit: one `Op` per resource that changes, each knowing its
//! `common::plan::Change`, the phase it runs in and the AWS service it calls.
//!
//! Ids a create will produce are `common::plan::planned` placeholders in the
//! plan (and in `--plan` output). `Ids` maps each placeholder to the real id
//! once the create ran, so an op of a later phase (a task definition naming a
//! new role, a service naming a new group) reads the real one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::plan::{is_planned, Change};
use common::{Context, Error, Result};
use serde_json::Value;

use crate::aws::Clients;
use crate::{cloudmap, codedeploy, ecs, groups, logs, roles, taskdefs};

/// When an op runs: every op of a phase after every op of the phase before.
/// Creates and updates first, in dependency order; then what the spec no
/// longer asks for, in AWS's deletion order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Log groups, roles, groups, the namespace, CodeDeploy applications, and
    /// the CodeDeploy side of services that stop being blue/green.
    Setup,
    /// Group rules (callers name each other's groups), Cloud Map services (in
    /// the namespace), task definitions (naming the roles and log groups).
    Wire,
    /// ECS services: they name all of the above.
    Services,
    /// CodeDeploy deployment groups: AWS checks their ECS service exists.
    DeploymentGroups,
    /// CodeDeploy deployments of blue/green services.
    Deployments,
    /// Pruned ECS services: their tasks hold the rest.
    PruneServices,
    /// Rules between pruned groups, before the groups go.
    PruneRules,
    /// Pruned Cloud Map services, roles, task definitions, groups.
    Prune,
    /// Pruned namespaces, after their services.
    PruneNamespaces,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    LogGroup(logs::Op),
    Role(roles::Op),
    Group(groups::Op),
    Namespace(cloudmap::NamespaceOp),
    Discovery(cloudmap::ServiceOp),
    TaskDefinition(taskdefs::Op),
    Service(ecs::Op),
    CodeDeploy(codedeploy::Op),
}

impl Op {
    pub fn phase(&self) -> Phase {
        match self {
            Op::LogGroup(o) => o.phase(),
            Op::Role(o) => o.phase(),
            Op::Group(o) => o.phase(),
            Op::Namespace(o) => o.phase(),
            Op::Discovery(o) => o.phase(),
            Op::TaskDefinition(o) => o.phase(),
            Op::Service(o) => o.phase(),
            Op::CodeDeploy(o) => o.phase(),
        }
    }

    /// The AWS service it calls: at most `apply::IN_FLIGHT` ops per service run at once.
    pub fn aws_service(&self) -> &'static str {
        match self {
            Op::LogGroup(_) => "logs",
            Op::Role(_) => "iam",
            Op::Group(_) => "ec2",
            Op::Namespace(_) | Op::Discovery(_) => "servicediscovery",
            Op::TaskDefinition(_) | Op::Service(_) => "ecs",
            Op::CodeDeploy(_) => "codedeploy",
        }
    }

    /// The change it records (planned, or once applied); `None` for a step of
    /// another change (the rules of a group this run creates).
    pub fn change(&self, ctx: &Context) -> Option<Change> {
        match self {
            Op::LogGroup(o) => Some(o.change(ctx)),
            Op::Role(o) => Some(o.change(ctx)),
            Op::Group(o) => o.change(ctx),
            Op::Namespace(o) => Some(o.change(ctx)),
            Op::Discovery(o) => Some(o.change(ctx)),
            Op::TaskDefinition(o) => Some(o.change(ctx)),
            Op::Service(o) => Some(o.change(ctx)),
            Op::CodeDeploy(o) => Some(o.change(ctx)),
        }
    }

    /// Makes the change; returns the id of what it created, if anything.
    pub async fn apply(&self, c: &Clients, ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            Op::LogGroup(o) => o.apply(c, ctx).await,
            Op::Role(o) => o.apply(c, ctx, ids).await,
            Op::Group(o) => o.apply(c, ctx, ids).await,
            Op::Namespace(o) => o.apply(c, ctx, ids).await,
            Op::Discovery(o) => o.apply(c, ctx, ids).await,
            Op::TaskDefinition(o) => o.apply(c, ctx, ids).await,
            Op::Service(o) => o.apply(c, ctx, ids).await,
            Op::CodeDeploy(o) => o.apply(c, ctx, ids).await,
        }
    }
}

/// Placeholder to real id, filled as creates complete.
#[derive(Debug, Clone, Default)]
pub struct Ids(Arc<Mutex<HashMap<String, String>>>);

impl Ids {
    pub fn set(&self, placeholder: &str, real: &str) {
        self.0
            .lock()
            .expect("ids lock")
            .insert(placeholder.to_owned(), real.to_owned());
    }

    /// The real id of `id`: itself, or what its placeholder became. A
    /// placeholder not created yet is a bug in the phases.
    pub fn get(&self, id: &str) -> Result<String> {
        if !is_planned(id) {
            return Ok(id.to_owned());
        }
        self.0
            .lock()
            .expect("ids lock")
            .get(id)
            .cloned()
            .ok_or_else(|| Error::Io(format!("internal: {id} is used before it is created")))
    }

    /// Every placeholder in a JSON value replaced by its real id (what was not
    /// created stays as it is).
    pub fn resolve(&self, v: &mut Value) {
        match v {
            Value::String(s) if is_planned(s) => {
                if let Some(real) = self.0.lock().expect("ids lock").get(s.as_str()) {
                    *s = real.clone();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.resolve(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.resolve(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::plan::planned;

    #[test]
    fn placeholders_resolve_once_created() {
        let ids = Ids::default();
        let p = planned("security group", "a--svc-api--dev");
        assert_eq!(ids.get("sg-1").unwrap(), "sg-1");
        assert!(ids.get(&p).is_err());
        ids.set(&p, "sg-2");
        assert_eq!(ids.get(&p).unwrap(), "sg-2");
        let mut v = serde_json::json!({"a": [p.clone(), "x"], "b": planned("x", "y")});
        ids.resolve(&mut v);
        assert_eq!(v["a"][0], "sg-2");
        assert!(is_planned(v["b"].as_str().unwrap()));
    }
}
