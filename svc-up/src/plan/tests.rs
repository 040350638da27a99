//! The whole plan, pure: a fresh stack is all creates; the state those creates
//! leave (simulated here, as AWS would hold it) plans nothing; and each spec
//! change plans exactly its ops, pruning included.

use common::plan::{is_planned, Action};

use super::*;
use crate::ops::Ids;
use crate::spec::BlueGreen;
use crate::testing::{ctx, desired, service};

/// What AWS would hold after the ops ran: each create's resource, with fake
/// ids for the placeholders, and the updates' wanted values.
fn simulate(_ctx: &Context, before: &Actual, ops: &[Op]) -> Actual {
    let ids = Ids::default();
    let mut n = 0;
    let mut fake = |placeholder: &str, prefix: &str| {
        n += 1;
        let id = format!("{prefix}-{n}");
        ids.set(placeholder, &id);
        id
    };
    for op in ops {
        match op {
            Op::Group(groups::Op::Create { want, .. }) => {
                fake(&want.id(None), "sg");
            }
            Op::Namespace(cloudmap::NamespaceOp::Create { name, .. }) => {
                fake(&planned(cloudmap::NAMESPACE_KIND, name), "ns");
            }
            Op::Role(roles::Op::Create { want, .. }) => {
                ids.set(
                    &want.arn(None),
                    &format!("arn:aws:iam::123456789012:role/fargate-pipes/{}", want.name),
                );
            }
            _ => {}
        }
    }
    for op in ops {
        match op {
            Op::Discovery(cloudmap::ServiceOp::Create { want, .. }) => {
                fake(&want.arn(None), "arn:sd/srv");
            }
            Op::TaskDefinition(taskdefs::Op::Register { want, .. }) => {
                fake(
                    &planned(taskdefs::KIND, &want.family),
                    &format!("arn:td/{}", want.family),
                );
            }
            Op::Service(ecs::Op::Create { want, .. }) => {
                fake(&want.arn(None), "arn:svc");
            }
            _ => {}
        }
    }
    let mut a = before.clone();
    for op in ops {
        apply_pure(&mut a, op, &ids);
    }
    a
}

fn apply_pure(a: &mut Actual, op: &Op, ids: &Ids) {
    let r = |s: &str| ids.get(s).unwrap();
    match op {
        Op::LogGroup(logs::Op::Create { want, tags })
        | Op::LogGroup(logs::Op::Update {
            want,
            have: logs::Have { tags, .. },
        }) => {
            a.logs.insert(
                want.name.clone(),
                logs::Have {
                    name: want.name.clone(),
                    arn: format!("arn:lg:{}", want.name),
                    retention_days: Some(want.retention_days),
                    kms_key: want.kms_key.clone(),
                    tags: tags.clone(),
                },
            );
        }
        Op::Role(roles::Op::Create { want, tags }) => {
            a.roles.insert(
                want.name.clone(),
                roles::Have {
                    name: want.name.clone(),
                    arn: r(&want.arn(None)),
                    trust: Some(want.trust()),
                    tags: tags.clone(),
                    policy: want.policy.clone(),
                    managed: want.managed.clone(),
                },
            );
        }
        Op::Role(roles::Op::Delete { have }) => {
            a.roles.remove(&have.name);
        }
        Op::Group(groups::Op::Create { want, tags, .. }) => a.groups.push(groups::Have {
            id: r(&want.id(None)),
            name: want.name.clone(),
            tags: tags.clone(),
            ingress: vec![],
        }),
        Op::Group(groups::Op::Rules { want, group, .. }) => {
            let g = a.groups.iter_mut().find(|g| g.id == r(group)).unwrap();
            g.ingress = want
                .ingress
                .iter()
                .map(|(grant, _)| match &grant.peer {
                    groups::Peer::Group(id) => groups::Grant {
                        peer: groups::Peer::Group(r(id)),
                        ..grant.clone()
                    },
                    _ => grant.clone(),
                })
                .collect();
            g.ingress.sort();
        }
        Op::Group(groups::Op::Delete { have }) => a.groups.retain(|g| g.id != have.id),
        Op::Namespace(cloudmap::NamespaceOp::Create { name, tags, .. }) => {
            a.namespaces.push(cloudmap::Namespace {
                id: r(&planned(cloudmap::NAMESPACE_KIND, name)),
                name: name.clone(),
                arn: format!("arn:ns:{name}"),
                tags: tags.clone(),
            })
        }
        Op::Namespace(cloudmap::NamespaceOp::Delete { have }) => {
            a.namespaces.retain(|n| n.id != have.id)
        }
        Op::Discovery(cloudmap::ServiceOp::Create { want, tags }) => {
            a.discovery.push(cloudmap::Service {
                id: format!("srv-{}", want.service),
                arn: r(&want.arn(None)),
                name: want.service.clone(),
                namespace_id: r(&want.namespace),
                ttl: Some(want.ttl),
                tags: tags.clone(),
            })
        }
        Op::Discovery(cloudmap::ServiceOp::Delete { have }) => {
            a.discovery.retain(|s| s.id != have.id)
        }
        Op::TaskDefinition(taskdefs::Op::Register { want, .. }) => {
            let mut shape = taskdefs::shape(&want.definition);
            ids.resolve(&mut shape);
            a.taskdefs.insert(
                want.family.clone(),
                taskdefs::Have {
                    arn: r(&planned(taskdefs::KIND, &want.family)),
                    family: want.family.clone(),
                    shape,
                    tags: want.tags.clone(),
                },
            );
        }
        Op::Service(ecs::Op::Create { want, .. }) => a.services.push(service_have(want, ids)),
        Op::Service(ecs::Op::Update { want, .. }) => {
            a.services.retain(|s| s.name != want.name);
            a.services.push(service_have(want, ids));
        }
        Op::Service(ecs::Op::Delete { have }) => a.services.retain(|s| s.name != have.name),
        Op::CodeDeploy(codedeploy::Op::CreateApplication { want }) => {
            a.codedeploy.push(codedeploy::Have {
                name: want.name.clone(),
                ecs_platform: true,
                tags: want.tags.clone(),
                group: None,
                deployments: vec![],
                active: vec![],
            })
        }
        Op::CodeDeploy(codedeploy::Op::CreateGroup { want }) => {
            let app = a
                .codedeploy
                .iter_mut()
                .find(|h| h.name == want.name)
                .unwrap();
            let mut shape = codedeploy::Group::new(want).shape(want);
            ids.resolve(&mut shape);
            app.group = Some((shape, want.tags.clone()));
        }
        Op::CodeDeploy(codedeploy::Op::Delete { have }) => {
            a.codedeploy.retain(|h| h.name != have.name)
        }
        other => panic!("not simulated: {other:?}"),
    }
}

fn service_have(want: &ecs::Want, ids: &Ids) -> ecs::Have {
    let r = |s: &str| ids.get(s).unwrap();
    let mut network = want.network.clone();
    network.security_groups = network.security_groups.iter().map(|g| r(g)).collect();
    ecs::Have {
        name: want.name.clone(),
        arn: format!(
            "arn:aws:ecs:us-east-1:123456789012:service/{}/{}",
            want.cluster, want.name
        ),
        status: "ACTIVE".into(),
        blue_green: want.blue_green,
        task_definition: Some(r(&want.task_definition)),
        desired_count: want.desired_count,
        load_balancers: want.load_balancer.iter().cloned().collect(),
        registries: want.registry.iter().map(|x| r(x)).collect(),
        network: Some(network),
        strategy: want.strategy.clone(),
        deployment: Some(want.deployment.clone()),
        grace: want.grace,
        exec: want.exec,
        propagate_tags: Some("SERVICE".into()),
        tags: want.tags.clone(),
        created_at: Some(1),
    }
}

fn lines(ctx: &Context, ops: &[Op]) -> Vec<String> {
    let mut l: Vec<String> = ops
        .iter()
        .filter_map(|o| o.change(ctx))
        .map(|c| c.line())
        .collect();
    l.sort();
    l
}

/// A stack brought up: its desired state and what AWS holds.
fn up(d: &Desired) -> Actual {
    let ctx = ctx();
    let first = plan(&ctx, d, &Actual::default()).unwrap();
    let a = simulate(&ctx, &Actual::default(), &first.ops);
    let again = plan(&ctx, d, &a).unwrap();
    assert_eq!(
        lines(&ctx, &again.ops),
        Vec::<String>::new(),
        "a re-run changes nothing"
    );
    a
}

fn three() -> Desired {
    let mut worker = service("worker");
    worker.port = None;
    worker.target_group_arn = None;
    let mut api = service("api");
    api.callers = vec!["web".into()];
    desired(vec![api, worker, service("web")])
}

#[test]
fn a_fresh_stack_is_all_creates_with_placeholders() {
    let ctx = ctx();
    let d = three();
    let p = plan(&ctx, &d, &Actual::default()).unwrap();
    let changes: Vec<_> = p.ops.iter().filter_map(|o| o.change(&ctx)).collect();
    assert!(
        changes.iter().all(|c| c.action == Action::Create),
        "{changes:?}"
    );
    let count = |kind: &str| changes.iter().filter(|c| c.kind == kind).count();
    for kind in [
        "log group",
        "iam role",
        "security group",
        "task definition",
        "ecs service",
    ] {
        assert_eq!(count(kind), 3, "{kind}");
    }
    let api = p.services.get("api").unwrap();
    for id in [
        &api.service_arn,
        &api.task_definition_arn,
        &api.task_role_arn,
        &api.security_group_id,
    ] {
        assert!(is_planned(id), "{id}");
    }
    assert_eq!(api.log_group, "/ecs/shop/dev/api");
    // api lets web's new group in: its rule names the placeholder.
    let rules = p.ops.iter().find_map(|o| match o {
        Op::Group(groups::Op::Rules { want, .. }) if want.service == "api" => Some(want.clone()),
        _ => None,
    });
    let peers: Vec<String> = rules
        .unwrap()
        .ingress
        .iter()
        .map(|(g, _)| g.label())
        .collect();
    assert!(
        peers
            .iter()
            .any(|p| p.contains("planned:security group/shop--svc-web--dev")),
        "{peers:?}"
    );
}

#[test]
fn a_stack_as_planned_replans_nothing() {
    up(&three());
}

#[test]
fn a_route_added_to_a_running_service_attaches_it() {
    let ctx = ctx();
    let mut before = three();
    before.services[1].port = Some(8080);
    let a = up(&before);
    let mut after = before.clone();
    after.services[1].target_group_arn = Some("arn:tg/worker".into());
    let p = plan(&ctx, &after, &a).unwrap();
    let l = lines(&ctx, &p.ops);
    assert_eq!(l.len(), 2, "{l:#?}");
    assert!(l[0].starts_with("~ ecs service shop--worker--dev (health_check_grace_period: 0 -> 60, load_balancers: [] -> "), "{l:#?}");
    assert!(
        l[1].starts_with(
            "~ security group shop--svc-worker--dev (ingress: [] -> [\"tcp:8080<-sg-alb\"])"
        ),
        "{l:#?}"
    );
    // And detached again.
    let a = simulate(&ctx, &a, &p.ops);
    let p = plan(&ctx, &before, &a).unwrap();
    let l = lines(&ctx, &p.ops);
    assert_eq!(l.len(), 2, "{l:#?}");
    assert!(
        l[0].contains("load_balancers: ") && l[0].ends_with("-> [])"),
        "{l:#?}"
    );
}

#[test]
fn discovery_turned_on_makes_the_namespace_and_registers_the_service() {
    let ctx = ctx();
    let before = three();
    let a = up(&before);
    let mut after = before.clone();
    after.namespace = Some("dev.shop.local".into());
    after.services[0].discovery_ttl = Some(10);
    let p = plan(&ctx, &after, &a).unwrap();
    let l = lines(&ctx, &p.ops);
    assert_eq!(
        l,
        [
            "+ discovery service api",
            "+ namespace dev.shop.local",
            "~ ecs service shop--api--dev (service_registries: [] -> [\"planned:discovery service/dev.shop.local/api\"])",
        ]
    );
    let a = simulate(&ctx, &a, &p.ops);
    assert!(plan(&ctx, &after, &a).unwrap().ops.is_empty());
    // Off again: detached, then the Cloud Map service and the namespace go.
    let p = plan(&ctx, &before, &a).unwrap();
    let l = lines(&ctx, &p.ops);
    assert_eq!(l.len(), 3, "{l:#?}");
    assert!(l[0].starts_with("- discovery service api"));
    assert!(l[1].starts_with("- namespace dev.shop.local"));
    assert!(
        l[2].contains("service_registries: [\"arn:sd/srv-"),
        "{l:#?}"
    );
    assert_eq!(p.discovery, None);
}

#[test]
fn a_removed_service_is_pruned_but_its_logs_kept() {
    let ctx = ctx();
    let before = three();
    let mut a = up(&before);
    a.stale_revisions = vec![taskdefs::Revision {
        arn: "arn:aws:ecs:us-east-1:1:task-definition/shop--web--dev:1".into(),
        family: "shop--web--dev".into(),
        active: true,
        tags: ctx.tags("web"),
    }];
    let mut after = before.clone();
    after.services.retain(|s| s.name != "web");
    after.services[0].callers.clear();
    let p = plan(&ctx, &after, &a).unwrap();
    let l = lines(&ctx, &p.ops);
    assert_eq!(
        l,
        [
            "- ecs service shop--web--dev",
            "- iam role shop--task-web--dev",
            "- security group shop--svc-web--dev",
            "- task definition shop--web--dev:1",
            "~ security group shop--svc-api--dev (ingress: [\"tcp:8080<-sg-3\",\"tcp:8080<-sg-alb\"] -> [\"tcp:8080<-sg-alb\"])",
        ],
        "{l:#?}"
    );
    assert!(
        !l.iter().any(|x| x.contains("log group")),
        "logs outlive their service"
    );
    assert!(!p.services.0.contains_key("web"));
}

#[test]
fn an_unstated_spec_prunes_nothing() {
    let ctx = ctx();
    let a = up(&three());
    let mut after = three();
    after.services.truncate(1);
    after.stated = false;
    let p = plan(&ctx, &after, &a).unwrap();
    assert!(
        p.ops
            .iter()
            .all(|o| o.change(&ctx).is_none_or(|c| c.action != Action::Delete)),
        "{:?}",
        lines(&ctx, &p.ops)
    );
}

#[test]
fn a_role_named_like_ours_but_not_ours_stops_the_plan() {
    let ctx = ctx();
    let d = three();
    let mut a = up(&d);
    let role = a.roles.get_mut("shop--task-api--dev").unwrap();
    role.tags = Context::offline("x", "shop", "dev", "us-east-1").tags("task-execution");
    let e = plan(&ctx, &d, &a).unwrap_err();
    assert_eq!(e.exit_code(), 10);
    assert!(e.to_string().contains("shop--task-api--dev"), "{e}");
}

#[test]
fn a_service_turned_blue_green_is_replaced_and_gets_codedeploy() {
    let ctx = ctx();
    let before = three();
    let a = up(&before);
    let mut after = before.clone();
    after.services[2].blue_green = Some(BlueGreen {
        config: "CodeDeployDefault.ECSAllAtOnce".into(),
        termination_wait_minutes: 5,
        alarms: vec![],
        target_groups: ["a".into(), "b".into()],
        prod_listener_arn: "arn:l/1".into(),
        test_listener_arn: "arn:l/2".into(),
    });
    let p = plan(&ctx, &after, &a).unwrap();
    let l = lines(&ctx, &p.ops);
    assert_eq!(l.len(), 4, "{l:#?}");
    assert_eq!(l[0], "+ codedeploy application shop--web--dev");
    assert_eq!(l[1], "+ codedeploy deployment group shop--web--dev");
    assert_eq!(l[2], "+ iam role shop--codedeploy--dev");
    assert!(
        l[3].starts_with("-/+ ecs service shop--web--dev (deployment_configuration: "),
        "{l:#?}"
    );
    assert!(l[3].contains("deployment_controller: ECS -> CODE_DEPLOY"));
    let out = p.services.get("web").unwrap().codedeploy.clone().unwrap();
    assert_eq!(out.application, "shop--web--dev");
    assert!(is_planned(&out.role_arn));
}
