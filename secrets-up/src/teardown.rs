//! Removing the secrets layer, as teardown walks it (`LAYER`, a
//! `common::layer::Layer`): discovery by tag (and the document's ARNs, checked
//! by their tags), then deletion.
//!
//! A secret is deleted with its recovery window (the document's, else 7
//! days), so a teardown by mistake can be undone and a bring-up within the
//! window restores the secrets; `--force-delete-secrets` deletes them at once,
//! and then also purges this stack's secrets an earlier teardown scheduled.
//! Only secrets tagged for this stack and env are touched; a document ARN
//! tagged for another is a mismatch, refused before anything is deleted.
//! Every secret of the stack is secrets-up's, so the layer lists them all.
//! Secrets depend on nothing of ours and nothing of ours waits on them.

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::Client;
use futures_util::future::BoxFuture;

use common::error::aws_error;
use common::layer::{Layer, Owned, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Action, Change, Leftovers};
use common::sections::{Secrets, DEFAULT_RECOVERY_WINDOW_DAYS};
use common::{bounded, Context, Document, Result};

use crate::discover::{self, pairs};
use crate::plan::{KIND, TOOL};

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
    /// Already scheduled for deletion by an earlier teardown or prune.
    scheduled: bool,
}

/// Finds the stack's secrets: everything tagged for it, plus the document's
/// secrets when their tags confirm they are ours.
pub async fn discover(ctx: &Context, doc: &Document, mismatches: &Mismatches) -> Result<Found> {
    let sm = Client::new(&ctx.sdk);
    let section: Secrets = doc.layer("secrets")?.unwrap_or_default();
    let mut all: Vec<discover::Found> = discover::list_tagged(&sm, ctx)
        .await?
        .iter()
        .map(discover::found)
        .collect();
    let unseen: Vec<&str> = section
        .values()
        .map(|s| s.arn.as_str())
        .filter(|arn| !arn.is_empty() && !all.iter().any(|f| f.arn == *arn))
        .collect();
    let described = bounded::try_all(
        bounded::PER_SERVICE,
        unseen.iter().map(|arn| discover::describe(&sm, arn)),
    )
    .await?;
    for (arn, f) in unseen.iter().zip(described) {
        let Some(f) = f else { continue };
        mismatches.note(ctx, KIND, arn, pairs(&f.tags));
        if ctx.owns(pairs(&f.tags)) {
            all.push(f);
        }
    }
    let secrets = all
        .into_iter()
        .map(|f| FoundSecret {
            recovery_window_days: recovery_window(&section, &f.name, &f.arn),
            name: f.name,
            arn: f.arn,
            scheduled: f.scheduled,
        })
        .collect();
    Ok(Found { secrets })
}

/// The window the secret was brought up with: from the document (by ARN or
/// name), else Secrets Manager's minimum.
fn recovery_window(section: &Secrets, name: &str, arn: &str) -> u8 {
    section
        .values()
        .find(|out| out.arn == arn || out.name == name)
        .map(|out| out.recovery_window_days)
        .filter(|days| (7..=30).contains(days))
        .unwrap_or(DEFAULT_RECOVERY_WINDOW_DAYS)
}

impl FoundSecret {
    fn change(&self) -> Change {
        Change::new(TOOL, Action::Delete, KIND, &self.name).id(&self.arn)
    }
}

/// Schedules the deletion (or deletes at once when forced). Gone counts as
/// done; so does a secret already scheduled, when not forcing.
async fn delete(sm: &Client, s: &FoundSecret, force: bool) -> Result<()> {
    let call = sm.delete_secret().secret_id(&s.arn);
    let call = if force {
        call.force_delete_without_recovery(true)
    } else {
        call.recovery_window_in_days(i64::from(s.recovery_window_days))
    };
    match call.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        // AWS answers a second scheduled deletion with InvalidRequestException
        // ("... marked for deletion"); other InvalidRequestExceptions are failures.
        Err(e)
            if !force
                && e.as_service_error().is_some_and(|e| {
                    e.is_invalid_request_exception()
                        && e.message()
                            .is_some_and(|m| m.contains("marked for deletion"))
                }) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(format!("DeleteSecret {}", s.name), e)),
    }
}

/// This layer, as teardown walks it.
#[derive(Debug)]
pub struct SecretsLayer;

pub static LAYER: SecretsLayer = SecretsLayer;

impl Layer for SecretsLayer {
    fn tool(&self) -> &'static str {
        TOOL
    }

    fn sections(&self) -> &'static [&'static str] {
        &["secrets"]
    }

    fn check(&self, doc: &Document) -> Result<()> {
        doc.layer::<Secrets>("secrets").map(drop)
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
    /// The live secrets' deletions (scheduled ones count as gone).
    fn plan(&self, _ctx: &Context) -> Vec<Change> {
        self.secrets
            .iter()
            .filter(|s| !s.scheduled)
            .map(FoundSecret::change)
            .collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        opts: TeardownOptions,
    ) -> BoxFuture<'a, ()> {
        let force = opts.force_delete_secrets;
        Box::pin(async move {
            let sm = Client::new(&ctx.sdk);
            let doomed = self.secrets.iter().filter(|s| force || !s.scheduled);
            bounded::all(
                bounded::PER_SERVICE,
                doomed.map(|s| {
                    let sm = &sm;
                    async move {
                        if left.attempt(KIND, &s.name, delete(sm, s, force)).await && !s.scheduled {
                            ctx.report.change(s.change());
                        }
                    }
                }),
            )
            .await;
        })
    }
}
