//! Removing the ecr layer, as teardown walks it (`LAYER`, a
//! `common::layer::Layer`): discovery by name and tag, then deletion with the
//! images in them.
//!
//! ECR cannot filter repositories by tag: discovery lists the registry, keeps
//! this stack's and env's names (`{stack}/{env}/...`) and the ones the
//! document records, and reads each one's tags. Only those tagged with this
//! stack and env are deleted (another stack whose names start the same way is
//! never touched); a document name tagged for another stack or env is a
//! mismatch, refused before anything is deleted. Every repository of the stack
//! is ecr-up's, whatever its service, so the layer lists them all. Nothing in
//! AWS depends on a repository: they are deleted concurrently.

use aws_sdk_ecr::Client;
use futures_util::future::BoxFuture;

use common::error::aws_error;
use common::layer::{Layer, Owned, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Action, Change, Leftovers};
use common::sections::Ecr;
use common::tagset;
use common::{bounded, retry, Context, Document, Result};

use crate::plan::{KIND, TOOL};

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

/// Finds the stack's repositories: its names' shape and the document's names,
/// each kept only when its tags say this stack and env.
pub async fn discover(ctx: &Context, doc: &Document, mismatches: &Mismatches) -> Result<Found> {
    let ecr = Client::new(&ctx.sdk);
    let section: Option<Ecr> = doc.layer("ecr")?;
    let hints: Vec<String> = section
        .into_iter()
        .flat_map(|s| s.repositories.into_values().map(|r| r.name))
        .collect();
    let all = ecr
        .describe_repositories()
        .max_results(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("DescribeRepositories", e))?;
    let prefix = ctx.path("");
    let candidates = all.iter().filter_map(|r| {
        let name = r.repository_name()?;
        (name.starts_with(&prefix) || hints.iter().any(|h| h == name)).then(|| FoundRepository {
            name: name.to_owned(),
            arn: r.repository_arn().unwrap_or_default().to_owned(),
        })
    });
    let read = bounded::try_all(
        bounded::PER_SERVICE,
        candidates.map(|r| async {
            let tags = tags(&ecr, &r).await?;
            Ok((r, tags))
        }),
    )
    .await?;
    let mut repositories = Vec::new();
    for (r, tags) in read {
        let Some(tags) = tags else { continue };
        let pairs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        if hints.contains(&r.name) {
            mismatches.note(ctx, KIND, &r.name, pairs());
        }
        if ctx.owns(pairs()) {
            repositories.push(r);
        }
    }
    repositories.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Found { repositories })
}

/// A repository's tags; `None` when it was deleted since the listing.
async fn tags(ecr: &Client, r: &FoundRepository) -> Result<Option<tagset::Tags>> {
    match ecr
        .list_tags_for_resource()
        .resource_arn(&r.arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(tagset::collect(
            out.tags().iter().map(|t| (t.key(), t.value())),
        ))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("ListTagsForResource {}", r.name), e)),
    }
}

impl FoundRepository {
    fn change(&self) -> Change {
        Change::new(TOOL, Action::Delete, KIND, &self.name).id(&self.arn)
    }
}

/// Deletes one repository, images included (`force`), as teardown promises.
/// One that is already gone is done.
async fn delete(ecr: &Client, name: &str) -> Result<()> {
    let op = format!("DeleteRepository {name}");
    retry::delete(&op, || async {
        match ecr
            .delete_repository()
            .repository_name(name)
            .force(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error(&op, e)),
        }
    })
    .await
}

/// This layer, as teardown walks it.
#[derive(Debug)]
pub struct EcrLayer;

pub static LAYER: EcrLayer = EcrLayer;

impl Layer for EcrLayer {
    fn tool(&self) -> &'static str {
        TOOL
    }

    fn sections(&self) -> &'static [&'static str] {
        &["ecr"]
    }

    fn check(&self, doc: &Document) -> Result<()> {
        doc.layer::<Ecr>("ecr").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a Document,
        mismatches: &'a Mismatches,
    ) -> BoxFuture<'a, Result<Box<dyn Owned>>> {
        Box::pin(
            async move { Ok(Box::new(discover(ctx, doc, mismatches).await?) as Box<dyn Owned>) },
        )
    }
}

impl Owned for Found {
    /// The deletes, in any order: repositories depend on nothing.
    fn plan(&self, _ctx: &Context) -> Vec<Change> {
        self.repositories
            .iter()
            .map(FoundRepository::change)
            .collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: TeardownOptions,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let ecr = Client::new(&ctx.sdk);
            bounded::all(
                bounded::PER_SERVICE,
                self.repositories.iter().map(|r| {
                    let ecr = &ecr;
                    async move {
                        if left.attempt(KIND, &r.name, delete(ecr, &r.name)).await {
                            ctx.report.change(r.change());
                        }
                    }
                }),
            )
            .await;
        })
    }
}
