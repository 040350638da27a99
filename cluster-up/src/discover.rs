//! Discovery of the whole layer, every kind at once: the cluster (one
//! DescribeClusters), the execution role (GetRole and its two policy reads),
//! the log key (its alias, the keys tagged as it, its policy and rotation),
//! what the role may read (`grants`), and the account id the key policy
//! names. Reads only. The document's `.cluster` ids are hints, checked by
//! their tags: any of another stack or env goes into `Mismatches`.

use common::owner::Mismatches;
use common::plan::is_planned;
use common::sections::{Cluster, Secrets};
use common::{Context, Document, Result};

use crate::cluster::{self, FoundCluster};
use crate::grants::{self, Grants};
use crate::key::{self, Keys};
use crate::role::{self, FoundRole};
use crate::spec::Desired;

/// The ids the document's `.cluster` records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    pub cluster: Option<String>,
    pub roles: Vec<String>,
    pub keys: Vec<String>,
}

impl Hints {
    /// Reads `.cluster` (malformed: exit 3); placeholders of a plan are no ids.
    pub fn read(doc: &Document) -> Result<Hints> {
        Ok(Hints::of(doc.layer::<Cluster>("cluster")?))
    }

    /// The ids of a `.cluster` section already parsed.
    pub fn of(section: Option<Cluster>) -> Hints {
        let Some(c) = section else {
            return Hints::default();
        };
        let real = |s: &str| !s.is_empty() && !is_planned(s);
        let role_from_arn = c.execution_role_arn.rsplit('/').next().unwrap_or_default();
        let mut roles: Vec<String> = [c.execution_role_name.as_str(), role_from_arn]
            .into_iter()
            .filter(|s| real(s))
            .map(str::to_owned)
            .collect();
        roles.dedup();
        let keys = [c.log_kms_key_id, c.log_kms_key_arn]
            .into_iter()
            .flatten()
            .filter(|s| real(s))
            .collect();
        let cluster = [c.arn, c.name].into_iter().find(|s| real(s));
        Hints {
            cluster,
            roles,
            keys,
        }
    }
}

/// Everything the plan needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actual {
    pub cluster: Option<FoundCluster>,
    pub role: Option<FoundRole>,
    pub keys: Keys,
    pub grants: Grants,
    /// The account, for the key policy; read only with log encryption on.
    pub account: Option<String>,
}

pub async fn discover(
    ctx: &Context,
    desired: &Desired,
    secrets: Option<&Secrets>,
    hints: &Hints,
    mismatches: &Mismatches,
) -> Result<Actual> {
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let iam = aws_sdk_iam::Client::new(&ctx.sdk);
    let kms = aws_sdk_kms::Client::new(&ctx.sdk);
    let sm = aws_sdk_secretsmanager::Client::new(&ctx.sdk);
    let tagging = aws_sdk_resourcegroupstagging::Client::new(&ctx.sdk);
    let key_clients = key::Clients {
        kms: &kms,
        tagging: &tagging,
    };
    let grant_clients = grants::Clients { sm: &sm, kms: &kms };
    let (cluster, role, keys, grants, account) = tokio::try_join!(
        cluster::discover(ctx, &ecs, hints.cluster.as_deref(), mismatches),
        role::discover(ctx, &iam, &hints.roles, mismatches),
        async {
            if desired.log_encryption {
                key::discover(ctx, &key_clients, &hints.keys, mismatches).await
            } else {
                key::note_hints(ctx, &kms, &Keys::default(), &hints.keys, mismatches).await?;
                Ok(Keys::default())
            }
        },
        grants::discover(ctx, &grant_clients, secrets, mismatches),
        async {
            if desired.log_encryption {
                common::account::account_id(&ctx.sdk).await.map(Some)
            } else {
                Ok(None)
            }
        },
    )?;
    Ok(Actual {
        cluster,
        role,
        keys,
        grants,
        account,
    })
}
