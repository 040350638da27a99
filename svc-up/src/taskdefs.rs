//! Task definitions: one family per service, `{stack}--{service}--{env}`,
//! tagged at registration (component `{service}`), so the family is owned by
//! its revisions' tags and never by its name. A changed field registers
//! exactly one new revision; earlier revisions stay (ECS rolls back to them)
//! until the service is removed, when every revision of its family is
//! deregistered and deleted (DeleteTaskDefinitions).
//!
//! The latest ACTIVE revision is compared with the wanted one in one
//! comparable shape (`shape`): what we set, with ECS's defaults applied.

use std::collections::BTreeMap;

use aws_sdk_ecs::error::SdkError;
use aws_sdk_ecs::types::{
    Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, CpuArchitecture,
    HealthCheck, KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode, OsFamily,
    PortMapping, RuntimePlatform, Secret, TaskDefinition, TaskDefinitionField,
    TaskDefinitionStatus, TransportProtocol, Volume,
};
use common::plan::{planned, Action, Change};
use common::spec::services::containers::volume_name;
use common::spec::services::ContainerHealthCheck;
use common::{naming, AwsResultExt, Context, Error, Result};
use serde_json::{json, Value};

use crate::aws::{built, code_and_message, propagation, retry_sdk, Clients};
use crate::names::{self, pairs, Tags};
use crate::ops::{Ids, Phase};
use crate::spec::{Planned, SidecarPlan};

pub const KIND: &str = "task definition";

/// A task definition as it should be: the family, what a registration sends
/// (the role ARN may be a placeholder), and its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub service: String,
    pub family: String,
    pub definition: TaskDefinition,
    pub tags: Tags,
}

/// The latest ACTIVE revision of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Have {
    pub arn: String,
    pub family: String,
    pub shape: Value,
    pub tags: Tags,
}

/// One revision of a family the plan may remove.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub arn: String,
    pub family: String,
    pub active: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A first revision (`have` none) or the next one.
    Register { want: Box<Want>, have: Option<Have> },
    /// Deregisters (when active) and deletes one revision of a removed service.
    Delete { revision: Revision },
}

impl Want {
    /// The revision a service runs: the latest when it is as wanted, else the
    /// placeholder of the one this run registers.
    pub fn arn(&self, have: Option<&Have>) -> String {
        match have {
            Some(h) if h.shape == shape(&self.definition) => h.arn.clone(),
            _ => planned(KIND, &self.family),
        }
    }
}

/// What a service's task definition should be: the main container first
/// (named after the service), then its sidecars by name; one ephemeral
/// volume per writable path; the CPU architecture always stated.
pub fn want(
    ctx: &Context,
    s: &Planned,
    execution_role: &str,
    task_role: &str,
    log_group: &str,
) -> Result<Want> {
    let family = ctx.name(&s.name);
    let mut containers = vec![container(ctx, &main_of(s), log_group)?];
    for side in &s.sidecars {
        containers.push(container(ctx, &sidecar_of(side), log_group)?);
    }
    let arch = if s.arm64 {
        CpuArchitecture::Arm64
    } else {
        CpuArchitecture::X8664
    };
    let definition = TaskDefinition::builder()
        .family(&family)
        .cpu(s.cpu.to_string())
        .memory(s.memory.to_string())
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .execution_role_arn(execution_role)
        .task_role_arn(task_role)
        .set_container_definitions(Some(containers))
        .set_volumes(Some(volumes(s)))
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(arch)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .build();
    Ok(Want {
        service: s.name.clone(),
        family,
        definition,
        tags: names::wanted_tags(ctx, &s.name),
    })
}

/// One container's parts, main or sidecar alike.
struct Parts<'a> {
    name: &'a str,
    image: &'a str,
    essential: bool,
    read_only: bool,
    stop_timeout: Option<i32>,
    port: Option<u16>,
    command: Option<&'a Vec<String>>,
    entrypoint: Option<&'a Vec<String>>,
    environment: &'a [(String, String)],
    secrets: &'a [(String, String)],
    health_check: Option<&'a ContainerHealthCheck>,
    writable_paths: &'a [String],
    depends_on: &'a [(String, String)],
}

fn main_of(s: &Planned) -> Parts<'_> {
    Parts {
        name: &s.name,
        image: &s.image,
        essential: true,
        read_only: s.read_only,
        stop_timeout: s.stop_timeout,
        port: s.port,
        command: s.command.as_ref(),
        entrypoint: s.entrypoint.as_ref(),
        environment: &s.environment,
        secrets: &s.secrets,
        health_check: s.health_check.as_ref(),
        writable_paths: &s.writable_paths,
        depends_on: &s.depends_on,
    }
}

fn sidecar_of(c: &SidecarPlan) -> Parts<'_> {
    Parts {
        name: &c.name,
        image: &c.image,
        essential: c.essential,
        read_only: c.read_only,
        stop_timeout: None,
        port: c.port,
        command: c.command.as_ref(),
        entrypoint: c.entrypoint.as_ref(),
        environment: &c.environment,
        secrets: &c.secrets,
        health_check: c.health_check.as_ref(),
        writable_paths: &c.writable_paths,
        depends_on: &c.depends_on,
    }
}

/// Every container's writable paths, each its own ephemeral (Fargate task
/// storage) volume: a volume with neither host path nor EFS configuration.
fn volumes(s: &Planned) -> Vec<Volume> {
    let main = s.writable_paths.iter().map(|p| (s.name.as_str(), p));
    let sides = s
        .sidecars
        .iter()
        .flat_map(|c| c.writable_paths.iter().map(move |p| (c.name.as_str(), p)));
    main.chain(sides)
        .map(|(c, p)| Volume::builder().name(volume_name(c, p)).build())
        .collect()
}

fn container(ctx: &Context, p: &Parts<'_>, log_group: &str) -> Result<ContainerDefinition> {
    let mut c = ContainerDefinition::builder()
        .name(p.name)
        .image(p.image)
        .essential(p.essential)
        .readonly_root_filesystem(p.read_only)
        .set_stop_timeout(p.stop_timeout)
        .set_command(p.command.cloned())
        .set_entry_point(p.entrypoint.cloned())
        .log_configuration(built(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", log_group)
                .options("awslogs-region", &ctx.region)
                .options("awslogs-stream-prefix", p.name)
                .build(),
        )?);
    if let Some(port) = p.port {
        c = c.port_mappings(
            PortMapping::builder()
                .container_port(i32::from(port))
                .protocol(TransportProtocol::Tcp)
                .build(),
        );
    }
    for (k, v) in p.environment {
        c = c.environment(KeyValuePair::builder().name(k).value(v).build());
    }
    for (k, v) in p.secrets {
        c = c.secrets(built(Secret::builder().name(k).value_from(v).build())?);
    }
    for path in p.writable_paths {
        c = c.mount_points(
            MountPoint::builder()
                .source_volume(volume_name(p.name, path))
                .container_path(path)
                .read_only(false)
                .build(),
        );
    }
    for (name, condition) in p.depends_on {
        c = c.depends_on(built(
            ContainerDependency::builder()
                .container_name(name)
                .condition(ContainerCondition::from(condition.as_str()))
                .build(),
        )?);
    }
    if let Some(h) = p.health_check {
        c = c.health_check(built(
            HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .interval(h.interval.unwrap_or(30))
                .timeout(h.timeout.unwrap_or(5))
                .retries(h.retries.unwrap_or(3))
                .start_period(h.start_period.unwrap_or(0))
                .build(),
        )?);
    }
    Ok(c.build())
}

/// What we set in a task definition, in one comparable form, ECS's defaults
/// applied: built from the wanted definition and from DescribeTaskDefinition.
/// The main (first) container's fields are at the top level, each sidecar's
/// under `sidecars.<name>`, so a change names the field that moved.
pub fn shape(td: &TaskDefinition) -> Value {
    let containers = td.container_definitions();
    let mut out = json!({
        "cpu": td.cpu(),
        "memory": td.memory(),
        "network_mode": td.network_mode().map(|m| m.as_str()),
        "compatibilities": td.requires_compatibilities().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "execution_role": td.execution_role_arn(),
        "task_role": td.task_role_arn(),
        // ECS runs a task without a runtime platform on x86_64.
        "cpu_architecture": td
            .runtime_platform()
            .and_then(|r| r.cpu_architecture())
            .map_or("X86_64", |a| a.as_str()),
        "volumes": sorted(td.volumes().iter().filter_map(|v| v.name().map(str::to_owned)).collect()),
    });
    let main = container_shape(containers.first());
    for (k, v) in main.as_object().into_iter().flatten() {
        out[k.as_str()] = v.clone();
    }
    let sidecars: serde_json::Map<String, Value> = containers
        .iter()
        .skip(1)
        .map(|c| {
            let mut shape = container_shape(Some(c));
            shape.as_object_mut().map(|m| m.remove("container"));
            (c.name().unwrap_or_default().to_owned(), shape)
        })
        .collect();
    out["sidecars"] = Value::Object(sidecars);
    out
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn container_shape(c: Option<&ContainerDefinition>) -> Value {
    let pairs = |f: &dyn Fn(&ContainerDefinition) -> Vec<(String, String)>| {
        sorted(c.map_or_else(Vec::new, f))
    };
    let env = pairs(&|c| {
        c.environment()
            .iter()
            .map(|kv| {
                (
                    kv.name().unwrap_or_default().to_owned(),
                    kv.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    });
    let secrets = pairs(&|c| {
        c.secrets()
            .iter()
            .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
            .collect()
    });
    let log_options = pairs(&|c| {
        c.log_configuration()
            .and_then(|l| l.options())
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    });
    // A mount point ECS returns without readOnly is read-write.
    let mounts = pairs(&|c| {
        c.mount_points()
            .iter()
            .filter(|m| !m.read_only().unwrap_or(false))
            .map(|m| {
                (
                    m.container_path().unwrap_or_default().to_owned(),
                    m.source_volume().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    });
    let depends_on = pairs(&|c| {
        c.depends_on()
            .iter()
            .map(|d| {
                (
                    d.container_name().to_owned(),
                    d.condition().as_str().to_owned(),
                )
            })
            .collect()
    });
    let ports: Vec<i32> = c.map_or_else(Vec::new, |c| {
        c.port_mappings()
            .iter()
            .filter_map(|p| p.container_port())
            .collect()
    });
    let health = c.and_then(|c| c.health_check()).map(|h| {
        json!({
            "command": h.command(),
            "interval": h.interval().unwrap_or(30),
            "timeout": h.timeout().unwrap_or(5),
            "retries": h.retries().unwrap_or(3),
            "start_period": h.start_period().unwrap_or(0),
        })
    });
    // An empty command or entrypoint is the image's own, like an absent one.
    let args = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    json!({
        "container": c.and_then(|c| c.name()),
        "image": c.and_then(|c| c.image()),
        "essential": c.and_then(|c| c.essential()).unwrap_or(true),
        "ports": ports,
        "environment": env,
        "secrets": secrets,
        "health_check": health,
        "stop_timeout": c.and_then(|c| c.stop_timeout()),
        "read_only_root_filesystem": c.and_then(|c| c.readonly_root_filesystem()).unwrap_or(false),
        "log_driver": c.and_then(|c| c.log_configuration()).map(|l| l.log_driver().as_str()),
        "log_options": log_options,
        "command": c.and_then(|c| args(c.command())),
        "entrypoint": c.and_then(|c| args(c.entry_point())),
        "mount_points": mounts,
        "depends_on": depends_on,
    })
}

/// The latest ACTIVE revision of each family, with its tags; `None` when a
/// family has none.
pub async fn latest(c: &Clients, families: &[String]) -> Result<BTreeMap<String, Have>> {
    let found = common::try_join_all(families.iter().map(|f| describe(c, f))).await?;
    Ok(found
        .into_iter()
        .flatten()
        .filter(|(_, active, _)| *active)
        .map(|(td, _, tags)| {
            let family = td.family().unwrap_or_default().to_owned();
            let have = Have {
                arn: td.task_definition_arn().unwrap_or_default().to_owned(),
                family: family.clone(),
                shape: shape(&td),
                tags,
            };
            (family, have)
        })
        .collect())
}

/// One task definition (a family's latest, or a revision), whether it is
/// ACTIVE, and its tags; `None` when it does not exist.
async fn describe(c: &Clients, which: &str) -> Result<Option<(TaskDefinition, bool, Tags)>> {
    let out = match c
        .ecs
        .describe_task_definition()
        .task_definition(which)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
    {
        Ok(out) => out,
        // ECS answers a family without revisions with a ClientException.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_client_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(common::error::aws_error(
                format!("DescribeTaskDefinition {which}"),
                e,
            ))
        }
    };
    let tags = out
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Ok(out.task_definition().cloned().map(|td| {
        let active = td.status() == Some(&TaskDefinitionStatus::Active);
        (td, active, tags)
    }))
}

/// The families of this stack and env that no wanted service has (all of
/// them with `keep` empty), and every revision of each, with its tags.
pub async fn stale(c: &Clients, ctx: &Context, keep: &[String]) -> Result<Vec<Revision>> {
    let prefix = naming::name_prefix(&ctx.stack);
    let families: Vec<String> = c
        .ecs
        .list_task_definition_families()
        .family_prefix(&prefix)
        .status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::All)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("ListTaskDefinitionFamilies {prefix}"))?;
    let stale: Vec<&String> = families
        .iter()
        .filter(|f| naming::component_in(f, &ctx.stack, &ctx.env).is_some())
        .filter(|f| !keep.contains(f))
        .collect();
    let revisions = common::try_join_all(stale.into_iter().map(|f| revisions(c, f))).await?;
    Ok(revisions.into_iter().flatten().collect())
}

async fn revisions(c: &Clients, family: &str) -> Result<Vec<Revision>> {
    let mut arns = Vec::new();
    for status in [TaskDefinitionStatus::Active, TaskDefinitionStatus::Inactive] {
        let listed: Vec<String> = c
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(status)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws(format!("ListTaskDefinitions {family}"))?;
        arns.extend(listed);
    }
    let described = common::try_join_all(arns.iter().map(|a| describe(c, a))).await?;
    Ok(described
        .into_iter()
        .flatten()
        .map(|(td, active, tags)| Revision {
            arn: td.task_definition_arn().unwrap_or_default().to_owned(),
            family: family.to_owned(),
            active,
            tags,
        })
        .collect())
}

/// The op that registers the wanted revision, if the latest is not it. The
/// latest must be this stack's, env's and service's.
pub fn plan(ctx: &Context, want: &Want, have: Option<&Have>) -> Result<Option<Op>> {
    if let Some(h) = have {
        ctx.check_owned(KIND, &h.family, pairs(&h.tags), &want.service)?;
        if h.shape == shape(&want.definition) {
            return Ok(None);
        }
    }
    Ok(Some(Op::Register {
        want: Box::new(want.clone()),
        have: have.cloned(),
    }))
}

/// The deletes of every revision of a removed service's family: only the
/// revisions tagged for this stack, env and that service (another's revision
/// in a family named like ours is left alone).
pub fn prune(ctx: &Context, stale: &[Revision]) -> Vec<Op> {
    stale
        .iter()
        .filter(|r| {
            naming::component_in(&r.family, &ctx.stack, &ctx.env).is_some_and(|service| {
                ctx.check_owned(KIND, &r.arn, pairs(&r.tags), service)
                    .is_ok()
            })
        })
        .map(|r| Op::Delete {
            revision: r.clone(),
        })
        .collect()
}

/// `family:revision` of an ARN.
fn revision_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

impl Op {
    pub fn phase(&self) -> Phase {
        match self {
            Op::Register { .. } => Phase::Wire,
            Op::Delete { .. } => Phase::Prune,
        }
    }

    pub fn change(&self, ctx: &Context) -> Change {
        match self {
            Op::Register { want, have: None } => {
                Change::new(&ctx.tool, Action::Create, KIND, &want.family)
            }
            Op::Register {
                want,
                have: Some(h),
            } => {
                let mut c = Change::new(&ctx.tool, Action::Update, KIND, &want.family).id(&h.arn);
                let to = shape(&want.definition);
                for (field, value) in to.as_object().into_iter().flatten() {
                    let from = &h.shape[field.as_str()];
                    if from != value {
                        c = c.field(field, from, value);
                    }
                }
                c
            }
            Op::Delete { revision } => Change::new(
                &ctx.tool,
                Action::Delete,
                KIND,
                revision_name(&revision.arn),
            )
            .id(&revision.arn),
        }
    }

    pub async fn apply(&self, c: &Clients, _ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            Op::Register { want, .. } => {
                let arn = register(c, want, ids).await?;
                ids.set(&planned(KIND, &want.family), &arn);
                Ok(Some(arn))
            }
            Op::Delete { revision } => delete(c, revision).await.map(|()| None),
        }
    }
}

/// ECS may refuse a role IAM made a moment ago.
fn role_not_ready<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    e: &E,
    modelled: bool,
) -> bool {
    let (_, message) = code_and_message(e);
    modelled && (message.contains("role") || message.contains("assume"))
}

async fn register(c: &Clients, want: &Want, ids: &Ids) -> Result<String> {
    let td = &want.definition;
    let task_role = ids.get(td.task_role_arn().unwrap_or_default())?;
    let tags: Vec<aws_sdk_ecs::types::Tag> = want
        .tags
        .iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect();
    let out = retry_sdk(
        &format!("RegisterTaskDefinition {}", want.family),
        propagation(crate::roles::PROPAGATION),
        |e: &SdkError<
            aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionError,
        >| {
            role_not_ready(
                e,
                e.as_service_error()
                    .is_some_and(|s| s.is_client_exception() || s.is_invalid_parameter_exception()),
            )
        },
        || {
            c.ecs
                .register_task_definition()
                .family(&want.family)
                .set_cpu(td.cpu().map(str::to_owned))
                .set_memory(td.memory().map(str::to_owned))
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .set_execution_role_arn(td.execution_role_arn().map(str::to_owned))
                .task_role_arn(&task_role)
                .set_container_definitions(Some(td.container_definitions().to_vec()))
                .set_volumes(Some(td.volumes().to_vec()))
                .set_runtime_platform(td.runtime_platform().cloned())
                .set_tags(Some(tags.clone()))
                .send()
        },
    )
    .await?;
    Ok(out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Deregisters an active revision, then deletes it; gone already is done.
pub async fn delete(c: &Clients, r: &Revision) -> Result<()> {
    if r.active {
        match c
            .ecs
            .deregister_task_definition()
            .task_definition(&r.arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_client_exception()) => {}
            Err(e) => {
                return Err(common::error::aws_error(
                    format!("DeregisterTaskDefinition {}", r.arn),
                    e,
                ))
            }
        }
    }
    let out = c
        .ecs
        .delete_task_definitions()
        .task_definitions(&r.arn)
        .send()
        .await
        .aws(format!("DeleteTaskDefinitions {}", r.arn))?;
    match out.failures().first() {
        Some(f) if !f.reason().unwrap_or_default().contains("does not exist") => {
            Err(Error::Aws(common::error::AwsError {
                op: format!("DeleteTaskDefinitions {}", r.arn),
                code: None,
                message: f.reason().unwrap_or("refused").to_owned(),
                request_id: None,
                transient: false,
            }))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
