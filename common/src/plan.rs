//! Plans: the changes a run makes, or would make with `--plan`.
//!
//! A tool discovers what it owns, works out the changes as a pure function of
//! the desired state (spec and upstream sections) and what it found, and
//! applies them. Each change is one `Change`, the same shape whether it is
//! planned (`--plan` appends it to the document's top-level `plan` array and
//! makes no mutating call) or applied (logged as it happens). `teardown
//! --dry-run` is a plan of deletes. Ids a planned create would produce do not
//! exist yet: they are written as `planned(kind, name)` placeholders, which a
//! downstream tool in plan mode recognises (`is_planned`) and an applying tool
//! refuses.
//!
//! A teardown lists what it would delete as ordered `Step`s and collects what it
//! could not delete as `Leftovers` instead of stopping at the first failure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{one_line, Error, Result};

/// What a change does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// Delete and create again: a field AWS cannot change in place.
    Replace,
    Delete,
}

impl Action {
    /// Terraform's marks: `+`, `~`, `-/+`, `-`.
    pub fn mark(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One field's old and new value in an update or replace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub from: Value,
    pub to: Value,
}

/// One entry of the document's `plan` array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub tool: String,
    pub action: Action,
    pub kind: String,
    pub name: String,
    /// The resource's id or ARN, when it has one (not for a planned create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Present for updates and replaces: field to `{from, to}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub changes: BTreeMap<String, FieldChange>,
}

impl Change {
    pub fn new(tool: &str, action: Action, kind: &str, name: &str) -> Self {
        Change {
            tool: tool.to_owned(),
            action,
            kind: kind.to_owned(),
            name: name.to_owned(),
            id: None,
            changes: BTreeMap::new(),
        }
    }

    /// The resource's id or ARN.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// Adds a field's change (for updates and replaces).
    pub fn field(mut self, field: &str, from: impl Serialize, to: impl Serialize) -> Self {
        self.changes.insert(
            field.to_owned(),
            FieldChange {
                from: serde_json::to_value(from).unwrap_or(Value::Null),
                to: serde_json::to_value(to).unwrap_or(Value::Null),
            },
        );
        self
    }

    /// `~ ecs service shop--api--dev (desired_count: 2 -> 3)`, for stderr.
    pub fn line(&self) -> String {
        let mut s = format!("{} {} {}", self.action.mark(), self.kind, self.name);
        if !self.changes.is_empty() {
            let fields: Vec<String> = self
                .changes
                .iter()
                .map(|(k, c)| format!("{k}: {} -> {}", short(&c.from), short(&c.to)))
                .collect();
            s.push_str(&format!(" ({})", fields.join(", ")));
        }
        s
    }
}

/// A JSON value as one short piece of a log line.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    crate::error::shown(&s)
}

/// What an id a planned create would produce is written as, until it exists.
const PLANNED: &str = "planned:";

/// The placeholder for the id of a resource a plan would create.
pub fn planned(kind: &str, name: &str) -> String {
    format!("{PLANNED}{kind}/{name}")
}

/// Whether an id is a plan's placeholder rather than a real id.
pub fn is_planned(id: &str) -> bool {
    id.starts_with(PLANNED)
}

/// Whether any string in a JSON value is a plan placeholder.
pub fn holds_planned(v: &Value) -> bool {
    match v {
        Value::String(s) => is_planned(s),
        Value::Array(a) => a.iter().any(holds_planned),
        Value::Object(o) => o.values().any(holds_planned),
        _ => false,
    }
}

/// One resource to delete, in the order the plan lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Step {
    pub layer: &'static str,
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

impl Step {
    /// The step as a planned delete of `tool`.
    pub fn change(&self, tool: &str) -> Change {
        Change::new(tool, Action::Delete, self.kind, &self.name).id(&self.id)
    }
}

/// What a teardown could not delete, and why.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    items: Arc<Mutex<Vec<String>>>,
}

impl Leftovers {
    /// Runs one deletion; a failure is recorded and the teardown goes on.
    pub async fn attempt(
        &self,
        kind: &str,
        name: &str,
        fut: impl std::future::Future<Output = Result<()>>,
    ) -> bool {
        match fut.await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("could not delete {kind} {name}: {e}");
                self.items
                    .lock()
                    .expect("leftovers lock")
                    .push(format!("{kind} {name}: {}", one_line(&e.to_string())));
                false
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.lock().expect("leftovers lock").is_empty()
    }

    /// Ok when everything went, else the error naming each leftover.
    pub fn into_result(self) -> Result<()> {
        let items = std::mem::take(&mut *self.items.lock().expect("leftovers lock"));
        if items.is_empty() {
            Ok(())
        } else {
            Err(Error::Leftovers(items))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_serialize_in_the_documented_shape() {
        let c = Change::new("svc-up", Action::Update, "ecs service", "shop--api--dev").field(
            "desired_count",
            2,
            3,
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"tool": "svc-up", "action": "update", "kind": "ecs service",
                "name": "shop--api--dev", "changes": {"desired_count": {"from": 2, "to": 3}}})
        );
        assert_eq!(
            c.line(),
            "~ ecs service shop--api--dev (desired_count: 2 -> 3)"
        );
        let created = Change::new("net-up", Action::Create, "vpc", "shop--vpc--dev");
        assert!(serde_json::to_value(&created)
            .unwrap()
            .get("changes")
            .is_none());
        assert_eq!(created.line(), "+ vpc shop--vpc--dev");
    }

    #[test]
    fn placeholders_are_recognised_anywhere_in_a_section() {
        let id = planned("vpc", "shop--vpc--dev");
        assert!(is_planned(&id) && !is_planned("vpc-0abc"));
        assert!(holds_planned(&serde_json::json!({"a": [1, {"b": id}]})));
        assert!(!holds_planned(&serde_json::json!({"a": ["vpc-1"]})));
    }
}
