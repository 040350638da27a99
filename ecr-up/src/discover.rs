//! What exists: this stack's and env's repositories, and the ones the
//! document names, with everything the plan compares. Reads only.
//!
//! ECR has no tag filter, and DescribeRepositories given a list of names
//! fails whole when one of them does not exist; so the registry is listed
//! (1000 repositories a page) and kept to this stack's and env's names
//! (`{stack}/{env}/`, never shortened) and the document's. Each one's tags
//! (ListTagsForResource) say whose it is; the lifecycle policy is read only
//! for the repositories the spec wants. A repository whose encryption differs
//! from the spec is also asked whether it holds images (it can be replaced
//! only empty), and a KMS key named by alias is resolved to compare it.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::Repository;
use aws_sdk_ecr::Client;
use serde_json::Value;

use common::error::aws_error;
use common::owner::Mismatches;
use common::tagset::{self, Tags};
use common::{bounded, Context, Error, Result};

use crate::plan::{encryption_matches, KIND};
use crate::spec::{Desired, Encryption};

/// A repository as the plan sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Repo {
    pub name: String,
    pub arn: String,
    pub uri: String,
    pub tags: Tags,
    pub scan_on_push: bool,
    /// `IMMUTABLE`, `MUTABLE`, or one of the `..._WITH_EXCLUSION` forms.
    pub mutability: String,
    /// `AES256`, `KMS` or `KMS_DSSE`.
    pub encryption: String,
    /// The key ARN, with KMS.
    pub kms_key: Option<String>,
    /// The lifecycle policy, parsed (`Some(Null)`: there is one, not JSON).
    /// Read only for the repositories the spec wants.
    pub lifecycle: Option<Value>,
    /// Whether it holds no image; asked only when its encryption differs.
    pub empty: Option<bool>,
}

/// Everything the plan needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actual {
    /// By name: this stack's and env's repositories, and the document's.
    pub repos: BTreeMap<String, Repo>,
    /// The ARN of the key `spec.ecr.kms_key` names, when it had to be resolved.
    pub wanted_key_arn: Option<String>,
}

/// Reads what exists. `hints` are the repository names the document records;
/// those of another stack or env go into `mismatches`.
pub async fn discover(
    ctx: &Context,
    desired: &Desired,
    hints: &[String],
    mismatches: &Mismatches,
) -> Result<Actual> {
    let ecr = Client::new(&ctx.sdk);
    let prefix = ctx.path("");
    let wanted: Vec<String> = desired.services.iter().map(|s| ctx.path(s)).collect();
    let listed = list(&ecr).await?;
    let candidates = listed.iter().filter(|r| {
        let name = r.repository_name().unwrap_or_default();
        name.starts_with(&prefix) || hints.iter().any(|h| h == name)
    });
    let read = bounded::try_all(
        bounded::PER_SERVICE,
        candidates.map(|r| read_repo(&ecr, r, &wanted)),
    )
    .await?;
    let repos: BTreeMap<String, Repo> = read
        .into_iter()
        .flatten()
        .map(|r| (r.name.clone(), r))
        .collect();
    for hint in hints {
        if let Some(r) = repos.get(hint) {
            let pairs = r.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            mismatches.note(ctx, KIND, hint, pairs);
        }
    }
    let mut actual = Actual {
        repos,
        wanted_key_arn: None,
    };
    actual.wanted_key_arn = resolve_key(ctx, desired, &actual, &wanted).await?;
    ask_emptiness(&ecr, desired, &mut actual, &wanted).await?;
    Ok(actual)
}

/// Every repository of the registry.
async fn list(ecr: &Client) -> Result<Vec<Repository>> {
    ecr.describe_repositories()
        .max_results(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("DescribeRepositories", e))
}

/// One repository's tags, and its lifecycle policy when it is wanted; `None`
/// when it went away since the listing.
async fn read_repo(ecr: &Client, r: &Repository, wanted: &[String]) -> Result<Option<Repo>> {
    let name = r.repository_name().unwrap_or_default().to_owned();
    let arn = r.repository_arn().unwrap_or_default().to_owned();
    let tags = match ecr.list_tags_for_resource().resource_arn(&arn).send().await {
        Ok(out) => tagset::collect(out.tags().iter().map(|t| (t.key(), t.value()))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(aws_error(format!("ListTagsForResource {name}"), e)),
    };
    let lifecycle = if wanted.contains(&name) {
        lifecycle(ecr, &name).await?
    } else {
        None
    };
    let encryption = r.encryption_configuration();
    Ok(Some(Repo {
        uri: r.repository_uri().unwrap_or_default().to_owned(),
        tags,
        scan_on_push: r
            .image_scanning_configuration()
            .is_some_and(|c| c.scan_on_push()),
        mutability: r
            .image_tag_mutability()
            .map_or("MUTABLE", |m| m.as_str())
            .to_owned(),
        encryption: encryption
            .map_or("AES256", |e| e.encryption_type().as_str())
            .to_owned(),
        kms_key: encryption.and_then(|e| e.kms_key()).map(str::to_owned),
        lifecycle,
        empty: None,
        name,
        arn,
    }))
}

/// The lifecycle policy, parsed; text that is not JSON reads as `Null` (a
/// policy to replace, not an error).
async fn lifecycle(ecr: &Client, name: &str) -> Result<Option<Value>> {
    match ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.lifecycle_policy_text()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(Value::Null),
        )),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_lifecycle_policy_not_found_exception() || s.is_repository_not_found_exception()
            }) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("GetLifecyclePolicy {name}"), e)),
    }
}

/// Resolves `spec.ecr.kms_key` to a key ARN when a wanted repository is
/// KMS-encrypted and the spec names its key by alias (a key id or key ARN is
/// compared as it is). An alias that names no key is the spec's error.
async fn resolve_key(
    ctx: &Context,
    desired: &Desired,
    actual: &Actual,
    wanted: &[String],
) -> Result<Option<String>> {
    let s = &desired.settings;
    let Some(key) = s.kms_key.as_deref() else {
        return Ok(None);
    };
    let needed = s.encryption == Encryption::Kms
        && key.contains("alias/")
        && wanted
            .iter()
            .filter_map(|n| actual.repos.get(n))
            .any(|r| r.encryption == "KMS");
    if !needed {
        return Ok(None);
    }
    let kms = aws_sdk_kms::Client::new(&ctx.sdk);
    match kms.describe_key().key_id(key).send().await {
        Ok(out) => Ok(out.key_metadata().and_then(|m| m.arn()).map(str::to_owned)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Err(Error::spec(format!(
                "spec.ecr.kms_key: no KMS key or alias '{}' in {}",
                common::error::shown(key),
                ctx.region
            )))
        }
        Err(e) => Err(aws_error(format!("DescribeKey {key}"), e)),
    }
}

/// Asks each wanted repository whose encryption differs from the spec whether
/// it holds an image: only an empty one may be replaced.
async fn ask_emptiness(
    ecr: &Client,
    desired: &Desired,
    actual: &mut Actual,
    wanted: &[String],
) -> Result<()> {
    let key = actual.wanted_key_arn.clone();
    let differing: Vec<String> = wanted
        .iter()
        .filter(|n| {
            actual
                .repos
                .get(*n)
                .is_some_and(|r| !encryption_matches(&desired.settings, key.as_deref(), r))
        })
        .cloned()
        .collect();
    let answers = bounded::try_all(
        bounded::PER_SERVICE,
        differing.iter().map(|name| async move {
            let out = ecr
                .list_images()
                .repository_name(name)
                .max_results(1)
                .send()
                .await
                .map_err(|e| aws_error(format!("ListImages {name}"), e))?;
            Ok((name.clone(), out.image_ids().is_empty()))
        }),
    )
    .await?;
    for (name, empty) in answers {
        if let Some(r) = actual.repos.get_mut(&name) {
            r.empty = Some(empty);
        }
    }
    Ok(())
}
