//! Names, tags and client tokens: how a resource is known across runs.
//!
//! A resource is found again by its tags (`fargate-pipes:stack`, `:env`,
//! `:component`) and its name `{stack}-{component}-{env}`; both come from here so
//! every tool agrees on them.

use std::collections::BTreeMap;

use crate::error::{shown, Error, Result};

pub const TAG_STACK: &str = "fargate-pipes:stack";
pub const TAG_ENV: &str = "fargate-pipes:env";
pub const TAG_COMPONENT: &str = "fargate-pipes:component";

/// Checks a stack or env name: lowercase letters, digits and single hyphens,
/// starting with a letter. Short, because AWS caps ALB and target group names at 32.
pub fn check_label(what: &str, value: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && !value.ends_with('-')
        && !value.contains("--")
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "invalid {what} '{}': use 1-{max} lowercase letters, digits and single '-', starting with a letter",
            shown(value)
        )))
    }
}

/// The longest service name: it becomes part of ECS service, log group, role and
/// target group names, and AWS caps a target group's name at 32 characters.
pub const MAX_SERVICE_NAME: usize = 32;

/// Checks a service name (`spec.services` keys, `spec.ecr.repositories`). One
/// function so every tool agrees on the rule, and it can be tightened in one place.
pub fn check_service_name(name: &str) -> Result<()> {
    check_label("service name", name, MAX_SERVICE_NAME)
}

/// `{stack}-{component}-{env}`.
pub fn name(stack: &str, component: &str, env: &str) -> String {
    format!("{stack}-{component}-{env}")
}

/// A name that must fit `max` characters (ALB and target groups: 32). Too long a
/// name keeps its start and gets a short hash of the whole, so it stays unique and stable.
pub fn short_name(full: &str, max: usize) -> String {
    if full.len() <= max {
        return full.to_owned();
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
    let keep = max - hash.len() - 1;
    let head = full[..keep].trim_end_matches('-');
    format!("{head}-{hash}")
}

/// The tags every resource gets: ours first, then the user's (which may not override ours).
pub fn tags(
    stack: &str,
    env: &str,
    component: &str,
    user: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut tags = vec![
        (TAG_STACK.to_owned(), stack.to_owned()),
        (TAG_ENV.to_owned(), env.to_owned()),
        (TAG_COMPONENT.to_owned(), component.to_owned()),
    ];
    for (k, v) in user {
        if !k.starts_with("fargate-pipes:") {
            tags.push((k.clone(), v.clone()));
        }
    }
    tags
}

/// Whether a resource's tags say it belongs to this stack and env. Used to check
/// every lookup result, because some APIs (and the emulator) ignore tag filters.
pub fn owned_by<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    stack: &str,
    env: &str,
) -> bool {
    let (mut s, mut e) = (false, false);
    for (k, v) in tags {
        s |= k == TAG_STACK && v == stack;
        e |= k == TAG_ENV && v == env;
    }
    s && e
}

/// The component tag among a resource's tags.
pub fn component_of<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<&'a str> {
    tags.into_iter()
        .find(|(k, _)| *k == TAG_COMPONENT)
        .map(|(_, v)| v)
}

/// An idempotency token for APIs that take one: stable across retries and re-runs
/// of the same request, different once its inputs (e.g. a new subnet's id) change,
/// so a stack torn down and brought up again is not answered with the old resource.
pub fn client_token(parts: &[&str]) -> String {
    format!("fp-{:016x}", fnv1a(parts.join("\u{1f}").as_bytes()))
}

/// FNV-1a: tiny, stable across Rust releases (std's hasher is not), good enough for names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(check_label("stack", "payments", 24).is_ok());
        assert!(check_label("stack", "ohi-2", 24).is_ok());
        for bad in ["", "Payments", "1abc", "a--b", "a-", "a_b", &"a".repeat(25)] {
            assert!(check_label("stack", bad, 24).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_names_fit_and_stay_unique() {
        let a = short_name("payment-processing-payment-processor-dev", 32);
        let b = short_name("payment-processing-payment-processor-prd", 32);
        assert!(a.len() <= 32 && b.len() <= 32);
        assert_ne!(a, b);
        assert_eq!(short_name("short", 32), "short");
    }

    #[test]
    fn tokens_are_stable_and_bounded() {
        let t = client_token(&["demo", "dev", "nat", "subnet-1"]);
        assert_eq!(t, client_token(&["demo", "dev", "nat", "subnet-1"]));
        assert_ne!(t, client_token(&["demo", "dev", "nat", "subnet-2"]));
        assert!(t.len() <= 64);
    }

    #[test]
    fn ownership_needs_stack_and_env() {
        let tags = [(TAG_STACK, "a"), (TAG_ENV, "dev")];
        assert!(owned_by(tags, "a", "dev"));
        assert!(!owned_by(tags, "a", "prod"));
        assert!(!owned_by([(TAG_STACK, "a")], "a", "dev"));
    }
}
