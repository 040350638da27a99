//! One function per resource kind: find it, adopt it (fixing drift) or create
//! it, and return what later steps need. `converge` is the dependency graph: the
//! log key and the execution role are independent and made concurrently; the
//! cluster needs the key for its ECS Exec configuration.

use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Cluster as EcsCluster, ClusterConfiguration, ClusterField,
    ClusterSetting, ClusterSettingName, ExecuteCommandConfiguration, ExecuteCommandLogging,
};
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use serde_json::{json, Value};

use common::iam::{self, partition, RoleOut};
use common::sections::{Cluster, Secrets, StrategyItem};
use common::{retry, AwsResultExt, Context, Error, Result};

use crate::kms::{self as keys, log_key_alias, LOG_KEY};
use crate::spec::Plan;

/// The execution role's component: `{stack}-task-execution-{env}`.
pub const EXECUTION_ROLE: &str = "task-execution";
/// The inline policy that grants the role its secrets.
pub const SECRETS_POLICY: &str = "secrets";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    pub id: String,
    pub arn: String,
}

/// Brings the cluster layer to the plan and describes it.
pub async fn converge(ctx: &Context, plan: &Plan, secrets: Option<&Secrets>) -> Result<Cluster> {
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let iam = aws_sdk_iam::Client::new(&ctx.sdk);
    let kms = aws_sdk_kms::Client::new(&ctx.sdk);
    let sts = aws_sdk_sts::Client::new(&ctx.sdk);

    let (key, role) = tokio::try_join!(
        async {
            if !plan.log_encryption {
                return Ok(None);
            }
            let account = account_id(&sts).await?;
            ensure_log_key(&kms, ctx, &account).await.map(Some)
        },
        ensure_execution_role(&iam, &kms, ctx, secrets),
    )?;
    let (name, arn) = ensure_cluster(&ecs, ctx, plan, key.as_ref().map(|k| k.arn.as_str())).await?;

    Ok(Cluster {
        name,
        arn,
        execution_role_name: role.name,
        execution_role_arn: role.arn,
        log_kms_key_arn: key.as_ref().map(|k| k.arn.clone()),
        log_kms_key_id: key.map(|k| k.id),
        container_insights: plan.container_insights,
        capacity_providers: plan.capacity_providers.clone(),
        default_strategy: plan.strategy.clone(),
    })
}

async fn account_id(sts: &aws_sdk_sts::Client) -> Result<String> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .aws("GetCallerIdentity")?;
    out.account()
        .map(str::to_owned)
        .ok_or_else(|| odd_answer("GetCallerIdentity", "no account id in the answer"))
}

/// An AWS answer that succeeded but lacks what the API promises.
fn odd_answer(op: &str, message: &str) -> Error {
    Error::Aws(common::error::AwsError {
        op: op.to_owned(),
        code: None,
        message: message.to_owned(),
        request_id: None,
        transient: false,
    })
}

// ---------------------------------------------------------------------------
// The task execution role

/// The role ECS uses to start tasks: pull images, write logs, fetch secrets.
async fn ensure_execution_role(
    iam_client: &aws_sdk_iam::Client,
    kms: &aws_sdk_kms::Client,
    ctx: &Context,
    secrets: Option<&Secrets>,
) -> Result<RoleOut> {
    // Resolve the secrets' keys first: read-only, and a bad key id fails the run
    // before the role changes.
    let (arns, key_arns) = secret_grants(kms, secrets).await?;
    let policy = secrets_policy(&ctx.region, &arns, &key_arns);

    let role = iam::ensure_role(
        iam_client,
        ctx,
        EXECUTION_ROLE,
        "ecs-tasks.amazonaws.com",
        "ECS task execution: pull images, write logs, read this stack's secrets",
    )
    .await?;
    let managed = format!(
        "arn:{}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        partition(&ctx.region)
    );
    iam::ensure_managed_policies(iam_client, ctx, &role, &[&managed]).await?;
    iam::ensure_inline_policy(iam_client, ctx, &role, SECRETS_POLICY, policy.as_ref()).await?;
    Ok(role)
}

/// The secrets' ARNs and their customer-managed keys' ARNs, sorted and unique.
/// `.secrets` may name a key by id, ARN or alias; IAM needs the key ARN.
async fn secret_grants(
    kms: &aws_sdk_kms::Client,
    secrets: Option<&Secrets>,
) -> Result<(Vec<String>, Vec<String>)> {
    let Some(secrets) = secrets else {
        return Ok((vec![], vec![]));
    };
    let mut arns: Vec<String> = secrets.arns().map(str::to_owned).collect();
    if let Some(s) = secrets.values().find(|s| s.arn.is_empty()) {
        return Err(Error::Document(format!(
            ".secrets: secret {} has no arn: re-run secrets-up",
            s.name
        )));
    }
    arns.sort();
    arns.dedup();
    let mut key_arns = Vec::new();
    for key in secrets.kms_keys() {
        let meta = keys::describe(kms, key).await?.ok_or_else(|| {
            Error::Document(format!(
                ".secrets names the KMS key {key}, which does not exist in this region"
            ))
        })?;
        key_arns.push(meta.arn().unwrap_or_default().to_owned());
    }
    key_arns.sort();
    key_arns.dedup();
    Ok((arns, key_arns))
}

/// The inline policy: GetSecretValue on exactly the secrets, and Decrypt on
/// exactly their keys when called through Secrets Manager. No secrets, no policy.
pub fn secrets_policy(region: &str, secret_arns: &[String], key_arns: &[String]) -> Option<Value> {
    if secret_arns.is_empty() {
        return None;
    }
    let mut statements = vec![json!({
        "Sid": "ReadTheStackSecrets",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": secret_arns,
    })];
    if !key_arns.is_empty() {
        statements.push(json!({
            "Sid": "DecryptTheSecretsKeys",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arns,
            "Condition": {
                "StringEquals": {"kms:ViaService": format!("secretsmanager.{region}.amazonaws.com")}
            },
        }));
    }
    Some(json!({"Version": "2012-10-17", "Statement": statements}))
}

// ---------------------------------------------------------------------------
// The KMS key for logs

/// The key policy: the account (through IAM) manages the key; CloudWatch Logs of
/// this region may use it for this account's log groups, and nothing else may.
pub fn log_key_policy(region: &str, account: &str) -> Value {
    let p = partition(region);
    json!({
        "Version": "2012-10-17",
        "Id": "fargate-pipes-logs",
        "Statement": [
            {
                "Sid": "AccountManagesTheKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{p}:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": format!("logs.{region}.amazonaws.com")},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*"
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn":
                            format!("arn:{p}:logs:{region}:{account}:log-group:*")
                    }
                }
            }
        ]
    })
}

/// Finds the log key by alias, else by tag (a run killed before CreateAlias, or
/// an alias teardown removed), else creates it. A key pending deletion is
/// restored: a stack torn down and brought up again keeps its key.
async fn ensure_log_key(kms: &aws_sdk_kms::Client, ctx: &Context, account: &str) -> Result<LogKey> {
    let alias = log_key_alias(ctx);
    let policy = log_key_policy(&ctx.region, account);
    let found = match keys::describe(kms, &alias).await? {
        Some(meta) => {
            let tags = keys::tags(kms, meta.key_id()).await?;
            if !keys::owns(ctx, &tags) {
                return Err(Error::spec(format!(
                    "KMS alias {alias} points at key {} which is not tagged for stack {} env {}: \
                     delete the alias or pick another stack name",
                    meta.key_id(),
                    ctx.stack,
                    ctx.env
                )));
            }
            Some((meta, true))
        }
        None => keys::owned_keys(kms, ctx)
            .await?
            .into_iter()
            .filter(|(_, component)| component == LOG_KEY)
            .map(|(meta, _)| meta)
            .min_by_key(keys::rank)
            .map(|meta| (meta, false)),
    };
    let Some((meta, has_alias)) = found else {
        return create_log_key(kms, ctx, &alias, &policy).await;
    };
    let key = LogKey {
        id: meta.key_id().to_owned(),
        arn: meta.arn().unwrap_or_default().to_owned(),
    };
    ctx.report.adopted("kms key", &alias, &key.id);
    match meta.key_state() {
        Some(KeyState::PendingDeletion) => {
            kms.cancel_key_deletion()
                .key_id(&key.id)
                .send()
                .await
                .aws(format!("CancelKeyDeletion {alias}"))?;
            // A key whose deletion is cancelled comes back disabled.
            enable_key(kms, &key.id, &alias).await?;
            ctx.report.updated(
                "kms key",
                &alias,
                "restored (its scheduled deletion was cancelled)",
            );
        }
        Some(KeyState::Disabled) => {
            enable_key(kms, &key.id, &alias).await?;
            ctx.report.updated("kms key", &alias, "enabled");
        }
        _ => {}
    }
    if !has_alias {
        create_alias(kms, &alias, &key.id).await?;
        ctx.report.updated("kms key", &alias, "alias restored");
    }
    let have = kms
        .get_key_policy()
        .key_id(&key.id)
        .policy_name("default")
        .send()
        .await
        .aws(format!("GetKeyPolicy {alias}"))?;
    let have: Option<Value> = have.policy().and_then(|p| serde_json::from_str(p).ok());
    if have.as_ref() != Some(&policy) {
        kms.put_key_policy()
            .key_id(&key.id)
            .policy_name("default")
            .policy(policy.to_string())
            .send()
            .await
            .aws(format!("PutKeyPolicy {alias}"))?;
        ctx.report.updated("kms key", &alias, "key policy reset");
    }
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&key.id)
        .send()
        .await
        .aws(format!("GetKeyRotationStatus {alias}"))?;
    if !rotation.key_rotation_enabled() {
        enable_rotation(kms, &key.id, &alias).await?;
        ctx.report.updated("kms key", &alias, "rotation turned on");
    }
    Ok(key)
}

async fn create_log_key(
    kms: &aws_sdk_kms::Client,
    ctx: &Context,
    alias: &str,
    policy: &Value,
) -> Result<LogKey> {
    let tags = ctx
        .tags(LOG_KEY)
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| Error::spec(format!("invalid tag: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    // Tagged at creation: if the run dies before CreateAlias, the next one finds
    // the key by its tags instead of making a second.
    let out = kms
        .create_key()
        .description(format!(
            "fargate-pipes {}/{}: CloudWatch Logs encryption",
            ctx.stack, ctx.env
        ))
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .policy(policy.to_string())
        .set_tags(Some(tags))
        .send()
        .await
        .aws(format!("CreateKey {alias}"))?;
    let meta = out
        .key_metadata()
        .ok_or_else(|| odd_answer(&format!("CreateKey {alias}"), "no key in the answer"))?;
    let key = LogKey {
        id: meta.key_id().to_owned(),
        arn: meta.arn().unwrap_or_default().to_owned(),
    };
    ctx.report.created("kms key", alias, &key.id);
    enable_rotation(kms, &key.id, alias).await?;
    create_alias(kms, alias, &key.id).await?;
    Ok(key)
}

async fn enable_key(kms: &aws_sdk_kms::Client, id: &str, alias: &str) -> Result<()> {
    kms.enable_key()
        .key_id(id)
        .send()
        .await
        .map(|_| ())
        .aws(format!("EnableKey {alias}"))
}

async fn enable_rotation(kms: &aws_sdk_kms::Client, id: &str, alias: &str) -> Result<()> {
    retry::after_create(&format!("EnableKeyRotation {alias}"), || async {
        kms.enable_key_rotation()
            .key_id(id)
            .send()
            .await
            .map(|_| ())
            .aws(format!("EnableKeyRotation {alias}"))
    })
    .await
}

async fn create_alias(kms: &aws_sdk_kms::Client, alias: &str, id: &str) -> Result<()> {
    retry::after_create(&format!("CreateAlias {alias}"), || async {
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(id)
            .send()
            .await
            .map(|_| ())
            .aws(format!("CreateAlias {alias}"))
    })
    .await
}

// ---------------------------------------------------------------------------
// The ECS cluster

fn exec_configuration(plan: &Plan, key_arn: Option<&str>) -> ExecuteCommandConfiguration {
    ExecuteCommandConfiguration::builder()
        .set_kms_key_id(key_arn.map(str::to_owned))
        .logging(if plan.exec_logging {
            ExecuteCommandLogging::Default
        } else {
            ExecuteCommandLogging::None
        })
        .build()
}

fn insights_setting(plan: &Plan) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if plan.container_insights {
            "enabled"
        } else {
            "disabled"
        })
        .build()
}

fn strategy_items(strategy: &[StrategyItem]) -> Result<Vec<CapacityProviderStrategyItem>> {
    strategy
        .iter()
        .map(|s| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(&s.provider)
                .base(s.base as i32)
                .weight(s.weight as i32)
                .build()
                .map_err(|e| Error::spec(format!("invalid strategy: {e}")))
        })
        .collect()
}

/// A strategy as comparable (provider, base, weight) triples, in provider order.
fn normalized(items: impl Iterator<Item = (String, i32, i32)>) -> Vec<(String, i32, i32)> {
    let mut v: Vec<_> = items.collect();
    v.sort();
    v
}

/// Whether the cluster's Container Insights setting is what the plan wants
/// (`enhanced` counts as on: we never downgrade it).
fn insights_match(cluster: &EcsCluster, plan: &Plan) -> bool {
    let have = cluster
        .settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value())
        .unwrap_or("disabled");
    if plan.container_insights {
        matches!(have, "enabled" | "enhanced")
    } else {
        have == "disabled"
    }
}

/// Whether the cluster's ECS Exec configuration is what the plan wants. A
/// cluster with no configuration logs exec sessions the DEFAULT way.
fn exec_match(cluster: &EcsCluster, want: &ExecuteCommandConfiguration) -> bool {
    let have = cluster
        .configuration()
        .and_then(|c| c.execute_command_configuration());
    let logging = have
        .and_then(|e| e.logging())
        .cloned()
        .unwrap_or(ExecuteCommandLogging::Default);
    have.and_then(|e| e.kms_key_id()) == want.kms_key_id() && Some(&logging) == want.logging()
}

async fn ensure_cluster(
    ecs: &aws_sdk_ecs::Client,
    ctx: &Context,
    plan: &Plan,
    key_arn: Option<&str>,
) -> Result<(String, String)> {
    let name = ctx.name("cluster");
    let out = ecs
        .describe_clusters()
        .clusters(&name)
        .include(ClusterField::Settings)
        .include(ClusterField::Configurations)
        .include(ClusterField::Tags)
        .send()
        .await
        .aws(format!("DescribeClusters {name}"))?;
    let exec = exec_configuration(plan, key_arn);
    let strategy = strategy_items(&plan.strategy)?;
    // A deleted cluster stays visible as INACTIVE for a while; it is not ours to adopt.
    let Some(cluster) = out.clusters().iter().find(|c| c.status() == Some("ACTIVE")) else {
        return create_cluster(ecs, ctx, plan, &name, exec, strategy).await;
    };
    let tags = cluster
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
    if !ctx.owns(tags) {
        return Err(Error::spec(format!(
            "ECS cluster {name} exists but is not tagged for stack {} env {}: it is not ours; \
             pick another stack name",
            ctx.stack, ctx.env
        )));
    }
    let arn = cluster.cluster_arn().unwrap_or_default().to_owned();
    ctx.report.adopted("ecs cluster", &name, &arn);

    // Settings and configuration in one UpdateCluster call, which takes both.
    let insights_ok = insights_match(cluster, plan);
    let exec_ok = exec_match(cluster, &exec);
    if !insights_ok || !exec_ok {
        let mut call = ecs.update_cluster().cluster(&name);
        if !insights_ok {
            call = call.settings(insights_setting(plan));
        }
        if !exec_ok {
            call = call.configuration(
                ClusterConfiguration::builder()
                    .execute_command_configuration(exec)
                    .build(),
            );
        }
        call.send().await.aws(format!("UpdateCluster {name}"))?;
        let mut what = Vec::new();
        if !insights_ok {
            what.push(format!(
                "Container Insights {}",
                if plan.container_insights { "on" } else { "off" }
            ));
        }
        if !exec_ok {
            what.push("ECS Exec configuration".to_owned());
        }
        ctx.report.updated("ecs cluster", &name, &what.join(", "));
    }

    let mut have_providers = cluster.capacity_providers().to_vec();
    have_providers.sort();
    let mut want_providers = plan.capacity_providers.clone();
    want_providers.sort();
    let have_strategy = normalized(
        cluster
            .default_capacity_provider_strategy()
            .iter()
            .map(|s| (s.capacity_provider().to_owned(), s.base(), s.weight())),
    );
    let want_strategy = normalized(
        strategy
            .iter()
            .map(|s| (s.capacity_provider().to_owned(), s.base(), s.weight())),
    );
    if have_providers != want_providers || have_strategy != want_strategy {
        put_capacity_providers(ecs, &name, plan, strategy).await?;
        ctx.report.updated(
            "ecs cluster",
            &name,
            &format!(
                "capacity providers and default strategy {}",
                describe(&plan.strategy)
            ),
        );
    }
    Ok((name, arn))
}

async fn create_cluster(
    ecs: &aws_sdk_ecs::Client,
    ctx: &Context,
    plan: &Plan,
    name: &str,
    exec: ExecuteCommandConfiguration,
    strategy: Vec<CapacityProviderStrategyItem>,
) -> Result<(String, String)> {
    let tags: Vec<aws_sdk_ecs::types::Tag> = ctx
        .tags("cluster")
        .into_iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect();
    let configuration = ClusterConfiguration::builder()
        .execute_command_configuration(exec)
        .build();
    // In a new account ECS creates its service-linked role on the first
    // CreateCluster, and the capacity providers of that very call can be refused
    // until the role is visible.
    let out = retry::retry(
        &format!("CreateCluster {name}"),
        retry::Policy::consistency(),
        |e| {
            e.aws_code() == Some("InvalidParameterException")
                && e.to_string().contains("service linked role")
        },
        || async {
            ecs.create_cluster()
                .cluster_name(name)
                .settings(insights_setting(plan))
                .configuration(configuration.clone())
                .set_capacity_providers(Some(plan.capacity_providers.clone()))
                .set_default_capacity_provider_strategy(Some(strategy.clone()))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .aws(format!("CreateCluster {name}"))
        },
    )
    .await?;
    let arn = out
        .cluster()
        .and_then(|c| c.cluster_arn())
        .unwrap_or_default()
        .to_owned();
    ctx.report.created("ecs cluster", name, &arn);
    Ok((name.to_owned(), arn))
}

/// ECS refuses a capacity provider change while another is in progress.
async fn put_capacity_providers(
    ecs: &aws_sdk_ecs::Client,
    name: &str,
    plan: &Plan,
    strategy: Vec<CapacityProviderStrategyItem>,
) -> Result<()> {
    retry::retry(
        &format!("PutClusterCapacityProviders {name}"),
        retry::Policy::consistency(),
        |e| {
            matches!(
                e.aws_code(),
                Some("UpdateInProgressException" | "ResourceInUseException")
            )
        },
        || async {
            ecs.put_cluster_capacity_providers()
                .cluster(name)
                .set_capacity_providers(Some(plan.capacity_providers.clone()))
                .set_default_capacity_provider_strategy(Some(strategy.clone()))
                .send()
                .await
                .map(|_| ())
                .aws(format!("PutClusterCapacityProviders {name}"))
        },
    )
    .await
}

/// `FARGATE:1:1,FARGATE_SPOT:0:4`, the flag's own notation.
fn describe(strategy: &[StrategyItem]) -> String {
    strategy
        .iter()
        .map(|s| format!("{}:{}:{}", s.provider, s.base, s.weight))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_policy_names_exactly_the_secrets_and_their_keys() {
        assert_eq!(secrets_policy("us-east-1", &[], &[]), None);
        let arns = vec!["arn:a".to_owned(), "arn:b".to_owned()];
        let p = secrets_policy("eu-west-1", &arns, &[]).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(p["Statement"][0]["Resource"], json!(["arn:a", "arn:b"]));
        let p = secrets_policy("eu-west-1", &arns, &["arn:k".to_owned()]).unwrap();
        assert_eq!(p["Statement"][1]["Action"], "kms:Decrypt");
        assert_eq!(p["Statement"][1]["Resource"], json!(["arn:k"]));
        assert_eq!(
            p["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"],
            "secretsmanager.eu-west-1.amazonaws.com"
        );
        assert!(!p.to_string().contains('*'), "no wildcards: {p}");
    }

    #[test]
    fn the_key_policy_follows_region_and_partition() {
        let p = log_key_policy("cn-north-1", "111122223333");
        assert_eq!(
            p["Statement"][0]["Principal"]["AWS"],
            "arn:aws-cn:iam::111122223333:root"
        );
        assert_eq!(
            p["Statement"][1]["Principal"]["Service"],
            "logs.cn-north-1.amazonaws.com"
        );
        assert_eq!(
            p["Statement"][1]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"],
            "arn:aws-cn:logs:cn-north-1:111122223333:log-group:*"
        );
    }
}
