//! Which image each service runs, settled after discovery and before the plan
//! (reads only):
//!
//! - a service whose spec names no image (`image`, `image_tag`, `--image`)
//!   keeps the image of the revision it runs, so a re-run of the stack file
//!   never rolls a deploy back (nor redeploys one the circuit breaker undid);
//! - a new one of those gets the newest image pushed to its ECR repository:
//!   ECR repositories are immutable by default, so a moving `latest` tag
//!   cannot be the default; while the repository is empty it gets the
//!   placeholder `latest` and a warning saying how to deploy an image;
//! - an image the spec names in one of the stack's own repositories must be
//!   there (DescribeImages) before anything changes: a missing tag is exit 5.

use aws_sdk_ecr::types::{ImageDetail, ImageIdentifier};

use common::plan::is_planned;
use common::sections::Ecr;
use common::spec::image;
use common::{bounded, AwsResultExt, Context, Error, Result};

use crate::actual::Actual;
use crate::aws::Clients;
use crate::spec::{Planned, PLACEHOLDER_TAG};

/// Settles `services`' images against what runs and what ECR holds, a few
/// services at a time.
pub async fn settle(
    ctx: &Context,
    c: &Clients,
    repositories: Option<&Ecr>,
    services: &mut [Planned],
    found: &Actual,
) -> Result<()> {
    let images = bounded::try_all(
        bounded::PER_SERVICE,
        services
            .iter()
            .map(|s| settle_one(ctx, c, repositories, s, found)),
    )
    .await?;
    for (s, image) in services.iter_mut().zip(images) {
        s.image = image;
    }
    Ok(())
}

/// The image one service runs.
async fn settle_one(
    ctx: &Context,
    c: &Clients,
    repositories: Option<&Ecr>,
    s: &Planned,
    found: &Actual,
) -> Result<String> {
    let ecr = &c.ecr;
    if s.image_given {
        // An image the latest revision already runs was there when it was
        // deployed: a re-run reads ECR only for a new one.
        let latest = found.taskdefs.get(&ctx.name(&s.name));
        if latest.and_then(|h| h.shape["image"].as_str()) != Some(s.image.as_str()) {
            check_exists(ecr, repositories, s).await?;
        }
        return Ok(s.image.clone());
    }
    if let Some(image) = running(ctx, &c.ecs, s, found).await? {
        return Ok(image);
    }
    let Some((name, url)) = s.repository.as_ref().filter(|(_, url)| !is_planned(url)) else {
        return Ok(s.image.clone());
    };
    let newest = newest(ecr, name, url).await?;
    Ok(newest.unwrap_or_else(|| {
        tracing::warn!(
            "{}: repository {name} holds no image yet; the service starts with {url}:{PLACEHOLDER_TAG}, \
             which cannot run until pushed: push an image, then svc-up --image {}=:TAG",
            s.name,
            s.name
        );
        s.image.clone()
    }))
}

/// The image of the revision the service runs: its family's latest, unless
/// the service runs an earlier one (a deployment the circuit breaker rolled
/// back), which is read on its own.
async fn running(
    ctx: &Context,
    ecs: &aws_sdk_ecs::Client,
    s: &Planned,
    found: &Actual,
) -> Result<Option<String>> {
    let name = ctx.name(&s.name);
    let latest = found.taskdefs.get(&name);
    let runs = found
        .services
        .iter()
        .find(|h| h.name == name && h.status == "ACTIVE")
        .and_then(|h| h.task_definition.as_deref());
    match (runs, latest) {
        (Some(arn), Some(l)) if arn != l.arn => {
            let out = ecs
                .describe_task_definition()
                .task_definition(arn)
                .send()
                .await
                .aws(format!("DescribeTaskDefinition {arn}"))?;
            let image = out
                .task_definition()
                .and_then(|td| td.container_definitions().first())
                .and_then(|c| c.image());
            Ok(image.map(str::to_owned))
        }
        (_, Some(l)) => Ok(l.shape["image"].as_str().map(str::to_owned)),
        (_, None) => Ok(None),
    }
}

/// The newest image of a repository, by tag when it has one, else by digest.
async fn newest(ecr: &aws_sdk_ecr::Client, name: &str, url: &str) -> Result<Option<String>> {
    let images: Vec<ImageDetail> = ecr
        .describe_images()
        .repository_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .aws(format!("DescribeImages {name}"))?;
    let newest = images
        .iter()
        .max_by_key(|i| i.image_pushed_at().map(|t| t.secs()));
    Ok(
        newest.and_then(|i| match (i.image_tags().first(), i.image_digest()) {
            (Some(tag), _) => Some(format!("{url}:{tag}")),
            (None, Some(digest)) => Some(format!("{url}@{digest}")),
            (None, None) => None,
        }),
    )
}

/// A named image in one of the stack's repositories must exist there.
async fn check_exists(
    ecr: &aws_sdk_ecr::Client,
    repositories: Option<&Ecr>,
    s: &Planned,
) -> Result<()> {
    let Ok(reference) = image::parse(&s.image) else {
        return Ok(()); // checked with the spec already
    };
    let Some(repo) = repositories.and_then(|e| {
        e.repositories
            .values()
            .find(|r| r.url == reference.repository && !is_planned(&r.url))
    }) else {
        return Ok(());
    };
    let id = match (reference.digest, reference.tag) {
        (Some(d), _) => ImageIdentifier::builder().image_digest(d).build(),
        (None, Some(t)) => ImageIdentifier::builder().image_tag(t).build(),
        (None, None) => ImageIdentifier::builder().image_tag("latest").build(),
    };
    let answer = ecr
        .batch_get_image()
        .repository_name(&repo.name)
        .image_ids(id)
        .send()
        .await
        .aws(format!("BatchGetImage {}", repo.name))?;
    if answer.images().is_empty() {
        return Err(Error::spec(format!(
            "spec.services.{}: image {} is not in repository {}: push it first, or deploy \
             an image it holds (aws ecr list-images --repository-name {})",
            s.name, s.image, repo.name, repo.name
        )));
    }
    Ok(())
}
