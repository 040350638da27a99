//! The plan: a pure function of the desired state and what discovery found,
//! returning every op (each with its `Change`) and the `.services` and
//! `.discovery` sections the run writes (with placeholders for what it
//! creates). Every update or delete is of a resource whose tags say this
//! stack, env and component; one that is not is refused (exit 10) here, before
//! anything is changed.
//!
//! Pruning (what `spec.services` no longer asks for) happens only when the
//! section is an explicit, non-empty statement. A removed service's log group
//! is kept: its logs outlive it, and teardown removes it.

use std::collections::BTreeMap;

use common::iam;
use common::plan::planned;
use common::sections::{CodeDeployOut, Discovery, ServiceOut, Services};
use common::{Context, Result};

use crate::actual::Actual;
use crate::desired::Desired;
use crate::ops::Op;
use crate::spec::Planned;
use crate::{cloudmap, codedeploy, ecs, groups, logs, names, roles, taskdefs};

/// What the run does and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub services: Services,
    pub discovery: Option<Discovery>,
}

/// The ARN of a service's log group, for its task role's ECS Exec grants.
pub fn log_group_arn(ctx: &Context, account: Option<&str>, service: &str) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:{}",
        iam::partition(&ctx.region),
        ctx.region,
        account.unwrap_or("*"),
        names::log_group_name(ctx, service)
    )
}

/// Everything the run changes, in no particular order (each op knows its phase).
pub fn plan(ctx: &Context, d: &Desired, a: &Actual) -> Result<Plan> {
    let groups_found = groups::by_service(&a.groups)?;
    let services_found = ecs::by_service(ctx, &a.services)?;
    let namespaces = cloudmap::owned(ctx, &a.namespaces)?;
    let mut ops = Vec::new();

    let (namespace_id, namespace_op) =
        cloudmap::plan_namespace(ctx, d.namespace.as_deref(), &d.vpc_id, &namespaces)?;
    ops.extend(namespace_op.map(Op::Namespace));
    let group_wants = group_wants(ctx, d, &groups_found);
    let group_ids: BTreeMap<&str, String> = group_wants
        .iter()
        .map(|w| {
            (
                w.service.as_str(),
                w.id(groups_found.get(&w.service).copied()),
            )
        })
        .collect();
    for w in &group_wants {
        let have = groups_found.get(&w.service).copied();
        ops.extend(
            groups::plan(ctx, w, have, &d.vpc_id)?
                .into_iter()
                .map(Op::Group),
        );
    }
    let codedeploy_role = codedeploy_role(ctx, d, a, &mut ops)?;

    let mut services = BTreeMap::new();
    let mut wants = Wants::default();
    for s in &d.services {
        let ns = namespace_id
            .as_deref()
            .map(|id| (id, d.namespace.as_deref().unwrap_or_default()));
        let one = One {
            ctx,
            d,
            a,
            s,
            group: &group_ids[s.name.as_str()],
            namespace: ns,
            codedeploy_role: codedeploy_role.as_deref(),
        };
        let out = one.plan(&mut ops, &mut wants)?;
        services.insert(s.name.clone(), out);
    }
    if d.stated {
        let found = Found {
            namespaces: &namespaces,
            groups: &groups_found,
            services: &services_found,
        };
        prune(ctx, d, a, &wants, &group_wants, &found, &mut ops)?;
    } else if !a.is_empty() {
        tracing::warn!(
            "spec.services is absent or empty: nothing was pruned (only an explicit, non-empty spec.services removes services)"
        );
    }
    let discovery = d.namespace.as_ref().map(|name| {
        let have = namespaces.iter().find(|n| &n.name == name);
        Discovery {
            namespace_id: namespace_id.clone().unwrap_or_default(),
            namespace_name: name.clone(),
            namespace_arn: have.map_or_else(
                || cloudmap::namespace_arn_placeholder(name),
                |n| n.arn.clone(),
            ),
        }
    });
    Ok(Plan {
        ops,
        services: Services(services),
        discovery,
    })
}

/// The wanted resources, kept for pruning (what is not among them goes).
#[derive(Debug, Default)]
struct Wants {
    roles: Vec<roles::Want>,
    discovery: Vec<cloudmap::Want>,
    services: Vec<ecs::Want>,
    codedeploy: Vec<codedeploy::Want>,
}

/// Every service's group: its port from the ALB's group (when routed) and from
/// each caller's group (found, or the placeholder of the one this run makes).
fn group_wants(
    ctx: &Context,
    d: &Desired,
    found: &BTreeMap<String, &groups::Have>,
) -> Vec<groups::Want> {
    let id_of = |service: &str| {
        let name = ctx.name(&names::group_component(service));
        found
            .get(service)
            .map_or_else(|| planned(groups::KIND, &name), |h| h.id.clone())
    };
    d.services
        .iter()
        .map(|s| {
            let mut ingress = Vec::new();
            if let Some(port) = s.port {
                if let (Some(_), Some(alb)) = (&s.target_group_arn, &d.alb_group) {
                    ingress.push((
                        groups::Grant::tcp(port, groups::Peer::Group(alb.clone())),
                        "from the ALB".to_owned(),
                    ));
                }
                for caller in &s.callers {
                    ingress.push((
                        groups::Grant::tcp(port, groups::Peer::Group(id_of(caller))),
                        format!("from {caller}"),
                    ));
                }
            }
            ingress.sort();
            ingress.dedup_by(|a, b| a.0 == b.0);
            groups::Want {
                service: s.name.clone(),
                name: ctx.name(&names::group_component(&s.name)),
                description: format!("{}: in only from the ALB and its callers", s.name),
                ingress,
            }
        })
        .collect()
}

/// CodeDeploy's role while a service is blue/green: its op, and its ARN.
fn codedeploy_role(
    ctx: &Context,
    d: &Desired,
    a: &Actual,
    ops: &mut Vec<Op>,
) -> Result<Option<String>> {
    if !d.blue_green() {
        return Ok(None);
    }
    let want = codedeploy_role_want(ctx);
    let have = a.roles.get(&want.name);
    ops.extend(roles::plan(ctx, &want, have)?.map(Op::Role));
    Ok(Some(want.arn(have)))
}

pub fn codedeploy_role_want(ctx: &Context) -> roles::Want {
    roles::Want {
        name: iam::role_name(ctx, names::CODEDEPLOY_ROLE),
        component: names::CODEDEPLOY_ROLE.to_owned(),
        trust_service: "codedeploy.amazonaws.com".into(),
        description: "CodeDeploy: blue/green deployments of the stack's ECS services".into(),
        policy: None,
        managed: vec![format!(
            "arn:{}:iam::aws:policy/{}",
            iam::partition(&ctx.region),
            names::CODEDEPLOY_POLICY
        )],
    }
}

/// One service's plan: its resources in dependency order.
struct One<'a> {
    ctx: &'a Context,
    d: &'a Desired,
    a: &'a Actual,
    s: &'a Planned,
    group: &'a str,
    /// The namespace's id (or placeholder) and name.
    namespace: Option<(&'a str, &'a str)>,
    codedeploy_role: Option<&'a str>,
}

impl One<'_> {
    fn plan(&self, ops: &mut Vec<Op>, wants: &mut Wants) -> Result<ServiceOut> {
        let (ctx, s) = (self.ctx, self.s);
        let log_group = names::log_group_name(ctx, &s.name);
        let log = logs::Want {
            service: s.name.clone(),
            name: log_group.clone(),
            retention_days: s.log_retention_days,
            kms_key: self.d.log_kms_key.clone(),
        };
        ops.extend(logs::plan(ctx, &log, self.a.logs.get(&log_group))?.map(Op::LogGroup));
        let role = self.role();
        let role_have = self.a.roles.get(&role.name);
        ops.extend(roles::plan(ctx, &role, role_have)?.map(Op::Role));
        let role_arn = role.arn(role_have);
        wants.roles.push(role);
        let registry = self.discovery(ops, wants)?;
        let td = taskdefs::want(ctx, s, &self.d.execution_role, &role_arn, &log_group)?;
        let td_have = self.a.taskdefs.get(&td.family);
        ops.extend(taskdefs::plan(ctx, &td, td_have)?.map(Op::TaskDefinition));
        let td_arn = td.arn(td_have);
        let service = self.service(&td_arn, registry.clone());
        let service_have = self.a.services.iter().find(|h| h.name == service.name);
        let service_op = ecs::plan(ctx, &service, service_have)?;
        let creates = service_op.as_ref().is_some_and(ecs::Op::creates);
        let codedeploy = self.codedeploy(&service, service_have, creates, ops, wants)?;
        ops.extend(service_op.map(Op::Service));
        let out = ServiceOut {
            service_name: service.name.clone(),
            service_arn: service.arn(service_have.filter(|_| !creates)),
            task_definition_arn: td_arn,
            task_role_arn: role_arn,
            security_group_id: self.group.to_owned(),
            log_group,
            discovery_service_arn: registry,
            image: s.image.clone(),
            codedeploy,
        };
        wants.services.push(service);
        Ok(out)
    }

    fn role(&self) -> roles::Want {
        let (ctx, s) = (self.ctx, self.s);
        let component = names::role_component(&s.name);
        let policy = crate::spec::task_policy(
            s.policy.as_ref(),
            s.exec,
            &log_group_arn(ctx, self.d.account(), &s.name),
            self.d.log_kms_key.as_deref(),
        );
        roles::Want {
            name: iam::role_name(ctx, &component),
            component,
            trust_service: "ecs-tasks.amazonaws.com".into(),
            description: format!("Task role of {} (only its declared permissions)", s.name),
            policy,
            managed: vec![],
        }
    }

    /// The Cloud Map service, when discovered: its op and the ARN to register with.
    fn discovery(&self, ops: &mut Vec<Op>, wants: &mut Wants) -> Result<Option<String>> {
        let (Some(ttl), Some((namespace, namespace_name))) = (self.s.discovery_ttl, self.namespace)
        else {
            return Ok(None);
        };
        let want = cloudmap::Want {
            service: self.s.name.clone(),
            namespace: namespace.to_owned(),
            namespace_name: namespace_name.to_owned(),
            ttl,
        };
        let have = self
            .a
            .discovery
            .iter()
            .find(|h| h.name == want.service && h.namespace_id == want.namespace);
        ops.extend(cloudmap::plan_service(self.ctx, &want, have)?.map(Op::Discovery));
        let arn = want.arn(have);
        wants.discovery.push(want);
        Ok(Some(arn))
    }

    fn service(&self, task_definition: &str, registry: Option<String>) -> ecs::Want {
        let (ctx, s, d) = (self.ctx, self.s, self.d);
        let load_balancer = match (&s.target_group_arn, s.port) {
            (Some(tg), Some(port)) => Some(ecs::Attachment {
                target_group: tg.clone(),
                container: s.name.clone(),
                port: i32::from(port),
            }),
            _ => None,
        };
        let blue_green = s.blue_green.is_some();
        ecs::Want {
            service: s.name.clone(),
            name: ctx.name(&s.name),
            cluster: d.cluster.clone(),
            task_definition: task_definition.to_owned(),
            desired_count: i32::try_from(s.desired_count).unwrap_or(i32::MAX),
            scaled: s.scaled,
            blue_green,
            green_target_group: s.green_target_group_arn.clone(),
            grace: if load_balancer.is_some() {
                ecs::GRACE_SECONDS
            } else {
                0
            },
            load_balancer,
            registry,
            network: ecs::Network {
                subnets: d.subnets.clone(),
                security_groups: vec![self.group.to_owned()],
                public_ip: false,
            },
            strategy: d.strategy.clone(),
            deployment: ecs::Deployment {
                minimum_healthy_percent: 100,
                maximum_percent: 200,
                circuit_breaker: !blue_green,
            },
            exec: s.exec,
            tags: names::wanted_tags(ctx, &s.name),
            force: s.force_new_deployment,
        }
    }

    fn codedeploy(
        &self,
        service: &ecs::Want,
        service_have: Option<&ecs::Have>,
        creates: bool,
        ops: &mut Vec<Op>,
        wants: &mut Wants,
    ) -> Result<Option<CodeDeployOut>> {
        let (Some(bg), Some(role)) = (&self.s.blue_green, self.codedeploy_role) else {
            return Ok(None);
        };
        let want = codedeploy::Want {
            service: self.s.name.clone(),
            name: service.name.clone(),
            cluster: service.cluster.clone(),
            ecs_service: service.name.clone(),
            role: role.to_owned(),
            bg: bg.clone(),
            running: codedeploy::Running {
                task_definition: service.task_definition.clone(),
                container: self.s.name.clone(),
                port: service.load_balancer.as_ref().map_or(0, |l| l.port),
                network: service.network.clone(),
                strategy: service.strategy.clone(),
            },
            tags: names::wanted_tags(self.ctx, &names::codedeploy_component(&self.s.name)),
        };
        let have = self.a.codedeploy.iter().find(|h| h.name == want.name);
        let cd_ops = codedeploy::plan(self.ctx, &want, have, service_have, creates)?;
        let deploying = cd_ops
            .iter()
            .any(|o| matches!(o, codedeploy::Op::Deploy { .. }));
        let last = if deploying {
            Some(planned(codedeploy::DEPLOYMENT_KIND, &want.name))
        } else {
            have.and_then(|h| h.deployments.first())
                .map(|d| d.id.clone())
        };
        ops.extend(cd_ops.into_iter().map(Op::CodeDeploy));
        let out = CodeDeployOut {
            application: want.name.clone(),
            deployment_group: want.name.clone(),
            role_arn: role.to_owned(),
            config: bg.config.clone(),
            last_deployment_id: last,
        };
        wants.codedeploy.push(want);
        Ok(Some(out))
    }
}

/// What discovery found, sorted by owner.
struct Found<'a> {
    namespaces: &'a [cloudmap::Namespace],
    groups: &'a BTreeMap<String, &'a groups::Have>,
    services: &'a BTreeMap<String, &'a ecs::Have>,
}

/// The deletes of what the stated spec no longer asks for.
fn prune(
    ctx: &Context,
    d: &Desired,
    a: &Actual,
    wants: &Wants,
    group_wants: &[groups::Want],
    found: &Found<'_>,
    ops: &mut Vec<Op>,
) -> Result<()> {
    let mut roles_wanted = wants.roles.clone();
    if d.blue_green() {
        roles_wanted.push(codedeploy_role_want(ctx));
    }
    let codedeploy = codedeploy::prune(ctx, &wants.codedeploy, &a.codedeploy)?;
    ops.extend(codedeploy.into_iter().map(Op::CodeDeploy));
    let services = ecs::prune(ctx, &wants.services, found.services)?;
    ops.extend(services.into_iter().map(Op::Service));
    let (discovered, namespaces) = cloudmap::prune(
        ctx,
        &wants.discovery,
        d.namespace.as_deref(),
        found.namespaces,
        &a.discovery,
    )?;
    ops.extend(discovered.into_iter().map(Op::Discovery));
    ops.extend(namespaces.into_iter().map(Op::Namespace));
    ops.extend(
        roles::prune(ctx, &roles_wanted, &a.roles)
            .into_iter()
            .map(Op::Role),
    );
    ops.extend(
        taskdefs::prune(ctx, &a.stale_revisions)
            .into_iter()
            .map(Op::TaskDefinition),
    );
    ops.extend(
        groups::prune(ctx, group_wants, found.groups)?
            .into_iter()
            .map(Op::Group),
    );
    Ok(())
}

#[cfg(test)]
mod tests;
