//! Ownership, checked at the point of change by AWS's own record: the tags.
//!
//! Ids and names in a document are hints for finding resources, never proof:
//! a document can be hand-edited, copied from another env, or point at
//! anything. Before a tool updates or deletes a resource it calls `check` with
//! the tags AWS returned for it; anything not tagged with this stack, env and
//! the expected component is refused (exit 10) and left alone. Kinds that keep
//! no tags are checked through the parent that does (a scalable target through
//! its ECS service), by the layer that owns them.
//!
//! `Mismatches` collects, during discovery, the document ids whose tags name
//! another stack or env, so a mixed-up document is refused before any change,
//! naming every id that disagrees.

use std::sync::{Arc, Mutex};

use crate::error::{shown, Error, Result};
use crate::naming::{TAG_COMPONENT, TAG_ENV, TAG_STACK};
use crate::runner::Context;

/// Whose a resource is, by its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This stack's and env's, as the expected component.
    Ours,
    /// This stack's and env's, but another component's (e.g. the execution role
    /// where a task role was expected).
    OtherComponent(String),
    /// Another stack's or env's.
    Foreign { stack: String, env: String },
    /// No fargate-pipes tags at all: not made by these tools.
    Untagged,
}

/// Reads a resource's tags (key, value pairs) against this stack, env and component.
pub fn owner<'a>(
    ctx: &Context,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    component: &str,
) -> Owner {
    let (mut stack, mut env, mut comp) = (None, None, None);
    for (k, v) in tags {
        match k {
            TAG_STACK => stack = Some(v),
            TAG_ENV => env = Some(v),
            TAG_COMPONENT => comp = Some(v),
            _ => {}
        }
    }
    match (stack, env) {
        (None, None) => Owner::Untagged,
        (Some(s), Some(e)) if s == ctx.stack && e == ctx.env => match comp {
            Some(c) if c == component => Owner::Ours,
            other => Owner::OtherComponent(other.unwrap_or("(none)").to_owned()),
        },
        (s, e) => Owner::Foreign {
            stack: s.unwrap_or("(none)").to_owned(),
            env: e.unwrap_or("(none)").to_owned(),
        },
    }
}

/// Ok only when the tags say this stack's and env's `component`; otherwise the
/// refusal that names the resource and whose it is. Call it before every update
/// or delete, with the tags AWS returned.
pub fn check<'a>(
    ctx: &Context,
    kind: &str,
    name: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    component: &str,
) -> Result<()> {
    let why = match owner(ctx, tags, component) {
        Owner::Ours => return Ok(()),
        Owner::OtherComponent(c) => format!("it is this stack's {c}, not its {component}"),
        Owner::Foreign { stack, env } => format!("it belongs to {stack}/{env}"),
        Owner::Untagged => "it carries no fargate-pipes tags".to_owned(),
    };
    Err(Error::Refused(format!(
        "not touching {kind} {}: {why} (this run is {}/{}); nothing was changed",
        shown(name),
        ctx.stack,
        ctx.env
    )))
}

/// The document ids found, during discovery, to be another stack's or env's.
#[derive(Debug, Clone, Default)]
pub struct Mismatches {
    items: Arc<Mutex<Vec<String>>>,
}

impl Mismatches {
    /// Notes a document id whose tags disagree with this run's stack and env
    /// (an id that is ours, or gone, is not a mismatch).
    pub fn note<'a>(
        &self,
        ctx: &Context,
        kind: &str,
        id: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let whose = match owner(ctx, tags, "") {
            Owner::Ours | Owner::OtherComponent(_) => return,
            Owner::Foreign { stack, env } => format!("{stack}/{env}"),
            Owner::Untagged => "no stack".to_owned(),
        };
        self.items
            .lock()
            .expect("mismatches lock")
            .push(format!("{kind} {} ({whose})", shown(id)));
    }

    /// The refusal naming every id that disagrees, before anything is changed.
    pub fn into_result(self, ctx: &Context) -> Result<()> {
        let items = std::mem::take(&mut *self.items.lock().expect("mismatches lock"));
        if items.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
        let more = items.len().saturating_sub(shown.len());
        Err(Error::Refused(format!(
            "the document is for {}/{} but {} of its ids belong elsewhere: {}{}; \
             use that stack's and env's own document; nothing was changed",
            ctx.stack,
            ctx.env,
            items.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::offline("test", "shop", "dev", "us-east-1")
    }

    fn tags<'a>(s: &'a str, e: &'a str, c: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![(TAG_STACK, s), (TAG_ENV, e), (TAG_COMPONENT, c)]
    }

    #[test]
    fn only_this_stack_env_and_component_pass() {
        let c = ctx();
        assert!(check(
            &c,
            "iam role",
            "r",
            tags("shop", "dev", "task-api"),
            "task-api"
        )
        .is_ok());
        for (t, why) in [
            (tags("shop", "prod", "task-api"), "belongs to shop/prod"),
            (tags("shopx", "dev", "task-api"), "belongs to shopx/dev"),
            (
                tags("shop", "dev", "task-execution"),
                "this stack's task-execution",
            ),
            (vec![], "no fargate-pipes tags"),
        ] {
            let e = check(&c, "iam role", "r", t, "task-api").unwrap_err();
            assert_eq!(e.exit_code(), 10);
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn mismatches_name_every_foreign_id_and_only_those() {
        let c = ctx();
        let m = Mismatches::default();
        m.note(&c, "vpc", "vpc-1", tags("shop", "dev", "vpc"));
        assert!(m.clone().into_result(&c).is_ok());
        m.note(&c, "vpc", "vpc-2", tags("shop", "prod", "vpc"));
        m.note(&c, "subnet", "subnet-3", vec![]);
        let e = m.into_result(&c).unwrap_err().to_string();
        assert!(e.contains("2 of its ids"), "{e}");
        assert!(e.contains("vpc vpc-2 (shop/prod)") && e.contains("subnet subnet-3 (no stack)"));
    }
}
