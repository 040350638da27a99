//! The KMS key CloudWatch Logs encrypts the stack's log groups with (component
//! `logs`, alias `alias/{stack}--logs--{env}`): discovery, the pure plan of
//! its changes, and their application.
//!
//! The key is found by its alias; every key tagged as this stack's and env's
//! `logs` is found too (one Resource Groups Tagging call, since KMS has no tag
//! filter), so two keys claiming the one identity are refused, naming both.
//! When the alias is gone (a run killed between CreateKey and CreateAlias, or
//! a teardown) the tagging API may not list a key made seconds ago, so KMS
//! itself is swept (every key's tags): a second key is never made for a
//! first one not yet visible. A key pending deletion is restored rather than
//! replaced: a stack torn down and brought up within the window keeps its key,
//! and the log groups encrypted with it stay readable.
//!
//! Keys are data-holding (log groups encrypted with one cannot be read
//! without it), so turning `log_encryption` off keeps the key: teardown
//! schedules its deletion.

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyState, KeyUsageType, Tag};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use serde_json::{json, Value};

use common::error::aws_error;
use common::iam::partition;
use common::naming::{component_of, TAG_ENV, TAG_STACK};
use common::owner::Mismatches;
use common::plan::{Action, Change};
use common::tagset::{self, Tags};
use common::{bounded, claims, retry, Context, Error, Result};

use crate::TOOL;

pub const KIND: &str = "kms key";
pub const COMPONENT: &str = "logs";
/// The key policy's name: KMS has only this one.
const POLICY_NAME: &str = "default";

pub fn alias(ctx: &Context) -> String {
    format!("alias/{}", ctx.name(COMPONENT))
}

/// A key as the plan sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundKey {
    pub id: String,
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`...
    pub state: String,
    /// Seconds since the epoch: among equals, the oldest key is the one kept.
    pub created: i64,
    pub tags: Tags,
    /// Read for the key the plan keeps, unless it is pending deletion.
    pub policy: Option<Value>,
    pub rotation: Option<bool>,
}

impl FoundKey {
    fn deleting(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PendingDeletion" | "PendingReplicaDeletion"
        )
    }
}

/// What discovery found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keys {
    /// The key the alias names, whoever's it is.
    pub aliased: Option<FoundKey>,
    /// Every other key tagged as this stack's and env's `logs`.
    pub tagged: Vec<FoundKey>,
}

/// The account's key policy: the account (through IAM) manages the key;
/// CloudWatch Logs of this region may use it for this account's log groups,
/// and nothing else may.
pub fn policy(region: &str, account: &str) -> Value {
    let p = partition(region);
    json!({
        "Version": "2012-10-17",
        "Id": "fargate-pipes-logs",
        "Statement": [
            {
                "Sid": "AccountManagesTheKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{p}:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": format!("logs.{region}.amazonaws.com")},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*"
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn":
                            format!("arn:{p}:logs:{region}:{account}:log-group:*")
                    }
                }
            }
        ]
    })
}

// ---------------------------------------------------------------------------
// Discovery

/// The clients discovery uses.
#[derive(Debug)]
pub struct Clients<'a> {
    pub kms: &'a aws_sdk_kms::Client,
    pub tagging: &'a aws_sdk_resourcegroupstagging::Client,
}

/// Finds the alias's key and every key tagged as ours; reads the policy and
/// rotation of the one the plan will keep. `hints` are the document's key id
/// and ARN: one of another stack or env is a mismatch.
pub async fn discover(
    ctx: &Context,
    c: &Clients<'_>,
    hints: &[String],
    mismatches: &Mismatches,
) -> Result<Keys> {
    let name = alias(ctx);
    let aliased = match describe(c.kms, &name).await? {
        Some(meta) => Some(found(c.kms, &meta, None).await?),
        None => None,
    };
    let tagged_ids = if aliased.is_some() {
        tagged_by_tagging_api(ctx, c.tagging).await?
    } else {
        tagged_by_sweep(ctx, c.kms).await?
    };
    let others: Vec<(String, Tags)> = tagged_ids
        .into_iter()
        .filter(|(id, _)| aliased.as_ref().is_none_or(|a| a.id != *id && a.arn != *id))
        .collect();
    let tagged = bounded::try_all(
        bounded::PER_SERVICE,
        others.iter().map(|(id, tags)| async move {
            let meta = describe(c.kms, id).await?;
            match meta {
                Some(m) => found(c.kms, &m, Some(tags.clone())).await.map(Some),
                None => Ok(None),
            }
        }),
    )
    .await?;
    let mut keys = Keys {
        aliased,
        tagged: tagged.into_iter().flatten().collect(),
    };
    note_hints(ctx, c.kms, &keys, hints, mismatches).await?;
    if let Some(kept) = keeper_mut(ctx, &mut keys) {
        read_settings(c.kms, kept).await?;
    }
    Ok(keys)
}

/// A key by id, ARN or alias; `None` when there is no such key or alias.
pub async fn describe(kms: &aws_sdk_kms::Client, key: &str) -> Result<Option<KeyMetadata>> {
    match kms.describe_key().key_id(key).send().await {
        Ok(out) => Ok(out.key_metadata().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("DescribeKey {key}"), e)),
    }
}

/// A key's tags; `None` when the key is gone or not readable (AWS managed keys).
pub async fn tags(kms: &aws_sdk_kms::Client, id: &str) -> Result<Option<Tags>> {
    let listed = kms
        .list_resource_tags()
        .key_id(id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    match listed {
        Ok(t) => Ok(Some(tagset::collect(
            t.iter().map(|t| (t.tag_key(), t.tag_value())),
        ))),
        // AWS managed keys answer AccessDeniedException (not modelled here).
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_not_found_exception()
                    || s.is_invalid_arn_exception()
                    || s.code() == Some("AccessDeniedException")
            }) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("ListResourceTags {id}"), e)),
    }
}

async fn found(
    kms: &aws_sdk_kms::Client,
    m: &KeyMetadata,
    known: Option<Tags>,
) -> Result<FoundKey> {
    let tags = match known {
        Some(t) => t,
        None => tags(kms, m.key_id()).await?.unwrap_or_default(),
    };
    Ok(FoundKey {
        id: m.key_id().to_owned(),
        arn: m.arn().unwrap_or_default().to_owned(),
        state: m.key_state().map_or("", KeyState::as_str).to_owned(),
        created: m.creation_date().map_or(0, |d| d.secs()),
        tags,
        policy: None,
        rotation: None,
    })
}

/// Keys tagged as this stack's and env's `logs`, by ARN, with their tags: one
/// Resource Groups Tagging call (a page per 100 keys).
async fn tagged_by_tagging_api(
    ctx: &Context,
    tagging: &aws_sdk_resourcegroupstagging::Client,
) -> Result<Vec<(String, Tags)>> {
    let filter = |k: &str, v: &str| TagFilter::builder().key(k).values(v).build();
    let pages = tagging
        .get_resources()
        .resource_type_filters("kms:key")
        .tag_filters(filter(TAG_STACK, &ctx.stack))
        .tag_filters(filter(TAG_ENV, &ctx.env))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("GetResources kms:key", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.resource_tag_mapping_list())
        .map(|r| {
            let tags = tagset::collect(r.tags().iter().map(|t| (t.key(), t.value())));
            (r.resource_arn().unwrap_or_default().to_owned(), tags)
        })
        .filter(|(_, tags)| is_ours(ctx, tags))
        .collect())
}

/// Keys tagged as this stack's and env's `logs`, by id, read from KMS itself:
/// every key of the region and its tags (KMS has no tag filter).
pub async fn tagged_by_sweep(
    ctx: &Context,
    kms: &aws_sdk_kms::Client,
) -> Result<Vec<(String, Tags)>> {
    let listed = kms
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListKeys", e))?;
    let ids: Vec<&str> = listed.iter().filter_map(|k| k.key_id()).collect();
    let read = bounded::try_all(
        bounded::PER_SERVICE,
        ids.iter()
            .map(|id| async move { Ok((id.to_string(), tags(kms, id).await?)) }),
    )
    .await?;
    Ok(read
        .into_iter()
        .filter_map(|(id, t)| t.map(|t| (id, t)))
        .filter(|(_, tags)| is_ours(ctx, tags))
        .collect())
}

fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Tagged as this stack's and env's log key.
fn is_ours(ctx: &Context, tags: &Tags) -> bool {
    ctx.owns(pairs(tags)) && component_of(pairs(tags)) == Some(COMPONENT)
}

/// The document's key ids that are not among the keys found are read: one of
/// another stack or env is a mismatch.
pub async fn note_hints(
    ctx: &Context,
    kms: &aws_sdk_kms::Client,
    keys: &Keys,
    hints: &[String],
    mismatches: &Mismatches,
) -> Result<()> {
    let known = |h: &String| {
        keys.aliased
            .iter()
            .chain(&keys.tagged)
            .any(|k| k.id == *h || k.arn == *h)
    };
    for hint in hints.iter().filter(|h| !known(h)) {
        if let Some(meta) = describe(kms, hint).await? {
            let t = tags(kms, meta.key_id()).await?.unwrap_or_default();
            mismatches.note(ctx, KIND, hint, pairs(&t));
        }
    }
    Ok(())
}

/// The key the plan keeps: the alias's, else the best tagged one (live before
/// pending deletion, then the oldest).
fn keeper_mut<'a>(ctx: &Context, keys: &'a mut Keys) -> Option<&'a mut FoundKey> {
    if keys.aliased.as_ref().is_some_and(|k| is_ours(ctx, &k.tags)) {
        return keys.aliased.as_mut();
    }
    keys.tagged.iter_mut().min_by_key(|k| (rank(k), k.created))
}

fn rank(k: &FoundKey) -> u8 {
    match k.state.as_str() {
        "Enabled" => 0,
        "Disabled" => 1,
        "PendingDeletion" => 2,
        _ => 3,
    }
}

/// The key policy and rotation of the key kept; neither is readable while the
/// key is pending deletion (the plan then puts both after restoring it).
async fn read_settings(kms: &aws_sdk_kms::Client, k: &mut FoundKey) -> Result<()> {
    if k.deleting() {
        return Ok(());
    }
    let (policy, rotation) = tokio::try_join!(
        async {
            kms.get_key_policy()
                .key_id(&k.id)
                .policy_name(POLICY_NAME)
                .send()
                .await
                .map_err(|e| aws_error(format!("GetKeyPolicy {}", k.id), e))
        },
        async {
            kms.get_key_rotation_status()
                .key_id(&k.id)
                .send()
                .await
                .map_err(|e| aws_error(format!("GetKeyRotationStatus {}", k.id), e))
        },
    )?;
    k.policy = Some(
        policy
            .policy()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null),
    );
    k.rotation = Some(rotation.key_rotation_enabled());
    Ok(())
}

// ---------------------------------------------------------------------------
// The plan

/// One drifted setting of the key kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// Cancel the scheduled deletion; the key comes back disabled.
    CancelDeletion,
    Enable,
    Alias,
    Policy(Value),
    Rotation,
    Tags(Tags),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create {
        alias: String,
        policy: Value,
        tags: Vec<(String, String)>,
    },
    Update {
        id: String,
        alias: String,
        fixes: Vec<Fix>,
    },
}

/// The key's op and change, and the key ARN the rest of the layer uses: the
/// key's, or `None` until the create makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub op: Option<(Op, Change)>,
    pub key: Option<(String, String)>,
}

/// The key's plan. Refused: an alias naming a key that is not ours, or two
/// live keys tagged as ours.
pub fn plan(ctx: &Context, keys: &Keys, policy: &Value) -> Result<Plan> {
    let name = alias(ctx);
    if let Some(a) = &keys.aliased {
        ctx.check_owned(KIND, &name, pairs(&a.tags), COMPONENT)?;
    }
    let live: Vec<&str> = keys
        .aliased
        .iter()
        .chain(&keys.tagged)
        .filter(|k| !k.deleting())
        .map(|k| k.arn.as_str())
        .collect();
    if live.len() > 1 {
        return Err(claims::refused(ctx, KIND, COMPONENT, &live));
    }
    let mut keys = keys.clone();
    let Some(kept) = keeper_mut(ctx, &mut keys).cloned() else {
        let op = Op::Create {
            alias: name.clone(),
            policy: policy.clone(),
            tags: ctx.tags(COMPONENT),
        };
        let change = Change::new(TOOL, Action::Create, KIND, &name);
        return Ok(Plan {
            op: Some((op, change)),
            key: None,
        });
    };
    let aliased = keys.aliased.as_ref().is_some_and(|a| a.id == kept.id);
    Ok(Plan {
        op: update(ctx, &kept, aliased, policy),
        key: Some((kept.id, kept.arn)),
    })
}

fn update(ctx: &Context, k: &FoundKey, aliased: bool, policy: &Value) -> Option<(Op, Change)> {
    let name = alias(ctx);
    let mut fixes = Vec::new();
    let mut change = Change::new(TOOL, Action::Update, KIND, &name).id(&k.id);
    if k.deleting() {
        fixes.extend([Fix::CancelDeletion, Fix::Enable]);
        change = change.field("state", &k.state, "Enabled");
    } else if k.state == "Disabled" {
        fixes.push(Fix::Enable);
        change = change.field("state", &k.state, "Enabled");
    }
    if !aliased {
        fixes.push(Fix::Alias);
        change = change.field("alias", serde_json::Value::Null, &name);
    }
    if k.policy.as_ref() != Some(policy) {
        fixes.push(Fix::Policy(policy.clone()));
        change = change.field("key_policy", &k.policy, policy);
    }
    if k.rotation != Some(true) {
        fixes.push(Fix::Rotation);
        change = change.field("rotation", k.rotation, true);
    }
    let missing = tagset::missing(&ctx.tags(COMPONENT), &k.tags);
    if !missing.is_empty() {
        let (from, to) = tagset::field(&missing, &k.tags);
        change = change.field("tags", from, to);
        fixes.push(Fix::Tags(missing));
    }
    (!fixes.is_empty()).then(|| {
        let op = Op::Update {
            id: k.id.clone(),
            alias: name,
            fixes,
        };
        (op, change)
    })
}

// ---------------------------------------------------------------------------
// Apply

/// Applies the key's op; the (id, ARN) of the key made, for a create.
pub async fn apply(
    ctx: &Context,
    kms: &aws_sdk_kms::Client,
    op: &Op,
) -> Result<Option<(String, String)>> {
    match op {
        Op::Create {
            alias,
            policy,
            tags,
        } => create(ctx, kms, alias, policy, tags).await.map(Some),
        Op::Update { id, alias, fixes } => {
            for fix in fixes {
                apply_fix(kms, id, alias, fix).await?;
            }
            Ok(None)
        }
    }
}

async fn create(
    ctx: &Context,
    kms: &aws_sdk_kms::Client,
    alias: &str,
    policy: &Value,
    tags: &[(String, String)],
) -> Result<(String, String)> {
    // Tagged at creation: a run that dies before CreateAlias leaves a key the
    // next one finds by its tags instead of making a second.
    let out = kms
        .create_key()
        .description(format!(
            "fargate-pipes {}/{}: CloudWatch Logs encryption",
            ctx.stack, ctx.env
        ))
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .policy(policy.to_string())
        .set_tags(Some(kms_tags(tags)?))
        .send()
        .await
        .map_err(|e| aws_error(format!("CreateKey {alias}"), e))?;
    let meta = out.key_metadata().ok_or_else(|| {
        Error::Aws(common::error::AwsError {
            op: format!("CreateKey {alias}"),
            code: None,
            message: "the answer holds no key".to_owned(),
            request_id: None,
            transient: false,
        })
    })?;
    let (id, arn) = (
        meta.key_id().to_owned(),
        meta.arn().unwrap_or_default().to_owned(),
    );
    apply_fix(kms, &id, alias, &Fix::Rotation).await?;
    apply_fix(kms, &id, alias, &Fix::Alias).await?;
    Ok((id, arn))
}

fn kms_tags(tags: &[(String, String)]) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| Error::spec(format!("invalid tag: {e}")))
        })
        .collect()
}

async fn apply_fix(kms: &aws_sdk_kms::Client, id: &str, alias: &str, fix: &Fix) -> Result<()> {
    let op = |what: &str| format!("{what} {alias}");
    // A key made a moment ago may not be visible to every KMS endpoint yet.
    retry::after_create(&op("KMS"), || async {
        let sent = match fix {
            Fix::CancelDeletion => kms
                .cancel_key_deletion()
                .key_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(op("CancelKeyDeletion"), e)),
            Fix::Enable => kms
                .enable_key()
                .key_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(op("EnableKey"), e)),
            Fix::Alias => kms
                .create_alias()
                .alias_name(alias)
                .target_key_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(op("CreateAlias"), e)),
            Fix::Policy(p) => kms
                .put_key_policy()
                .key_id(id)
                .policy_name(POLICY_NAME)
                .policy(p.to_string())
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(op("PutKeyPolicy"), e)),
            Fix::Rotation => kms
                .enable_key_rotation()
                .key_id(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(op("EnableKeyRotation"), e)),
            Fix::Tags(t) => {
                let pairs: Vec<(String, String)> = t.clone().into_iter().collect();
                kms.tag_resource()
                    .key_id(id)
                    .set_tags(Some(kms_tags(&pairs)?))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error(op("TagResource"), e))
            }
        };
        sent
    })
    .await
}

#[cfg(test)]
mod tests;
