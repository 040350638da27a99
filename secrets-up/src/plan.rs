//! The plan: a pure function of the wanted secrets, the values this run was
//! given, and what discovery found, so every rule of
//! `docs/converge/secrets-up.md` is a unit test.
//!
//! Per wanted secret: none is a create (with its value, when one is given);
//! one not tagged as this stack's, env's and secret's is refused; otherwise a
//! secret scheduled for deletion is restored, and the description, the KMS
//! key, the tags and the value (only when one is given and it differs from
//! the current one) are compared, each drifted one a fix of a single update.
//! A value is never shown: a change says `(given)`, `(current)`, `(none)`.
//! Secrets of this stack and env the spec no longer names are scheduled for
//! deletion with their recovery window, but only when `spec.secrets` is an
//! explicit, non-empty statement. Two secrets tagged as one are refused.

use std::collections::BTreeMap;

use common::naming::component_of;
use common::plan::{Action, Change};
use common::sections::DEFAULT_RECOVERY_WINDOW_DAYS;
use common::tagset::{self, Tags};
use common::{claims, Context, Result};

use crate::discover::{pairs, Actual, Current, Found};
use crate::spec::Wanted;
use crate::values::SecretValue;

pub const KIND: &str = "secret";
pub const TOOL: &str = "secrets-up";
/// What DescribeSecret may report for the AWS managed key, and what
/// UpdateSecret takes to go back to it.
pub const AWS_MANAGED_KEY: &str = "alias/aws/secretsmanager";

/// The wanted secrets, and whether the spec states them explicitly.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub wanted: Vec<Wanted>,
    /// `spec.secrets` is an explicit, non-empty statement: what it does not
    /// name is pruned.
    pub prune: bool,
    /// The recovery windows the document recorded, by short name: a pruned
    /// secret is deleted with the window it was made with.
    pub windows: BTreeMap<String, u8>,
}

/// One secret to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    pub short: String,
    pub name: String,
    pub description: String,
    pub kms_key: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Store the value this run was given.
    pub with_value: bool,
}

/// One drifted setting of an existing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Cancel a scheduled deletion (first: nothing else can change meanwhile).
    Restore,
    Description(String),
    /// `None`: back to the AWS managed key.
    KmsKey(Option<String>),
    Tags(Tags),
    /// Store the value this run was given, as the new current version.
    Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create(Create),
    Update {
        short: String,
        name: String,
        arn: String,
        fixes: Vec<Fix>,
    },
    /// Schedule the deletion, recoverable for `window` days.
    Delete {
        name: String,
        arn: String,
        window: u8,
    },
}

/// An op and the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub op: Op,
    pub change: Change,
}

/// The changes that bring the secrets to the spec, or the refusal (exit 10)
/// of a secret that is not ours or of two secrets claiming one name.
pub fn plan(
    ctx: &Context,
    desired: &Desired,
    given: &BTreeMap<String, SecretValue>,
    actual: &Actual,
) -> Result<Vec<Planned>> {
    refuse_duplicates(ctx, actual)?;
    let mut planned = Vec::new();
    for w in &desired.wanted {
        let name = ctx.name(&w.short);
        match actual.secrets.get(&name) {
            None => planned.push(create(ctx, w, given.contains_key(&w.short))),
            Some(f) => {
                ctx.check_owned(KIND, &name, pairs(&f.tags), &w.short)?;
                planned.extend(update(ctx, w, given.get(&w.short), f));
            }
        }
    }
    if desired.prune {
        for f in unwanted(ctx, desired, actual) {
            planned.push(delete(ctx, desired, f)?);
        }
    }
    Ok(planned)
}

/// This stack's and env's live secrets the spec does not name.
pub fn unwanted<'a>(ctx: &Context, desired: &Desired, actual: &'a Actual) -> Vec<&'a Found> {
    actual
        .secrets
        .values()
        .filter(|f| !f.scheduled && ctx.owns(pairs(&f.tags)))
        .filter(|f| {
            let component = component_of(pairs(&f.tags)).unwrap_or_default();
            !desired.wanted.iter().any(|w| w.short == component)
        })
        .collect()
}

/// Two secrets tagged as the same one of this stack and env.
fn refuse_duplicates(ctx: &Context, actual: &Actual) -> Result<()> {
    let mut by_component: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in actual.secrets.values().filter(|f| ctx.owns(pairs(&f.tags))) {
        let component = component_of(pairs(&f.tags)).unwrap_or_default();
        by_component.entry(component).or_default().push(&f.name);
    }
    match by_component.iter().find(|(_, names)| names.len() > 1) {
        Some((component, names)) => Err(claims::refused(ctx, KIND, component, names)),
        None => Ok(()),
    }
}

fn create(ctx: &Context, w: &Wanted, with_value: bool) -> Planned {
    let c = Create {
        short: w.short.clone(),
        name: ctx.name(&w.short),
        description: w.description.clone(),
        kms_key: w.kms_key.clone(),
        tags: ctx.tags(&w.short),
        with_value,
    };
    Planned {
        change: Change::new(TOOL, Action::Create, KIND, &c.name),
        op: Op::Create(c),
    }
}

/// The drifted settings of one of our secrets, as one update.
fn update(ctx: &Context, w: &Wanted, given: Option<&SecretValue>, f: &Found) -> Option<Planned> {
    let mut fixes = Vec::new();
    let mut change = Change::new(TOOL, Action::Update, KIND, &f.name).id(&f.arn);
    if f.scheduled {
        fixes.push(Fix::Restore);
        change = change.field("scheduled_for_deletion", true, false);
    }
    if f.description.as_deref() != Some(w.description.as_str()) {
        fixes.push(Fix::Description(w.description.clone()));
        change = change.field("description", &f.description, &w.description);
    }
    let have_key = f.kms_key.as_deref().filter(|k| *k != AWS_MANAGED_KEY);
    let key_ok = match (have_key, w.kms_key.as_deref()) {
        (None, None) => true,
        (Some(have), Some(want)) => same_key(have, want),
        _ => false,
    };
    if !key_ok {
        fixes.push(Fix::KmsKey(w.kms_key.clone()));
        change = change.field("kms_key", have_key, &w.kms_key);
    }
    let missing = tagset::missing(&ctx.tags(&w.short), &f.tags);
    if !missing.is_empty() {
        let (from, to) = tagset::field(&missing, &f.tags);
        change = change.field("tags", from, to);
        fixes.push(Fix::Tags(missing));
    }
    if let Some(from) = given.and_then(|v| value_change(v, f)) {
        fixes.push(Fix::Value);
        change = change.field("value", from, "(given)");
    }
    (!fixes.is_empty()).then(|| Planned {
        op: Op::Update {
            short: w.short.clone(),
            name: f.name.clone(),
            arn: f.arn.clone(),
            fixes,
        },
        change,
    })
}

/// What a given value replaces, as a change shows it; `None` when it is the
/// current value already (storing it again would push the real previous value
/// out of AWSPREVIOUS for nothing).
fn value_change(given: &SecretValue, f: &Found) -> Option<&'static str> {
    if !f.has_value {
        return Some("(none)");
    }
    match &f.current {
        Current::Value(current) if current == given => None,
        Current::Value(_) => Some("(current)"),
        Current::Unreadable | Current::NotRead => Some("(unreadable)"),
    }
}

/// Whether the key Secrets Manager reports is the one the spec names: the same
/// string, or an ARN ending in the given key id or alias (`...:key/<id>`,
/// `...:alias/<name>`).
pub fn same_key(have: &str, want: &str) -> bool {
    have == want
        || have
            .strip_suffix(want)
            .is_some_and(|head| head.ends_with(':') || head.ends_with('/'))
}

fn delete(ctx: &Context, desired: &Desired, f: &Found) -> Result<Planned> {
    let component = component_of(pairs(&f.tags)).unwrap_or_default();
    ctx.check_owned(KIND, &f.name, pairs(&f.tags), component)?;
    let window = desired
        .windows
        .get(component)
        .copied()
        .filter(|d| (7..=30).contains(d))
        .unwrap_or(DEFAULT_RECOVERY_WINDOW_DAYS);
    Ok(Planned {
        change: Change::new(TOOL, Action::Delete, KIND, &f.name)
            .id(&f.arn)
            .field("recovery_window_days", serde_json::Value::Null, window),
        op: Op::Delete {
            name: f.name.clone(),
            arn: f.arn.clone(),
            window,
        },
    })
}

#[cfg(test)]
mod tests;
