//! The names and components of everything svc-up makes for a service, and the
//! small tag helpers every resource kind uses. One place, so the plan, the
//! apply and teardown agree on them.
//!
//! Components (the `fargate-pipes:component` tag, checked before any change):
//! the ECS service and its task definitions `{service}`, the task role
//! `task-{service}`, the security group `svc-{service}`, the log group
//! `logs-{service}`, the Cloud Map service `discovery-{service}`, the
//! CodeDeploy application and group `codedeploy-{service}`; per stack and env
//! the namespace `namespace` and CodeDeploy's role `codedeploy`.

use common::naming::{self, TAG_COMPONENT};
use common::Context;

/// A resource's tags as AWS returned them.
pub type Tags = Vec<(String, String)>;

/// The task role's inline policy.
pub const TASK_POLICY: &str = "service-permissions";
/// The Cloud Map namespace's component.
pub const NAMESPACE: &str = "namespace";
/// CodeDeploy's role, one per stack and env.
pub const CODEDEPLOY_ROLE: &str = "codedeploy";
/// The AWS managed policy CodeDeploy's role needs for ECS blue/green.
pub const CODEDEPLOY_POLICY: &str = "AWSCodeDeployRoleForECS";

pub fn role_component(service: &str) -> String {
    format!("task-{service}")
}

pub fn group_component(service: &str) -> String {
    format!("svc-{service}")
}

pub fn log_component(service: &str) -> String {
    format!("logs-{service}")
}

pub fn discovery_component(service: &str) -> String {
    format!("discovery-{service}")
}

pub fn codedeploy_component(service: &str) -> String {
    format!("codedeploy-{service}")
}

/// `/ecs/{stack}/{env}/`: every log group of the layer starts so.
pub fn log_group_prefix(ctx: &Context) -> String {
    format!("/ecs/{}", ctx.path(""))
}

/// `/ecs/{stack}/{env}/{service}`.
pub fn log_group_name(ctx: &Context, service: &str) -> String {
    format!("{}{service}", log_group_prefix(ctx))
}

/// The service a component of ours names, when it is of the given kind
/// (`task-api` with `task-` is `api`).
pub fn service_of<'a>(component: &'a str, prefix: &str) -> Option<&'a str> {
    component.strip_prefix(prefix).filter(|s| !s.is_empty())
}

/// The tags as the `(key, value)` pairs `check_owned` and `owns` take.
pub fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The component tag among tags.
pub fn component(tags: &Tags) -> Option<&str> {
    tags.iter()
        .find(|(k, _)| k == TAG_COMPONENT)
        .map(|(_, v)| v.as_str())
}

/// Whether tags say this stack and env (any component).
pub fn ours(ctx: &Context, tags: &Tags) -> bool {
    naming::owned_by(pairs(tags), &ctx.stack, &ctx.env)
}

/// The tags we set on a resource of `component`, as pairs (ours, the user's, `Name`).
pub fn wanted_tags(ctx: &Context, component: &str) -> Tags {
    ctx.tags(component)
}

/// A per-create-intent idempotency token: the same for every retry of one
/// create (the caller makes it once and reuses it), different for the next
/// create of the same name, so a stack torn down and brought up again is never
/// answered with the resource it had before. `max` is the API's limit.
pub fn intent_token(ctx: &Context, parts: &[&str], max: usize) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let nonce = format!(
        "{now}.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let mut all: Vec<&str> = parts.to_vec();
    all.push(&nonce);
    let token = ctx.token(&all);
    token.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_and_names() {
        let ctx = Context::offline("svc-up", "shop", "dev", "us-east-1");
        assert_eq!(log_group_name(&ctx, "api"), "/ecs/shop/dev/api");
        assert_eq!(service_of("task-api", "task-"), Some("api"));
        assert_eq!(service_of("task-", "task-"), None);
        assert_eq!(service_of("svc-api", "task-"), None);
        let tags = wanted_tags(&ctx, "task-api");
        assert!(ours(&ctx, &tags));
        assert_eq!(component(&tags), Some("task-api"));
    }

    #[test]
    fn intent_tokens_differ_per_intent_and_fit() {
        let ctx = Context::offline("svc-up", "shop", "dev", "us-east-1");
        let a = intent_token(&ctx, &["service", "api"], 36);
        let b = intent_token(&ctx, &["service", "api"], 36);
        assert_ne!(a, b, "two create intents never share a token");
        assert!(a.len() <= 36 && a.is_ascii());
    }
}
