//! What alb-up calls its resources: names, component tags, and reading tags.
//!
//! Every resource is tagged with its component when it is created, and found
//! again by those tags: `alb` (the load balancer and its security group),
//! `tg-{service}` and `tg-{service}-green`, `listener-http`, `listener-https`,
//! `listener-test-{service}`, `rule-{service}`. ELBv2 cannot filter a describe
//! by tag, so discovery lists names first: every load balancer and target group
//! name of this stack begins with `elb_prefix(stack)` (even when `elb_name` had
//! to shorten it), which keeps the tag reads to the candidates.

use aws_sdk_elasticloadbalancingv2::types::Tag;

use common::{naming, Context};

/// The load balancer's name: 32 characters at most (see `naming::elb_name`).
pub fn lb_name(ctx: &Context) -> String {
    naming::elb_name(&ctx.stack, LB, &ctx.env)
}

/// The load balancer's and its security group's component.
pub const LB: &str = "alb";
pub const HTTP: &str = "listener-http";
pub const HTTPS: &str = "listener-https";
const TEST_LISTENER: &str = "listener-test-";
const RULE: &str = "rule-";
const TG: &str = "tg-";

pub fn tg_component(service: &str, green: bool) -> String {
    if green {
        format!("{TG}{}", common::spec::alb::green_service(service))
    } else {
        format!("{TG}{service}")
    }
}

pub fn tg_name(ctx: &Context, component: &str) -> String {
    naming::elb_name(&ctx.stack, component, &ctx.env)
}

pub fn is_tg_component(component: &str) -> bool {
    component.starts_with(TG)
}

pub fn rule_component(service: &str) -> String {
    format!("{RULE}{service}")
}

/// The service a rule's component names.
pub fn rule_service(component: &str) -> Option<&str> {
    component.strip_prefix(RULE).filter(|s| !s.is_empty())
}

pub fn test_listener_component(service: &str) -> String {
    format!("{TEST_LISTENER}{service}")
}

/// The service a test listener's component names.
pub fn test_listener_service(component: &str) -> Option<&str> {
    component
        .strip_prefix(TEST_LISTENER)
        .filter(|s| !s.is_empty())
}

/// What every ELB name of this stack begins with: `elb_name` keeps at least
/// the first 23 characters of `{stack}-{component}-{env}` (then a dash, if it
/// cut at one, is dropped).
pub fn elb_prefix(stack: &str) -> String {
    let keep = stack.len().min(23);
    stack[..keep].trim_end_matches('-').to_owned()
}

/// The tags to create a resource with.
pub fn tags(ctx: &Context, component: &str) -> Vec<Tag> {
    ctx.tags(component)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags as (key, value) pairs, the shape `common::owner` reads.
pub fn pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
}

/// This stack's and env's component, when the tags say so.
pub fn our_component<'a>(ctx: &Context, tags: &'a [Tag]) -> Option<&'a str> {
    if ctx.owns(pairs(tags)) {
        naming::component_of(pairs(tags))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_elb_name_of_a_stack_begins_with_its_prefix() {
        for stack in [
            "a",
            "shop",
            "abcdefghijklmnopqrstuvw",
            "abcdefghijklmnopqrstuvwx",
            "abcdefghijklmnopqrstuv-x",
        ] {
            for component in ["alb", "tg-api", "tg-a-very-long-service-name-green"] {
                let name = naming::elb_name(stack, component, "dev");
                assert!(name.starts_with(&elb_prefix(stack)), "{name} {stack}");
                assert!(name.len() <= 32, "{name}");
            }
        }
        assert_eq!(
            elb_prefix("abcdefghijklmnopqrstuv-x"),
            "abcdefghijklmnopqrstuv"
        );
    }

    #[test]
    fn components_round_trip() {
        assert_eq!(tg_component("pay", false), "tg-pay");
        assert_eq!(tg_component("pay", true), "tg-pay-green");
        assert_eq!(rule_service(&rule_component("api")), Some("api"));
        assert_eq!(
            test_listener_service(&test_listener_component("api")),
            Some("api")
        );
        assert_eq!(rule_service("rule-"), None);
        assert!(is_tg_component("tg-api") && !is_tg_component("alb"));
    }
}
