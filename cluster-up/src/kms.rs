//! Finding KMS keys: by alias, and by tag when the alias is gone.
//!
//! KMS has no tag filter: finding a key by its tags means listing every key of
//! the region and reading each one's tags. That is only done when the alias
//! does not answer (a run killed between CreateKey and CreateAlias, or a key
//! whose alias teardown removed) and by teardown.

use aws_sdk_kms::types::{KeyMetadata, KeyState};
use aws_sdk_kms::Client;

use common::naming::component_of;
use common::{join_all, retry, AwsResultExt, Context, Result};

/// The log key's component: `alias/{stack}--logs--{env}`, tagged `logs`.
pub const LOG_KEY: &str = "logs";

/// How many keys' tags are read at once (KMS's request quotas are per second).
const TAG_READS: usize = 8;

pub fn log_key_alias(ctx: &Context) -> String {
    format!("alias/{}", ctx.name(LOG_KEY))
}

/// A key by id, ARN or alias; `None` when there is no such key or alias.
pub async fn describe(kms: &Client, key: &str) -> Result<Option<KeyMetadata>> {
    match kms
        .describe_key()
        .key_id(key)
        .send()
        .await
        .aws(format!("DescribeKey {key}"))
    {
        Ok(out) => Ok(out.key_metadata().cloned()),
        Err(e) if retry::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A key's tags as (key, value) pairs.
pub async fn tags(kms: &Client, key_id: &str) -> Result<Vec<(String, String)>> {
    let tags = kms
        .list_resource_tags()
        .key_id(key_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("ListResourceTags {key_id}"))?;
    Ok(tags
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect())
}

pub fn owns(ctx: &Context, tags: &[(String, String)]) -> bool {
    ctx.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Every key of the region tagged for this stack and env, with its component
/// tag, in any state (callers decide what a key pending deletion means to them).
pub async fn owned_keys(kms: &Client, ctx: &Context) -> Result<Vec<(KeyMetadata, String)>> {
    let listed = kms
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("ListKeys")?;
    let ids: Vec<String> = listed
        .iter()
        .filter_map(|k| k.key_id().map(str::to_owned))
        .collect();
    let mut found = Vec::new();
    for chunk in ids.chunks(TAG_READS) {
        let read = join_all(chunk.iter().map(|id| async move {
            match tags(kms, id).await {
                Ok(t) => Ok(Some((id.clone(), t))),
                // AWS managed keys and keys deleted since the listing: not ours either way.
                Err(e)
                    if retry::is_not_found(&e)
                        || matches!(
                            e.aws_code(),
                            Some("AccessDeniedException" | "KMSInvalidStateException")
                        ) =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }))
        .await;
        for r in read {
            let Some((id, t)) = r? else { continue };
            if !owns(ctx, &t) {
                continue;
            }
            let component = component_of(t.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .unwrap_or_default()
                .to_owned();
            if let Some(meta) = describe(kms, &id).await? {
                found.push((meta, component));
            }
        }
    }
    Ok(found)
}

/// Live keys first (enabled, then disabled), keys pending deletion last; the
/// oldest first among equals, so every run picks the same one.
pub fn rank(meta: &KeyMetadata) -> (u8, i64) {
    let state = match meta.key_state() {
        Some(KeyState::Enabled) => 0,
        Some(KeyState::Disabled) => 1,
        Some(KeyState::PendingDeletion) => 2,
        _ => 3,
    };
    (state, meta.creation_date().map_or(0, |d| d.secs()))
}

/// Gone or going: not a key to count or to delete again.
pub fn is_deleting(meta: &KeyMetadata) -> bool {
    matches!(
        meta.key_state(),
        Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
    )
}
