//! The layer's plan: one op per kind (key, role, cluster), each a pure
//! function of the desired state and what discovery found (see the kinds'
//! modules, where each rule is unit-tested), and their application as a small
//! graph: the key and the role at once, then the cluster, whose ECS Exec
//! configuration names the key.

use common::iam::role_name;
use common::plan::{planned, Change};
use common::sections::Cluster;
use common::{Context, Result};

use crate::cluster::{self, FoundCluster, Want};
use crate::discover::Actual;
use crate::key;
use crate::role;
use crate::spec::Desired;

/// What the run does, kind by kind (`None`: nothing to do).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub key: Option<(key::Op, Change)>,
    /// The key kept, (id, ARN), when it exists already.
    pub key_ids: Option<(String, String)>,
    pub role: Option<(role::Op, Change)>,
    pub cluster: Option<(cluster::Op, Change)>,
    /// The cluster as it should be (its exec key: the key's ARN, or a
    /// placeholder until the create makes it).
    pub want: Want,
    found_cluster: Option<FoundCluster>,
}

/// What the apply made (or, with `--plan`, the placeholders of what it would).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Made {
    pub key: Option<(String, String)>,
    pub role_arn: Option<String>,
    pub cluster_arn: Option<String>,
}

pub fn plan(ctx: &Context, desired: &Desired, actual: &Actual) -> Result<Plan> {
    let key_plan = match (&actual.account, desired.log_encryption) {
        (Some(account), true) => key::plan(ctx, &actual.keys, &key::policy(&ctx.region, account))?,
        _ => key::Plan {
            op: None,
            key: None,
        },
    };
    let exec_key = desired.log_encryption.then(|| match &key_plan.key {
        Some((_, arn)) => arn.clone(),
        None => planned(key::KIND, &key::alias(ctx)),
    });
    let want = Want::new(ctx, desired, exec_key);
    let secrets_policy = crate::grants::policy(&ctx.region, &actual.grants);
    let role = role::plan(ctx, actual.role.as_ref(), secrets_policy.as_ref())?;
    let cluster = cluster::plan(&want, actual.cluster.as_ref(), ctx)?;
    Ok(Plan {
        key: key_plan.op,
        key_ids: key_plan.key,
        role,
        cluster,
        want,
        found_cluster: actual.cluster.clone(),
    })
}

impl Plan {
    /// The changes, in the order the apply makes them.
    pub fn changes(&self) -> Vec<&Change> {
        [
            self.key.as_ref().map(|(_, c)| c),
            self.role.as_ref().map(|(_, c)| c),
            self.cluster.as_ref().map(|(_, c)| c),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// `--plan`: every change recorded, nothing made.
    pub fn record(&self, ctx: &Context) {
        for c in self.changes() {
            ctx.report.change(c.clone());
        }
    }

    /// `--plan`: placeholders for the ids the creates would make.
    pub fn planned_ids(&self, ctx: &Context) -> Made {
        let created = |op: bool, kind: &str, name: &str| op.then(|| planned(kind, name));
        let key_alias = key::alias(ctx);
        Made {
            key: created(
                matches!(self.key, Some((key::Op::Create { .. }, _))),
                key::KIND,
                &key_alias,
            )
            .map(|p| (p.clone(), p)),
            role_arn: created(
                matches!(self.role, Some((role::Op::Create { .. }, _))),
                role::KIND,
                &role_name(ctx, role::COMPONENT),
            ),
            cluster_arn: created(
                matches!(self.cluster, Some((cluster::Op::Create, _))),
                cluster::KIND,
                &self.want.name,
            ),
        }
    }

    /// Applies the ops: the key and the role at once, then the cluster.
    pub async fn apply(&self, ctx: &Context) -> Result<Made> {
        let kms = aws_sdk_kms::Client::new(&ctx.sdk);
        let iam = aws_sdk_iam::Client::new(&ctx.sdk);
        let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
        let (key, role_arn) = tokio::try_join!(
            async {
                let Some((op, change)) = &self.key else {
                    return Ok(None);
                };
                let made = key::apply(ctx, &kms, op).await?;
                record(ctx, change, made.as_ref().map(|(id, _)| id.as_str()));
                Ok(made)
            },
            async {
                let Some((op, change)) = &self.role else {
                    return Ok(None);
                };
                let made = role::apply(&iam, op).await?;
                record(ctx, change, made.as_deref());
                Ok(made)
            },
        )?;
        let cluster_arn = self.apply_cluster(ctx, &ecs, key.as_ref()).await?;
        Ok(Made {
            key,
            role_arn,
            cluster_arn,
        })
    }

    /// The cluster's op, planned again with the ARN of a key just made (the
    /// plan could only name it by placeholder).
    async fn apply_cluster(
        &self,
        ctx: &Context,
        ecs: &aws_sdk_ecs::Client,
        new_key: Option<&(String, String)>,
    ) -> Result<Option<String>> {
        let (want, op) = match new_key {
            Some((_, arn)) => {
                let want = Want {
                    exec_key: Some(arn.clone()),
                    ..self.want.clone()
                };
                let op = cluster::plan(&want, self.found_cluster.as_ref(), ctx)?;
                (want, op)
            }
            None => (self.want.clone(), self.cluster.clone()),
        };
        let Some((op, change)) = op else {
            return Ok(None);
        };
        let made = cluster::apply(ecs, &want, &op).await?;
        record(ctx, &change, made.as_deref());
        Ok(made)
    }

    /// `.cluster`, from what exists, what was made, and the desired state.
    pub fn section(
        &self,
        ctx: &Context,
        desired: &Desired,
        actual: &Actual,
        made: &Made,
    ) -> Cluster {
        let key = desired
            .log_encryption
            .then(|| made.key.clone().or_else(|| self.key_ids.clone()))
            .flatten();
        let role = actual.role.as_ref().map(|r| r.arn.clone());
        let cluster = actual.cluster.as_ref().map(|c| c.arn.clone());
        for (kind, name, id, op) in [
            (
                cluster::KIND,
                self.want.name.clone(),
                &cluster,
                self.cluster.is_some(),
            ),
            (
                role::KIND,
                role_name(ctx, role::COMPONENT),
                &role,
                self.role.is_some(),
            ),
        ] {
            if let (Some(id), false) = (id, op) {
                ctx.report.adopted(kind, &name, id);
            }
        }
        Cluster {
            name: self.want.name.clone(),
            arn: made.cluster_arn.clone().or(cluster).unwrap_or_default(),
            execution_role_name: role_name(ctx, role::COMPONENT),
            execution_role_arn: made.role_arn.clone().or(role).unwrap_or_default(),
            log_kms_key_arn: key.as_ref().map(|(_, arn)| arn.clone()),
            log_kms_key_id: key.map(|(id, _)| id),
            container_insights: desired.container_insights,
            capacity_providers: desired.capacity_providers.clone(),
            default_strategy: desired.strategy.clone(),
        }
    }
}

/// Records a change once made, with the id a create gave it.
fn record(ctx: &Context, change: &Change, id: Option<&str>) {
    let change = match id {
        Some(id) => change.clone().id(id),
        None => change.clone(),
    };
    ctx.report.change(change);
}
