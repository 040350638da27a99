//! IAM roles: one task role per service (`task-{service}`: its declared
//! permissions, and ECS Exec's grants when it uses Exec) and, while a service
//! is blue/green, the role CodeDeploy assumes (`codedeploy`). Each converges
//! exactly: trust policy, the inline policy, the attached managed policies (a
//! task role has none).
//!
//! Roles take no tag filter: the stack's candidates are listed under our path
//! and by name prefix (a prefix survives the hash a 64-character name gets),
//! and each is confirmed by the tags GetRole returns. A role named like one of
//! ours but tagged for another stack, env or component is never adopted,
//! rewritten or deleted (exit 10).

use std::collections::BTreeMap;
use std::time::Duration;

use common::iam::{self, parse_policy, ROLE_PATH};
use common::plan::{planned, Action, Change};
use common::{naming, retry, AwsResultExt, Context, Error, Result};
use serde_json::Value;

use crate::aws::Clients;
use crate::names::{self, pairs, Tags};
use crate::ops::{Ids, Phase};

pub const KIND: &str = "iam role";

/// A role as it should be.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub name: String,
    pub component: String,
    /// The service principal that assumes it.
    pub trust_service: String,
    pub description: String,
    /// The inline policy `service-permissions`; `None` for none.
    pub policy: Option<Value>,
    /// Attached managed policy ARNs, sorted.
    pub managed: Vec<String>,
}

/// A role as AWS holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Have {
    pub name: String,
    pub arn: String,
    pub trust: Option<Value>,
    pub tags: Tags,
    /// Read only for roles the plan may keep (not for those it prunes).
    pub policy: Option<Value>,
    pub managed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create { want: Want, tags: Tags },
    Update { want: Want, have: Have },
    Delete { have: Have },
}

impl Want {
    /// The ARN tasks and deployment groups name: the role's, or the
    /// placeholder of the one this run creates.
    pub fn arn(&self, have: Option<&Have>) -> String {
        have.map_or_else(|| planned(KIND, &self.name), |h| h.arn.clone())
    }

    pub fn trust(&self) -> Value {
        iam::trust_policy(&self.trust_service)
    }
}

/// Whether a listed role may be one of this stack's and env's: our name
/// prefix, and our env suffix or the hash of a name shortened to fit IAM's 64
/// characters (whatever its length: the cut may drop hyphens). The tags decide.
fn candidate(ctx: &Context, name: &str) -> bool {
    let prefix = naming::name_prefix(&ctx.stack);
    // cluster-up's task execution role is `task-execution`, never a task role.
    let execution = iam::role_name(ctx, "task-execution");
    let ours = (name.starts_with(&format!("{prefix}task-")) && name != execution)
        || name == iam::role_name(ctx, names::CODEDEPLOY_ROLE);
    ours && (name.ends_with(&naming::name_suffix(&ctx.env)) || naming::may_be_shortened(name))
}

/// The roles the plan needs: every wanted name, and every listed candidate of
/// this stack and env (those the plan may prune), with their tags. Policies
/// are read for the wanted ones that are ours.
pub async fn discover(
    c: &Clients,
    ctx: &Context,
    wanted: &[String],
) -> Result<BTreeMap<String, Have>> {
    let listed: Vec<_> = c
        .iam
        .list_roles()
        .path_prefix(ROLE_PATH)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("ListRoles")?;
    let mut names: Vec<String> = listed
        .iter()
        .map(|r| r.role_name().to_owned())
        .filter(|n| candidate(ctx, n))
        .collect();
    names.extend(wanted.iter().cloned());
    names.sort();
    names.dedup();
    let found = common::try_join_all(names.iter().map(|n| async move {
        let Some(mut have) = get(c, n).await? else {
            return Ok::<_, Error>(None);
        };
        if wanted.contains(n) && names::ours(ctx, &have.tags) {
            have.policy = iam::inline_policy(&c.iam, n, names::TASK_POLICY).await?;
            have.managed = attached(c, n).await?;
        }
        Ok(Some(have))
    }))
    .await?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|h| (h.name.clone(), h))
        .collect())
}

/// One role by name, with its tags and trust policy; `None` when there is none.
pub async fn get(c: &Clients, name: &str) -> Result<Option<Have>> {
    let out = match c.iam.get_role().role_name(name).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(common::error::aws_error(format!("GetRole {name}"), e)),
    };
    let Some(role) = out.role() else {
        return Ok(None);
    };
    Ok(Some(Have {
        name: role.role_name().to_owned(),
        arn: role.arn().to_owned(),
        trust: role
            .assume_role_policy_document()
            .map(parse_policy)
            .transpose()?,
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        policy: None,
        managed: Vec::new(),
    }))
}

async fn attached(c: &Clients, name: &str) -> Result<Vec<String>> {
    let policies: Vec<_> = c
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("ListAttachedRolePolicies {name}"))?;
    let mut arns: Vec<String> = policies
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    arns.sort();
    Ok(arns)
}

/// The op that brings one wanted role to `want`, if any.
pub fn plan(ctx: &Context, want: &Want, have: Option<&Have>) -> Result<Option<Op>> {
    let Some(have) = have else {
        return Ok(Some(Op::Create {
            want: want.clone(),
            tags: names::wanted_tags(ctx, &want.component),
        }));
    };
    ctx.check_owned(KIND, &have.name, pairs(&have.tags), &want.component)?;
    let drifted = have.trust.as_ref() != Some(&want.trust())
        || have.policy != want.policy
        || have.managed != want.managed;
    Ok(drifted.then(|| Op::Update {
        want: want.clone(),
        have: have.clone(),
    }))
}

/// The deletes of this stack's task roles (and CodeDeploy's role) that no
/// wanted role is: each found by its tags, its name the one its component
/// gives, its service a valid one (so never cluster-up's `task-execution`).
pub fn prune(ctx: &Context, wanted: &[Want], found: &BTreeMap<String, Have>) -> Vec<Op> {
    found
        .values()
        .filter(|h| !wanted.iter().any(|w| w.name == h.name))
        .filter(|h| names::ours(ctx, &h.tags))
        .filter(|h| {
            names::component(&h.tags).is_some_and(|c| {
                (names::service_of(c, "task-")
                    .is_some_and(|s| naming::check_service_name(s).is_ok())
                    || c == names::CODEDEPLOY_ROLE)
                    && iam::role_name(ctx, c) == h.name
            })
        })
        .map(|h| Op::Delete { have: h.clone() })
        .collect()
}

impl Op {
    pub fn phase(&self) -> Phase {
        match self {
            Op::Create { .. } | Op::Update { .. } => Phase::Setup,
            Op::Delete { .. } => Phase::Prune,
        }
    }

    pub fn change(&self, ctx: &Context) -> Change {
        match self {
            Op::Create { want, .. } => Change::new(&ctx.tool, Action::Create, KIND, &want.name),
            Op::Update { want, have } => {
                let mut c = Change::new(&ctx.tool, Action::Update, KIND, &want.name).id(&have.arn);
                let trust = want.trust();
                if have.trust.as_ref() != Some(&trust) {
                    c = c.field("trust", &have.trust, trust);
                }
                if have.policy != want.policy {
                    c = c.field("policy", &have.policy, &want.policy);
                }
                if have.managed != want.managed {
                    c = c.field("managed_policies", &have.managed, &want.managed);
                }
                c
            }
            Op::Delete { have } => {
                Change::new(&ctx.tool, Action::Delete, KIND, &have.name).id(&have.arn)
            }
        }
    }

    pub async fn apply(&self, c: &Clients, _ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            Op::Create { want, tags } => {
                let arn = create(c, want, tags).await?;
                ids.set(&planned(KIND, &want.name), &arn);
                Ok(Some(arn))
            }
            Op::Update { want, have } => update(c, want, have).await.map(|()| None),
            Op::Delete { have } => iam::delete_role(&c.iam, &have.name).await.map(|()| None),
        }
    }
}

fn iam_tags(tags: &Tags) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| crate::aws::built(aws_sdk_iam::types::Tag::builder().key(k).value(v).build()))
        .collect()
}

async fn create(c: &Clients, want: &Want, tags: &Tags) -> Result<String> {
    let out = c
        .iam
        .create_role()
        .role_name(&want.name)
        .path(ROLE_PATH)
        .assume_role_policy_document(want.trust().to_string())
        .description(&want.description)
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .aws(format!("CreateRole {}", want.name))?;
    let arn = out.role().map(|r| r.arn().to_owned()).unwrap_or_default();
    if let Some(policy) = &want.policy {
        put_policy(c, &want.name, policy).await?;
    }
    for arn in &want.managed {
        attach(c, &want.name, arn).await?;
    }
    Ok(arn)
}

async fn update(c: &Clients, want: &Want, have: &Have) -> Result<()> {
    let name = want.name.as_str();
    let trust = want.trust();
    if have.trust.as_ref() != Some(&trust) {
        c.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(trust.to_string())
            .send()
            .await
            .aws(format!("UpdateAssumeRolePolicy {name}"))?;
    }
    match (&want.policy, &have.policy) {
        (Some(p), h) if h.as_ref() != Some(p) => put_policy(c, name, p).await?,
        (None, Some(_)) => {
            c.iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(names::TASK_POLICY)
                .send()
                .await
                .aws(format!("DeleteRolePolicy {name}"))?;
        }
        _ => {}
    }
    for arn in want.managed.iter().filter(|a| !have.managed.contains(a)) {
        attach(c, name, arn).await?;
    }
    for arn in have.managed.iter().filter(|a| !want.managed.contains(a)) {
        c.iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .aws(format!("DetachRolePolicy {name} {arn}"))?;
    }
    Ok(())
}

/// Right after CreateRole, IAM may not see the role yet: NoSuchEntity is retried.
async fn put_policy(c: &Clients, name: &str, policy: &Value) -> Result<()> {
    let text = policy.to_string();
    retry::after_create(&format!("PutRolePolicy {name}"), || async {
        c.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(names::TASK_POLICY)
            .policy_document(&text)
            .send()
            .await
            .map(|_| ())
            .aws(format!("PutRolePolicy {name}"))
    })
    .await
}

async fn attach(c: &Clients, name: &str, arn: &str) -> Result<()> {
    retry::after_create(&format!("AttachRolePolicy {name}"), || async {
        c.iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .aws(format!("AttachRolePolicy {name} {arn}"))
    })
    .await
}

/// How long ECS and CodeDeploy may refuse a role IAM has just made.
pub const PROPAGATION: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        Context::offline("svc-up", "shop", "dev", "us-east-1")
    }

    fn want() -> Want {
        Want {
            name: "shop--task-api--dev".into(),
            component: "task-api".into(),
            trust_service: "ecs-tasks.amazonaws.com".into(),
            description: "d".into(),
            policy: Some(json!({"Statement": [{"Action": ["s3:GetObject"]}]})),
            managed: vec![],
        }
    }

    fn have(ctx: &Context) -> Have {
        Have {
            name: "shop--task-api--dev".into(),
            arn: "arn:aws:iam::1:role/fargate-pipes/shop--task-api--dev".into(),
            trust: Some(iam::trust_policy("ecs-tasks.amazonaws.com")),
            tags: ctx.tags("task-api"),
            policy: want().policy,
            managed: vec![],
        }
    }

    #[test]
    fn missing_is_created_and_its_arn_is_a_placeholder() {
        let ctx = ctx();
        let op = plan(&ctx, &want(), None).unwrap().unwrap();
        assert_eq!(op.change(&ctx).line(), "+ iam role shop--task-api--dev");
        assert!(common::plan::is_planned(&want().arn(None)));
        assert_eq!(want().arn(Some(&have(&ctx))), have(&ctx).arn);
    }

    #[test]
    fn as_wanted_is_left_alone() {
        let ctx = ctx();
        assert_eq!(plan(&ctx, &want(), Some(&have(&ctx))).unwrap(), None);
    }

    #[test]
    fn trust_policy_and_managed_policies_are_updated() {
        let ctx = ctx();
        for (field, h) in [
            (
                "trust",
                Have {
                    trust: Some(iam::trust_policy("ec2.amazonaws.com")),
                    ..have(&ctx)
                },
            ),
            (
                "policy",
                Have {
                    policy: None,
                    ..have(&ctx)
                },
            ),
            (
                "managed_policies",
                Have {
                    managed: vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()],
                    ..have(&ctx)
                },
            ),
        ] {
            let op = plan(&ctx, &want(), Some(&h)).unwrap().unwrap();
            let change = op.change(&ctx);
            assert_eq!(
                change.changes.keys().collect::<Vec<_>>(),
                [field],
                "{}",
                change.line()
            );
        }
        // A policy no longer declared is removed.
        let w = Want {
            policy: None,
            ..want()
        };
        let op = plan(&ctx, &w, Some(&have(&ctx))).unwrap().unwrap();
        assert!(
            op.change(&ctx).line().contains("policy: "),
            "{}",
            op.change(&ctx).line()
        );
    }

    #[test]
    fn a_role_of_another_component_or_stack_is_never_adopted() {
        let ctx = ctx();
        for tags in [
            ctx.tags("task-execution"),
            ctx.tags("task-web"),
            Context::offline("x", "shop-x", "dev", "us-east-1").tags("task-api"),
            vec![],
        ] {
            let h = Have { tags, ..have(&ctx) };
            assert_eq!(plan(&ctx, &want(), Some(&h)).unwrap_err().exit_code(), 10);
        }
    }

    #[test]
    fn only_this_stacks_unwanted_task_roles_are_pruned() {
        let ctx = ctx();
        let mut found = BTreeMap::new();
        let old = Have {
            name: "shop--task-old--dev".into(),
            tags: ctx.tags("task-old"),
            ..have(&ctx)
        };
        let foreign = Have {
            name: "shop--task-other--dev".into(),
            tags: Context::offline("x", "shop", "prod", "us-east-1").tags("task-other"),
            ..have(&ctx)
        };
        let misnamed = Have {
            name: "shop--task-x--dev".into(),
            tags: ctx.tags("task-y"),
            ..have(&ctx)
        };
        let execution = Have {
            name: "shop--task-execution--dev".into(),
            tags: ctx.tags("task-execution"),
            ..have(&ctx)
        };
        for h in [
            have(&ctx),
            old.clone(),
            foreign,
            misnamed,
            execution.clone(),
        ] {
            found.insert(h.name.clone(), h);
        }
        let ops = prune(&ctx, &[want()], &found);
        let names: Vec<String> = ops.iter().map(|o| o.change(&ctx).name).collect();
        // Only the old task role: not another env's, not one whose name and
        // component disagree, and never cluster-up's execution role.
        assert_eq!(names, std::slice::from_ref(&old.name));
        assert!(ops.iter().all(|o| o.phase() == Phase::Prune));
        assert!(!candidate(&ctx, &execution.name));
    }

    #[test]
    fn candidates_are_this_stack_and_env() {
        let ctx = ctx();
        assert!(candidate(&ctx, "shop--task-api--dev"));
        assert!(candidate(&ctx, "shop--codedeploy--dev"));
        assert!(!candidate(&ctx, "shop--task-api--prod"));
        assert!(!candidate(&ctx, "shop-x--task-api--dev"));
        assert!(!candidate(&ctx, "shop--task-execution-other"));
        let long = format!("shop--task-{}", "a".repeat(53));
        assert_eq!(long.len(), 64);
        assert!(!candidate(&ctx, &long), "64 characters but no hash");
        // Issue 15: a name the cut shortened to 63 characters (a hyphen
        // dropped) is still a candidate; its tags decide.
        let ctx = Context::offline("svc-up", &"s".repeat(24), "staging", "us-east-1");
        let service = format!("{}-{}", "a".repeat(23), "b".repeat(8));
        let short = iam::role_name(&ctx, &names::role_component(&service));
        assert_eq!(short.len(), 63, "{short}");
        assert!(candidate(&ctx, &short));
    }
}
