//! What the task execution role may read: exactly the stack's secrets named
//! in `.secrets`, and decrypt with exactly their customer-managed keys.
//!
//! `.secrets` is input: an ARN in it is a hint, never proof. A document whose
//! `.secrets.x.arn` names another stack's secret would otherwise hand this
//! stack's tasks that secret. So every ARN is checked against AWS: the stack's
//! secrets are listed by tag (one ListSecrets, which also gives each one's
//! key), and an ARN that is not among them is described; one of another stack
//! or env (or of none) is a mismatch, refused before anything changes. The
//! keys come from AWS's description of the secrets, not from the document.
//! Placeholders of a `--plan` run (secrets not made yet) are granted as they
//! are: a plan changes nothing.

use std::collections::BTreeSet;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry};
use serde_json::{json, Value};

use common::error::aws_error;
use common::naming::TAG_STACK;
use common::owner::Mismatches;
use common::plan::is_planned;
use common::sections::Secrets;
use common::tagset;
use common::{bounded, Context, Error, Result};

/// The grants, sorted and unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub secret_arns: Vec<String>,
    pub key_arns: Vec<String>,
}

/// The clients the check uses.
#[derive(Debug)]
pub struct Clients<'a> {
    pub sm: &'a aws_sdk_secretsmanager::Client,
    pub kms: &'a aws_sdk_kms::Client,
}

/// The grants for the document's `.secrets`, every ARN checked.
pub async fn discover(
    ctx: &Context,
    c: &Clients<'_>,
    secrets: Option<&Secrets>,
    mismatches: &Mismatches,
) -> Result<Grants> {
    let Some(secrets) = secrets.filter(|s| !s.is_empty()) else {
        return Ok(Grants::default());
    };
    if let Some(s) = secrets.values().find(|s| s.arn.is_empty()) {
        return Err(Error::Document(format!(
            ".secrets: secret {} has no arn: run secrets-up again",
            common::error::shown(&s.name)
        )));
    }
    let ours = list_ours(ctx, c.sm).await?;
    let mut grants = Grants::default();
    let mut keys = BTreeSet::new();
    for s in secrets.values() {
        if is_planned(&s.arn) {
            grants.secret_arns.push(s.arn.clone());
            keys.extend(s.kms_key.clone());
            continue;
        }
        match ours.iter().find(|o| o.arn() == Some(s.arn.as_str())) {
            Some(o) => {
                grants.secret_arns.push(s.arn.clone());
                keys.extend(o.kms_key_id().map(str::to_owned));
            }
            None => check_foreign(ctx, c.sm, &s.arn, mismatches).await?,
        }
    }
    grants.secret_arns.sort();
    grants.secret_arns.dedup();
    grants.key_arns = key_arns(c.kms, keys).await?;
    Ok(grants)
}

/// This stack's and env's secrets (ListSecrets' tag filters match prefixes:
/// every entry is checked against the exact tags).
async fn list_ours(
    ctx: &Context,
    sm: &aws_sdk_secretsmanager::Client,
) -> Result<Vec<SecretListEntry>> {
    let filter = |k: FilterNameStringType, v: &str| Filter::builder().key(k).values(v).build();
    let pages = sm
        .list_secrets()
        .filters(filter(FilterNameStringType::TagKey, TAG_STACK))
        .filters(filter(FilterNameStringType::TagValue, &ctx.stack))
        .max_results(100)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListSecrets", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.secret_list())
        .filter(|s| {
            ctx.owns(
                s.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            )
        })
        .cloned()
        .collect())
}

/// A document ARN that is not one of the stack's secrets: whose is it? Gone
/// is not granted (a stale document; secrets-up writes the current ARNs).
async fn check_foreign(
    ctx: &Context,
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
    mismatches: &Mismatches,
) -> Result<()> {
    match sm.describe_secret().secret_id(arn).send().await {
        Ok(d) => {
            let tags = tagset::collect(
                d.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            );
            mismatches.note(
                ctx,
                "secret",
                arn,
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            tracing::warn!(
                "the document's secret {} does not exist: not granted (run secrets-up again)",
                common::error::shown(arn)
            );
            Ok(())
        }
        Err(e) => Err(aws_error(format!("DescribeSecret {arn}"), e)),
    }
}

/// The keys' ARNs: IAM needs key ARNs, and Secrets Manager may report a key by
/// id or alias. A planned placeholder stays as it is.
async fn key_arns(kms: &aws_sdk_kms::Client, keys: BTreeSet<String>) -> Result<Vec<String>> {
    let resolved = bounded::try_all(
        bounded::PER_SERVICE,
        keys.iter().map(|key| async move {
            if is_planned(key) || (key.starts_with("arn:") && key.contains(":key/")) {
                return Ok(key.clone());
            }
            let meta = crate::key::describe(kms, key).await?.ok_or_else(|| {
                Error::Document(format!(
                    "a secret of .secrets is encrypted with the KMS key {}, which does not exist in this region",
                    common::error::shown(key)
                ))
            })?;
            Ok(meta.arn().unwrap_or_default().to_owned())
        }),
    )
    .await?;
    let mut arns: Vec<String> = resolved.into_iter().collect();
    arns.sort();
    arns.dedup();
    Ok(arns)
}

/// The inline policy: GetSecretValue on exactly the secrets, and Decrypt on
/// exactly their keys when called through Secrets Manager. No secrets, no policy.
pub fn policy(region: &str, grants: &Grants) -> Option<Value> {
    if grants.secret_arns.is_empty() {
        return None;
    }
    let mut statements = vec![json!({
        "Sid": "ReadTheStackSecrets",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": grants.secret_arns,
    })];
    if !grants.key_arns.is_empty() {
        statements.push(json!({
            "Sid": "DecryptTheSecretsKeys",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": grants.key_arns,
            "Condition": {
                "StringEquals": {"kms:ViaService": format!("secretsmanager.{region}.amazonaws.com")}
            },
        }));
    }
    Some(json!({"Version": "2012-10-17", "Statement": statements}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(secrets: &[&str], keys: &[&str]) -> Grants {
        Grants {
            secret_arns: secrets.iter().map(|s| (*s).to_owned()).collect(),
            key_arns: keys.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_policy_names_exactly_the_secrets_and_their_keys() {
        assert_eq!(policy("us-east-1", &Grants::default()), None);
        let p = policy("eu-west-1", &grants(&["arn:a", "arn:b"], &[])).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(p["Statement"][0]["Resource"], json!(["arn:a", "arn:b"]));
        let p = policy("eu-west-1", &grants(&["arn:a"], &["arn:k"])).unwrap();
        assert_eq!(p["Statement"][1]["Action"], "kms:Decrypt");
        assert_eq!(p["Statement"][1]["Resource"], json!(["arn:k"]));
        assert_eq!(
            p["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"],
            "secretsmanager.eu-west-1.amazonaws.com"
        );
        assert!(!p.to_string().contains('*'), "no wildcards: {p}");
    }
}
