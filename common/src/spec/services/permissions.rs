//! A service's `permissions`: the statements of its task role, checked deeply
//! before any AWS call, because a task role is what a compromised container
//! holds.
//!
//! Every action is parsed as `service:Action` and every resource as an ARN.
//! Refused, each naming its JSON path (exit 5):
//! - wildcards that span services, regions, accounts or resource types
//!   (`*`, `s3:*`, `*:GetObject`, `arn:aws:*:*:*:*`, `arn:aws:s3:::*`,
//!   `arn:aws:dynamodb:*:123456789012:table/x`, `...:*/x`, `...:t*`: a `*`
//!   matches `/` too, so one before the type's end spans types; S3 buckets
//!   count as the type, only SQS queue and SNS topic names take one);
//! - actions that administer IAM or KMS: any IAM action but the read-only
//!   `Get*`/`List*`/`Generate*`/`Simulate*` ones (and never `iam:PassRole`,
//!   which hands a role to a service: privilege escalation), and any KMS action
//!   that creates, changes, schedules or grants on keys (a pattern is refused
//!   when it could match one: `kms:Create*`, `kms:*Key`, `kms:Re*`);
//! - malformed actions and ARNs (missing parts, a bad partition, region or
//!   account, characters IAM does not take);
//! - a task role policy longer than IAM takes for an inline role policy.
//!
//! Wildcards inside an action name (`s3:Get*`) or inside a resource id
//! (`arn:aws:s3:::bucket/*`) stay allowed: they stay within one service and
//! one resource type.

use crate::error::shown;
use crate::{Error, Result};

use super::Permission;

/// IAM's limit for one role's inline policies, in characters without whitespace.
pub const MAX_INLINE_POLICY: usize = 10_240;

/// The AWS partitions an ARN may name.
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// The IAM actions a task may be given: reads. Everything else in IAM changes
/// who may do what.
const IAM_READ_PREFIXES: &[&str] = &["get", "list", "generate", "simulate"];

/// The IAM reads that still hand out power: none today, but `PassRole` is the
/// one write whose name looks harmless.
const IAM_NEVER: &[&str] = &["passrole"];

/// KMS actions that administer keys: create, change, schedule, grant, import,
/// tag. A task may use a key (Decrypt, Encrypt, GenerateDataKey...) and read it.
const KMS_ADMIN: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "ImportKeyMaterial",
    "PutKeyPolicy",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
];

/// Every statement: non-empty, each action and resource checked; `at` is the
/// path of `permissions`.
pub fn check(at: &str, permissions: &[Permission]) -> Result<()> {
    for (i, p) in permissions.iter().enumerate() {
        let at = format!("{at}[{i}]");
        if p.actions.is_empty() || p.resources.is_empty() {
            return Err(Error::spec(format!(
                "{at}: each entry needs actions and resources"
            )));
        }
        for (j, a) in p.actions.iter().enumerate() {
            check_action(a).map_err(|why| refused(&format!("{at}.actions[{j}]"), a, &why))?;
        }
        for (j, r) in p.resources.iter().enumerate() {
            check_resource(r).map_err(|why| refused(&format!("{at}.resources[{j}]"), r, &why))?;
        }
    }
    Ok(())
}

/// The size IAM counts of a policy document: its JSON without whitespace.
pub fn check_size(at: &str, policy: &serde_json::Value) -> Result<()> {
    let size = policy
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count();
    if size > MAX_INLINE_POLICY {
        return Err(Error::spec(format!(
            "{at}: the task role's policy would be {size} characters, and IAM takes at most \
             {MAX_INLINE_POLICY} for a role's inline policy; merge statements or narrow them"
        )));
    }
    Ok(())
}

fn refused(at: &str, value: &str, why: &str) -> Error {
    Error::spec(format!(
        "{at}: '{}' {why}; name the exact actions and ARNs (least privilege)",
        shown(value)
    ))
}

/// `service:Action`, the service exact, the action a name with optional
/// wildcards, and nothing that administers IAM or KMS.
fn check_action(action: &str) -> std::result::Result<(), String> {
    if action == "*" {
        return Err("is a wildcard across actions and services".into());
    }
    let Some((service, name)) = action.split_once(':') else {
        return Err("is not service:Action".into());
    };
    if service.contains(['*', '?']) || name == "*" {
        return Err("is a wildcard across actions or services".into());
    }
    let service_ok = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?');
    if !service_ok || !name_ok {
        return Err("is not service:Action (letters, digits, '-' in the service; letters, digits, '*', '?' in the action)".into());
    }
    match service {
        "iam" if !iam_read_only(name) => Err(
            "may administer IAM (a task role gets only IAM's Get*/List* reads, never PassRole)"
                .into(),
        ),
        "kms" => match KMS_ADMIN.iter().find(|admin| glob(name, admin)) {
            Some(admin) => Err(format!("may administer KMS keys (it covers kms:{admin})")),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// An IAM action (or pattern) that can only match reads: its literal start is
/// a read verb, and it cannot match PassRole.
fn iam_read_only(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let literal: String = lower
        .chars()
        .take_while(|c| !matches!(c, '*' | '?'))
        .collect();
    let reads = IAM_READ_PREFIXES
        .iter()
        .any(|verb| literal.starts_with(verb));
    reads && !IAM_NEVER.iter().any(|never| glob(&lower, never))
}

/// Whether the IAM-style pattern (`*` any run, `?` one character) matches
/// `text`, case-insensitively as IAM compares action names.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    // Classic two-pointer match with backtracking to the last star.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// `arn:partition:service:region:account:resource`, every part before the
/// resource exact, and the resource's type (or bucket) exact.
fn check_resource(arn: &str) -> std::result::Result<(), String> {
    if arn.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not an ARN (it holds whitespace)".into());
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Err("is not an ARN (arn:partition:service:region:account:resource)".into());
    }
    let (partition, service, region, account, resource) =
        (parts[1], parts[2], parts[3], parts[4], parts[5]);
    for (what, part) in [
        ("partition", partition),
        ("service", service),
        ("region", region),
        ("account", account),
    ] {
        if part.contains(['*', '?']) {
            return Err(format!("has a wildcard in its {what}"));
        }
    }
    if !PARTITIONS.contains(&partition) {
        return Err(format!(
            "is not an ARN: '{}' is not an AWS partition",
            shown(partition)
        ));
    }
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("is not an ARN: its service is not a service name".into());
    }
    if !region.is_empty() && !crate::aws::valid_region(region) {
        return Err(format!(
            "is not an ARN: '{}' is not a region",
            shown(region)
        ));
    }
    let account_ok = account.is_empty()
        || account == "aws"
        || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()));
    if !account_ok {
        return Err(format!(
            "is not an ARN: '{}' is not an account id (12 digits)",
            shown(account)
        ));
    }
    check_resource_part(service, resource)
}

/// Services whose ARNs name a resource with no type before it (a queue, a
/// topic): a wildcard in that name stays within the one kind.
const TYPELESS: &[&str] = &["sns", "sqs"];

/// The resource part: not empty, not all wildcard; its type (the part before
/// the first `/` or `:`, the bucket of an S3 ARN) exact. A wildcard there,
/// even with no `/` or `:` after it, spans types (`table*` or `t*` match
/// `table/orders` and every other type beginning so, since `*` matches `/`
/// too); only a queue's or topic's name, which has no type, may end in one.
fn check_resource_part(service: &str, resource: &str) -> std::result::Result<(), String> {
    if resource.is_empty() {
        return Err("is not an ARN: its resource is empty".into());
    }
    match resource.find(['/', ':']) {
        Some(end) if resource[..end].contains(['*', '?']) || end == 0 => {
            Err("has a wildcard in its resource type".into())
        }
        Some(_) => Ok(()),
        None if resource.starts_with(['*', '?']) => {
            Err("is a wildcard over every resource of the service".into())
        }
        None if resource.contains(['*', '?']) && !TYPELESS.contains(&service) => Err(
            "has a wildcard in its resource type (or S3 bucket), which spans types or buckets"
                .into(),
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(action: &str, resource: &str) -> Result<()> {
        check(
            "p",
            &[Permission {
                actions: vec![action.into()],
                resources: vec![resource.into()],
            }],
        )
    }

    #[test]
    fn exact_actions_and_arns_pass() {
        for (a, r) in [
            ("s3:GetObject", "arn:aws:s3:::trades/*"),
            ("s3:Get*", "arn:aws:s3:::trades/2024/*"),
            (
                "dynamodb:PutItem",
                "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
            ),
            (
                "sqs:SendMessage",
                "arn:aws:sqs:eu-west-1:123456789012:orders-*",
            ),
            (
                "kms:Decrypt",
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
            ),
            (
                "kms:GenerateDataKey*",
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
            ),
            ("iam:GetRole", "arn:aws:iam::123456789012:role/x"),
            ("iam:List*", "arn:aws:iam::123456789012:role/x"),
            (
                "execute-api:Invoke",
                "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/*",
            ),
            (
                "sns:Publish",
                "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts",
            ),
            ("iam:GetPolicy", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
            ("sns:Publish", "arn:aws:sns:us-east-1:123456789012:alerts-*"),
            ("s3:ListBucket", "arn:aws:s3:::trades"),
        ] {
            assert!(one(a, r).is_ok(), "{a} {r}: {:?}", one(a, r));
        }
    }

    fn refusal(action: &str, resource: &str) -> String {
        let e = one(action, resource).unwrap_err();
        assert_eq!(e.exit_code(), 5);
        e.to_string()
    }

    #[test]
    fn wildcards_across_services_regions_accounts_and_types_are_refused() {
        let ok = "arn:aws:s3:::b/*";
        for (a, r, path, why) in [
            ("*", ok, "p[0].actions[0]", "wildcard across actions"),
            ("s3:*", ok, "p[0].actions[0]", "wildcard across actions"),
            (
                "*:GetObject",
                ok,
                "p[0].actions[0]",
                "wildcard across actions or services",
            ),
            ("s*:GetObject", ok, "p[0].actions[0]", "wildcard"),
            ("s3:GetObject", "*", "p[0].resources[0]", "not an ARN"),
            (
                "s3:GetObject",
                "arn:aws:*:*:*:*",
                "p[0].resources[0]",
                "wildcard in its service",
            ),
            (
                "s3:GetObject",
                "arn:*:s3:::b",
                "p[0].resources[0]",
                "wildcard in its partition",
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::*",
                "p[0].resources[0]",
                "every resource",
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::*/x",
                "p[0].resources[0]",
                "resource type",
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::b*/x",
                "p[0].resources[0]",
                "resource type",
            ),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:*:123456789012:table/x",
                "p[0].resources[0]",
                "wildcard in its region",
            ),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:*:table/x",
                "p[0].resources[0]",
                "wildcard in its account",
            ),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:123456789012:*/x",
                "p[0].resources[0]",
                "resource type",
            ),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:123456789012:tab*/x",
                "p[0].resources[0]",
                "resource type",
            ),
            // Issue 12: a wildcard before any `/` or `:` spans types too.
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:123456789012:t*",
                "p[0].resources[0]",
                "resource type",
            ),
            (
                "iam:GetRole",
                "arn:aws:iam::123456789012:role*",
                "p[0].resources[0]",
                "resource type",
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::b*",
                "p[0].resources[0]",
                "spans types or buckets",
            ),
            (
                "logs:PutLogEvents",
                "arn:aws:logs:us-east-1:123456789012:log-group?",
                "p[0].resources[0]",
                "resource type",
            ),
        ] {
            let e = refusal(a, r);
            assert!(e.starts_with(&format!("{path}: ")), "{a} {r}: {e}");
            assert!(
                e.contains(why) && e.contains("least privilege"),
                "{a} {r}: {e}"
            );
        }
    }

    #[test]
    fn iam_and_kms_administration_is_refused() {
        let r = "arn:aws:iam::123456789012:role/x";
        for a in [
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:Put*",
            "iam:*Role*",
            "iam:AttachRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:PassRole",
            "iam:passrole",
            "iam:Pass*",
            "iam:CreateAccessKey",
            "iam:TagRole",
        ] {
            assert!(refusal(a, r).contains("may administer IAM"), "{a}");
        }
        let k = "arn:aws:kms:us-east-1:123456789012:key/k";
        for (a, covers) in [
            ("kms:CreateKey", "CreateKey"),
            ("kms:Create*", "Create"),
            ("kms:Put*", "PutKeyPolicy"),
            ("kms:Schedule*", "ScheduleKeyDeletion"),
            ("kms:*Key", "Key"),
            ("kms:Re*", "Re"),
            ("kms:createGrant", "CreateGrant"),
            ("kms:?nableKey", "EnableKey"),
        ] {
            let e = refusal(a, k);
            assert!(
                e.contains("may administer KMS") && e.contains(covers),
                "{a}: {e}"
            );
        }
        for a in [
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:DescribeKey",
            "kms:GenerateDataKey",
            "kms:ReEncryptFrom",
            "kms:Sign",
        ] {
            assert!(one(a, k).is_ok(), "{a}");
        }
    }

    #[test]
    fn malformed_actions_and_arns_are_refused() {
        let ok = "arn:aws:s3:::b/*";
        for a in [
            "s3GetObject",
            "S3:GetObject",
            "s3:Get Object",
            "s3:",
            ":GetObject",
            "s3:Get-Object",
        ] {
            assert!(refusal(a, ok).contains("p[0].actions[0]"), "{a}");
        }
        for (r, why) in [
            ("arn:aws:s3", "not an ARN"),
            ("aws:s3:::b", "not an ARN"),
            ("arn:amazon:s3:::b", "not an AWS partition"),
            ("arn:aws:S3:::b", "not a service name"),
            ("arn:aws:sqs:mars-1:123456789012:q", "not a region"),
            ("arn:aws:sqs:us-east-1:1234:q", "not an account id"),
            ("arn:aws:sqs:us-east-1:123456789012:", "resource is empty"),
            ("arn:aws:s3:::b /x", "whitespace"),
        ] {
            let e = refusal("s3:GetObject", r);
            assert!(
                e.starts_with("p[0].resources[0]: ") && e.contains(why),
                "{r}: {e}"
            );
        }
        assert!(check(
            "p",
            &[Permission {
                actions: vec![],
                resources: vec![ok.into()]
            }]
        )
        .is_err());
    }

    #[test]
    fn globs_match_like_iam() {
        assert!(glob("Create*", "CreateKey"));
        assert!(glob("*Key", "CreateKey"));
        assert!(glob("c?eate*", "CreateGrant"));
        assert!(!glob("Decrypt", "CreateKey"));
        assert!(!glob("Gen*", "CreateKey"));
        assert!(glob("*", ""));
    }

    #[test]
    fn policies_too_long_for_iam_are_refused() {
        let small = serde_json::json!({"Statement": []});
        assert!(check_size("p", &small).is_ok());
        let big = serde_json::json!({"Statement": ["x".repeat(MAX_INLINE_POLICY)]});
        let e = check_size("p", &big).unwrap_err().to_string();
        assert!(e.contains("IAM takes at most 10240"), "{e}");
    }
}
