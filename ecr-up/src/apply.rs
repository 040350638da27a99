//! Applying the plan: repositories are independent of each other, so their
//! ops run concurrently (a few at a time); each op's calls run in order and
//! its change is recorded once they are all made.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository, Tag,
};
use aws_sdk_ecr::Client;

use common::error::{aws_error, AwsError};
use common::tagset::Tags;
use common::{bounded, retry, Context, Error, Result};

use crate::plan::{Create, Fix, Op, Planned};
use crate::spec::{lifecycle_policy, Encryption};

/// What a create made: the repository's ARN and URI, by name.
pub type Made = BTreeMap<String, (String, String)>;

/// Applies every op; what the creates and replaces made.
pub async fn apply(ctx: &Context, planned: Vec<Planned>) -> Result<Made> {
    let ecr = Client::new(&ctx.sdk);
    let made = bounded::try_all(
        bounded::PER_SERVICE,
        planned.into_iter().map(|p| apply_one(&ecr, ctx, p)),
    )
    .await?;
    Ok(made.into_iter().flatten().collect())
}

async fn apply_one(
    ecr: &Client,
    ctx: &Context,
    p: Planned,
) -> Result<Option<(String, (String, String))>> {
    let made = match &p.op {
        Op::Create(c) => Some(create(ecr, c).await?),
        Op::Replace { create: c, .. } => {
            delete_empty(ecr, &c.name).await?;
            Some(create(ecr, c).await?)
        }
        Op::Update { name, arn, fixes } => {
            for fix in fixes {
                apply_fix(ecr, name, arn, fix).await?;
            }
            None
        }
    };
    let change = match &made {
        Some((_, (arn, _))) => p.change.id(arn),
        None => p.change,
    };
    ctx.report.change(change);
    Ok(made)
}

/// Creates the repository with everything in one call (tags, scan on push,
/// tag mutability, encryption: the last cannot be set later), then its
/// lifecycle policy. Returns (name, (ARN, URI)).
async fn create(ecr: &Client, c: &Create) -> Result<(String, (String, String))> {
    let tags: Vec<Tag> = c
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::spec(format!("invalid tag: {e}")))?;
    let s = &c.settings;
    let encryption = EncryptionConfiguration::builder()
        .encryption_type(match s.encryption {
            Encryption::Aes256 => EncryptionType::Aes256,
            Encryption::Kms => EncryptionType::Kms,
        })
        .set_kms_key(s.kms_key.clone())
        .build()
        .map_err(|e| Error::spec(format!("invalid encryption: {e}")))?;
    let op = format!("CreateRepository {}", c.name);
    let out = ecr
        .create_repository()
        .repository_name(&c.name)
        .set_tags(Some(tags))
        .image_scanning_configuration(scanning(s.scan_on_push))
        .image_tag_mutability(mutability(s.immutable_tags))
        .encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| aws_error(&op, e))?;
    let repo = out.repository().ok_or_else(|| odd(&op))?;
    put_lifecycle(ecr, &c.name, s.keep_images).await?;
    Ok((c.name.clone(), ids(repo)))
}

fn ids(repo: &Repository) -> (String, String) {
    (
        repo.repository_arn().unwrap_or_default().to_owned(),
        repo.repository_uri().unwrap_or_default().to_owned(),
    )
}

fn odd(op: &str) -> Error {
    Error::Aws(AwsError {
        op: op.to_owned(),
        code: None,
        message: "the answer holds no repository".to_owned(),
        request_id: None,
        transient: false,
    })
}

/// Deletes a repository without `force`: if an image was pushed since the
/// plan saw it empty, AWS refuses and the images stay.
async fn delete_empty(ecr: &Client, name: &str) -> Result<()> {
    match ecr.delete_repository().repository_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_empty_exception()) =>
        {
            Err(Error::spec(format!(
                "ECR repository {name} received images since the plan found it empty: \
                 its encryption cannot change; nothing else was replaced"
            )))
        }
        Err(e) => Err(aws_error(format!("DeleteRepository {name}"), e)),
    }
}

async fn apply_fix(ecr: &Client, name: &str, arn: &str, fix: &Fix) -> Result<()> {
    match fix {
        Fix::ScanOnPush(on) => ecr
            .put_image_scanning_configuration()
            .repository_name(name)
            .image_scanning_configuration(scanning(*on))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(format!("PutImageScanningConfiguration {name}"), e)),
        Fix::ImmutableTags(immutable) => ecr
            .put_image_tag_mutability()
            .repository_name(name)
            .image_tag_mutability(mutability(*immutable))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(format!("PutImageTagMutability {name}"), e)),
        Fix::KeepImages(keep) => put_lifecycle(ecr, name, *keep).await,
        Fix::Tags(tags) => tag(ecr, name, arn, tags).await,
    }
}

async fn tag(ecr: &Client, name: &str, arn: &str, tags: &Tags) -> Result<()> {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::spec(format!("invalid tag: {e}")))?;
    ecr.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_error(format!("TagResource {name}"), e))
}

/// Puts the lifecycle policy; a repository created a moment ago may not be
/// visible to every endpoint yet.
async fn put_lifecycle(ecr: &Client, name: &str, keep: u32) -> Result<()> {
    let text = lifecycle_policy(keep).to_string();
    retry::after_create(&format!("PutLifecyclePolicy {name}"), || async {
        ecr.put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(&text)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(format!("PutLifecyclePolicy {name}"), e))
    })
    .await
}

fn scanning(on: bool) -> ImageScanningConfiguration {
    ImageScanningConfiguration::builder()
        .scan_on_push(on)
        .build()
}

fn mutability(immutable: bool) -> ImageTagMutability {
    if immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}
