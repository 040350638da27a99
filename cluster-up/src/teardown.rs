//! Removing the cluster layer, as teardown walks it (`LAYER`, a
//! `common::layer::Layer`): discovery by tag (and the document's ids, checked
//! by their tags), then deletion in AWS's order.
//!
//! The layer lists only its own components: clusters tagged `cluster`, roles
//! tagged `task-execution` (the services' task roles are svc-up's), keys
//! tagged `logs`. Each is found by tag, not by name alone, so duplicates
//! (a killed run's second key) go too. The cluster goes first: ECS refuses
//! while services or tasks remain, which the svc layer's teardown removes
//! before this one runs, so those refusals are waited out for a bounded time.
//! KMS keys cannot be deleted at once: each loses its aliases (the name is
//! free again) and is scheduled for deletion after KMS's 7-day minimum; a
//! stack brought up again within that week gets the same key back, and the
//! log groups encrypted with it stay readable meanwhile.

use aws_sdk_ecs::types::ClusterField;
use futures_util::future::BoxFuture;

use common::error::aws_error;
use common::iam::{delete_role, ROLE_PATH};
use common::layer::{Layer, Owned, TeardownOptions};
use common::naming::{component_of, name_prefix};
use common::owner::Mismatches;
use common::plan::{Action, Change, Leftovers};
use common::sections::Cluster;
use common::tagset::{self, Tags};
use common::{bounded, retry, Context, Document, Error, Result};

use crate::discover::Hints;
use crate::{cluster, key, role, TOOL};

/// KMS's shortest waiting period.
const KEY_DELETION_DAYS: i32 = 7;

/// One resource to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: &'static str,
    pub name: String,
    pub id: String,
    /// A key's aliases, removed before its deletion is scheduled.
    pub aliases: Vec<String>,
}

impl Item {
    fn change(&self) -> Change {
        Change::new(TOOL, Action::Delete, self.kind, &self.name).id(&self.id)
    }
}

/// Everything of the cluster layer that belongs to this stack and env.
#[derive(Debug, Default)]
pub struct Found {
    pub clusters: Vec<Item>,
    pub roles: Vec<Item>,
    pub keys: Vec<Item>,
}

fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Tagged as this stack's and env's `component`.
fn is(ctx: &Context, tags: &Tags, component: &str) -> bool {
    ctx.owns(pairs(tags)) && component_of(pairs(tags)) == Some(component)
}

/// Finds the layer from a document section alone, refusing (exit 10) when one
/// of its ids is another stack's or env's: the entry point of tests that walk
/// one layer by hand (svc-up's emulator test); teardown goes through `LAYER`.
pub async fn discover(ctx: &Context, section: Option<&Cluster>) -> Result<Found> {
    let mismatches = Mismatches::default();
    let found = find(ctx, &Hints::of(section.cloned()), &mismatches).await?;
    mismatches.into_result(ctx)?;
    Ok(found)
}

/// Everything of the layer this stack and env own; the document's ids that
/// are another's go into `mismatches`.
pub async fn find(ctx: &Context, hints: &Hints, mismatches: &Mismatches) -> Result<Found> {
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let iam = aws_sdk_iam::Client::new(&ctx.sdk);
    let kms = aws_sdk_kms::Client::new(&ctx.sdk);
    let (clusters, roles, keys) = tokio::try_join!(
        find_clusters(ctx, &ecs, hints.cluster.as_deref(), mismatches),
        find_roles(ctx, &iam, &hints.roles, mismatches),
        find_keys(ctx, &kms, &hints.keys, mismatches),
    )?;
    Ok(Found {
        clusters,
        roles,
        keys,
    })
}

/// Every active cluster tagged as this stack's and env's (ListClusters, then
/// DescribeClusters 100 at a time with their tags).
async fn find_clusters(
    ctx: &Context,
    ecs: &aws_sdk_ecs::Client,
    hint: Option<&str>,
    mismatches: &Mismatches,
) -> Result<Vec<Item>> {
    let arns = ecs
        .list_clusters()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListClusters", e))?;
    let mut found = Vec::new();
    for chunk in arns.chunks(100) {
        let out = ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(|e| aws_error("DescribeClusters", e))?;
        for c in out
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
        {
            let tags = tagset::collect(
                c.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            );
            let (name, arn) = (
                c.cluster_name().unwrap_or_default(),
                c.cluster_arn().unwrap_or_default(),
            );
            if hint.is_some_and(|h| h == name || h == arn) {
                mismatches.note(ctx, cluster::KIND, hint.unwrap_or_default(), pairs(&tags));
            }
            if is(ctx, &tags, cluster::COMPONENT) {
                found.push(Item {
                    kind: cluster::KIND,
                    name: name.to_owned(),
                    id: arn.to_owned(),
                    aliases: vec![],
                });
            }
        }
    }
    Ok(found)
}

/// Every role under our path whose name starts with the stack (a name
/// shortened to IAM's 64 characters still does) tagged as the execution role.
async fn find_roles(
    ctx: &Context,
    iam: &aws_sdk_iam::Client,
    hints: &[String],
    mismatches: &Mismatches,
) -> Result<Vec<Item>> {
    let listed = iam
        .list_roles()
        .path_prefix(ROLE_PATH)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListRoles", e))?;
    let prefix = name_prefix(&ctx.stack);
    let mut names: Vec<String> = listed
        .iter()
        .map(|r| r.role_name().to_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let extra: Vec<String> = hints
        .iter()
        .filter(|h| !names.contains(h))
        .cloned()
        .collect();
    names.extend(extra);
    let read = bounded::try_all(
        bounded::PER_SERVICE,
        names
            .iter()
            .map(|n| async move { Ok((n, role_tags(iam, n).await?)) }),
    )
    .await?;
    let mut found = Vec::new();
    for (name, got) in read {
        let Some((arn, tags)) = got else { continue };
        if hints.contains(name) {
            mismatches.note(ctx, role::KIND, name, pairs(&tags));
        }
        if is(ctx, &tags, role::COMPONENT) {
            found.push(Item {
                kind: role::KIND,
                name: name.clone(),
                id: arn,
                aliases: vec![],
            });
        }
    }
    Ok(found)
}

/// A role's ARN and tags; `None` when it is gone.
async fn role_tags(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<(String, Tags)>> {
    match iam.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role().map(|r| {
            let tags = tagset::collect(r.tags().iter().map(|t| (t.key(), t.value())));
            (r.arn().to_owned(), tags)
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("GetRole {name}"), e)),
    }
}

/// Every live key tagged as the log key, read from KMS itself (the tagging
/// API may not list a key made seconds ago), with its aliases.
async fn find_keys(
    ctx: &Context,
    kms: &aws_sdk_kms::Client,
    hints: &[String],
    mismatches: &Mismatches,
) -> Result<Vec<Item>> {
    let tagged = key::tagged_by_sweep(ctx, kms).await?;
    let ids: Vec<&String> = tagged.iter().map(|(id, _)| id).collect();
    key::note_hints(
        ctx,
        kms,
        &key::Keys::default(),
        &hints_not_in(hints, &ids),
        mismatches,
    )
    .await?;
    let live = bounded::try_all(
        bounded::PER_SERVICE,
        ids.iter().map(|id| async move {
            let meta = key::describe(kms, id).await?;
            let deleting = meta.as_ref().is_none_or(|m| {
                matches!(
                    m.key_state(),
                    Some(aws_sdk_kms::types::KeyState::PendingDeletion)
                        | Some(aws_sdk_kms::types::KeyState::PendingReplicaDeletion)
                )
            });
            if deleting {
                return Ok(None);
            }
            let aliases = aliases(kms, id).await?;
            Ok(Some(Item {
                kind: key::KIND,
                name: aliases.first().cloned().unwrap_or_else(|| (*id).clone()),
                id: (*id).clone(),
                aliases,
            }))
        }),
    )
    .await?;
    Ok(live.into_iter().flatten().collect())
}

fn hints_not_in(hints: &[String], ids: &[&String]) -> Vec<String> {
    hints
        .iter()
        .filter(|h| !ids.iter().any(|id| h.ends_with(id.as_str())))
        .cloned()
        .collect()
}

async fn aliases(kms: &aws_sdk_kms::Client, id: &str) -> Result<Vec<String>> {
    let listed = kms
        .list_aliases()
        .key_id(id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(format!("ListAliases {id}"), e))?;
    Ok(listed
        .iter()
        .filter_map(|a| a.alias_name().map(str::to_owned))
        .collect())
}

/// Deletes a cluster, waiting out the services and tasks the svc layer's
/// teardown is still draining. A cluster that is gone is done.
async fn delete_cluster(ecs: &aws_sdk_ecs::Client, name: &str) -> Result<()> {
    let op = format!("DeleteCluster {name}");
    retry::retry(
        &op,
        retry::Policy::dependency(),
        |_| false,
        || async {
            match ecs.delete_cluster().cluster(name).send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cluster_not_found_exception()) =>
                {
                    Ok(())
                }
                Err(e) => {
                    let busy = e.as_service_error().is_some_and(|s| {
                        s.is_cluster_contains_services_exception()
                            || s.is_cluster_contains_tasks_exception()
                            || s.is_cluster_contains_container_instances_exception()
                            || s.is_update_in_progress_exception()
                    });
                    let mut err = aws_error(&op, e);
                    if let (true, Error::Aws(a)) = (busy, &mut err) {
                        a.transient = true;
                    }
                    Err(err)
                }
            }
        },
    )
    .await
}

/// Removes a key's aliases (so the name is free at once) and schedules the key
/// for deletion after KMS's minimum waiting period.
async fn delete_key(kms: &aws_sdk_kms::Client, item: &Item) -> Result<()> {
    for alias in &item.aliases {
        retry::delete(&format!("DeleteAlias {alias}"), || async {
            match kms.delete_alias().alias_name(alias).send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_not_found_exception()) =>
                {
                    Ok(())
                }
                Err(e) => Err(aws_error(format!("DeleteAlias {alias}"), e)),
            }
        })
        .await?;
    }
    let op = format!("ScheduleKeyDeletion {}", item.name);
    retry::delete(&op, || async {
        match kms
            .schedule_key_deletion()
            .key_id(&item.id)
            .pending_window_in_days(KEY_DELETION_DAYS)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
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
pub struct ClusterLayer;

pub static LAYER: ClusterLayer = ClusterLayer;

impl Layer for ClusterLayer {
    fn tool(&self) -> &'static str {
        TOOL
    }

    fn sections(&self) -> &'static [&'static str] {
        &["cluster"]
    }

    fn check(&self, doc: &Document) -> Result<()> {
        doc.layer::<Cluster>("cluster").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a Document,
        mismatches: &'a Mismatches,
    ) -> BoxFuture<'a, Result<Box<dyn Owned>>> {
        Box::pin(async move {
            let hints = Hints::read(doc)?;
            Ok(Box::new(find(ctx, &hints, mismatches).await?) as Box<dyn Owned>)
        })
    }
}

impl Found {
    /// Whether nothing of the layer was found.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty() && self.roles.is_empty() && self.keys.is_empty()
    }

    /// Deletes everything found, as teardown does; what fails goes into `left`.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        Box::new(self)
            .destroy(ctx, left, TeardownOptions::default())
            .await;
    }
}

impl Owned for Found {
    /// Clusters first (their exec configuration names the key, their tasks
    /// run as the role), then roles and keys.
    fn plan(&self, _ctx: &Context) -> Vec<Change> {
        self.clusters
            .iter()
            .chain(&self.roles)
            .chain(&self.keys)
            .map(Item::change)
            .collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: TeardownOptions,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
            let iam = aws_sdk_iam::Client::new(&ctx.sdk);
            let kms = aws_sdk_kms::Client::new(&ctx.sdk);
            let done = |item: &Item| ctx.report.change(item.change());
            for c in &self.clusters {
                if left
                    .attempt(c.kind, &c.name, delete_cluster(&ecs, &c.name))
                    .await
                {
                    done(c);
                }
            }
            let roles = bounded::all(
                bounded::PER_SERVICE,
                self.roles.iter().map(|r| async {
                    if left
                        .attempt(r.kind, &r.name, delete_role(&iam, &r.name))
                        .await
                    {
                        done(r);
                    }
                }),
            );
            let keys = bounded::all(
                bounded::PER_SERVICE,
                self.keys.iter().map(|k| async {
                    if left.attempt(k.kind, &k.name, delete_key(&kms, k)).await {
                        done(k);
                    }
                }),
            );
            tokio::join!(roles, keys);
        })
    }
}
