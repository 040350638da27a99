//! IAM roles for the layers that own them: the cluster's task execution role
//! (cluster-up) and the per-service task roles (svc-up).
//!
//! A role is found by its name `{stack}--{component}--{env}` (IAM names are unique
//! per account and roles take no tag filter), and its tags confirm it is ours
//! before anything is changed. Policies are converged exactly: managed policies
//! attached and detached to the wanted list, an inline policy written only when
//! its parsed JSON differs, so a re-run makes no call that changes anything.
//!
//! IAM is eventually consistent: a role created a moment ago may be refused by
//! the services that assume it. The calls here retry `NoSuchEntity` on the role
//! they just created; the next layer must do the same where it hands a new role
//! to another service (ECS `RegisterTaskDefinition` and `CreateService` answer
//! "role cannot be assumed" / `InvalidParameterException` for a few seconds:
//! svc-up retries those with `retry::after_create`-style bounded retries).

use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use serde_json::{json, Value};

use crate::error::{one_line, AwsError, AwsResultExt, Error, Result};
use crate::{naming, retry, Context};

/// The path every role of ours lives under, so teardown can list them cheaply.
pub const ROLE_PATH: &str = "/fargate-pipes/";

/// IAM caps role names at 64 characters.
const MAX_ROLE_NAME: usize = 64;

/// A role as the layers report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleOut {
    pub name: String,
    pub arn: String,
    /// Made by this run: its policies are part of the creation, not updates.
    pub created: bool,
}

/// The AWS partition of a region: `aws`, `aws-cn` (cn-*), `aws-us-gov` (us-gov-*).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The role name of a component: `{stack}--{component}--{env}`, shortened with a
/// stable hash if it would pass IAM's 64 characters.
pub fn role_name(ctx: &Context, component: &str) -> String {
    naming::short_name(&ctx.name(component), MAX_ROLE_NAME)
}

/// A trust policy that lets one AWS service (e.g. `ecs-tasks.amazonaws.com`) assume the role.
pub fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// Decodes `%XX` escapes. IAM returns policy documents URL-encoded (RFC 3986);
/// `+` is left alone since IAM encodes a space as `%20`.
pub fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document as IAM returns it (URL-encoded JSON), parsed. Documents that
/// come back plain (some emulators) parse as they are.
pub fn parse_policy(document: &str) -> Result<Value> {
    serde_json::from_str(&percent_decode(document))
        .or_else(|_| serde_json::from_str(document))
        .map_err(|e| {
            Error::Aws(AwsError {
                op: "reading an IAM policy document".into(),
                code: None,
                message: format!("not JSON: {}", one_line(&e.to_string())),
                request_id: None,
                transient: false,
            })
        })
}

fn iam_tags(ctx: &Context, component: &str) -> Result<Vec<Tag>> {
    ctx.tags(component)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::spec(format!("invalid tag: {e}")))
        })
        .collect()
}

/// A role's tags as (key, value) pairs.
pub async fn role_tags(iam: &Client, name: &str) -> Result<Vec<(String, String)>> {
    let tags = iam
        .list_role_tags()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("ListRoleTags {name}"))?;
    Ok(tags
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

/// Finds or creates the role of a component, trusted by `trust_service`.
///
/// An existing role must carry this stack's and env's tags (a role of the same
/// name that is not ours is an error, never adopted); a drifted trust policy is
/// put back.
pub async fn ensure_role(
    iam: &Client,
    ctx: &Context,
    component: &str,
    trust_service: &str,
    description: &str,
) -> Result<RoleOut> {
    let name = role_name(ctx, component);
    let trust = trust_policy(trust_service);
    let existing = match iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .aws(format!("GetRole {name}"))
    {
        Ok(out) => out.role().cloned(),
        Err(e) if e.aws_code() == Some("NoSuchEntity") => None,
        Err(e) => return Err(e),
    };
    let Some(role) = existing else {
        let out = iam
            .create_role()
            .role_name(&name)
            .path(ROLE_PATH)
            .assume_role_policy_document(trust.to_string())
            .description(description)
            .set_tags(Some(iam_tags(ctx, component)?))
            .send()
            .await
            .aws(format!("CreateRole {name}"))?;
        let arn = out.role().map(|r| r.arn().to_owned()).unwrap_or_default();
        ctx.report.created("iam role", &name, &arn);
        return Ok(RoleOut {
            name,
            arn,
            created: true,
        });
    };
    let tags = role_tags(iam, &name).await?;
    if !ctx.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return Err(Error::spec(format!(
            "IAM role {name} exists but is not tagged for stack {} env {}: it is not ours; \
             delete or rename it, or pick another stack name",
            ctx.stack, ctx.env
        )));
    }
    let arn = role.arn().to_owned();
    ctx.report.adopted("iam role", &name, &arn);
    let have = role
        .assume_role_policy_document()
        .map(parse_policy)
        .transpose()?;
    if have.as_ref() != Some(&trust) {
        iam.update_assume_role_policy()
            .role_name(&name)
            .policy_document(trust.to_string())
            .send()
            .await
            .aws(format!("UpdateAssumeRolePolicy {name}"))?;
        ctx.report.updated(
            "iam role",
            &name,
            &format!("trust policy reset to {trust_service}"),
        );
    }
    Ok(RoleOut {
        name,
        arn,
        created: false,
    })
}

/// Reports a policy change on a role: an update of an existing role, or part of
/// the creation of a new one (logged, not counted twice).
fn changed(ctx: &Context, role: &RoleOut, what: &str) {
    if role.created {
        tracing::debug!("iam role {}: {what}", role.name);
    } else {
        ctx.report.updated("iam role", &role.name, what);
    }
}

/// Makes the role's attached managed policies exactly `arns`: missing ones
/// attached, others detached.
pub async fn ensure_managed_policies(
    iam: &Client,
    ctx: &Context,
    role: &RoleOut,
    arns: &[&str],
) -> Result<()> {
    let name = role.name.as_str();
    let attached = retry::after_create(&format!("ListAttachedRolePolicies {name}"), || async {
        iam.list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws(format!("ListAttachedRolePolicies {name}"))
    })
    .await?;
    let have: Vec<&str> = attached.iter().filter_map(|p| p.policy_arn()).collect();
    for arn in arns.iter().filter(|a| !have.contains(a)) {
        retry::after_create(&format!("AttachRolePolicy {name}"), || async {
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(*arn)
                .send()
                .await
                .map(|_| ())
                .aws(format!("AttachRolePolicy {name} {arn}"))
        })
        .await?;
        changed(ctx, role, &format!("attached {arn}"));
    }
    for arn in have.iter().filter(|h| !arns.contains(h)) {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(*arn)
            .send()
            .await
            .aws(format!("DetachRolePolicy {name} {arn}"))?;
        changed(ctx, role, &format!("detached {arn}"));
    }
    Ok(())
}

/// The inline policy `policy_name` of a role, parsed; `None` when it has none.
pub async fn inline_policy(iam: &Client, role: &str, policy_name: &str) -> Result<Option<Value>> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .send()
        .await
        .aws(format!("GetRolePolicy {role} {policy_name}"))
    {
        Ok(out) => parse_policy(out.policy_document()).map(Some),
        Err(e) if e.aws_code() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes the inline policy `policy_name` exactly `document`, or removes it when
/// `None`. Written only when the parsed JSON differs.
pub async fn ensure_inline_policy(
    iam: &Client,
    ctx: &Context,
    role: &RoleOut,
    policy_name: &str,
    document: Option<&Value>,
) -> Result<()> {
    let name = role.name.as_str();
    let have = if role.created {
        None
    } else {
        inline_policy(iam, name, policy_name).await?
    };
    match (have, document) {
        (have, Some(want)) if have.as_ref() != Some(want) => {
            let text = want.to_string();
            retry::after_create(&format!("PutRolePolicy {name}"), || async {
                iam.put_role_policy()
                    .role_name(name)
                    .policy_name(policy_name)
                    .policy_document(&text)
                    .send()
                    .await
                    .map(|_| ())
                    .aws(format!("PutRolePolicy {name} {policy_name}"))
            })
            .await?;
            changed(ctx, role, &format!("inline policy {policy_name} written"));
        }
        (Some(_), None) => {
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .aws(format!("DeleteRolePolicy {name} {policy_name}"))?;
            changed(ctx, role, &format!("inline policy {policy_name} removed"));
        }
        _ => {}
    }
    Ok(())
}

/// Roles under our path whose names say they are of this stack and env
/// (`{stack}-...-{env}`), confirmed by their tags. Every layer's roles.
pub async fn owned_roles(iam: &Client, ctx: &Context) -> Result<Vec<aws_sdk_iam::types::Role>> {
    let roles = iam
        .list_roles()
        .path_prefix(ROLE_PATH)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("ListRoles")?;
    // By prefix only: a name shortened to fit 64 characters no longer ends with
    // the env. The tags below decide.
    let prefix = naming::name_prefix(&ctx.stack);
    let mut mine = Vec::new();
    for role in roles {
        let name = role.role_name();
        if !name.starts_with(&prefix) {
            continue;
        }
        let tags = match role_tags(iam, name).await {
            Ok(tags) => tags,
            // Deleted between the listing and now.
            Err(e) if e.aws_code() == Some("NoSuchEntity") => continue,
            Err(e) => return Err(e),
        };
        if ctx.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            mine.push(role);
        }
    }
    Ok(mine)
}

/// Deletes a role: managed policies detached, inline policies deleted, then the
/// role. A role that is already gone is done; `DeleteConflict` (a policy change
/// not yet visible) is retried.
pub async fn delete_role(iam: &Client, name: &str) -> Result<()> {
    let attached = match iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("ListAttachedRolePolicies {name}"))
    {
        Ok(a) => a,
        Err(e) if e.aws_code() == Some("NoSuchEntity") => return Ok(()),
        Err(e) => return Err(e),
    };
    for arn in attached.iter().filter_map(|p| p.policy_arn()) {
        retry::delete(&format!("DetachRolePolicy {name}"), || async {
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .aws(format!("DetachRolePolicy {name} {arn}"))
        })
        .await?;
    }
    let inline = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let inline = match inline.aws(format!("ListRolePolicies {name}")) {
        Ok(p) => p,
        Err(e) if e.aws_code() == Some("NoSuchEntity") => return Ok(()),
        Err(e) => return Err(e),
    };
    for policy in &inline {
        retry::delete(&format!("DeleteRolePolicy {name}"), || async {
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map(|_| ())
                .aws(format!("DeleteRolePolicy {name} {policy}"))
        })
        .await?;
    }
    retry::delete(&format!("DeleteRole {name}"), || async {
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteRole {name}"))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn decodes_iam_policy_documents() {
        assert_eq!(percent_decode("%7B%22a%22%3A%201%7D"), "{\"a\": 1}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a+b%2Bc"), "a+b+c");
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            parse_policy(encoded).unwrap(),
            json!({"Version": "2012-10-17", "Statement": []})
        );
        assert_eq!(parse_policy("{\"a\":[1]}").unwrap(), json!({"a": [1]}));
        assert!(parse_policy("not json").is_err());
    }

    #[test]
    fn trust_policies_name_the_service() {
        let p = trust_policy("ecs-tasks.amazonaws.com");
        assert_eq!(
            p["Statement"][0]["Principal"]["Service"],
            "ecs-tasks.amazonaws.com"
        );
        assert_eq!(p["Statement"][0]["Action"], "sts:AssumeRole");
    }
}
