//! Applying the plan: secrets are independent of each other, so their ops run
//! concurrently (a few at a time); one secret's fixes run in order (a restore
//! first: a secret scheduled for deletion takes no other change), and its
//! change is recorded once they are all made.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;

use common::error::aws_error;
use common::tagset::Tags;
use common::{bounded, retry, Context, Result};

use crate::plan::{Create, Fix, Op, Planned, AWS_MANAGED_KEY};
use crate::values::SecretValue;

/// The ARNs the creates made, by name.
pub type Made = BTreeMap<String, String>;

pub async fn apply(
    ctx: &Context,
    planned: Vec<Planned>,
    given: &BTreeMap<String, SecretValue>,
) -> Result<Made> {
    let sm = Client::new(&ctx.sdk);
    let made = bounded::try_all(
        bounded::PER_SERVICE,
        planned.into_iter().map(|p| apply_one(&sm, ctx, p, given)),
    )
    .await?;
    Ok(made.into_iter().flatten().collect())
}

async fn apply_one(
    sm: &Client,
    ctx: &Context,
    p: Planned,
    given: &BTreeMap<String, SecretValue>,
) -> Result<Option<(String, String)>> {
    let made = match &p.op {
        Op::Create(c) => {
            let value = given.get(&c.short).filter(|_| c.with_value);
            Some((c.name.clone(), create(sm, ctx, c, value).await?))
        }
        Op::Update {
            short, name, fixes, ..
        } => {
            for fix in fixes {
                apply_fix(sm, name, fix, given.get(short)).await?;
            }
            None
        }
        Op::Delete { name, arn, window } => {
            schedule_deletion(sm, name, arn, *window).await?;
            None
        }
    };
    let change = match &made {
        Some((_, arn)) => p.change.id(arn),
        None => p.change,
    };
    ctx.report.change(change);
    Ok(made)
}

/// Creates the secret, tagged, with its value if one is given; its ARN.
async fn create(
    sm: &Client,
    ctx: &Context,
    c: &Create,
    value: Option<&SecretValue>,
) -> Result<String> {
    let call = sm
        .create_secret()
        .name(&c.name)
        .description(&c.description)
        .set_kms_key_id(c.kms_key.clone())
        .set_tags(Some(tags(c.tags.iter())))
        .client_request_token(initial_version_token(ctx, &c.name));
    let call = match value {
        Some(v) => call.secret_string(v.expose()),
        None => call,
    };
    let out = call
        .send()
        .await
        .map_err(|e| aws_error(format!("CreateSecret {}", c.name), e))?;
    Ok(out.arn().unwrap_or_default().to_owned())
}

fn tags<'a>(pairs: impl Iterator<Item = &'a (String, String)>) -> Vec<Tag> {
    pairs
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The version id of the value stored at creation. Secrets Manager wants 32 to
/// 64 characters; it is derived from the stack, env and name only (never from
/// the value, whose hash would then be readable by anyone who can list the
/// versions), so a retried create is recognised as the same request.
fn initial_version_token(ctx: &Context, name: &str) -> String {
    format!("{}-initial-value", ctx.token(&["secret", name]))
}

async fn apply_fix(sm: &Client, name: &str, fix: &Fix, value: Option<&SecretValue>) -> Result<()> {
    match fix {
        Fix::Restore => sm
            .restore_secret()
            .secret_id(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(format!("RestoreSecret {name}"), e)),
        // Without a value: UpdateSecret with one would add a version.
        Fix::Description(d) => update(sm, name, Some(d), None).await,
        Fix::KmsKey(k) => {
            let key = k.as_deref().unwrap_or(AWS_MANAGED_KEY);
            update(sm, name, None, Some(key)).await
        }
        Fix::Tags(t) => add_tags(sm, name, t).await,
        Fix::Value => match value {
            Some(v) => put_value(sm, name, v).await,
            None => Ok(()),
        },
    }
}

async fn update(
    sm: &Client,
    name: &str,
    description: Option<&str>,
    key: Option<&str>,
) -> Result<()> {
    // Right after a restore the secret may still answer as being deleted.
    retry::after_create(&format!("UpdateSecret {name}"), || async {
        sm.update_secret()
            .secret_id(name)
            .set_description(description.map(str::to_owned))
            .set_kms_key_id(key.map(str::to_owned))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(format!("UpdateSecret {name}"), e))
    })
    .await
}

async fn add_tags(sm: &Client, name: &str, t: &Tags) -> Result<()> {
    let t: Vec<(String, String)> = t.clone().into_iter().collect();
    sm.tag_resource()
        .secret_id(name)
        .set_tags(Some(tags(t.iter())))
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_error(format!("TagResource {name}"), e))
}

/// Stores a new current version. The SDK makes the version's token: one
/// derived from our inputs would clash with a later, changed value, and one
/// derived from the value would expose a hash of it.
async fn put_value(sm: &Client, name: &str, value: &SecretValue) -> Result<()> {
    sm.put_secret_value()
        .secret_id(name)
        .secret_string(value.expose())
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_error(format!("PutSecretValue {name}"), e))
}

/// Schedules the deletion; one already gone counts as done.
async fn schedule_deletion(sm: &Client, name: &str, arn: &str, window: u8) -> Result<()> {
    match sm
        .delete_secret()
        .secret_id(arn)
        .recovery_window_in_days(i64::from(window))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(format!("DeleteSecret {name}"), e)),
    }
}
