//! Removing the secrets layer: discovery by tag (and from the document), then
//! deletion.
//!
//! A secret is deleted with its recovery window (from the document's `.secrets`,
//! else 7 days), so a teardown by mistake can be undone and a bring-up within the
//! window restores the secrets; `force_without_recovery` deletes them at once, and
//! then also purges this stack's secrets an earlier teardown scheduled for
//! deletion. Only secrets tagged for this stack and env are ever touched: tag
//! filters in ListSecrets are prefix matches, so every result is checked.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_sdk_secretsmanager::Client;

use common::naming::TAG_STACK;
use common::plan::{Leftovers, Step};
use common::sections::{Secrets, DEFAULT_RECOVERY_WINDOW_DAYS};
use common::{join_all, retry, AwsResultExt, Context, Error, Result};

const SECTION: &str = "secrets";
const KIND: &str = "secret";

/// The stack's secrets.
#[derive(Debug, Default)]
pub struct Found {
    secrets: Vec<FoundSecret>,
}

#[derive(Debug, Clone)]
struct FoundSecret {
    name: String,
    arn: String,
    recovery_window_days: u8,
    /// Already scheduled for deletion by an earlier teardown.
    scheduled: bool,
}

/// Finds the stack's secrets: everything tagged for it, plus the document's
/// secrets when their tags confirm they are ours.
pub async fn discover(ctx: &Context, section: Option<&Secrets>) -> Result<Found> {
    let sm = Client::new(&ctx.sdk);
    let mut found = Found::default();
    for s in list_tagged(&sm, ctx).await? {
        found.add(section, s.name(), s.arn(), s.deleted_date().is_some());
    }
    for out in section.into_iter().flat_map(Secrets::values) {
        if out.arn.is_empty() || found.secrets.iter().any(|f| f.arn == out.arn) {
            continue;
        }
        let described = match sm
            .describe_secret()
            .secret_id(&out.arn)
            .send()
            .await
            .aws(format!("DescribeSecret {}", out.name))
        {
            Ok(d) => d,
            Err(e) if retry::is_not_found(&e) => continue,
            Err(e) => return Err(e),
        };
        if !owned(ctx, described.tags()) {
            tracing::warn!(
                "the document's secret {} is not tagged for {}/{}: left alone",
                out.name,
                ctx.stack,
                ctx.env
            );
            continue;
        }
        found.add(
            section,
            described.name(),
            described.arn(),
            described.deleted_date().is_some(),
        );
    }
    Ok(found)
}

/// Every secret tagged for this stack, scheduled ones included, checked by tag.
async fn list_tagged(
    sm: &Client,
    ctx: &Context,
) -> Result<Vec<aws_sdk_secretsmanager::types::SecretListEntry>> {
    let filter =
        |key: FilterNameStringType, value: &str| Filter::builder().key(key).values(value).build();
    let pages = sm
        .list_secrets()
        .filters(filter(FilterNameStringType::TagKey, TAG_STACK))
        .filters(filter(FilterNameStringType::TagValue, &ctx.stack))
        .include_planned_deletion(true)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .aws("ListSecrets")?;
    Ok(pages
        .iter()
        .flat_map(|p| p.secret_list())
        .filter(|s| owned(ctx, s.tags()))
        .cloned()
        .collect())
}

fn owned(ctx: &Context, tags: &[Tag]) -> bool {
    ctx.owns(tags.iter().map(tag_pair))
}

fn tag_pair(t: &Tag) -> (&str, &str) {
    (t.key().unwrap_or_default(), t.value().unwrap_or_default())
}

impl Found {
    fn add(
        &mut self,
        section: Option<&Secrets>,
        name: Option<&str>,
        arn: Option<&str>,
        scheduled: bool,
    ) {
        let arn = arn.unwrap_or_default().to_owned();
        let name = name.map_or_else(|| arn.clone(), str::to_owned);
        if arn.is_empty() || self.secrets.iter().any(|f| f.arn == arn) {
            return;
        }
        self.secrets.push(FoundSecret {
            recovery_window_days: recovery_window(section, &name, &arn),
            name,
            arn,
            scheduled,
        });
    }

    /// Nothing left to delete (secrets already scheduled for deletion count as gone).
    pub fn is_empty(&self) -> bool {
        self.live().next().is_none()
    }

    fn live(&self) -> impl Iterator<Item = &FoundSecret> {
        self.secrets.iter().filter(|s| !s.scheduled)
    }

    /// The deletions, in order (secrets depend on nothing of ours).
    pub fn steps(&self, _ctx: &Context) -> Vec<Step> {
        self.live()
            .map(|s| Step {
                layer: SECTION,
                kind: KIND,
                id: s.arn.clone(),
                name: s.name.clone(),
            })
            .collect()
    }

    /// Deletes every live secret found (with its recovery window unless forced);
    /// forced, also purges the ones already scheduled. Failures are recorded.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers, force_without_recovery: bool) {
        let sm = Client::new(&ctx.sdk);
        let doomed = self
            .secrets
            .iter()
            .filter(|s| force_without_recovery || !s.scheduled);
        join_all(doomed.map(|s| {
            let sm = &sm;
            async move {
                let ok = left
                    .attempt(KIND, &s.name, delete(sm, s, force_without_recovery))
                    .await;
                if ok {
                    ctx.report.deleted(KIND, &s.name);
                }
            }
        }))
        .await;
    }
}

/// The window the secret was brought up with: from the document (by ARN or
/// name), else Secrets Manager's minimum.
fn recovery_window(section: Option<&Secrets>, name: &str, arn: &str) -> u8 {
    section
        .and_then(|s| s.values().find(|out| out.arn == arn || out.name == name))
        .map(|out| out.recovery_window_days)
        .filter(|days| (7..=30).contains(days))
        .unwrap_or(DEFAULT_RECOVERY_WINDOW_DAYS)
}

/// Schedules the deletion (or deletes at once). Gone, or already scheduled when
/// not forcing, counts as done.
async fn delete(sm: &Client, s: &FoundSecret, force: bool) -> Result<()> {
    let call = sm.delete_secret().secret_id(&s.arn);
    let call = if force {
        call.force_delete_without_recovery(true)
    } else {
        call.recovery_window_in_days(i64::from(s.recovery_window_days))
    };
    match call.send().await.aws(format!("DeleteSecret {}", s.name)) {
        Ok(_) => Ok(()),
        Err(e) if retry::is_not_found(&e) => Ok(()),
        Err(e) if !force && already_scheduled(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// AWS answers a second scheduled deletion with InvalidRequestException ("...
/// marked for deletion"); other InvalidRequestExceptions are real failures.
fn already_scheduled(e: &Error) -> bool {
    e.aws_code() == Some("InvalidRequestException") && {
        let text = e.to_string();
        text.contains("marked for deletion") || text.contains("marked deleted")
    }
}

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct SecretsLayer;

pub static LAYER: SecretsLayer = SecretsLayer;

impl common::layer::Layer for SecretsLayer {
    fn tool(&self) -> &'static str {
        "secrets-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["secrets"]
    }

    fn check(&self, doc: &common::Document) -> Result<()> {
        doc.layer::<Secrets>("secrets").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a common::Document,
        _mismatches: &'a common::owner::Mismatches,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn common::layer::Owned>>> {
        Box::pin(async move {
            let secrets: Option<Secrets> = doc.layer("secrets")?;
            Ok(Box::new(discover(ctx, secrets.as_ref()).await?) as Box<dyn common::layer::Owned>)
        })
    }
}

impl common::layer::Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<common::plan::Change> {
        self.steps(ctx)
            .iter()
            .map(|s| s.change("secrets-up"))
            .collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        opts: common::layer::TeardownOptions,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(Found::delete_all(
            *self,
            ctx,
            left,
            opts.force_delete_secrets,
        ))
    }
}
