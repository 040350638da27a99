//! Two resources claiming one identity.
//!
//! A resource found by its tags is this stack's and env's `component`; when
//! two carry the same tags (a killed run's leftover, a copy made by hand), a
//! tool cannot know which one the stack runs on, and adopting either could
//! point the platform at the wrong one. So the run is refused, naming both;
//! teardown still removes every one of them.

use crate::error::{shown, Error};
use crate::runner::Context;

/// The refusal (exit 10) for `ids` (two or more) all tagged as this stack's
/// and env's `component` of `kind`.
pub fn refused(ctx: &Context, kind: &str, component: &str, ids: &[&str]) -> Error {
    let named: Vec<String> = ids.iter().map(|id| shown(id)).collect();
    Error::Refused(format!(
        "{} {kind}s are tagged as {}/{}'s {component}: {}; keep one (delete the others, \
         or remove their fargate-pipes tags) and run again; nothing was changed",
        ids.len(),
        ctx.stack,
        ctx.env,
        named.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_claimant() {
        let ctx = Context::offline("t", "shop", "dev", "us-east-1");
        let e = refused(&ctx, "kms key", "logs", &["key-1", "key-2"]);
        assert_eq!(e.exit_code(), 10);
        let text = e.to_string();
        assert!(
            text.contains("2 kms keys") && text.contains("key-1 and key-2"),
            "{text}"
        );
        assert!(text.contains("shop/dev's logs"), "{text}");
    }
}
