//! The task execution role (component `task-execution`), which ECS uses to
//! start every task of the stack: pull images, write logs, read the stack's
//! secrets. Discovery, the pure plan of its changes, and their application.
//!
//! IAM role names are unique per account, so the role is found by its name;
//! its tags (GetRole returns them) must say this stack, env and component
//! before anything is changed. A role of that name tagged as another
//! component (a service's task role) or another stack is never adopted or
//! rewritten: the run is refused. Its trust policy, its managed policies
//! (exactly AmazonECSTaskExecutionRolePolicy) and its inline `secrets` policy
//! (exactly the stack's secrets and their keys) are converged; other inline
//! policies are left alone.

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use common::error::aws_error;
use common::iam::{parse_policy, partition, role_name, trust_policy, ROLE_PATH};
use common::owner::Mismatches;
use common::plan::{Action, Change};
use common::tagset::{self, Tags};
use common::{retry, Context, Error, Result};

use crate::TOOL;

pub const KIND: &str = "iam role";
pub const COMPONENT: &str = "task-execution";
/// The inline policy that grants the role the stack's secrets.
pub const SECRETS_POLICY: &str = "secrets";
const TRUSTED: &str = "ecs-tasks.amazonaws.com";

/// The one managed policy the role carries.
pub fn managed_policy(region: &str) -> String {
    format!(
        "arn:{}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        partition(region)
    )
}

/// The role as the plan sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundRole {
    pub name: String,
    pub arn: String,
    pub tags: Tags,
    pub trust: Option<Value>,
    pub managed: Vec<String>,
    pub secrets_policy: Option<Value>,
}

// ---------------------------------------------------------------------------
// Discovery

/// The role of our name, if any (whoever's it is), and the document's role
/// names checked: one of another stack or env is a mismatch.
pub async fn discover(
    ctx: &Context,
    iam: &aws_sdk_iam::Client,
    hints: &[String],
    mismatches: &Mismatches,
) -> Result<Option<FoundRole>> {
    let name = role_name(ctx, COMPONENT);
    for hint in hints.iter().filter(|h| **h != name) {
        if let Some((_, tags)) = get(iam, hint).await? {
            mismatches.note(ctx, KIND, hint, pairs(&tags));
        }
    }
    let Some((arn, tags_and_trust)) = get_full(iam, &name).await? else {
        return Ok(None);
    };
    let (tags, trust) = tags_and_trust;
    let (managed, secrets_policy) = tokio::try_join!(
        attached(iam, &name),
        common::iam::inline_policy(iam, &name, SECRETS_POLICY),
    )?;
    Ok(Some(FoundRole {
        name,
        arn,
        tags,
        trust,
        managed,
        secrets_policy,
    }))
}

fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// A role's ARN and tags; `None` when there is no such role.
async fn get(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<(String, Tags)>> {
    Ok(get_full(iam, name)
        .await?
        .map(|(arn, (tags, _))| (arn, tags)))
}

type Described = (String, (Tags, Option<Value>));

/// A role's ARN, tags and trust policy; `None` when there is no such role.
async fn get_full(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<Described>> {
    let out = match iam.get_role().role_name(name).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(aws_error(format!("GetRole {name}"), e)),
    };
    let Some(role) = out.role() else {
        return Ok(None);
    };
    let tags = tagset::collect(role.tags().iter().map(|t| (t.key(), t.value())));
    let trust = role
        .assume_role_policy_document()
        .map(parse_policy)
        .transpose()?;
    Ok(Some((role.arn().to_owned(), (tags, trust))))
}

async fn attached(iam: &aws_sdk_iam::Client, name: &str) -> Result<Vec<String>> {
    let listed = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(format!("ListAttachedRolePolicies {name}"), e))?;
    Ok(listed
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect())
}

// ---------------------------------------------------------------------------
// The plan

/// One drifted setting of the role.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    Trust(Value),
    Attach(String),
    Detach(String),
    PutSecretsPolicy(Value),
    DeleteSecretsPolicy,
    Tags(Tags),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The role, then its policies (`Attach` and `PutSecretsPolicy` fixes).
    Create {
        name: String,
        trust: Value,
        tags: Vec<(String, String)>,
        then: Vec<Fix>,
    },
    Update {
        name: String,
        fixes: Vec<Fix>,
    },
}

/// The role's op and change, if anything is to be done. Refused when a role
/// of our name is not this stack's, env's and component's.
pub fn plan(
    ctx: &Context,
    found: Option<&FoundRole>,
    secrets_policy: Option<&Value>,
) -> Result<Option<(Op, Change)>> {
    let name = role_name(ctx, COMPONENT);
    let managed = managed_policy(&ctx.region);
    let Some(role) = found else {
        let mut then = vec![Fix::Attach(managed)];
        then.extend(secrets_policy.cloned().map(Fix::PutSecretsPolicy));
        let op = Op::Create {
            name: name.clone(),
            trust: trust_policy(TRUSTED),
            tags: ctx.tags(COMPONENT),
            then,
        };
        return Ok(Some((op, Change::new(TOOL, Action::Create, KIND, &name))));
    };
    ctx.check_owned(KIND, &name, pairs(&role.tags), COMPONENT)?;
    let (fixes, change) = fixes(ctx, role, &managed, secrets_policy);
    Ok((!fixes.is_empty()).then(|| (Op::Update { name, fixes }, change)))
}

fn fixes(
    ctx: &Context,
    role: &FoundRole,
    managed: &str,
    secrets_policy: Option<&Value>,
) -> (Vec<Fix>, Change) {
    let mut fixes = Vec::new();
    let mut change = Change::new(TOOL, Action::Update, KIND, &role.name).id(&role.arn);
    let trust = trust_policy(TRUSTED);
    if role.trust.as_ref() != Some(&trust) {
        change = change.field("trust_policy", &role.trust, &trust);
        fixes.push(Fix::Trust(trust));
    }
    if role.managed != [managed] {
        change = change.field("managed_policies", &role.managed, [managed]);
        if !role.managed.iter().any(|m| m == managed) {
            fixes.push(Fix::Attach(managed.to_owned()));
        }
        fixes.extend(
            role.managed
                .iter()
                .filter(|m| *m != managed)
                .map(|m| Fix::Detach(m.clone())),
        );
    }
    if role.secrets_policy.as_ref() != secrets_policy {
        change = change.field("secrets_policy", &role.secrets_policy, secrets_policy);
        fixes.push(match secrets_policy {
            Some(p) => Fix::PutSecretsPolicy(p.clone()),
            None => Fix::DeleteSecretsPolicy,
        });
    }
    let missing = tagset::missing(&ctx.tags(COMPONENT), &role.tags);
    if !missing.is_empty() {
        let (from, to) = tagset::field(&missing, &role.tags);
        change = change.field("tags", from, to);
        fixes.push(Fix::Tags(missing));
    }
    (fixes, change)
}

// ---------------------------------------------------------------------------
// Apply

/// Applies the role's op; the ARN of the role made, for a create.
pub async fn apply(iam: &aws_sdk_iam::Client, op: &Op) -> Result<Option<String>> {
    match op {
        Op::Create {
            name,
            trust,
            tags,
            then,
        } => {
            let arn = create(iam, name, trust, tags).await?;
            for fix in then {
                apply_fix(iam, name, fix).await?;
            }
            Ok(Some(arn))
        }
        Op::Update { name, fixes } => {
            for fix in fixes {
                apply_fix(iam, name, fix).await?;
            }
            Ok(None)
        }
    }
}

async fn create(
    iam: &aws_sdk_iam::Client,
    name: &str,
    trust: &Value,
    tags: &[(String, String)],
) -> Result<String> {
    let out = iam
        .create_role()
        .role_name(name)
        .path(ROLE_PATH)
        .assume_role_policy_document(trust.to_string())
        .description("ECS task execution: pull images, write logs, read this stack's secrets")
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .map_err(|e| aws_error(format!("CreateRole {name}"), e))?;
    Ok(out.role().map(|r| r.arn().to_owned()).unwrap_or_default())
}

fn iam_tags(tags: &[(String, String)]) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::spec(format!("invalid tag: {e}")))
        })
        .collect()
}

/// One fix; IAM is eventually consistent, so a role made a moment ago may
/// answer NoSuchEntity for a few seconds.
async fn apply_fix(iam: &aws_sdk_iam::Client, name: &str, fix: &Fix) -> Result<()> {
    let what = format!("IAM {name}");
    retry::after_create(&what, || async {
        match fix {
            Fix::Trust(t) => iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(t.to_string())
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(format!("UpdateAssumeRolePolicy {name}"), e)),
            Fix::Attach(arn) => iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(format!("AttachRolePolicy {name} {arn}"), e)),
            Fix::Detach(arn) => iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(format!("DetachRolePolicy {name} {arn}"), e)),
            Fix::PutSecretsPolicy(p) => iam
                .put_role_policy()
                .role_name(name)
                .policy_name(SECRETS_POLICY)
                .policy_document(p.to_string())
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(format!("PutRolePolicy {name}"), e)),
            Fix::DeleteSecretsPolicy => iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(SECRETS_POLICY)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(format!("DeleteRolePolicy {name}"), e)),
            Fix::Tags(t) => {
                let pairs: Vec<(String, String)> = t.clone().into_iter().collect();
                iam.tag_role()
                    .role_name(name)
                    .set_tags(Some(iam_tags(&pairs)?))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error(format!("TagRole {name}"), e))
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests;
