//! CodeDeploy for blue/green services: an application and a deployment group
//! per service (component `codedeploy-{service}`), the role CodeDeploy assumes
//! (`roles`, component `codedeploy`), and a deployment whenever the service
//! should run another task definition, network or capacity strategy: an ECS
//! service with the `CODE_DEPLOY` controller takes those only through
//! CodeDeploy (see docs/blue-green.md).
//!
//! What a blue/green service runs is read from its newest deployment that is
//! under way or succeeded (created after the service itself), else from the
//! service: a re-run while a deployment is under way (on the emulator,
//! forever) starts no second one. The AppSpec carries the task definition, the
//! container and port behind the load balancer, the network and the capacity
//! provider strategy.

use std::time::Duration;

use aws_sdk_codedeploy::error::SdkError;
use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent,
    BlueGreenDeploymentConfiguration, BlueInstanceTerminationOption, ComputePlatform,
    DeploymentInfo, DeploymentOption, DeploymentReadyAction, DeploymentReadyOption,
    DeploymentStatus, DeploymentStyle, DeploymentType, EcsService, InstanceAction,
    LoadBalancerInfo, RevisionLocation, RevisionLocationType, Tag, TargetGroupInfo,
    TargetGroupPairInfo, TrafficRoute,
};
use common::iam;
use common::plan::{planned, Action, Change};
use common::{naming, retry, AwsResultExt, Context, Error, Result};
use serde_json::{json, Value};

use crate::aws::{propagation, retry_sdk, Clients};
use crate::ecs;
use crate::names::{self, pairs, Tags};
use crate::ops::{Ids, Phase};
use crate::spec::BlueGreen;

pub const APP_KIND: &str = "codedeploy application";
pub const GROUP_KIND: &str = "codedeploy deployment group";
pub const DEPLOYMENT_KIND: &str = "codedeploy deployment";
/// How long a stopped deployment may take to stop.
const STOP_WAIT: Duration = Duration::from_secs(300);

/// A deployment not finished yet: it may be stopped, and blocks a new one.
fn active() -> [DeploymentStatus; 5] {
    [
        DeploymentStatus::Created,
        DeploymentStatus::Queued,
        DeploymentStatus::InProgress,
        DeploymentStatus::Baking,
        DeploymentStatus::Ready,
    ]
}

/// What a blue/green service runs: what a deployment's AppSpec names.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Running {
    pub task_definition: String,
    pub container: String,
    pub port: i32,
    pub network: ecs::Network,
    pub strategy: Vec<ecs::Strategy>,
}

/// A blue/green service's CodeDeploy side as it should be.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub service: String,
    /// The application's and the deployment group's name: `{stack}--{service}--{env}`.
    pub name: String,
    pub cluster: String,
    pub ecs_service: String,
    /// CodeDeploy's role ARN, or the placeholder of the one this run creates.
    pub role: String,
    pub bg: BlueGreen,
    pub running: Running,
    pub tags: Tags,
}

/// One application as AWS holds it, with its group and deployments.
#[derive(Debug, Clone, PartialEq)]
pub struct Have {
    pub name: String,
    pub ecs_platform: bool,
    pub tags: Tags,
    /// The deployment group named like the application, as comparable JSON, and its tags.
    pub group: Option<(Value, Tags)>,
    /// Deployments under way or succeeded, newest first.
    pub deployments: Vec<Deployed>,
    /// Ids of deployments still under way (stopped before a delete).
    pub active: Vec<String>,
}

/// One deployment: its id, when it was made, what it rolls out.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    pub id: String,
    pub created: i64,
    pub running: Option<Running>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    CreateApplication {
        want: Want,
    },
    /// The application deploys to another platform: deleted and made again.
    ReplaceApplication {
        want: Want,
        have: Have,
    },
    CreateGroup {
        want: Want,
    },
    UpdateGroup {
        want: Want,
        drift: Vec<(String, Value, Value)>,
    },
    Deploy {
        want: Want,
        from: Option<Running>,
    },
    Delete {
        have: Have,
    },
}

pub fn application_arn(ctx: &Context, account: &str, name: &str) -> String {
    format!(
        "arn:{}:codedeploy:{}:{account}:application:{name}",
        iam::partition(&ctx.region),
        ctx.region
    )
}

fn group_arn(ctx: &Context, account: &str, name: &str) -> String {
    format!(
        "arn:{}:codedeploy:{}:{account}:deploymentgroup:{name}/{name}",
        iam::partition(&ctx.region),
        ctx.region
    )
}

fn cd_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The region's applications that may be this stack's and env's (our name
/// scheme: CodeDeploy keeps them whole), plus the wanted ones.
pub async fn candidates(c: &Clients, ctx: &Context, wanted: &[String]) -> Result<Vec<String>> {
    let listed: Vec<String> =
        c.cd.list_applications()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws("ListApplications")?;
    let mut names: Vec<String> = listed
        .into_iter()
        .filter(|n| naming::component_in(n, &ctx.stack, &ctx.env).is_some())
        .chain(wanted.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// One application with its tags, group and deployments; `None` when absent.
pub async fn discover(
    c: &Clients,
    ctx: &Context,
    account: &str,
    name: &str,
) -> Result<Option<Have>> {
    let app = match c.cd.get_application().application_name(name).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_application_does_not_exist_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(common::error::aws_error(
                format!("GetApplication {name}"),
                e,
            ))
        }
    };
    let ecs_platform = app
        .application()
        .and_then(|a| a.compute_platform())
        .is_some_and(|p| p == &ComputePlatform::Ecs);
    let tags = tags_of(c, &application_arn(ctx, account, name)).await?;
    if !names::ours(ctx, &tags) {
        // Not ours: the plan refuses it by its tags; nothing more to read.
        return Ok(Some(Have {
            name: name.to_owned(),
            ecs_platform,
            tags,
            group: None,
            deployments: vec![],
            active: vec![],
        }));
    }
    let group = group(c, ctx, account, name).await?;
    let (deployments, active) = if group.is_some() {
        deployments(c, name).await?
    } else {
        (vec![], vec![])
    };
    Ok(Some(Have {
        name: name.to_owned(),
        ecs_platform,
        tags,
        group,
        deployments,
        active,
    }))
}

async fn tags_of(c: &Clients, arn: &str) -> Result<Tags> {
    let out =
        c.cd.list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(format!("ListTagsForResource {arn}"))?;
    Ok(out
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

async fn group(
    c: &Clients,
    ctx: &Context,
    account: &str,
    name: &str,
) -> Result<Option<(Value, Tags)>> {
    let out = match c
        .cd
        .get_deployment_group()
        .application_name(name)
        .deployment_group_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_deployment_group_does_not_exist_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(common::error::aws_error(
                format!("GetDeploymentGroup {name}"),
                e,
            ))
        }
    };
    let Some(g) = out.deployment_group_info() else {
        return Ok(None);
    };
    let shape = shape(&Parts {
        config: g.deployment_config_name(),
        role: g.service_role_arn(),
        ecs: g.ecs_services(),
        load_balancer: g.load_balancer_info(),
        style: g.deployment_style(),
        blue_green: g.blue_green_deployment_configuration(),
        rollback: g.auto_rollback_configuration(),
        alarms: g.alarm_configuration(),
    });
    Ok(Some((
        shape,
        tags_of(c, &group_arn(ctx, account, name)).await?,
    )))
}

/// The group's deployments under way or succeeded (newest first), and the
/// ids of those under way.
async fn deployments(c: &Clients, group: &str) -> Result<(Vec<Deployed>, Vec<String>)> {
    let mut statuses = active().to_vec();
    statuses.push(DeploymentStatus::Succeeded);
    let ids: Vec<String> =
        c.cd.list_deployments()
            .application_name(group)
            .deployment_group_name(group)
            .set_include_only_statuses(Some(statuses))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws(format!("ListDeployments {group}"))?;
    // BatchGetDeployments takes 25 ids at a time.
    let batches = common::try_join_all(ids.chunks(25).map(|chunk| async move {
        c.cd.batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()))
            .send()
            .await
            .aws(format!("BatchGetDeployments {group}"))
            .map(|o| o.deployments_info().to_vec())
    }))
    .await?;
    let infos: Vec<DeploymentInfo> = batches.into_iter().flatten().collect();
    let mut deployed: Vec<Deployed> = infos
        .iter()
        .map(|d| Deployed {
            id: d.deployment_id().unwrap_or_default().to_owned(),
            created: d.create_time().map_or(0, |t| t.secs()),
            running: running_of(d.revision()),
        })
        .collect();
    deployed.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    let under_way = infos
        .iter()
        .filter(|d| d.status().is_some_and(|s| active().contains(s)))
        .filter_map(|d| d.deployment_id().map(str::to_owned))
        .collect();
    Ok((deployed, under_way))
}

// ------------------------------------------------------------- the group

/// A deployment group's settings, wanted or as AWS holds them.
struct Parts<'a> {
    config: Option<&'a str>,
    role: Option<&'a str>,
    ecs: &'a [EcsService],
    load_balancer: Option<&'a LoadBalancerInfo>,
    style: Option<&'a DeploymentStyle>,
    blue_green: Option<&'a BlueGreenDeploymentConfiguration>,
    rollback: Option<&'a AutoRollbackConfiguration>,
    alarms: Option<&'a AlarmConfiguration>,
}

/// What we set in a deployment group, in one comparable form (lists sorted).
fn shape(p: &Parts<'_>) -> Value {
    let pairs: Vec<Value> = p
        .load_balancer
        .map(|l| l.target_group_pair_info_list())
        .unwrap_or_default()
        .iter()
        .map(|pair| {
            json!({
                "target_groups": pair.target_groups().iter().map(|t| t.name()).collect::<Vec<_>>(),
                "prod": pair.prod_traffic_route().map(|r| r.listener_arns()),
                "test": pair.test_traffic_route().map(|r| r.listener_arns()),
            })
        })
        .collect();
    let termination = p
        .blue_green
        .and_then(|b| b.terminate_blue_instances_on_deployment_success());
    let mut events: Vec<&str> = p
        .rollback
        .map(|r| r.events().iter().map(|e| e.as_str()).collect())
        .unwrap_or_default();
    events.sort_unstable();
    let mut alarms: Vec<&str> = p
        .alarms
        .map(|a| a.alarms().iter().filter_map(|a| a.name()).collect())
        .unwrap_or_default();
    alarms.sort_unstable();
    json!({
        "config": p.config,
        "role": p.role,
        "ecs": p.ecs.iter().map(|e| (e.cluster_name(), e.service_name())).collect::<Vec<_>>(),
        "target_group_pairs": pairs,
        "style": p.style.map(|s| (
            s.deployment_option().map(|o| o.as_str()),
            s.deployment_type().map(|t| t.as_str()),
        )),
        "termination": termination.map(|t| (
            t.action().map(|a| a.as_str()),
            t.termination_wait_time_in_minutes(),
        )),
        "ready": p.blue_green
            .and_then(|b| b.deployment_ready_option())
            .and_then(|r| r.action_on_timeout())
            .map(|a| a.as_str()),
        "rollback": (p.rollback.is_some_and(|r| r.enabled()), events),
        "alarms": (p.alarms.is_some_and(|a| a.enabled()), alarms),
    })
}

/// The deployment group as we want it, in the SDK's types.
pub(crate) struct Group {
    ecs: EcsService,
    load_balancer: LoadBalancerInfo,
    style: DeploymentStyle,
    blue_green: BlueGreenDeploymentConfiguration,
    rollback: AutoRollbackConfiguration,
    alarms: AlarmConfiguration,
}

impl Group {
    pub(crate) fn new(want: &Want) -> Self {
        let bg = &want.bg;
        let route = |arn: &str| TrafficRoute::builder().listener_arns(arn).build();
        let mut events = vec![AutoRollbackEvent::DeploymentFailure];
        if !bg.alarms.is_empty() {
            events.push(AutoRollbackEvent::DeploymentStopOnAlarm);
        }
        Group {
            ecs: EcsService::builder()
                .cluster_name(&want.cluster)
                .service_name(&want.ecs_service)
                .build(),
            load_balancer: LoadBalancerInfo::builder()
                .target_group_pair_info_list(
                    TargetGroupPairInfo::builder()
                        .set_target_groups(Some(
                            bg.target_groups
                                .iter()
                                .map(|n| TargetGroupInfo::builder().name(n).build())
                                .collect(),
                        ))
                        .prod_traffic_route(route(&bg.prod_listener_arn))
                        .test_traffic_route(route(&bg.test_listener_arn))
                        .build(),
                )
                .build(),
            style: DeploymentStyle::builder()
                .deployment_option(DeploymentOption::WithTrafficControl)
                .deployment_type(DeploymentType::BlueGreen)
                .build(),
            blue_green: BlueGreenDeploymentConfiguration::builder()
                .terminate_blue_instances_on_deployment_success(
                    BlueInstanceTerminationOption::builder()
                        .action(InstanceAction::Terminate)
                        .termination_wait_time_in_minutes(bg.termination_wait_minutes)
                        .build(),
                )
                .deployment_ready_option(
                    DeploymentReadyOption::builder()
                        .action_on_timeout(DeploymentReadyAction::ContinueDeployment)
                        .build(),
                )
                .build(),
            rollback: AutoRollbackConfiguration::builder()
                .enabled(true)
                .set_events(Some(events))
                .build(),
            alarms: AlarmConfiguration::builder()
                .enabled(!bg.alarms.is_empty())
                .set_alarms(Some(
                    bg.alarms
                        .iter()
                        .map(|n| Alarm::builder().name(n).build())
                        .collect(),
                ))
                .build(),
        }
    }

    pub(crate) fn shape(&self, want: &Want) -> Value {
        shape(&Parts {
            config: Some(&want.bg.config),
            role: Some(&want.role),
            ecs: std::slice::from_ref(&self.ecs),
            load_balancer: Some(&self.load_balancer),
            style: Some(&self.style),
            blue_green: Some(&self.blue_green),
            rollback: Some(&self.rollback),
            alarms: Some(&self.alarms),
        })
    }
}

// ------------------------------------------------------------ the AppSpec

/// The AppSpec of a deployment of `running`, ids resolved.
fn appspec(r: &Running) -> Value {
    let strategy: Vec<Value> = r
        .strategy
        .iter()
        .map(|s| json!({"CapacityProvider": s.provider, "Base": s.base, "Weight": s.weight}))
        .collect();
    let mut properties = json!({
        "TaskDefinition": r.task_definition,
        "LoadBalancerInfo": {"ContainerName": r.container, "ContainerPort": r.port},
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "Subnets": r.network.subnets,
                "SecurityGroups": r.network.security_groups,
                "AssignPublicIp": if r.network.public_ip { "ENABLED" } else { "DISABLED" },
            }
        },
    });
    if !strategy.is_empty() {
        properties["CapacityProviderStrategy"] = Value::Array(strategy);
    }
    json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}]
    })
}

/// What a deployment's AppSpec rolls out (ours are JSON; a YAML one is not ours to read).
fn running_of(revision: Option<&RevisionLocation>) -> Option<Running> {
    let content = revision?.app_spec_content()?.content()?;
    let spec: Value = serde_json::from_str(content).ok()?;
    let p = spec
        .get("Resources")?
        .as_array()?
        .iter()
        .find_map(|r| r.pointer("/TargetService/Properties"))?;
    let strings = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        out.sort();
        out
    };
    let vpc = &p["NetworkConfiguration"]["AwsvpcConfiguration"];
    let mut strategy: Vec<ecs::Strategy> = p["CapacityProviderStrategy"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| ecs::Strategy {
            provider: s["CapacityProvider"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            base: s["Base"].as_i64().unwrap_or(0) as i32,
            weight: s["Weight"].as_i64().unwrap_or(0) as i32,
        })
        .collect();
    strategy.sort();
    Some(Running {
        task_definition: p["TaskDefinition"].as_str()?.to_owned(),
        container: p["LoadBalancerInfo"]["ContainerName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        port: p["LoadBalancerInfo"]["ContainerPort"].as_i64().unwrap_or(0) as i32,
        network: ecs::Network {
            subnets: strings(&vpc["Subnets"]),
            security_groups: strings(&vpc["SecurityGroups"]),
            public_ip: vpc["AssignPublicIp"] == "ENABLED",
        },
        strategy,
    })
}

/// What the service runs now: its newest deployment made after it, else the service's own.
pub fn running_now(
    have: Option<&Have>,
    service: &ecs::Have,
    container: &str,
    port: i32,
) -> Option<Running> {
    let since = service.created_at.unwrap_or(0);
    let deployed = have
        .into_iter()
        .flat_map(|h| h.deployments.iter())
        .filter(|d| d.created >= since)
        .find_map(|d| d.running.clone());
    deployed.or_else(|| {
        Some(Running {
            task_definition: service.task_definition.clone()?,
            container: container.to_owned(),
            port,
            network: service.network.clone()?,
            strategy: service.strategy.clone(),
        })
    })
}

// --------------------------------------------------------------- the plan

/// The ops of one blue/green service: application, group, deployment.
/// `service` is the ECS service found (`None` when this run creates it) and
/// `creates` whether this run (re)creates it, with the wanted state.
pub fn plan(
    ctx: &Context,
    want: &Want,
    have: Option<&Have>,
    service: Option<&ecs::Have>,
    creates: bool,
) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    let component = names::codedeploy_component(&want.service);
    let group = match have {
        None => {
            ops.push(Op::CreateApplication { want: want.clone() });
            None
        }
        Some(h) => {
            ctx.check_owned(APP_KIND, &h.name, pairs(&h.tags), &component)?;
            if !h.ecs_platform {
                ops.push(Op::ReplaceApplication {
                    want: want.clone(),
                    have: h.clone(),
                });
                None
            } else {
                h.group.as_ref()
            }
        }
    };
    match group {
        None => ops.push(Op::CreateGroup { want: want.clone() }),
        Some((shape, tags)) => {
            ctx.check_owned(GROUP_KIND, &want.name, pairs(tags), &component)?;
            let drift = group_drift(want, shape);
            if !drift.is_empty() {
                ops.push(Op::UpdateGroup {
                    want: want.clone(),
                    drift,
                });
            }
        }
    }
    if creates {
        return Ok(ops);
    }
    let now =
        service.and_then(|s| running_now(have, s, &want.running.container, want.running.port));
    if now.as_ref() != Some(&want.running) {
        ops.push(Op::Deploy {
            want: want.clone(),
            from: now,
        });
    }
    Ok(ops)
}

fn group_drift(want: &Want, have: &Value) -> Vec<(String, Value, Value)> {
    let wanted = Group::new(want).shape(want);
    wanted
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| have.get(k.as_str()) != Some(v))
        .map(|(k, v)| {
            (
                k.clone(),
                have.get(k.as_str()).cloned().unwrap_or(Value::Null),
                v.clone(),
            )
        })
        .collect()
}

/// The deletes of this stack's applications that no blue/green service wants.
pub fn prune(ctx: &Context, wanted: &[Want], found: &[Have]) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    for h in found.iter().filter(|h| names::ours(ctx, &h.tags)) {
        if wanted.iter().any(|w| w.name == h.name) {
            continue;
        }
        let service = naming::component_in(&h.name, &ctx.stack, &ctx.env).unwrap_or_default();
        ctx.check_owned(
            APP_KIND,
            &h.name,
            pairs(&h.tags),
            &names::codedeploy_component(service),
        )?;
        ops.push(Op::Delete { have: h.clone() });
    }
    Ok(ops)
}

impl Op {
    pub fn phase(&self) -> Phase {
        match self {
            Op::CreateApplication { .. } | Op::ReplaceApplication { .. } | Op::Delete { .. } => {
                Phase::Setup
            }
            Op::CreateGroup { .. } | Op::UpdateGroup { .. } => Phase::DeploymentGroups,
            Op::Deploy { .. } => Phase::Deployments,
        }
    }

    pub fn change(&self, ctx: &Context) -> Change {
        let new = |action, kind, name: &str| Change::new(&ctx.tool, action, kind, name);
        match self {
            Op::CreateApplication { want } => new(Action::Create, APP_KIND, &want.name),
            Op::ReplaceApplication { want, .. } => new(Action::Replace, APP_KIND, &want.name)
                .field("compute_platform", "not ECS", "ECS"),
            Op::CreateGroup { want } => new(Action::Create, GROUP_KIND, &want.name),
            Op::UpdateGroup { want, drift } => drift.iter().fold(
                new(Action::Update, GROUP_KIND, &want.name),
                |c, (field, from, to)| c.field(field, from, to),
            ),
            Op::Deploy { want, from } => {
                let to = &want.running;
                let mut c = new(Action::Create, DEPLOYMENT_KIND, &want.name);
                let from_json = serde_json::to_value(from).unwrap_or(Value::Null);
                let to_json = serde_json::to_value(to).unwrap_or(Value::Null);
                for field in [
                    "task_definition",
                    "network",
                    "strategy",
                    "container",
                    "port",
                ] {
                    if from_json.get(field) != to_json.get(field) {
                        c = c.field(field, from_json.get(field), to_json.get(field));
                    }
                }
                c
            }
            Op::Delete { have } => new(Action::Delete, APP_KIND, &have.name).id(&have.name),
        }
    }

    pub async fn apply(&self, c: &Clients, ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            Op::CreateApplication { want } => create_application(c, want).await.map(|()| None),
            Op::ReplaceApplication { want, have } => {
                delete(c, have).await?;
                create_application(c, want).await.map(|()| None)
            }
            Op::CreateGroup { want } => create_group(c, want, ids).await.map(|()| None),
            Op::UpdateGroup { want, .. } => update_group(c, want, ids).await.map(|()| None),
            Op::Deploy { want, .. } => {
                let id = deploy(c, ctx, want, ids).await?;
                ids.set(&planned(DEPLOYMENT_KIND, &want.name), &id);
                Ok(Some(id))
            }
            Op::Delete { have } => delete(c, have).await.map(|()| None),
        }
    }
}

// --------------------------------------------------------------- apply

async fn create_application(c: &Clients, want: &Want) -> Result<()> {
    c.cd.create_application()
        .application_name(&want.name)
        .compute_platform(ComputePlatform::Ecs)
        .set_tags(Some(cd_tags(&want.tags)))
        .send()
        .await
        .aws(format!("CreateApplication {}", want.name))
        .map(|_| ())
}

/// CodeDeploy may refuse a role IAM made a moment ago (InvalidRoleException).
async fn create_group(c: &Clients, want: &Want, ids: &Ids) -> Result<()> {
    let g = Group::new(want);
    let role = ids.get(&want.role)?;
    retry_sdk(
        &format!("CreateDeploymentGroup {}", want.name),
        propagation(crate::roles::PROPAGATION),
        |e: &SdkError<
            aws_sdk_codedeploy::operation::create_deployment_group::CreateDeploymentGroupError,
        >| {
            e.as_service_error()
                .is_some_and(|s| s.is_invalid_role_exception())
        },
        || {
            c.cd.create_deployment_group()
                .application_name(&want.name)
                .deployment_group_name(&want.name)
                .deployment_config_name(&want.bg.config)
                .service_role_arn(&role)
                .ecs_services(g.ecs.clone())
                .load_balancer_info(g.load_balancer.clone())
                .deployment_style(g.style.clone())
                .blue_green_deployment_configuration(g.blue_green.clone())
                .auto_rollback_configuration(g.rollback.clone())
                .alarm_configuration(g.alarms.clone())
                .set_tags(Some(cd_tags(&want.tags)))
                .send()
        },
    )
    .await
    .map(|_| ())
}

async fn update_group(c: &Clients, want: &Want, ids: &Ids) -> Result<()> {
    let g = Group::new(want);
    c.cd.update_deployment_group()
        .application_name(&want.name)
        .current_deployment_group_name(&want.name)
        .deployment_config_name(&want.bg.config)
        .service_role_arn(ids.get(&want.role)?)
        .ecs_services(g.ecs)
        .load_balancer_info(g.load_balancer)
        .deployment_style(g.style)
        .blue_green_deployment_configuration(g.blue_green)
        .auto_rollback_configuration(g.rollback)
        .alarm_configuration(g.alarms)
        .send()
        .await
        .aws(format!("UpdateDeploymentGroup {}", want.name))
        .map(|_| ())
}

async fn deploy(c: &Clients, _ctx: &Context, want: &Want, ids: &Ids) -> Result<String> {
    let mut running = want.running.clone();
    running.task_definition = ids.get(&running.task_definition)?;
    running.network.security_groups = running
        .network
        .security_groups
        .iter()
        .map(|g| ids.get(g))
        .collect::<Result<_>>()?;
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(
            AppSpecContent::builder()
                .content(appspec(&running).to_string())
                .build(),
        )
        .build();
    let out =
        c.cd.create_deployment()
            .application_name(&want.name)
            .deployment_group_name(&want.name)
            .revision(revision)
            .description(format!("svc-up: {}", running.task_definition))
            .send()
            .await
            .aws(format!("CreateDeployment {}", want.name))?;
    Ok(out.deployment_id().unwrap_or_default().to_owned())
}

/// Stops the deployments under way (waiting until they have), then deletes
/// the application, which takes its deployment groups with it. Gone already is done.
pub async fn delete(c: &Clients, have: &Have) -> Result<()> {
    for id in &have.active {
        stop(c, id).await?;
    }
    retry::delete(&format!("DeleteApplication {}", have.name), || async {
        c.cd.delete_application()
            .application_name(&have.name)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteApplication {}", have.name))
    })
    .await
}

async fn stop(c: &Clients, id: &str) -> Result<()> {
    match c
        .cd
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(false)
        .send()
        .await
    {
        Ok(_) => {}
        // It finished, or went, since discovery.
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_deployment_already_completed_exception()
                    || s.is_deployment_does_not_exist_exception()
            }) => {}
        Err(e) => return Err(common::error::aws_error(format!("StopDeployment {id}"), e)),
    }
    retry::wait_for(
        &format!("CodeDeploy deployment {id} to stop"),
        STOP_WAIT,
        Duration::from_secs(5),
        || async {
            let out = match c.cd.get_deployment().deployment_id(id).send().await {
                Ok(out) => out,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_deployment_does_not_exist_exception()) =>
                {
                    return Ok(Some(()))
                }
                Err(e) => return Err(common::error::aws_error(format!("GetDeployment {id}"), e)),
            };
            let status = out.deployment_info().and_then(|d| d.status());
            Ok((!status.is_some_and(|s| active().contains(s))).then_some(()))
        },
    )
    .await
}

/// The account the tools run in, for CodeDeploy's ARNs (teardown, where no
/// cluster ARN names it).
pub async fn account_id(c: &Clients) -> Result<String> {
    let out = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .aws("GetCallerIdentity")?;
    out.account().map(str::to_owned).ok_or_else(|| {
        Error::Aws(common::error::AwsError {
            op: "GetCallerIdentity".into(),
            code: None,
            message: "no account id in the answer".into(),
            request_id: None,
            transient: false,
        })
    })
}

#[cfg(test)]
mod tests;
