//! The ECS cluster (component `cluster`): Container Insights, the ECS Exec
//! configuration (encrypted with the log key, sessions logged or not), the
//! capacity providers and the default strategy (the env's). Discovery, the
//! pure plan of its changes, and their application.
//!
//! Cluster names are unique per account and region, so the cluster is found by
//! its name, in one DescribeClusters that also returns its tags, settings and
//! configuration (and the document's cluster, when it names another: one of
//! another stack or env is a mismatch). A deleted cluster stays visible as
//! INACTIVE for a while; only an ACTIVE one counts.

use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, Cluster as EcsCluster, ClusterConfiguration, ClusterField,
    ClusterSetting, ClusterSettingName, ExecuteCommandConfiguration, ExecuteCommandLogging, Tag,
};

use aws_sdk_ecs::error::ProvideErrorMetadata;

use common::error::aws_error;
use common::owner::Mismatches;
use common::plan::{Action, Change};
use common::sections::StrategyItem;
use common::tagset::{self, Tags};
use common::{retry, Context, Error, Result};

use crate::spec::Desired;
use crate::TOOL;

pub const KIND: &str = "ecs cluster";
pub const COMPONENT: &str = "cluster";

/// The cluster as the plan sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundCluster {
    pub name: String,
    pub arn: String,
    pub tags: Tags,
    /// `enabled`, `enhanced`, `disabled`.
    pub insights: String,
    /// `DEFAULT`, `NONE`, `OVERRIDE`.
    pub exec_logging: String,
    pub exec_key: Option<String>,
    /// Sorted.
    pub providers: Vec<String>,
    /// (provider, base, weight), sorted.
    pub strategy: Vec<(String, i32, i32)>,
}

// ---------------------------------------------------------------------------
// Discovery

/// The cluster of our name, if active; `hint` is the document's cluster name
/// or ARN, checked by its tags.
pub async fn discover(
    ctx: &Context,
    ecs: &aws_sdk_ecs::Client,
    hint: Option<&str>,
    mismatches: &Mismatches,
) -> Result<Option<FoundCluster>> {
    let name = ctx.name(COMPONENT);
    let mut names = vec![name.clone()];
    names.extend(hint.filter(|h| *h != name).map(str::to_owned));
    let out = ecs
        .describe_clusters()
        .set_clusters(Some(names))
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .include(ClusterField::Configurations)
        .send()
        .await
        .map_err(|e| aws_error(format!("DescribeClusters {name}"), e))?;
    let active = out
        .clusters()
        .iter()
        .filter(|c| c.status() == Some("ACTIVE"));
    let mut ours = None;
    for c in active {
        let found = found(c);
        if found.name == name {
            ours = Some(found);
        } else if let Some(h) = hint {
            mismatches.note(ctx, KIND, h, pairs(&found.tags));
        }
    }
    Ok(ours)
}

fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn found(c: &EcsCluster) -> FoundCluster {
    let exec = c
        .configuration()
        .and_then(|c| c.execute_command_configuration());
    let mut providers = c.capacity_providers().to_vec();
    providers.sort();
    let mut strategy: Vec<(String, i32, i32)> = c
        .default_capacity_provider_strategy()
        .iter()
        .map(|s| (s.capacity_provider().to_owned(), s.base(), s.weight()))
        .collect();
    strategy.sort();
    FoundCluster {
        name: c.cluster_name().unwrap_or_default().to_owned(),
        arn: c.cluster_arn().unwrap_or_default().to_owned(),
        tags: tagset::collect(
            c.tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
        ),
        insights: c
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value())
            .unwrap_or("disabled")
            .to_owned(),
        // A cluster with no configuration logs exec sessions the DEFAULT way.
        exec_logging: exec
            .and_then(|e| e.logging())
            .map_or("DEFAULT", |l| l.as_str())
            .to_owned(),
        exec_key: exec.and_then(|e| e.kms_key_id()).map(str::to_owned),
        providers,
        strategy,
    }
}

// ---------------------------------------------------------------------------
// The plan

/// What the cluster should be, with the log key's ARN (or the placeholder of
/// the one a create will make).
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub name: String,
    pub insights: bool,
    pub exec_logging: bool,
    pub exec_key: Option<String>,
    pub providers: Vec<String>,
    pub strategy: Vec<StrategyItem>,
    pub tags: Vec<(String, String)>,
}

impl Want {
    pub fn new(ctx: &Context, d: &Desired, exec_key: Option<String>) -> Self {
        Want {
            name: ctx.name(COMPONENT),
            insights: d.container_insights,
            exec_logging: d.exec_logging,
            exec_key,
            providers: d.capacity_providers.clone(),
            strategy: d.strategy.clone(),
            tags: ctx.tags(COMPONENT),
        }
    }

    fn sorted_providers(&self) -> Vec<String> {
        let mut p = self.providers.clone();
        p.sort();
        p
    }

    fn sorted_strategy(&self) -> Vec<(String, i32, i32)> {
        let mut s: Vec<_> = self
            .strategy
            .iter()
            .map(|s| (s.provider.clone(), s.base as i32, s.weight as i32))
            .collect();
        s.sort();
        s
    }
}

/// One drifted part of the cluster; each is one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// UpdateCluster: the settings and/or the exec configuration.
    Update {
        insights: bool,
        exec: bool,
    },
    /// PutClusterCapacityProviders: providers and default strategy together.
    CapacityProviders,
    Tags(Tags),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create,
    Update { arn: String, fixes: Vec<Fix> },
}

/// The cluster's op and change, if anything is to be done. Refused when a
/// cluster of our name is not this stack's, env's and component's.
pub fn plan(
    want: &Want,
    found: Option<&FoundCluster>,
    ctx: &Context,
) -> Result<Option<(Op, Change)>> {
    let Some(c) = found else {
        let change = Change::new(TOOL, Action::Create, KIND, &want.name);
        return Ok(Some((Op::Create, change)));
    };
    ctx.check_owned(KIND, &want.name, pairs(&c.tags), COMPONENT)?;
    let mut change = Change::new(TOOL, Action::Update, KIND, &c.name).id(&c.arn);
    let mut fixes = Vec::new();
    // `enhanced` counts as on: never downgraded.
    let insights_ok = if want.insights {
        matches!(c.insights.as_str(), "enabled" | "enhanced")
    } else {
        c.insights == "disabled"
    };
    if !insights_ok {
        change = change.field("container_insights", &c.insights, on_off(want.insights));
    }
    let logging = if want.exec_logging { "DEFAULT" } else { "NONE" };
    if c.exec_logging != logging {
        change = change.field("exec_logging", &c.exec_logging, logging);
    }
    if c.exec_key != want.exec_key {
        change = change.field("exec_kms_key", &c.exec_key, &want.exec_key);
    }
    let exec_ok = c.exec_logging == logging && c.exec_key == want.exec_key;
    if !insights_ok || !exec_ok {
        fixes.push(Fix::Update {
            insights: !insights_ok,
            exec: !exec_ok,
        });
    }
    let (providers, strategy) = (want.sorted_providers(), want.sorted_strategy());
    if c.providers != providers || c.strategy != strategy {
        if c.providers != providers {
            change = change.field("capacity_providers", &c.providers, &providers);
        }
        if c.strategy != strategy {
            change = change.field(
                "default_strategy",
                describe(&c.strategy),
                describe(&strategy),
            );
        }
        fixes.push(Fix::CapacityProviders);
    }
    let missing = tagset::missing(&want.tags, &c.tags);
    if !missing.is_empty() {
        let (from, to) = tagset::field(&missing, &c.tags);
        change = change.field("tags", from, to);
        fixes.push(Fix::Tags(missing));
    }
    Ok((!fixes.is_empty()).then(|| {
        let op = Op::Update {
            arn: c.arn.clone(),
            fixes,
        };
        (op, change)
    }))
}

fn on_off(on: bool) -> &'static str {
    if on {
        "enabled"
    } else {
        "disabled"
    }
}

/// `FARGATE:1:1,FARGATE_SPOT:0:4`, the flag's own notation.
fn describe(strategy: &[(String, i32, i32)]) -> String {
    strategy
        .iter()
        .map(|(p, b, w)| format!("{p}:{b}:{w}"))
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------
// Apply

/// Applies the cluster's op; the ARN of the cluster made, for a create.
pub async fn apply(ecs: &aws_sdk_ecs::Client, want: &Want, op: &Op) -> Result<Option<String>> {
    match op {
        Op::Create => create(ecs, want).await.map(Some),
        Op::Update { arn, fixes } => {
            for fix in fixes {
                apply_fix(ecs, want, arn, fix).await?;
            }
            Ok(None)
        }
    }
}

fn exec_configuration(want: &Want) -> ExecuteCommandConfiguration {
    ExecuteCommandConfiguration::builder()
        .set_kms_key_id(want.exec_key.clone())
        .logging(if want.exec_logging {
            ExecuteCommandLogging::Default
        } else {
            ExecuteCommandLogging::None
        })
        .build()
}

fn insights_setting(want: &Want) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(on_off(want.insights))
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

async fn create(ecs: &aws_sdk_ecs::Client, want: &Want) -> Result<String> {
    let name = &want.name;
    let tags: Vec<Tag> = want
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let configuration = ClusterConfiguration::builder()
        .execute_command_configuration(exec_configuration(want))
        .build();
    let strategy = strategy_items(&want.strategy)?;
    // In a new account ECS creates its service-linked role on the first
    // CreateCluster, and the capacity providers of that very call can be
    // refused until the role is visible.
    let out = retry::retry(
        &format!("CreateCluster {name}"),
        retry::Policy::consistency(),
        |_| false,
        || async {
            ecs.create_cluster()
                .cluster_name(name)
                .settings(insights_setting(want))
                .configuration(configuration.clone())
                .set_capacity_providers(Some(want.providers.clone()))
                .set_default_capacity_provider_strategy(Some(strategy.clone()))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(|e| {
                    let early = e.as_service_error().is_some_and(|s| {
                        s.is_invalid_parameter_exception()
                            && s.message()
                                .is_some_and(|m| m.contains("service linked role"))
                    });
                    retryable(aws_error(format!("CreateCluster {name}"), e), early)
                })
        },
    )
    .await?;
    Ok(out
        .cluster()
        .and_then(|c| c.cluster_arn())
        .unwrap_or_default()
        .to_owned())
}

async fn apply_fix(ecs: &aws_sdk_ecs::Client, want: &Want, arn: &str, fix: &Fix) -> Result<()> {
    let name = &want.name;
    match fix {
        Fix::Update { insights, exec } => {
            let mut call = ecs.update_cluster().cluster(name);
            if *insights {
                call = call.settings(insights_setting(want));
            }
            if *exec {
                call = call.configuration(
                    ClusterConfiguration::builder()
                        .execute_command_configuration(exec_configuration(want))
                        .build(),
                );
            }
            call.send()
                .await
                .map(drop)
                .map_err(|e| aws_error(format!("UpdateCluster {name}"), e))
        }
        Fix::CapacityProviders => put_capacity_providers(ecs, want).await,
        Fix::Tags(t) => {
            let tags: Vec<Tag> = t
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            ecs.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(format!("TagResource {name}"), e))
        }
    }
}

/// ECS refuses a capacity provider change while another is in progress.
async fn put_capacity_providers(ecs: &aws_sdk_ecs::Client, want: &Want) -> Result<()> {
    let name = &want.name;
    let strategy = strategy_items(&want.strategy)?;
    retry::retry(
        &format!("PutClusterCapacityProviders {name}"),
        retry::Policy::consistency(),
        |_| false,
        || async {
            ecs.put_cluster_capacity_providers()
                .cluster(name)
                .set_capacity_providers(Some(want.providers.clone()))
                .set_default_capacity_provider_strategy(Some(strategy.clone()))
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    let busy = e.as_service_error().is_some_and(|s| {
                        s.is_update_in_progress_exception() || s.is_resource_in_use_exception()
                    });
                    retryable(
                        aws_error(format!("PutClusterCapacityProviders {name}"), e),
                        busy,
                    )
                })
        },
    )
    .await
}

/// Marks an error worth another attempt (`retry` retries transient errors)
/// when its modelled type says so.
fn retryable(mut e: Error, again: bool) -> Error {
    if let (true, Error::Aws(a)) = (again, &mut e) {
        a.transient = true;
    }
    e
}

#[cfg(test)]
mod tests;
