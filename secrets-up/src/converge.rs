//! Converging one secret: look it up by name, then create it, or adopt it
//! (restoring it if a teardown scheduled it for deletion, fixing drifted settings)
//! and store a value where that is allowed. `converge` runs every secret at once.
//!
//! The value rules, so a re-run never clobbers a value set out of band:
//! - a new secret gets the given value at creation, or none;
//! - an existing secret without a current value gets the given value (nothing is
//!   overwritten);
//! - an existing secret with a value keeps it, unless `--overwrite` is given: then
//!   the given value is stored if it differs from the current one.

use std::collections::HashMap;

use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;

use common::sections::{SecretOut, Secrets};
use common::{try_join_all, AwsResultExt, Context, Error, Result};

use crate::spec::{SecretValue, Wanted};

const KIND: &str = "secret";
/// The stage of a secret's current version.
const CURRENT: &str = "AWSCURRENT";
/// What DescribeSecret may report for the AWS managed key: no customer key.
const AWS_MANAGED_KEY: &str = "alias/aws/secretsmanager";

/// Brings every wanted secret into being and describes them, by short name.
pub async fn converge(
    sm: &Client,
    ctx: &Context,
    wanted: &[Wanted],
    overwrite: bool,
) -> Result<Secrets> {
    let outs = try_join_all(wanted.iter().map(|w| ensure_secret(sm, ctx, w, overwrite))).await?;
    Ok(wanted.iter().map(|w| w.short.clone()).zip(outs).collect())
}

async fn ensure_secret(
    sm: &Client,
    ctx: &Context,
    w: &Wanted,
    overwrite: bool,
) -> Result<SecretOut> {
    let name = ctx.name(&w.short);
    if let Some(found) = describe(sm, &name).await? {
        return adopt(sm, ctx, w, &name, &found, overwrite).await;
    }
    if let Some(created) = create(sm, ctx, w, &name).await? {
        return Ok(created);
    }
    // Another run created it between our look-up and our create: adopt that one.
    let found = describe(sm, &name).await?.ok_or_else(|| {
        Error::spec(format!(
            "secret {name} was reported to exist and then not found: run again"
        ))
    })?;
    adopt(sm, ctx, w, &name, &found, overwrite).await
}

/// The secret of that name, scheduled for deletion or not; `None` if there is none.
async fn describe(sm: &Client, name: &str) -> Result<Option<DescribeSecretOutput>> {
    match sm
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .aws(format!("DescribeSecret {name}"))
    {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.aws_code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the secret, with its value if one is given. `None` if it already exists.
async fn create(sm: &Client, ctx: &Context, w: &Wanted, name: &str) -> Result<Option<SecretOut>> {
    let tags = ctx
        .tags(&w.short)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let description = w
        .description
        .clone()
        .unwrap_or_else(|| default_description(ctx, &w.short));
    let call = sm
        .create_secret()
        .name(name)
        .description(description)
        .set_kms_key_id(w.kms_key.clone())
        .set_tags(Some(tags))
        .client_request_token(initial_version_token(ctx, name));
    let call = match &w.value {
        Some(value) => call.secret_string(value.expose()),
        None => call,
    };
    let out = match call.send().await.aws(format!("CreateSecret {name}")) {
        Ok(out) => out,
        Err(e) if e.aws_code() == Some("ResourceExistsException") => return Ok(None),
        Err(e) => return Err(e),
    };
    let arn = out.arn().unwrap_or_default().to_owned();
    ctx.report.created(KIND, name, &arn);
    Ok(Some(SecretOut {
        name: name.to_owned(),
        arn,
        kms_key: w.kms_key.clone(),
        has_value: w.value.is_some(),
        json_keys: w.json_keys.clone(),
        recovery_window_days: w.recovery_window_days,
    }))
}

/// The version id of the value stored at creation. Secrets Manager wants 32 to 64
/// characters; it is derived from the stack, env and name only (never from the
/// value), so a retried or repeated create is recognised as the same request.
fn initial_version_token(ctx: &Context, name: &str) -> String {
    format!("{}-initial-value", ctx.token(&["secret", name]))
}

fn default_description(ctx: &Context, short: &str) -> String {
    format!(
        "{short} of {}/{} (fargate-pipes secrets-up)",
        ctx.stack, ctx.env
    )
}

/// Takes over an existing secret of ours: restore, fix drift, maybe store the value.
async fn adopt(
    sm: &Client,
    ctx: &Context,
    w: &Wanted,
    name: &str,
    found: &DescribeSecretOutput,
    overwrite: bool,
) -> Result<SecretOut> {
    let arn = found.arn().unwrap_or_default().to_owned();
    let tags = found
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
    if !ctx.owns(tags) {
        return Err(Error::spec(format!(
            "secret {name} ({arn}) exists but is not tagged for stack {} env {}: it is left alone; \
             rename the secret in the spec, or delete or tag the existing one",
            ctx.stack, ctx.env
        )));
    }
    let restored = restore_if_scheduled(sm, ctx, name, found).await?;
    let drifted = fix_settings(sm, ctx, w, name, found).await?;
    let had_value = has_current_value(found.version_ids_to_stages());
    let stored = store_value(sm, ctx, name, w.value.as_ref(), had_value, overwrite).await?;
    if !(restored || drifted || stored) {
        ctx.report.adopted(KIND, name, &arn);
    }
    let kms_key = w.kms_key.clone().or_else(|| {
        found
            .kms_key_id()
            .filter(|k| *k != AWS_MANAGED_KEY)
            .map(str::to_owned)
    });
    Ok(SecretOut {
        name: name.to_owned(),
        arn,
        kms_key,
        has_value: had_value || stored,
        json_keys: w.json_keys.clone(),
        recovery_window_days: w.recovery_window_days,
    })
}

/// A stack torn down and brought up again within the recovery window finds its
/// secrets scheduled for deletion (the name stays taken): they are restored, value
/// and all, instead of failing on the name.
async fn restore_if_scheduled(
    sm: &Client,
    ctx: &Context,
    name: &str,
    found: &DescribeSecretOutput,
) -> Result<bool> {
    if found.deleted_date().is_none() {
        return Ok(false);
    }
    sm.restore_secret()
        .secret_id(name)
        .send()
        .await
        .aws(format!("RestoreSecret {name}"))?;
    ctx.report
        .updated(KIND, name, "restored (it was scheduled for deletion)");
    Ok(true)
}

/// Description and KMS key, where the spec names them and they differ. A setting
/// the spec leaves out is left as it is (it may have been set out of band).
async fn fix_settings(
    sm: &Client,
    ctx: &Context,
    w: &Wanted,
    name: &str,
    found: &DescribeSecretOutput,
) -> Result<bool> {
    let description = w
        .description
        .as_deref()
        .filter(|d| found.description() != Some(*d));
    let kms_key = w
        .kms_key
        .as_deref()
        .filter(|k| !same_key(found.kms_key_id(), k));
    if description.is_none() && kms_key.is_none() {
        return Ok(false);
    }
    // No value in this call: UpdateSecret with a value would add a version.
    sm.update_secret()
        .secret_id(name)
        .set_description(description.map(str::to_owned))
        .set_kms_key_id(kms_key.map(str::to_owned))
        .send()
        .await
        .aws(format!("UpdateSecret {name}"))?;
    let what: Vec<&str> = [
        description.map(|_| "description"),
        kms_key.map(|_| "kms key"),
    ]
    .into_iter()
    .flatten()
    .collect();
    ctx.report.updated(KIND, name, &what.join(", "));
    Ok(true)
}

/// Whether the key Secrets Manager reports is the one the spec names: the same
/// string, or an ARN ending in the given key id or alias (`...:key/<id>`,
/// `...:alias/<name>`).
fn same_key(current: Option<&str>, wanted: &str) -> bool {
    current.is_some_and(|c| {
        c == wanted
            || c.strip_suffix(wanted)
                .is_some_and(|head| head.ends_with(':') || head.ends_with('/'))
    })
}

fn has_current_value(stages: Option<&HashMap<String, Vec<String>>>) -> bool {
    stages.is_some_and(|s| s.values().any(|v| v.iter().any(|stage| stage == CURRENT)))
}

/// Stores the given value if the rules allow it (see the module docs); returns
/// whether it did.
async fn store_value(
    sm: &Client,
    ctx: &Context,
    name: &str,
    value: Option<&SecretValue>,
    had_value: bool,
    overwrite: bool,
) -> Result<bool> {
    let Some(value) = value else {
        return Ok(false);
    };
    if had_value && !overwrite {
        tracing::info!("secret {name} already has a value: kept (--overwrite replaces it)");
        return Ok(false);
    }
    // Storing the same value again would push the real previous value out of
    // AWSPREVIOUS, so an unchanged value is left alone.
    if had_value && current_value_is(sm, name, value).await? {
        return Ok(false);
    }
    // The SDK makes the version's token: one derived from our inputs would clash
    // with a changed value, and one derived from the value would leak a hash of it.
    sm.put_secret_value()
        .secret_id(name)
        .secret_string(value.expose())
        .send()
        .await
        .aws(format!("PutSecretValue {name}"))?;
    let what = if had_value {
        "value replaced (--overwrite)"
    } else {
        "value set"
    };
    ctx.report.updated(KIND, name, what);
    Ok(true)
}

/// Compares the current value with the given one, in memory. Without permission to
/// read it (a write-only role), the value is taken to differ.
async fn current_value_is(sm: &Client, name: &str, value: &SecretValue) -> Result<bool> {
    match sm
        .get_secret_value()
        .secret_id(name)
        .version_stage(CURRENT)
        .send()
        .await
        .aws(format!("GetSecretValue {name}"))
    {
        Ok(current) => Ok(current.secret_string() == Some(value.expose())),
        Err(e) if e.aws_code() == Some("AccessDeniedException") => {
            tracing::debug!("cannot read secret {name} to compare ({e}): storing the value");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_in_any_form_aws_reports() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab";
        assert!(same_key(Some(arn), arn));
        assert!(same_key(Some(arn), "1234abcd-12ab"));
        assert!(same_key(
            Some("arn:aws:kms:us-east-1:111122223333:alias/app"),
            "alias/app"
        ));
        assert!(!same_key(Some(arn), "34abcd-12ab"));
        assert!(!same_key(None, "alias/app"));
    }

    #[test]
    fn only_awscurrent_counts_as_a_value() {
        let mut stages = HashMap::new();
        assert!(!has_current_value(None));
        stages.insert("v1".to_owned(), vec!["AWSPENDING".to_owned()]);
        assert!(!has_current_value(Some(&stages)));
        stages.insert("v2".to_owned(), vec![CURRENT.to_owned()]);
        assert!(has_current_value(Some(&stages)));
    }
}
