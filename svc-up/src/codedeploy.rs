//! CodeDeploy for blue/green services: the role CodeDeploy assumes (one per
//! stack), an application and a deployment group per service, and the
//! deployments that roll out a new task definition. An ECS service with the
//! `CODE_DEPLOY` controller refuses UpdateService with a task definition: a
//! changed one becomes a CodeDeploy deployment instead (see docs/blue-green.md).
//!
//! The deployment group names alb-up's target group pair and listeners and the
//! ECS service, so it comes after the service (AWS checks that the service
//! exists and uses the `CODE_DEPLOY` controller).
//!
//! A deployment is recognised again by the task definition its AppSpec names:
//! before creating one, the group's pending, in-progress and succeeded
//! deployments are read, so a re-run while the service still reports the old
//! task definition (a deployment under way; the emulator, which never moves a
//! deployment past "Created") does not start a second.

use std::time::Duration;

use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent,
    BlueGreenDeploymentConfiguration, BlueInstanceTerminationOption, ComputePlatform,
    DeploymentOption, DeploymentReadyAction, DeploymentReadyOption, DeploymentStatus,
    DeploymentStyle, DeploymentType, EcsService, InstanceAction, LoadBalancerInfo,
    RevisionLocation, RevisionLocationType, Tag, TargetGroupInfo, TargetGroupPairInfo,
    TrafficRoute,
};
use aws_sdk_codedeploy::Client;
use serde_json::{json, Value};

use common::iam::{self, RoleOut};
use common::sections::CodeDeployOut;
use common::{naming, retry, AwsResultExt, Context, Error, Result};

use crate::spec::{BlueGreen, Planned};

/// The role's component: `{stack}--codedeploy--{env}`.
pub const ROLE_COMPONENT: &str = "codedeploy";
/// What CodeDeploy may do for ECS blue/green: task sets, listeners, alarms.
const MANAGED_POLICY: &str = "AWSCodeDeployRoleForECS";
/// How long CodeDeploy may refuse a role IAM has just made (InvalidRoleException).
const ROLE_PROPAGATION: Duration = Duration::from_secs(60);
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

/// The role CodeDeploy assumes to shift a service's traffic.
pub async fn ensure_role(iam_client: &aws_sdk_iam::Client, ctx: &Context) -> Result<RoleOut> {
    let role = iam::ensure_role(
        iam_client,
        ctx,
        ROLE_COMPONENT,
        "codedeploy.amazonaws.com",
        "CodeDeploy: blue/green deployments of the stack's ECS services",
    )
    .await?;
    let policy = format!(
        "arn:{}:iam::aws:policy/{MANAGED_POLICY}",
        iam::partition(&ctx.region)
    );
    iam::ensure_managed_policies(iam_client, ctx, &role, &[&policy]).await?;
    Ok(role)
}

/// The account the tools run in: CodeDeploy names its resources only by ARN
/// in the tagging API, and ARNs hold the account.
pub async fn account_id(sts: &aws_sdk_sts::Client) -> Result<String> {
    let out = sts
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

pub fn application_arn(ctx: &Context, account: &str, name: &str) -> String {
    format!(
        "arn:{}:codedeploy:{}:{account}:application:{name}",
        iam::partition(&ctx.region),
        ctx.region
    )
}

/// An application's tags; none when it does not exist.
async fn application_owned(cd: &Client, ctx: &Context, account: &str, name: &str) -> Result<bool> {
    let arn = application_arn(ctx, account, name);
    let out = match cd
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .aws(format!("ListTagsForResource {arn}"))
    {
        Ok(out) => out,
        Err(e) if gone(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(ctx.owns(
        out.tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    ))
}

/// CodeDeploy's "does not exist" answers.
fn gone(e: &Error) -> bool {
    e.aws_code()
        .is_some_and(|c| c.ends_with("DoesNotExistException"))
        || retry::is_not_found(e)
}

fn tags(ctx: &Context, component: &str) -> Vec<Tag> {
    ctx.tags(component)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// What a blue/green service's deployments act on, besides its plan.
#[derive(Debug, Clone, Copy)]
pub struct Deployed<'a> {
    pub cluster: &'a str,
    /// The ECS service, `{stack}--{service}--{env}`.
    pub service: &'a str,
    /// The task definition the ECS service runs now.
    pub running: Option<&'a str>,
    /// The task definition it should run.
    pub task_definition: &'a str,
    pub subnets: &'a [String],
    pub security_group: &'a str,
}

/// The application, the deployment group and, when the service does not run
/// the wanted task definition yet, the deployment that rolls it out.
pub async fn ensure(
    cd: &Client,
    ctx: &Context,
    account: &str,
    role: &RoleOut,
    s: &Planned,
    bg: &BlueGreen,
    target: Deployed<'_>,
) -> Result<CodeDeployOut> {
    let name = ctx.name(&s.name);
    ensure_application(cd, ctx, account, &name, &s.name).await?;
    ensure_group(cd, ctx, &name, &s.name, role, bg, &target).await?;
    let mut last = deployment_of(cd, &name, target.task_definition).await?;
    if last.is_none() && target.running != Some(target.task_definition) {
        let id = create_deployment(cd, &name, s, &target).await?;
        ctx.report.updated(
            "ecs service",
            target.service,
            &format!("CodeDeploy deployment {id} of {}", target.task_definition),
        );
        last = Some(id);
    }
    Ok(CodeDeployOut {
        application: name.clone(),
        deployment_group: name,
        role_arn: role.arn.clone(),
        config: bg.config.clone(),
        last_deployment_id: last,
    })
}

async fn ensure_application(
    cd: &Client,
    ctx: &Context,
    account: &str,
    name: &str,
    service: &str,
) -> Result<()> {
    match cd
        .get_application()
        .application_name(name)
        .send()
        .await
        .aws(format!("GetApplication {name}"))
    {
        Ok(out) => {
            if !application_owned(cd, ctx, account, name).await? {
                return Err(Error::spec(format!(
                    "CodeDeploy application {name} exists but is not tagged for {}/{}: it is not ours; \
                     delete or rename it, or pick another stack name",
                    ctx.stack, ctx.env
                )));
            }
            let platform = out.application().and_then(|a| a.compute_platform());
            if platform != Some(&ComputePlatform::Ecs) {
                return Err(Error::spec(format!(
                    "CodeDeploy application {name} deploys to {} and cannot change: delete it and run svc-up again",
                    platform.map_or("an unknown platform", |p| p.as_str())
                )));
            }
            ctx.report.adopted("codedeploy application", name, name);
            Ok(())
        }
        Err(e) if gone(&e) => {
            cd.create_application()
                .application_name(name)
                .compute_platform(ComputePlatform::Ecs)
                .set_tags(Some(tags(ctx, &format!("codedeploy-{service}"))))
                .send()
                .await
                .aws(format!("CreateApplication {name}"))?;
            ctx.report.created("codedeploy application", name, name);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The deployment group as we want it, in the SDK's types.
struct Wanted {
    config: String,
    role: String,
    ecs: EcsService,
    load_balancer: LoadBalancerInfo,
    style: DeploymentStyle,
    blue_green: BlueGreenDeploymentConfiguration,
    rollback: AutoRollbackConfiguration,
    alarms: AlarmConfiguration,
}

impl Wanted {
    fn new(role: &RoleOut, bg: &BlueGreen, target: &Deployed<'_>) -> Self {
        let route = |arn: &str| TrafficRoute::builder().listener_arns(arn).build();
        let mut events = vec![AutoRollbackEvent::DeploymentFailure];
        if !bg.alarms.is_empty() {
            events.push(AutoRollbackEvent::DeploymentStopOnAlarm);
        }
        Wanted {
            config: bg.config.clone(),
            role: role.arn.clone(),
            ecs: EcsService::builder()
                .cluster_name(target.cluster)
                .service_name(target.service)
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

    fn shape(&self) -> Value {
        shape(&Parts {
            config: Some(&self.config),
            role: Some(&self.role),
            ecs: std::slice::from_ref(&self.ecs),
            load_balancer: Some(&self.load_balancer),
            style: Some(&self.style),
            blue_green: Some(&self.blue_green),
            rollback: Some(&self.rollback),
            alarms: Some(&self.alarms),
        })
    }
}

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

/// What we set in a deployment group, in one comparable form (lists sorted,
/// absent values as AWS's defaults).
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

async fn ensure_group(
    cd: &Client,
    ctx: &Context,
    name: &str,
    service: &str,
    role: &RoleOut,
    bg: &BlueGreen,
    target: &Deployed<'_>,
) -> Result<()> {
    let want = Wanted::new(role, bg, target);
    let have = match cd
        .get_deployment_group()
        .application_name(name)
        .deployment_group_name(name)
        .send()
        .await
        .aws(format!("GetDeploymentGroup {name}"))
    {
        Ok(out) => out.deployment_group_info().cloned(),
        Err(e) if gone(&e) => None,
        Err(e) => return Err(e),
    };
    let Some(have) = have else {
        // IAM answers before CodeDeploy can assume a new role.
        let policy = retry::Policy {
            budget: ROLE_PROPAGATION,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        let tags = tags(ctx, &format!("codedeploy-{service}"));
        retry::retry(
            &format!("CreateDeploymentGroup {name}"),
            policy,
            |e| e.aws_code() == Some("InvalidRoleException"),
            || async {
                cd.create_deployment_group()
                    .application_name(name)
                    .deployment_group_name(name)
                    .deployment_config_name(&want.config)
                    .service_role_arn(&want.role)
                    .ecs_services(want.ecs.clone())
                    .load_balancer_info(want.load_balancer.clone())
                    .deployment_style(want.style.clone())
                    .blue_green_deployment_configuration(want.blue_green.clone())
                    .auto_rollback_configuration(want.rollback.clone())
                    .alarm_configuration(want.alarms.clone())
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .aws(format!("CreateDeploymentGroup {name}"))
            },
        )
        .await?;
        ctx.report
            .created("codedeploy deployment group", name, name);
        return Ok(());
    };
    ctx.report
        .adopted("codedeploy deployment group", name, name);
    let have = shape(&Parts {
        config: have.deployment_config_name(),
        role: have.service_role_arn(),
        ecs: have.ecs_services(),
        load_balancer: have.load_balancer_info(),
        style: have.deployment_style(),
        blue_green: have.blue_green_deployment_configuration(),
        rollback: have.auto_rollback_configuration(),
        alarms: have.alarm_configuration(),
    });
    let want_shape = want.shape();
    let drift: Vec<&str> = want_shape
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| have.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    if drift.is_empty() {
        return Ok(());
    }
    cd.update_deployment_group()
        .application_name(name)
        .current_deployment_group_name(name)
        .deployment_config_name(&want.config)
        .service_role_arn(&want.role)
        .ecs_services(want.ecs.clone())
        .load_balancer_info(want.load_balancer.clone())
        .deployment_style(want.style.clone())
        .blue_green_deployment_configuration(want.blue_green.clone())
        .auto_rollback_configuration(want.rollback.clone())
        .alarm_configuration(want.alarms.clone())
        .send()
        .await
        .aws(format!("UpdateDeploymentGroup {name}"))?;
    ctx.report
        .updated("codedeploy deployment group", name, &drift.join(", "));
    Ok(())
}

/// The AppSpec of a deployment: the new task definition behind the same
/// container and port, in the same private subnets and security group.
fn appspec(s: &Planned, target: &Deployed<'_>) -> Value {
    json!({
        "version": 0.0,
        "Resources": [{
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "TaskDefinition": target.task_definition,
                    "LoadBalancerInfo": {
                        "ContainerName": s.name,
                        "ContainerPort": s.port,
                    },
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": target.subnets,
                            "SecurityGroups": [target.security_group],
                            "AssignPublicIp": "DISABLED",
                        }
                    },
                }
            }
        }]
    })
}

/// The task definition a deployment's AppSpec rolls out (ours are JSON; others
/// may be YAML and are not ours to recognise).
fn appspec_task_definition(revision: Option<&RevisionLocation>) -> Option<String> {
    let content = revision?.app_spec_content()?.content()?;
    let spec: Value = serde_json::from_str(content).ok()?;
    spec.get("Resources")?
        .as_array()?
        .iter()
        .find_map(|r| {
            r.pointer("/TargetService/Properties/TaskDefinition")?
                .as_str()
        })
        .map(str::to_owned)
}

/// The newest pending, in-progress or succeeded deployment of the group that
/// rolls out `task_definition`.
async fn deployment_of(cd: &Client, group: &str, task_definition: &str) -> Result<Option<String>> {
    let mut statuses = active().to_vec();
    statuses.push(DeploymentStatus::Succeeded);
    let ids: Vec<String> = cd
        .list_deployments()
        .application_name(group)
        .deployment_group_name(group)
        .set_include_only_statuses(Some(statuses))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("ListDeployments {group}"))?;
    let mut newest: Option<((i64, u32), String)> = None;
    // BatchGetDeployments takes 25 ids at a time.
    for chunk in ids.chunks(25) {
        let out = cd
            .batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()))
            .send()
            .await
            .aws(format!("BatchGetDeployments {group}"))?;
        for d in out.deployments_info() {
            if appspec_task_definition(d.revision()).as_deref() != Some(task_definition) {
                continue;
            }
            let at = d
                .create_time()
                .map_or((0, 0), |t| (t.secs(), t.subsec_nanos()));
            if newest.as_ref().is_none_or(|(n, _)| at > *n) {
                newest = Some((at, d.deployment_id().unwrap_or_default().to_owned()));
            }
        }
    }
    Ok(newest.map(|(_, id)| id))
}

async fn create_deployment(
    cd: &Client,
    group: &str,
    s: &Planned,
    target: &Deployed<'_>,
) -> Result<String> {
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(
            AppSpecContent::builder()
                .content(appspec(s, target).to_string())
                .build(),
        )
        .build();
    let out = cd
        .create_deployment()
        .application_name(group)
        .deployment_group_name(group)
        .revision(revision)
        .description(format!("svc-up: {}", target.task_definition))
        .send()
        .await
        .aws(format!("CreateDeployment {group}"))?;
    Ok(out.deployment_id().unwrap_or_default().to_owned())
}

// ---------------------------------------------------------------- teardown

/// One of the stack's CodeDeploy applications, with what goes before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundApplication {
    pub name: String,
    pub groups: Vec<String>,
    /// Deployments still running: stopped before their group goes.
    pub active_deployments: Vec<String>,
}

/// The stack's applications: named `{stack}-...-{env}` (listed, and those the
/// document names) and tagged ours.
pub async fn discover(
    cd: &Client,
    sts: &aws_sdk_sts::Client,
    ctx: &Context,
    from_document: &[String],
) -> Result<Vec<FoundApplication>> {
    let (prefix, suffix) = (
        naming::name_prefix(&ctx.stack),
        naming::name_suffix(&ctx.env),
    );
    let mut names: Vec<String> = cd
        .list_applications()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("ListApplications")?
        .into_iter()
        .filter(|n| n.starts_with(&prefix) && n.ends_with(&suffix))
        .collect();
    names.extend(from_document.iter().cloned());
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(vec![]);
    }
    let account = account_id(sts).await?;
    let mut found = Vec::new();
    for name in names {
        if !application_owned(cd, ctx, &account, &name).await? {
            continue;
        }
        let groups: Vec<String> = match cd
            .list_deployment_groups()
            .application_name(&name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws(format!("ListDeploymentGroups {name}"))
        {
            Ok(g) => g,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        let mut active_deployments = Vec::new();
        for group in &groups {
            let ids: Vec<String> = cd
                .list_deployments()
                .application_name(&name)
                .deployment_group_name(group)
                .set_include_only_statuses(Some(active().to_vec()))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws(format!("ListDeployments {name}/{group}"))?;
            active_deployments.extend(ids);
        }
        found.push(FoundApplication {
            name,
            groups,
            active_deployments,
        });
    }
    Ok(found)
}

/// Stops the running deployments (and waits until they have), deletes the
/// deployment groups, then the application. Deleting what is already gone succeeds.
pub async fn destroy(cd: &Client, ctx: &Context, app: &FoundApplication) -> Result<()> {
    for id in &app.active_deployments {
        match cd
            .stop_deployment()
            .deployment_id(id)
            .auto_rollback_enabled(false)
            .send()
            .await
            .aws(format!("StopDeployment {id}"))
        {
            Ok(_) => {}
            // It finished (or went) between discovery and now.
            Err(e) if gone(&e) || e.aws_code() == Some("DeploymentAlreadyCompletedException") => {}
            Err(e) => return Err(e),
        }
        retry::wait_for(
            &format!("CodeDeploy deployment {id} to stop"),
            STOP_WAIT,
            Duration::from_secs(5),
            || async {
                let out = match cd
                    .get_deployment()
                    .deployment_id(id)
                    .send()
                    .await
                    .aws(format!("GetDeployment {id}"))
                {
                    Ok(out) => out,
                    Err(e) if gone(&e) => return Ok(Some(())),
                    Err(e) => return Err(e),
                };
                let status = out.deployment_info().and_then(|d| d.status());
                Ok((!status.is_some_and(|s| active().contains(s))).then_some(()))
            },
        )
        .await?;
        ctx.report.deleted("codedeploy deployment (stopped)", id);
    }
    for group in &app.groups {
        retry::delete(&format!("DeleteDeploymentGroup {group}"), || async {
            cd.delete_deployment_group()
                .application_name(&app.name)
                .deployment_group_name(group)
                .send()
                .await
                .map(|_| ())
                .aws(format!("DeleteDeploymentGroup {group}"))
        })
        .await?;
        ctx.report.deleted("codedeploy deployment group", group);
    }
    retry::delete(&format!("DeleteApplication {}", app.name), || async {
        cd.delete_application()
            .application_name(&app.name)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteApplication {}", app.name))
    })
    .await?;
    ctx.report.deleted("codedeploy application", &app.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appspecs_name_their_task_definition() {
        let s = Planned {
            name: "pay".into(),
            image: "nginx:alpine".into(),
            cpu: 2048,
            memory: 4096,
            port: Some(8080),
            desired_count: 3,
            environment: vec![],
            secrets: vec![],
            health_check: None,
            stop_timeout: None,
            read_only: true,
            exec: false,
            discovery_ttl: None,
            callers: vec![],
            policy: None,
            log_retention_days: 30,
            target_group_arn: None,
            scaled: true,
            blue_green: None,
        };
        let subnets = ["subnet-1".to_owned()];
        let target = Deployed {
            cluster: "c",
            service: "a-pay-dev",
            running: None,
            task_definition: "arn:aws:ecs:us-east-1:1:task-definition/a-pay-dev:2",
            subnets: &subnets,
            security_group: "sg-1",
        };
        let content = appspec(&s, &target).to_string();
        assert!(content.starts_with("{\"version\":0.0,"), "{content}");
        let revision = RevisionLocation::builder()
            .revision_type(RevisionLocationType::AppSpecContent)
            .app_spec_content(AppSpecContent::builder().content(content).build())
            .build();
        assert_eq!(
            appspec_task_definition(Some(&revision)).as_deref(),
            Some(target.task_definition)
        );
        let yaml = RevisionLocation::builder()
            .app_spec_content(AppSpecContent::builder().content("version: 0.0").build())
            .build();
        assert_eq!(appspec_task_definition(Some(&yaml)), None);
    }

    #[test]
    fn a_group_as_wanted_has_the_shape_it_is_compared_in() {
        let role = RoleOut {
            name: "a-codedeploy-dev".into(),
            arn: "arn:aws:iam::1:role/a-codedeploy-dev".into(),
            created: false,
        };
        let bg = BlueGreen {
            config: "CodeDeployDefault.ECSAllAtOnce".into(),
            termination_wait_minutes: 5,
            alarms: vec!["a-pay-memory-high-dev".into(), "a-pay-cpu-high-dev".into()],
            target_groups: ["a-tg-pay-dev".into(), "a-tg-pay-green-dev".into()],
            prod_listener_arn: "arn:listener/http".into(),
            test_listener_arn: "arn:listener/test".into(),
        };
        let target = Deployed {
            cluster: "a-cluster-dev",
            service: "a-pay-dev",
            running: None,
            task_definition: "td",
            subnets: &[],
            security_group: "sg-1",
        };
        let shape = Wanted::new(&role, &bg, &target).shape();
        assert_eq!(
            shape["target_group_pairs"][0]["target_groups"],
            json!(["a-tg-pay-dev", "a-tg-pay-green-dev"])
        );
        assert_eq!(
            shape["target_group_pairs"][0]["test"],
            json!(["arn:listener/test"])
        );
        assert_eq!(
            shape["rollback"],
            json!([true, ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]])
        );
        assert_eq!(
            shape["alarms"],
            json!([true, ["a-pay-cpu-high-dev", "a-pay-memory-high-dev"]])
        );
        assert_eq!(shape["termination"], json!(["TERMINATE", 5]));
        let quiet = BlueGreen {
            alarms: vec![],
            ..bg
        };
        let shape = Wanted::new(&role, &quiet, &target).shape();
        assert_eq!(shape["rollback"], json!([true, ["DEPLOYMENT_FAILURE"]]));
        assert_eq!(shape["alarms"], json!([false, []]));
    }
}
