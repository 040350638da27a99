//! Removing the ecr layer: discovery by name and tag (and from the document),
//! then deletion with the images in them.
//!
//! ECR cannot filter repositories by tag, so discovery lists the registry,
//! keeps the names of this stack's shape (`{stack}-...-{env}`) and then checks
//! each one's tags: another stack whose name starts the same way (`demo` and
//! `demo-b`) is never touched. Repositories depend on nothing and nothing in
//! AWS depends on them, so they are deleted concurrently, in any order.

use aws_sdk_ecr::Client;

use common::plan::{Leftovers, Step};
use common::sections::Ecr;
use common::{join_all, retry, try_join_all, AwsResultExt, Context, Result};

const SECTION: &str = "ecr";
const KIND: &str = "ecr repository";

/// The repositories of this stack and env.
#[derive(Debug, Default)]
pub struct Found {
    pub repositories: Vec<FoundRepository>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRepository {
    pub name: String,
    pub arn: String,
}

/// Finds the stack's repositories: those named like this stack's and the
/// document's, each kept only when its tags say this stack and env.
pub async fn discover(ctx: &Context, section: Option<&Ecr>) -> Result<Found> {
    let ecr = Client::new(&ctx.sdk);
    let all = ecr
        .describe_repositories()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeRepositories")?;
    let prefix = ctx.path("");
    let listed: Vec<&str> = section
        .map(|s| s.repositories.values().map(|r| r.name.as_str()).collect())
        .unwrap_or_default();
    let candidates: Vec<FoundRepository> = all
        .iter()
        .filter_map(|r| {
            let name = r.repository_name()?;
            let shaped = name.starts_with(&prefix);
            (shaped || listed.contains(&name)).then(|| FoundRepository {
                name: name.to_owned(),
                arn: r.repository_arn().unwrap_or_default().to_owned(),
            })
        })
        .collect();
    let owned = try_join_all(candidates.into_iter().map(|r| {
        let ecr = &ecr;
        async move { Ok::<_, common::Error>(is_ours(ecr, ctx, &r).await?.then_some(r)) }
    }))
    .await?;
    let mut repositories: Vec<FoundRepository> = owned.into_iter().flatten().collect();
    repositories.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Found { repositories })
}

/// Whether a repository's tags say this stack and env; one deleted meanwhile is not.
async fn is_ours(ecr: &Client, ctx: &Context, repo: &FoundRepository) -> Result<bool> {
    match ecr
        .list_tags_for_resource()
        .resource_arn(&repo.arn)
        .send()
        .await
        .aws(format!("ListTagsForResource {}", repo.name))
    {
        Ok(out) => Ok(ctx.owns(out.tags().iter().map(|t| (t.key(), t.value())))),
        Err(e) if retry::is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.repositories.is_empty()
    }

    /// The deletions (in any order: repositories depend on nothing).
    pub fn steps(&self, _ctx: &Context) -> Vec<Step> {
        self.repositories
            .iter()
            .map(|r| Step {
                layer: SECTION,
                kind: KIND,
                id: r.arn.clone(),
                name: r.name.clone(),
            })
            .collect()
    }

    /// Deletes every repository found, images included; what fails is recorded.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        let ecr = Client::new(&ctx.sdk);
        join_all(self.repositories.iter().map(|r| {
            let ecr = &ecr;
            async move {
                let op = format!("DeleteRepository {}", r.name);
                let ok = left
                    .attempt(
                        KIND,
                        &r.name,
                        retry::delete(&op, || async {
                            // force: a repository's images go with it, as teardown promises.
                            ecr.delete_repository()
                                .repository_name(&r.name)
                                .force(true)
                                .send()
                                .await
                                .map(|_| ())
                                .aws(&op)
                        }),
                    )
                    .await;
                if ok {
                    ctx.report.deleted(KIND, &r.name);
                }
            }
        }))
        .await;
    }
}

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct EcrLayer;

pub static LAYER: EcrLayer = EcrLayer;

impl common::layer::Layer for EcrLayer {
    fn tool(&self) -> &'static str {
        "ecr-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["ecr"]
    }

    fn check(&self, doc: &common::Document) -> Result<()> {
        doc.layer::<Ecr>("ecr").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a common::Document,
        _mismatches: &'a common::owner::Mismatches,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn common::layer::Owned>>> {
        Box::pin(async move {
            let ecr: Option<Ecr> = doc.layer("ecr")?;
            Ok(Box::new(discover(ctx, ecr.as_ref()).await?) as Box<dyn common::layer::Owned>)
        })
    }
}

impl common::layer::Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<common::plan::Change> {
        self.steps(ctx).iter().map(|s| s.change("ecr-up")).collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: common::layer::TeardownOptions,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(Found::delete_all(*self, ctx, left))
    }
}
