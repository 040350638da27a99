//! Removing the cluster layer: discovery by name and tag (and from the
//! document), then deletion.
//!
//! The cluster goes first: ECS refuses while services or tasks remain, which
//! the svc layer's teardown removes before this one runs, so those refusals are
//! waited out for a bounded time. Roles are found by listing our role path, so
//! the later layers' task roles of this stack and env go too (a safety net for a
//! teardown that lost the document). KMS keys cannot be deleted at once: each
//! loses its alias and is scheduled for deletion after the 7-day minimum; a
//! stack brought up again within that week gets the same key back.

use aws_sdk_ecs::types::ClusterField;

use common::plan::{Leftovers, Step};
use common::sections::Cluster;
use common::{iam, join_all, retry, AwsResultExt, Context, Result};

use crate::kms as keys;

const SECTION: &str = "cluster";
/// KMS's shortest waiting period.
const KEY_DELETION_DAYS: i32 = 7;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCluster {
    pub name: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRole {
    pub name: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundKey {
    pub id: String,
    pub arn: String,
    pub aliases: Vec<String>,
}

/// Everything of the cluster layer that belongs to this stack and env.
#[derive(Debug, Default)]
pub struct Found {
    pub clusters: Vec<FoundCluster>,
    pub roles: Vec<FoundRole>,
    pub keys: Vec<FoundKey>,
}

/// Finds the layer's resources: the cluster by name (ours and the document's,
/// confirmed by tags), every role of the stack and env, the log key by alias
/// and every key tagged for the stack and env that is not already going away.
pub async fn discover(ctx: &Context, section: Option<&Cluster>) -> Result<Found> {
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let iam_client = aws_sdk_iam::Client::new(&ctx.sdk);
    let kms = aws_sdk_kms::Client::new(&ctx.sdk);
    let mut names = vec![ctx.name("cluster")];
    if let Some(doc_name) = section.map(|c| c.name.as_str()) {
        if !doc_name.is_empty() && !names.iter().any(|n| n == doc_name) {
            names.push(doc_name.to_owned());
        }
    }
    let (clusters, roles, keys) = tokio::try_join!(
        find_clusters(&ecs, ctx, &names),
        iam::owned_roles(&iam_client, ctx),
        find_keys(&kms, ctx),
    )?;
    Ok(Found {
        clusters,
        roles: roles
            .iter()
            .map(|r| FoundRole {
                name: r.role_name().to_owned(),
                arn: r.arn().to_owned(),
            })
            .collect(),
        keys,
    })
}

async fn find_clusters(
    ecs: &aws_sdk_ecs::Client,
    ctx: &Context,
    names: &[String],
) -> Result<Vec<FoundCluster>> {
    let out = ecs
        .describe_clusters()
        .set_clusters(Some(names.to_vec()))
        .include(ClusterField::Tags)
        .send()
        .await
        .aws("DescribeClusters")?;
    let mut found = Vec::new();
    for c in out.clusters() {
        if c.status() != Some("ACTIVE") {
            continue;
        }
        let name = c.cluster_name().unwrap_or_default();
        let tags = c
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        if ctx.owns(tags) {
            found.push(FoundCluster {
                name: name.to_owned(),
                arn: c.cluster_arn().unwrap_or_default().to_owned(),
            });
        } else {
            tracing::warn!(
                "ECS cluster {name} is not tagged for {}/{}: left alone",
                ctx.stack,
                ctx.env
            );
        }
    }
    Ok(found)
}

async fn find_keys(kms: &aws_sdk_kms::Client, ctx: &Context) -> Result<Vec<FoundKey>> {
    let mut metas = Vec::new();
    if let Some(meta) = keys::describe(kms, &keys::log_key_alias(ctx)).await? {
        if keys::owns(ctx, &keys::tags(kms, meta.key_id()).await?) {
            metas.push(meta);
        }
    }
    for (meta, _) in keys::owned_keys(kms, ctx).await? {
        if !metas.iter().any(|m| m.key_id() == meta.key_id()) {
            metas.push(meta);
        }
    }
    let mut found = Vec::new();
    for meta in metas.into_iter().filter(|m| !keys::is_deleting(m)) {
        let aliases = kms
            .list_aliases()
            .key_id(meta.key_id())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws(format!("ListAliases {}", meta.key_id()))?;
        found.push(FoundKey {
            id: meta.key_id().to_owned(),
            arn: meta.arn().unwrap_or_default().to_owned(),
            aliases: aliases
                .iter()
                .filter_map(|a| a.alias_name().map(str::to_owned))
                .collect(),
        });
    }
    Ok(found)
}

impl FoundKey {
    /// The key's name for people: its alias, else its id.
    fn label(&self) -> &str {
        self.aliases
            .first()
            .map_or(self.id.as_str(), String::as_str)
    }
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty() && self.roles.is_empty() && self.keys.is_empty()
    }

    /// The deletions, in order.
    pub fn steps(&self, _ctx: &Context) -> Vec<Step> {
        let mut steps = Vec::new();
        steps.extend(self.clusters.iter().map(|c| Step {
            layer: SECTION,
            kind: "ecs cluster",
            id: c.arn.clone(),
            name: c.name.clone(),
        }));
        steps.extend(self.roles.iter().map(|r| Step {
            layer: SECTION,
            kind: "iam role",
            id: r.arn.clone(),
            name: r.name.clone(),
        }));
        steps.extend(self.keys.iter().map(|k| Step {
            layer: SECTION,
            kind: "kms key",
            id: k.id.clone(),
            name: k.label().to_owned(),
        }));
        steps
    }

    /// Deletes everything found; what fails is recorded in `left`.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
        let iam_client = aws_sdk_iam::Client::new(&ctx.sdk);
        let kms = aws_sdk_kms::Client::new(&ctx.sdk);
        let report = &ctx.report;

        // 1. The cluster: its exec configuration names the key and its tasks run
        //    as the roles, so it goes before them.
        for c in &self.clusters {
            if left
                .attempt("ecs cluster", &c.name, delete_cluster(&ecs, &c.name))
                .await
            {
                report.deleted("ecs cluster", &c.name);
            }
        }

        // 2. Roles and keys are independent of each other.
        let roles = join_all(self.roles.iter().map(|r| {
            let iam_client = &iam_client;
            async move {
                if left
                    .attempt("iam role", &r.name, iam::delete_role(iam_client, &r.name))
                    .await
                {
                    report.deleted("iam role", &r.name);
                }
            }
        }));
        let keys = join_all(self.keys.iter().map(|k| {
            let kms = &kms;
            async move {
                if left.attempt("kms key", k.label(), delete_key(kms, k)).await {
                    report.deleted("kms key", k.label());
                }
            }
        }));
        tokio::join!(roles, keys);
    }
}

/// Deletes a cluster, waiting out the services and tasks the svc layer's
/// teardown is still draining. A cluster that is gone is done.
async fn delete_cluster(ecs: &aws_sdk_ecs::Client, name: &str) -> Result<()> {
    let busy = |e: &common::Error| {
        retry::is_dependency(e)
            || matches!(
                e.aws_code(),
                Some(
                    "ClusterContainsServicesException"
                        | "ClusterContainsTasksException"
                        | "ClusterContainsContainerInstancesException"
                        | "UpdateInProgressException"
                )
            )
    };
    let deleted = retry::retry(
        &format!("DeleteCluster {name}"),
        retry::Policy::dependency(),
        busy,
        || async {
            ecs.delete_cluster()
                .cluster(name)
                .send()
                .await
                .map(|_| ())
                .aws(format!("DeleteCluster {name}"))
        },
    )
    .await;
    match deleted {
        Err(e) if retry::is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// Removes a key's aliases (so the name is free at once) and schedules the key
/// for deletion after KMS's minimum waiting period.
async fn delete_key(kms: &aws_sdk_kms::Client, key: &FoundKey) -> Result<()> {
    for alias in &key.aliases {
        retry::delete(&format!("DeleteAlias {alias}"), || async {
            kms.delete_alias()
                .alias_name(alias)
                .send()
                .await
                .map(|_| ())
                .aws(format!("DeleteAlias {alias}"))
        })
        .await?;
    }
    retry::delete(&format!("ScheduleKeyDeletion {}", key.id), || async {
        kms.schedule_key_deletion()
            .key_id(&key.id)
            .pending_window_in_days(KEY_DELETION_DAYS)
            .send()
            .await
            .map(|_| ())
            .aws(format!("ScheduleKeyDeletion {}", key.label()))
    })
    .await
}

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct ClusterLayer;

pub static LAYER: ClusterLayer = ClusterLayer;

impl common::layer::Layer for ClusterLayer {
    fn tool(&self) -> &'static str {
        "cluster-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["cluster"]
    }

    fn check(&self, doc: &common::Document) -> Result<()> {
        doc.layer::<Cluster>("cluster").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a common::Document,
        _mismatches: &'a common::owner::Mismatches,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn common::layer::Owned>>> {
        Box::pin(async move {
            let cluster: Option<Cluster> = doc.layer("cluster")?;
            Ok(Box::new(discover(ctx, cluster.as_ref()).await?) as Box<dyn common::layer::Owned>)
        })
    }
}

impl common::layer::Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<common::plan::Change> {
        self.steps(ctx)
            .iter()
            .map(|s| s.change("cluster-up"))
            .collect()
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
