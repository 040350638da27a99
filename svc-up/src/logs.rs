//! Log groups, `/ecs/{stack}/{env}/{service}`: retention and the cluster's KMS
//! key. A removed service's log group is kept (its logs outlive it; teardown
//! removes it), so the plan never deletes one.
//!
//! A new KMS key is not usable by CloudWatch Logs at once: CreateLogGroup and
//! AssociateKmsKey answer `AccessDeniedException: The specified KMS key does
//! not exist or is not allowed to be used with Arn ...` (older endpoints:
//! `InvalidParameterException ... could not be found`) until its grant has
//! propagated; both retry that, bounded.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::SdkError;
use common::plan::{Action, Change};
use common::{AwsResultExt, Context, Result};

use crate::aws::{code_and_message, propagation, retry_sdk, Clients};
use crate::names::{self, pairs, Tags};

const KIND: &str = "log group";
/// How long a new KMS key may be refused by CloudWatch Logs.
const KMS_PROPAGATION: Duration = Duration::from_secs(60);

/// A log group as it should be.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub service: String,
    pub name: String,
    pub retention_days: i32,
    pub kms_key: Option<String>,
}

/// A log group as AWS holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Have {
    pub name: String,
    pub arn: String,
    pub retention_days: Option<i32>,
    pub kms_key: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create {
        want: Want,
        tags: Tags,
    },
    Update {
        want: Want,
        have: Have,
    },
    /// Teardown only: the plan keeps a removed service's logs.
    Delete {
        have: Have,
    },
}

/// Every log group under `/ecs/{stack}/{env}/`, with its tags, by name.
pub async fn discover(c: &Clients, ctx: &Context) -> Result<BTreeMap<String, Have>> {
    let prefix = names::log_group_prefix(ctx);
    let groups: Vec<_> = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("DescribeLogGroups {prefix}"))?;
    let found = common::try_join_all(groups.iter().map(|g| async move {
        let arn = arn_of(g);
        let tags = tags_of(c, &arn).await?;
        Ok::<_, common::Error>(Have {
            name: g.log_group_name().unwrap_or_default().to_owned(),
            arn,
            retention_days: g.retention_in_days(),
            kms_key: g.kms_key_id().map(str::to_owned),
            tags,
        })
    }))
    .await?;
    Ok(found.into_iter().map(|h| (h.name.clone(), h)).collect())
}

/// The log group's ARN without the `:*` DescribeLogGroups appends.
fn arn_of(g: &aws_sdk_cloudwatchlogs::types::LogGroup) -> String {
    g.log_group_arn()
        .map(str::to_owned)
        .or_else(|| {
            g.arn()
                .map(|a| a.strip_suffix(":*").unwrap_or(a).to_owned())
        })
        .unwrap_or_default()
}

async fn tags_of(c: &Clients, arn: &str) -> Result<Tags> {
    let out = c
        .logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .aws(format!("ListTagsForResource {arn}"))?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

/// The op that brings one log group to `want`, if any. An existing group must
/// be this stack's, env's and service's.
pub fn plan(ctx: &Context, want: &Want, have: Option<&Have>) -> Result<Option<Op>> {
    let Some(have) = have else {
        let tags = names::wanted_tags(ctx, &names::log_component(&want.service));
        return Ok(Some(Op::Create {
            want: want.clone(),
            tags,
        }));
    };
    ctx.check_owned(
        KIND,
        &have.name,
        pairs(&have.tags),
        &names::log_component(&want.service),
    )?;
    let drifted = have.retention_days != Some(want.retention_days) || have.kms_key != want.kms_key;
    Ok(drifted.then(|| Op::Update {
        want: want.clone(),
        have: have.clone(),
    }))
}

impl Op {
    pub fn phase(&self) -> crate::ops::Phase {
        match self {
            Op::Delete { .. } => crate::ops::Phase::Prune,
            _ => crate::ops::Phase::Setup,
        }
    }

    pub fn change(&self, ctx: &Context) -> Change {
        match self {
            Op::Create { want, .. } => Change::new(&ctx.tool, Action::Create, KIND, &want.name),
            Op::Delete { have } => {
                Change::new(&ctx.tool, Action::Delete, KIND, &have.name).id(&have.arn)
            }
            Op::Update { want, have } => {
                let mut c = Change::new(&ctx.tool, Action::Update, KIND, &want.name).id(&have.arn);
                if have.retention_days != Some(want.retention_days) {
                    c = c.field("retention_days", have.retention_days, want.retention_days);
                }
                if have.kms_key != want.kms_key {
                    c = c.field("kms_key", &have.kms_key, &want.kms_key);
                }
                c
            }
        }
    }

    pub async fn apply(&self, c: &Clients, _ctx: &Context) -> Result<Option<String>> {
        match self {
            Op::Create { want, tags } => {
                create(c, want, tags).await?;
                common::retry::after_create(&format!("PutRetentionPolicy {}", want.name), || {
                    put_retention(c, &want.name, want.retention_days)
                })
                .await?;
                Ok(Some(want.name.clone()))
            }
            Op::Update { want, have } => {
                if have.retention_days != Some(want.retention_days) {
                    put_retention(c, &want.name, want.retention_days).await?;
                }
                match (&want.kms_key, &have.kms_key) {
                    (Some(key), have_key) if have_key.as_ref() != Some(key) => {
                        associate(c, &want.name, key).await?
                    }
                    (None, Some(_)) => disassociate(c, &want.name).await?,
                    _ => {}
                }
                Ok(None)
            }
            Op::Delete { have } => delete(c, &have.name).await.map(|()| None),
        }
    }
}

/// Teardown's deletes: this stack's and env's log groups of its services.
pub fn teardown(ctx: &Context, found: &BTreeMap<String, Have>) -> Vec<Op> {
    found
        .values()
        .filter(|h| {
            names::component(&h.tags)
                .and_then(|c| names::service_of(c, "logs-"))
                .is_some_and(|s| {
                    names::log_group_name(ctx, s) == h.name
                        && ctx
                            .check_owned(KIND, &h.name, pairs(&h.tags), &names::log_component(s))
                            .is_ok()
                })
        })
        .map(|h| Op::Delete { have: h.clone() })
        .collect()
}

/// AWS's answers while a new KMS key is not yet usable by CloudWatch Logs.
fn kms_not_ready<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    e: &E,
    invalid_parameter: bool,
) -> bool {
    let (code, message) = code_and_message(e);
    (code == "AccessDeniedException" && message.contains("kms key"))
        || (invalid_parameter && message.contains("could not be found"))
}

async fn create(c: &Clients, want: &Want, tags: &Tags) -> Result<()> {
    let what = format!("CreateLogGroup {}", want.name);
    retry_sdk(
        &what,
        propagation(KMS_PROPAGATION),
        |e: &SdkError<aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError>| {
            want.kms_key.is_some()
                && kms_not_ready(
                    e,
                    e.as_service_error()
                        .is_some_and(|s| s.is_invalid_parameter_exception()),
                )
        },
        || async {
            let mut req = c
                .logs
                .create_log_group()
                .log_group_name(&want.name)
                .set_kms_key_id(want.kms_key.clone());
            for (k, v) in tags {
                req = req.tags(k, v);
            }
            // An existing group is not adopted here: its tags were not
            // checked. The next run discovers it and checks them.
            req.send().await.map(|_| ())
        },
    )
    .await
}

async fn put_retention(c: &Clients, name: &str, days: i32) -> Result<()> {
    c.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map(|_| ())
        .aws(format!("PutRetentionPolicy {name}"))
}

async fn associate(c: &Clients, name: &str, key: &str) -> Result<()> {
    retry_sdk(
        &format!("AssociateKmsKey {name}"),
        propagation(KMS_PROPAGATION),
        |e: &SdkError<
            aws_sdk_cloudwatchlogs::operation::associate_kms_key::AssociateKmsKeyError,
        >| {
            kms_not_ready(
                e,
                e.as_service_error()
                    .is_some_and(|s| s.is_invalid_parameter_exception()),
            )
        },
        || {
            c.logs
                .associate_kms_key()
                .log_group_name(name)
                .kms_key_id(key)
                .send()
        },
    )
    .await
    .map(|_| ())
}

async fn disassociate(c: &Clients, name: &str) -> Result<()> {
    c.logs
        .disassociate_kms_key()
        .log_group_name(name)
        .send()
        .await
        .map(|_| ())
        .aws(format!("DisassociateKmsKey {name}"))
}

/// Deletes a log group (teardown only); gone already is done.
pub async fn delete(c: &Clients, name: &str) -> Result<()> {
    common::retry::delete(&format!("DeleteLogGroup {name}"), || async {
        c.logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteLogGroup {name}"))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::offline("svc-up", "shop", "dev", "us-east-1")
    }

    fn want() -> Want {
        Want {
            service: "api".into(),
            name: "/ecs/shop/dev/api".into(),
            retention_days: 30,
            kms_key: Some("arn:key".into()),
        }
    }

    fn have(ctx: &Context) -> Have {
        Have {
            name: "/ecs/shop/dev/api".into(),
            arn: "arn:lg".into(),
            retention_days: Some(30),
            kms_key: Some("arn:key".into()),
            tags: names::wanted_tags(ctx, "logs-api"),
        }
    }

    #[test]
    fn missing_is_created_with_its_tags() {
        let ctx = ctx();
        let op = plan(&ctx, &want(), None).unwrap().unwrap();
        assert_eq!(op.change(&ctx).line(), "+ log group /ecs/shop/dev/api");
        let Op::Create { tags, .. } = op else {
            panic!()
        };
        assert_eq!(names::component(&tags), Some("logs-api"));
    }

    #[test]
    fn as_wanted_is_left_alone() {
        let ctx = ctx();
        assert_eq!(plan(&ctx, &want(), Some(&have(&ctx))).unwrap(), None);
    }

    #[test]
    fn retention_is_updated_in_place() {
        let ctx = ctx();
        let mut h = have(&ctx);
        h.retention_days = Some(7);
        let op = plan(&ctx, &want(), Some(&h)).unwrap().unwrap();
        assert_eq!(
            op.change(&ctx).line(),
            "~ log group /ecs/shop/dev/api (retention_days: 7 -> 30)"
        );
        h.retention_days = None;
        assert!(plan(&ctx, &want(), Some(&h)).unwrap().is_some());
    }

    #[test]
    fn the_kms_key_is_associated_or_disassociated() {
        let ctx = ctx();
        let mut h = have(&ctx);
        h.kms_key = None;
        let op = plan(&ctx, &want(), Some(&h)).unwrap().unwrap();
        assert!(op.change(&ctx).line().contains("kms_key: null -> arn:key"));
        let mut w = want();
        w.kms_key = None;
        let op = plan(&ctx, &w, Some(&have(&ctx))).unwrap().unwrap();
        assert!(op.change(&ctx).line().contains("kms_key: arn:key -> null"));
    }

    #[test]
    fn another_stacks_or_components_group_is_refused() {
        let ctx = ctx();
        for tags in [
            Context::offline("x", "shop", "prod", "us-east-1").tags("logs-api"),
            ctx.tags("logs-web"),
            vec![],
        ] {
            let h = Have { tags, ..have(&ctx) };
            let e = plan(&ctx, &want(), Some(&h)).unwrap_err();
            assert_eq!(e.exit_code(), 10, "{e}");
        }
    }

    #[test]
    fn kms_propagation_answers_are_recognised() {
        let meta = |code: &str, msg: &str| {
            aws_smithy_types::error::ErrorMetadata::builder()
                .code(code)
                .message(msg)
                .build()
        };
        assert!(kms_not_ready(&meta("AccessDeniedException", "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:...'"), false));
        assert!(kms_not_ready(
            &meta(
                "InvalidParameterException",
                "Specified KMS key 'arn:...' could not be found"
            ),
            true
        ));
        assert!(!kms_not_ready(
            &meta("InvalidParameterException", "Invalid retention"),
            true
        ));
        assert!(!kms_not_ready(
            &meta(
                "AccessDeniedException",
                "not authorized to perform logs:CreateLogGroup"
            ),
            false
        ));
    }
}
