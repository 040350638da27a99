//! ECS services (component `{service}`), converged field by field: task
//! definition, desired count (a scaled service's only at creation: then it is
//! Application Auto Scaling's), load balancer and Cloud Map registry (attach
//! and detach), network, capacity provider strategy, deployment configuration
//! (circuit breaker with rollback, 100/200 %), health check grace period, ECS
//! Exec, propagated tags and the service's tags.
//!
//! What UpdateService cannot change is a replacement: the deployment
//! controller always; for a blue/green (`CODE_DEPLOY`) service also its load
//! balancer, registries and Exec, since AWS takes only the desired count,
//! deployment configuration, grace period and tag propagation for it (its task
//! definition, network and capacity strategy go through a CodeDeploy
//! deployment, see `codedeploy`). A replacement scales the old service to 0,
//! deletes it, waits until it is inactive (AWS refuses a name still
//! draining), and creates the new one: the service is down in between, which
//! `--plan` shows as `-/+`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::error::SdkError;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentCircuitBreaker,
    DeploymentConfiguration, DeploymentController, DeploymentControllerType, LoadBalancer,
    NetworkConfiguration, PropagateTags, Service, ServiceField, ServiceRegistry, Tag,
};
use common::plan::{planned, Action, Change};
use common::{AwsResultExt, Context, Error, Result};
use serde::Serialize;
use serde_json::Value;

use crate::aws::{built, code_and_message, propagation, retry_sdk, Clients};
use crate::names::{self, pairs, Tags};
use crate::ops::{Ids, Phase};

pub const KIND: &str = "ecs service";
/// How long a deleted service may take to drain and become inactive.
const INACTIVE_WAIT: Duration = Duration::from_secs(600);
/// The grace period for a load-balanced service's first health checks.
pub const GRACE_SECONDS: i32 = 60;
/// ECS's limit for `clientToken`.
const TOKEN_MAX: usize = 36;

/// One provider of a capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Strategy {
    pub provider: String,
    pub base: i32,
    pub weight: i32,
}

/// The awsvpc network of a service, lists sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub public_ip: bool,
}

/// The deployment configuration fields we set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub minimum_healthy_percent: i32,
    pub maximum_percent: i32,
    /// The circuit breaker with rollback (ECS controller only).
    pub circuit_breaker: bool,
}

/// A load balancer attachment: the target group, the container and its port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Attachment {
    pub target_group: String,
    pub container: String,
    pub port: i32,
}

/// An ECS service as it should be. Ids may be placeholders of what this run creates.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub service: String,
    pub name: String,
    pub cluster: String,
    pub task_definition: String,
    pub desired_count: i32,
    /// Application Auto Scaling owns the count once the service exists.
    pub scaled: bool,
    pub blue_green: bool,
    pub load_balancer: Option<Attachment>,
    /// A blue/green service's second target group: CodeDeploy moves the
    /// service between the two, so either counts as attached.
    pub green_target_group: Option<String>,
    pub registry: Option<String>,
    pub network: Network,
    pub strategy: Vec<Strategy>,
    pub deployment: Deployment,
    pub grace: i32,
    pub exec: bool,
    pub tags: Tags,
    /// `--force-new-deployment`: a deployment even when nothing changed.
    pub force: bool,
}

/// An ECS service as AWS holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Have {
    pub name: String,
    pub arn: String,
    /// `ACTIVE` or `DRAINING`.
    pub status: String,
    pub blue_green: bool,
    pub task_definition: Option<String>,
    pub desired_count: i32,
    pub load_balancers: Vec<Attachment>,
    pub registries: Vec<String>,
    pub network: Option<Network>,
    pub strategy: Vec<Strategy>,
    pub deployment: Option<Deployment>,
    pub grace: i32,
    pub exec: bool,
    pub propagate_tags: Option<String>,
    pub tags: Tags,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `drained`: a service of that name is draining; wait for it first.
    Create {
        want: Want,
        drained: Option<String>,
    },
    Update {
        want: Want,
        have: Have,
        fields: Vec<Field>,
    },
    Replace {
        want: Want,
        have: Have,
        fields: Vec<Field>,
    },
    Delete {
        have: Have,
    },
}

/// One compared field, with its value on each side (for the plan).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub from: Value,
    pub to: Value,
}

/// What can change in place on a blue/green service (besides tags).
const BLUE_GREEN_IN_PLACE: &[&str] = &[
    "desired_count",
    "deployment_configuration",
    "health_check_grace_period",
    "propagate_tags",
    "tags",
];
/// What a blue/green service takes only through a CodeDeploy deployment.
const BLUE_GREEN_DEPLOYED: &[&str] = &["task_definition", "network", "capacity_provider_strategy"];

/// The services of the cluster (ACTIVE and DRAINING), with their tags.
pub async fn discover(c: &Clients, cluster: &str) -> Result<Vec<Have>> {
    let arns: Vec<String> = match c
        .ecs
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        Ok(a) => a,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_cluster_not_found_exception()) =>
        {
            return Ok(vec![])
        }
        Err(e) => {
            return Err(common::error::aws_error(
                format!("ListServices {cluster}"),
                e,
            ))
        }
    };
    describe(c, cluster, &arns).await
}

/// Services by name or ARN, 10 per DescribeServices (its limit), with tags.
pub async fn describe(c: &Clients, cluster: &str, which: &[String]) -> Result<Vec<Have>> {
    let chunks = common::try_join_all(which.chunks(10).map(|chunk| async move {
        match c
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
        {
            Ok(out) => Ok(out.services().to_vec()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_cluster_not_found_exception()) =>
            {
                Ok(vec![])
            }
            Err(e) => Err(common::error::aws_error(
                format!("DescribeServices {cluster}"),
                e,
            )),
        }
    }))
    .await?;
    Ok(chunks
        .iter()
        .flatten()
        .filter(|s| s.status() != Some("INACTIVE"))
        .map(have_of)
        .collect())
}

fn have_of(s: &Service) -> Have {
    let network = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .map(|v| Network {
            subnets: sorted(v.subnets().to_vec()),
            security_groups: sorted(v.security_groups().to_vec()),
            public_ip: v.assign_public_ip() == Some(&AssignPublicIp::Enabled),
        });
    let deployment = s.deployment_configuration().map(|d| Deployment {
        minimum_healthy_percent: d.minimum_healthy_percent().unwrap_or(100),
        maximum_percent: d.maximum_percent().unwrap_or(200),
        circuit_breaker: d
            .deployment_circuit_breaker()
            .is_some_and(|b| b.enable() && b.rollback()),
    });
    Have {
        name: s.service_name().unwrap_or_default().to_owned(),
        arn: s.service_arn().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        blue_green: s
            .deployment_controller()
            .is_some_and(|d| d.r#type() == &DeploymentControllerType::CodeDeploy),
        task_definition: s.task_definition().map(str::to_owned),
        desired_count: s.desired_count(),
        load_balancers: sorted(
            s.load_balancers()
                .iter()
                .map(|l| Attachment {
                    target_group: l.target_group_arn().unwrap_or_default().to_owned(),
                    container: l.container_name().unwrap_or_default().to_owned(),
                    port: l.container_port().unwrap_or_default(),
                })
                .collect(),
        ),
        registries: sorted(
            s.service_registries()
                .iter()
                .filter_map(|r| r.registry_arn().map(str::to_owned))
                .collect(),
        ),
        network,
        strategy: sorted(
            s.capacity_provider_strategy()
                .iter()
                .map(|i| Strategy {
                    provider: i.capacity_provider().to_owned(),
                    base: i.base(),
                    weight: i.weight(),
                })
                .collect(),
        ),
        deployment,
        grace: s.health_check_grace_period_seconds().unwrap_or(0),
        exec: s.enable_execute_command(),
        propagate_tags: s.propagate_tags().map(|p| p.as_str().to_owned()),
        tags: s
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        created_at: s.created_at().map(|t| t.secs()),
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// This stack's and env's services by their component (the spec's service
/// name); two claiming one service are refused, naming both.
pub fn by_service<'a>(ctx: &Context, found: &'a [Have]) -> Result<BTreeMap<String, &'a Have>> {
    let mut out: BTreeMap<String, &Have> = BTreeMap::new();
    for s in found.iter().filter(|s| names::ours(ctx, &s.tags)) {
        let Some(service) = names::component(&s.tags) else {
            continue;
        };
        if let Some(other) = out.insert(service.to_owned(), s) {
            return Err(Error::Refused(format!(
                "two ECS services claim service {service}: {} and {}; delete the one not in use \
                 (teardown removes both); nothing was changed",
                other.arn, s.arn
            )));
        }
    }
    Ok(out)
}

impl Want {
    /// The service's ARN: the one found, or the placeholder of the one this run creates.
    pub fn arn(&self, have: Option<&Have>) -> String {
        match have {
            Some(h) if h.status == "ACTIVE" => h.arn.clone(),
            _ => planned(KIND, &self.name),
        }
    }

    fn attachments(&self) -> Vec<Attachment> {
        self.load_balancer.iter().cloned().collect()
    }

    fn tag_map(&self) -> BTreeMap<&str, &str> {
        tag_map(&self.tags)
    }
}

/// The tags we compare: all but AWS's own (`aws:`).
fn tag_map(tags: &Tags) -> BTreeMap<&str, &str> {
    pairs(tags)
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

fn json<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Every field that differs between the service and what it should be.
pub fn diff(want: &Want, have: &Have) -> Vec<Field> {
    let mut out = Vec::new();
    let mut field = |name: &'static str, from: Value, to: Value| {
        if from != to {
            out.push(Field { name, from, to });
        }
    };
    field(
        "deployment_controller",
        json(controller(have.blue_green)),
        json(controller(want.blue_green)),
    );
    field(
        "task_definition",
        json(&have.task_definition),
        json(Some(&want.task_definition)),
    );
    if !want.scaled {
        field(
            "desired_count",
            json(have.desired_count),
            json(want.desired_count),
        );
    }
    field(
        "load_balancers",
        json(&have.load_balancers),
        json(attached(want, have)),
    );
    field(
        "service_registries",
        json(&have.registries),
        json(want.registry.iter().collect::<Vec<_>>()),
    );
    field("network", json(&have.network), json(Some(&want.network)));
    field(
        "capacity_provider_strategy",
        json(&have.strategy),
        json(&want.strategy),
    );
    field(
        "deployment_configuration",
        json(&have.deployment),
        json(Some(&want.deployment)),
    );
    field(
        "health_check_grace_period",
        json(have.grace),
        json(want.grace),
    );
    field("enable_execute_command", json(have.exec), json(want.exec));
    field(
        "propagate_tags",
        json(&have.propagate_tags),
        json(Some("SERVICE")),
    );
    field("tags", json(tag_map(&have.tags)), json(want.tag_map()));
    field("force_new_deployment", json(false), json(want.force));
    out
}

/// The attachment the service should show: a blue/green service may show its
/// green group after a deployment, which is as good as the blue one.
fn attached(want: &Want, have: &Have) -> Vec<Attachment> {
    let mut wanted = want.attachments();
    if let (Some(green), [seen]) = (&want.green_target_group, have.load_balancers.as_slice()) {
        if let Some(w) = wanted.first_mut() {
            if &seen.target_group == green && seen.container == w.container && seen.port == w.port {
                w.target_group = green.clone();
            }
        }
    }
    wanted
}

fn controller(blue_green: bool) -> &'static str {
    if blue_green {
        "CODE_DEPLOY"
    } else {
        "ECS"
    }
}

/// The op that brings one service to `want`, if any. An existing service must
/// be this stack's, env's and service's.
pub fn plan(ctx: &Context, want: &Want, have: Option<&Have>) -> Result<Option<Op>> {
    let Some(have) = have else {
        return Ok(Some(Op::Create {
            want: want.clone(),
            drained: None,
        }));
    };
    ctx.check_owned(KIND, &have.name, pairs(&have.tags), &want.service)?;
    if have.status != "ACTIVE" {
        return Ok(Some(Op::Create {
            want: want.clone(),
            drained: Some(have.arn.clone()),
        }));
    }
    let fields = diff(want, have);
    let replace = fields.iter().any(|f| {
        f.name == "deployment_controller"
            || (want.blue_green
                && !BLUE_GREEN_IN_PLACE.contains(&f.name)
                && !BLUE_GREEN_DEPLOYED.contains(&f.name))
    });
    if replace {
        return Ok(Some(Op::Replace {
            want: want.clone(),
            have: have.clone(),
            fields,
        }));
    }
    let fields: Vec<Field> = fields
        .into_iter()
        .filter(|f| !(want.blue_green && BLUE_GREEN_DEPLOYED.contains(&f.name)))
        .collect();
    Ok((!fields.is_empty()).then(|| Op::Update {
        want: want.clone(),
        have: have.clone(),
        fields,
    }))
}

/// The deletes of this stack's services that no wanted service is.
pub fn prune(ctx: &Context, wanted: &[Want], found: &BTreeMap<String, &Have>) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    for (service, have) in found {
        if wanted
            .iter()
            .any(|w| &w.service == service || w.name == have.name)
        {
            continue;
        }
        ctx.check_owned(KIND, &have.name, pairs(&have.tags), service)?;
        ops.push(Op::Delete {
            have: (*have).clone(),
        });
    }
    Ok(ops)
}

impl Op {
    pub fn phase(&self) -> Phase {
        match self {
            Op::Delete { .. } => Phase::PruneServices,
            _ => Phase::Services,
        }
    }

    /// Whether the service is created (or made again) by this op: it then
    /// starts with the wanted task definition, network and strategy.
    pub fn creates(&self) -> bool {
        matches!(self, Op::Create { .. } | Op::Replace { .. })
    }

    pub fn change(&self, ctx: &Context) -> Change {
        let with = |mut c: Change, fields: &[Field]| {
            for f in fields {
                c = c.field(f.name, &f.from, &f.to);
            }
            c
        };
        match self {
            Op::Create { want, .. } => Change::new(&ctx.tool, Action::Create, KIND, &want.name),
            Op::Update { want, have, fields } => with(
                Change::new(&ctx.tool, Action::Update, KIND, &want.name).id(&have.arn),
                fields,
            ),
            Op::Replace { want, have, fields } => with(
                Change::new(&ctx.tool, Action::Replace, KIND, &want.name).id(&have.arn),
                fields,
            ),
            Op::Delete { have } => {
                Change::new(&ctx.tool, Action::Delete, KIND, &have.name).id(&have.arn)
            }
        }
    }

    pub async fn apply(&self, c: &Clients, ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            Op::Create { want, drained } => {
                if let Some(old) = drained {
                    wait_inactive(c, &want.cluster, old).await?;
                }
                create(c, ctx, want, ids).await.map(Some)
            }
            Op::Update { want, have, fields } => {
                update(c, want, have, fields, ids).await.map(|()| None)
            }
            Op::Replace { want, have, .. } => {
                delete(c, &want.cluster, &have.name).await?;
                create(c, ctx, want, ids).await.map(Some)
            }
            Op::Delete { have } => {
                let cluster = cluster_of(&have.arn).unwrap_or_default();
                delete(c, &cluster, &have.name).await.map(|()| None)
            }
        }
    }
}

/// The cluster named in a service's ARN (`...:service/{cluster}/{name}`).
pub fn cluster_of(arn: &str) -> Option<String> {
    let rest = arn.split_once(":service/")?.1;
    rest.split_once('/').map(|(c, _)| c.to_owned())
}

fn ecs_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn network_configuration(n: &Network, ids: &Ids) -> Result<NetworkConfiguration> {
    let groups = n
        .security_groups
        .iter()
        .map(|g| ids.get(g))
        .collect::<Result<Vec<_>>>()?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(built(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(n.subnets.clone()))
                .set_security_groups(Some(groups))
                .assign_public_ip(if n.public_ip {
                    AssignPublicIp::Enabled
                } else {
                    AssignPublicIp::Disabled
                })
                .build(),
        )?)
        .build())
}

fn deployment_configuration(d: &Deployment) -> DeploymentConfiguration {
    let mut b = DeploymentConfiguration::builder()
        .minimum_healthy_percent(d.minimum_healthy_percent)
        .maximum_percent(d.maximum_percent);
    // The circuit breaker is the ECS controller's; CodeDeploy's automatic
    // rollback does its job for a blue/green service.
    if d.circuit_breaker {
        b = b.deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        );
    }
    b.build()
}

fn strategy(s: &[Strategy]) -> Result<Vec<CapacityProviderStrategyItem>> {
    s.iter()
        .map(|i| {
            built(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(&i.provider)
                    .base(i.base)
                    .weight(i.weight)
                    .build(),
            )
        })
        .collect()
}

fn load_balancers(want: &Want, ids: &Ids) -> Result<Vec<LoadBalancer>> {
    want.attachments()
        .iter()
        .map(|a| {
            Ok(LoadBalancer::builder()
                .target_group_arn(ids.get(&a.target_group)?)
                .container_name(&a.container)
                .container_port(a.port)
                .build())
        })
        .collect()
}

fn registries(want: &Want, ids: &Ids) -> Result<Vec<ServiceRegistry>> {
    want.registry
        .iter()
        .map(|arn| {
            Ok(ServiceRegistry::builder()
                .registry_arn(ids.get(arn)?)
                .build())
        })
        .collect()
}

/// ECS may refuse a role IAM made a moment ago.
fn role_not_ready<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    e: &E,
    modelled: bool,
) -> bool {
    let (_, message) = code_and_message(e);
    modelled && (message.contains("role") || message.contains("assume"))
}

async fn create(c: &Clients, ctx: &Context, want: &Want, ids: &Ids) -> Result<String> {
    let network = network_configuration(&want.network, ids)?;
    let balancers = load_balancers(want, ids)?;
    let registries = registries(want, ids)?;
    let task_definition = ids.get(&want.task_definition)?;
    let controller = built(
        DeploymentController::builder()
            .r#type(if want.blue_green {
                DeploymentControllerType::CodeDeploy
            } else {
                DeploymentControllerType::Ecs
            })
            .build(),
    )?;
    let strategy = strategy(&want.strategy)?;
    // One token for this create and its retries; the next create of the name gets another.
    let token = names::intent_token(ctx, &["service", &want.name], TOKEN_MAX);
    let out = retry_sdk(
        &format!("CreateService {}", want.name),
        propagation(crate::roles::PROPAGATION),
        |e: &SdkError<aws_sdk_ecs::operation::create_service::CreateServiceError>| {
            role_not_ready(
                e,
                e.as_service_error()
                    .is_some_and(|s| s.is_invalid_parameter_exception() || s.is_client_exception()),
            )
        },
        || {
            c.ecs
                .create_service()
                .cluster(&want.cluster)
                .service_name(&want.name)
                .task_definition(&task_definition)
                .desired_count(want.desired_count)
                .set_capacity_provider_strategy((!strategy.is_empty()).then(|| strategy.clone()))
                .network_configuration(network.clone())
                .deployment_configuration(deployment_configuration(&want.deployment))
                .deployment_controller(controller.clone())
                .set_health_check_grace_period_seconds(
                    want.load_balancer.is_some().then_some(want.grace),
                )
                .set_load_balancers(Some(balancers.clone()))
                .set_service_registries(Some(registries.clone()))
                .enable_execute_command(want.exec)
                .propagate_tags(PropagateTags::Service)
                .set_tags(Some(ecs_tags(&want.tags)))
                .client_token(&token)
                .send()
        },
    )
    .await?;
    let arn = out
        .service()
        .and_then(|s| s.service_arn())
        .ok_or_else(|| Error::Io(format!("CreateService {} returned no service", want.name)))?
        .to_owned();
    ids.set(&planned(KIND, &want.name), &arn);
    Ok(arn)
}

/// One UpdateService with exactly the drifted fields (for a blue/green
/// service only those its controller takes), then the tags.
async fn update(c: &Clients, want: &Want, have: &Have, fields: &[Field], ids: &Ids) -> Result<()> {
    let changed = |name: &str| fields.iter().any(|f| f.name == name);
    let mut req = c
        .ecs
        .update_service()
        .cluster(&want.cluster)
        .service(&want.name);
    let mut send = false;
    if changed("desired_count") {
        req = req.desired_count(want.desired_count);
        send = true;
    }
    if changed("deployment_configuration") {
        req = req.deployment_configuration(deployment_configuration(&want.deployment));
        send = true;
    }
    if changed("health_check_grace_period") {
        req = req.health_check_grace_period_seconds(want.grace);
        send = true;
    }
    if changed("propagate_tags") {
        req = req.propagate_tags(PropagateTags::Service);
        send = true;
    }
    if !want.blue_green {
        let (r, more) = rolling_fields(req, want, &changed, ids)?;
        req = r;
        send |= more;
    }
    if send {
        req.send()
            .await
            .aws(format!("UpdateService {}", want.name))?;
    }
    if changed("tags") {
        set_tags(c, &have.arn, &want.tags, &have.tags).await?;
    }
    Ok(())
}

/// The fields only a rolling (ECS controller) service takes in UpdateService.
fn rolling_fields(
    mut req: aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder,
    want: &Want,
    changed: &dyn Fn(&str) -> bool,
    ids: &Ids,
) -> Result<(
    aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder,
    bool,
)> {
    let mut send = false;
    if changed("task_definition") {
        req = req.task_definition(ids.get(&want.task_definition)?);
        send = true;
    }
    if changed("network") {
        req = req.network_configuration(network_configuration(&want.network, ids)?);
        send = true;
    }
    if changed("force_new_deployment") {
        req = req.force_new_deployment(true);
        send = true;
    }
    if changed("capacity_provider_strategy") {
        // A new strategy takes effect with a new deployment only.
        req = req
            .set_capacity_provider_strategy(Some(strategy(&want.strategy)?))
            .force_new_deployment(true);
        send = true;
    }
    if changed("load_balancers") {
        // An empty list detaches (UpdateService's documented way).
        req = req.set_load_balancers(Some(load_balancers(want, ids)?));
        send = true;
    }
    if changed("service_registries") {
        req = req.set_service_registries(Some(registries(want, ids)?));
        send = true;
    }
    if changed("enable_execute_command") {
        req = req.enable_execute_command(want.exec);
        send = true;
    }
    Ok((req, send))
}

async fn set_tags(c: &Clients, arn: &str, want: &Tags, have: &Tags) -> Result<()> {
    let (want, have) = (tag_map(want), tag_map(have));
    let stale: Vec<String> = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .map(|k| (*k).to_owned())
        .collect();
    let add: Tags = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if !add.is_empty() {
        c.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(&add)))
            .send()
            .await
            .aws(format!("TagResource {arn}"))?;
    }
    if !stale.is_empty() {
        c.ecs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .aws(format!("UntagResource {arn}"))?;
    }
    Ok(())
}

/// Scales to 0, deletes (forced: a load-balanced service drains), and waits
/// until the service is inactive, so its tasks let go of groups, registries
/// and the name. Gone already is done.
pub async fn delete(c: &Clients, cluster: &str, name: &str) -> Result<()> {
    match c
        .ecs
        .update_service()
        .cluster(cluster)
        .service(name)
        .desired_count(0)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_service_not_found_exception() || s.is_service_not_active_exception()
            }) =>
        {
            return Ok(())
        }
        Err(e) => return Err(common::error::aws_error(format!("UpdateService {name}"), e)),
    }
    match c
        .ecs
        .delete_service()
        .cluster(cluster)
        .service(name)
        .force(true)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_service_not_found_exception()) =>
        {
            return Ok(())
        }
        Err(e) => return Err(common::error::aws_error(format!("DeleteService {name}"), e)),
    }
    wait_inactive(c, cluster, name).await
}

async fn wait_inactive(c: &Clients, cluster: &str, service: &str) -> Result<()> {
    let wait = c
        .ecs
        .wait_until_services_inactive()
        .cluster(cluster)
        .services(service)
        .wait(INACTIVE_WAIT);
    common::progress::during(format!("ECS service {service} to become inactive"), wait)
        .await
        .map(|_| ())
        .map_err(|e| {
            common::retry::waiter_error(
                &format!("ECS service {service} to become inactive"),
                INACTIVE_WAIT,
                e,
            )
        })
}

#[cfg(test)]
mod tests;
