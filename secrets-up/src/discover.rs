//! What exists: this stack's and env's secrets, found by tag in one listing
//! (ListSecrets returns each secret's tags, key, description and versions),
//! plus what the listing cannot show. Reads only.
//!
//! - A wanted name the listing did not return may still exist, untagged or
//!   another stack's: DescribeSecret tells, so the plan refuses it instead of
//!   the create failing half-way.
//! - The document's ARNs and names are hints: those of another stack or env
//!   go into `Mismatches`.
//! - A secret given a value on this run has its current value read (in
//!   memory, compared by the plan, never shown), so passing the same value
//!   again stores nothing.
//!
//! ListSecrets' tag filters match prefixes (stack `shop` also finds
//! `shop-b`'s secrets), so every entry is checked against the exact tags.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry, Tag};
use aws_sdk_secretsmanager::Client;

use common::error::aws_error;
use common::naming::TAG_STACK;
use common::owner::Mismatches;
use common::tagset::{self, Tags};
use common::{bounded, Context, Result};

use crate::plan::KIND;
use crate::spec::Wanted;
use crate::values::SecretValue;

/// The stage of a secret's current version.
pub const CURRENT: &str = "AWSCURRENT";

/// One secret as the plan sees it.
#[derive(Debug, Default, PartialEq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    /// As Secrets Manager reports it (key id or ARN); `None`: the AWS managed key.
    pub kms_key: Option<String>,
    pub tags: Tags,
    /// Scheduled for deletion (by teardown, or by a prune).
    pub scheduled: bool,
    pub has_value: bool,
    /// The current value, read only when this run was given one to store.
    pub current: Current,
}

/// A secret's current value, as far as this run read it.
#[derive(Debug, Default, PartialEq)]
pub enum Current {
    /// Not read: no value was given for it, or it has none.
    #[default]
    NotRead,
    Value(SecretValue),
    /// Reading it was denied (a role that may write but not read).
    Unreadable,
}

/// Everything the plan needs.
#[derive(Debug, Default, PartialEq)]
pub struct Actual {
    /// Secrets tagged with this stack and env, and the wanted names that exist
    /// without those tags, by name.
    pub secrets: BTreeMap<String, Found>,
}

/// Reads what exists. `hints` are the document's ARNs and names.
pub async fn discover(
    ctx: &Context,
    wanted: &[Wanted],
    given: &BTreeMap<String, SecretValue>,
    hints: &[String],
    mismatches: &Mismatches,
) -> Result<Actual> {
    let sm = Client::new(&ctx.sdk);
    let mut secrets: BTreeMap<String, Found> = list_tagged(&sm, ctx)
        .await?
        .iter()
        .map(found)
        .map(|f| (f.name.clone(), f))
        .collect();
    let unseen: Vec<String> = wanted
        .iter()
        .map(|w| ctx.name(&w.short))
        .filter(|n| !secrets.contains_key(n))
        .chain(hints.iter().filter(|h| !known(&secrets, h)).cloned())
        .collect();
    let described = bounded::try_all(
        bounded::PER_SERVICE,
        unseen.iter().map(|id| describe(&sm, id)),
    )
    .await?;
    for (id, f) in unseen.iter().zip(described) {
        if let Some(f) = f {
            if hints.contains(id) {
                mismatches.note(ctx, KIND, id, pairs(&f.tags));
            }
            secrets.entry(f.name.clone()).or_insert(f);
        }
    }
    read_current(&sm, ctx, wanted, given, &mut secrets).await?;
    Ok(Actual { secrets })
}

fn known(secrets: &BTreeMap<String, Found>, id: &str) -> bool {
    secrets.values().any(|f| f.arn == id || f.name == id)
}

pub fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Every secret tagged with this stack and env, scheduled ones included.
pub(crate) async fn list_tagged(sm: &Client, ctx: &Context) -> Result<Vec<SecretListEntry>> {
    let filter =
        |key: FilterNameStringType, value: &str| Filter::builder().key(key).values(value).build();
    let pages = sm
        .list_secrets()
        .filters(filter(FilterNameStringType::TagKey, TAG_STACK))
        .filters(filter(FilterNameStringType::TagValue, &ctx.stack))
        .include_planned_deletion(true)
        .max_results(100)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListSecrets", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.secret_list())
        .filter(|s| ctx.owns(s.tags().iter().map(tag_pair)))
        .cloned()
        .collect())
}

fn tag_pair(t: &Tag) -> (&str, &str) {
    (t.key().unwrap_or_default(), t.value().unwrap_or_default())
}

pub(crate) fn found(s: &SecretListEntry) -> Found {
    Found {
        name: s.name().unwrap_or_default().to_owned(),
        arn: s.arn().unwrap_or_default().to_owned(),
        description: s.description().map(str::to_owned),
        kms_key: s.kms_key_id().map(str::to_owned),
        tags: tagset::collect(s.tags().iter().map(tag_pair)),
        scheduled: s.deleted_date().is_some(),
        has_value: has_current(s.secret_versions_to_stages()),
        current: Current::NotRead,
    }
}

pub fn has_current(stages: Option<&std::collections::HashMap<String, Vec<String>>>) -> bool {
    stages.is_some_and(|s| s.values().any(|v| v.iter().any(|stage| stage == CURRENT)))
}

/// A secret by name or ARN, whoever's it is; `None` when there is none.
pub(crate) async fn describe(sm: &Client, id: &str) -> Result<Option<Found>> {
    match sm.describe_secret().secret_id(id).send().await {
        Ok(d) => Ok(Some(Found {
            name: d.name().unwrap_or_default().to_owned(),
            arn: d.arn().unwrap_or_default().to_owned(),
            description: d.description().map(str::to_owned),
            kms_key: d.kms_key_id().map(str::to_owned),
            tags: tagset::collect(d.tags().iter().map(tag_pair)),
            scheduled: d.deleted_date().is_some(),
            has_value: has_current(d.version_ids_to_stages()),
            current: Current::NotRead,
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("DescribeSecret {id}"), e)),
    }
}

/// Reads the current value of each of our secrets this run was given a value
/// for, so the plan can tell an unchanged value from a new one.
async fn read_current(
    sm: &Client,
    ctx: &Context,
    wanted: &[Wanted],
    given: &BTreeMap<String, SecretValue>,
    secrets: &mut BTreeMap<String, Found>,
) -> Result<()> {
    let to_read: Vec<String> = wanted
        .iter()
        .filter(|w| given.contains_key(&w.short))
        .map(|w| ctx.name(&w.short))
        .filter(|n| {
            secrets.get(n).is_some_and(|f| {
                // Never read a value that is not ours.
                f.has_value && ctx.owns(pairs(&f.tags))
            })
        })
        .collect();
    let read = bounded::try_all(
        bounded::PER_SERVICE,
        to_read.iter().map(|name| current(sm, name)),
    )
    .await?;
    for (name, c) in to_read.iter().zip(read) {
        if let Some(f) = secrets.get_mut(name) {
            f.current = c;
        }
    }
    Ok(())
}

async fn current(sm: &Client, name: &str) -> Result<Current> {
    let out = sm
        .get_secret_value()
        .secret_id(name)
        .version_stage(CURRENT)
        .send()
        .await;
    match out {
        Ok(v) => Ok(v.secret_string().map_or(Current::Unreadable, |s| {
            Current::Value(SecretValue::new(s.to_owned()))
        })),
        // Not worth naming as an error: a role may be allowed to write and not to read.
        // Not modelled for this operation: AWS's generic access error.
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("AccessDeniedException") => {
            tracing::warn!("cannot read secret {name} to compare: a value given is stored as new");
            Ok(Current::Unreadable)
        }
        Err(e) => Err(aws_error(format!("GetSecretValue {name}"), e)),
    }
}
