//! The CodeDeploy rows of docs/converge/svc-up.md: application, deployment
//! group fields, and the deployment of a new task definition, network or
//! capacity strategy.

use super::*;
use crate::testing::ctx;

fn bg() -> BlueGreen {
    BlueGreen {
        config: "CodeDeployDefault.ECSAllAtOnce".into(),
        termination_wait_minutes: 5,
        alarms: vec!["shop--pay-cpu-high--dev".into()],
        target_groups: ["shop-tg-pay-dev".into(), "shop-tg-pay-green-dev".into()],
        prod_listener_arn: "arn:listener/http".into(),
        test_listener_arn: "arn:listener/test".into(),
    }
}

fn running() -> Running {
    Running {
        task_definition: "arn:td/shop--pay--dev:1".into(),
        container: "pay".into(),
        port: 8080,
        network: ecs::Network {
            subnets: vec!["subnet-a".into()],
            security_groups: vec!["sg-pay".into()],
            public_ip: false,
        },
        strategy: vec![ecs::Strategy {
            provider: "FARGATE".into(),
            base: 1,
            weight: 1,
        }],
    }
}

fn want() -> Want {
    Want {
        service: "pay".into(),
        name: "shop--pay--dev".into(),
        cluster: "shop--cluster--dev".into(),
        ecs_service: "shop--pay--dev".into(),
        role: "arn:aws:iam::1:role/shop--codedeploy--dev".into(),
        bg: bg(),
        running: running(),
        tags: ctx().tags("codedeploy-pay"),
    }
}

/// The application as CodeDeploy holds it once made from `w`, with a
/// deployment that rolled out `running`.
fn have_of(w: &Want, deployed: Option<Running>) -> Have {
    let group = Group::new(w).shape(w);
    Have {
        name: w.name.clone(),
        ecs_platform: true,
        tags: w.tags.clone(),
        group: Some((group, w.tags.clone())),
        deployments: deployed
            .map(|r| {
                vec![Deployed {
                    id: "d-1".into(),
                    created: 100,
                    running: Some(r),
                }]
            })
            .unwrap_or_default(),
        active: vec![],
    }
}

/// The ECS service as created with `r` (at time 50).
fn service(r: &Running) -> ecs::Have {
    ecs::Have {
        name: "shop--pay--dev".into(),
        arn: "arn:svc".into(),
        status: "ACTIVE".into(),
        blue_green: true,
        task_definition: Some(r.task_definition.clone()),
        desired_count: 3,
        load_balancers: vec![],
        registries: vec![],
        network: Some(r.network.clone()),
        strategy: r.strategy.clone(),
        deployment: None,
        grace: 60,
        exec: false,
        propagate_tags: None,
        tags: vec![],
        created_at: Some(50),
    }
}

fn lines(ops: &[Op]) -> Vec<String> {
    ops.iter().map(|o| o.change(&ctx()).line()).collect()
}

#[test]
fn a_new_blue_green_service_gets_an_application_and_a_group() {
    let ops = plan(&ctx(), &want(), None, None, true).unwrap();
    assert_eq!(
        lines(&ops),
        [
            "+ codedeploy application shop--pay--dev",
            "+ codedeploy deployment group shop--pay--dev"
        ]
    );
    assert!(
        ops[0].phase() < ops[1].phase(),
        "the group after the ECS service"
    );
    assert_eq!(ops[1].phase(), Phase::DeploymentGroups);
}

#[test]
fn an_unchanged_service_deploys_nothing() {
    let w = want();
    let h = have_of(&w, None);
    assert!(
        plan(&ctx(), &w, Some(&h), Some(&service(&running())), false)
            .unwrap()
            .is_empty()
    );
    // Nor while its deployment of the wanted state is under way.
    let h = have_of(&w, Some(running()));
    let old = Running {
        task_definition: "arn:td/old".into(),
        ..running()
    };
    assert!(plan(&ctx(), &w, Some(&h), Some(&service(&old)), false)
        .unwrap()
        .is_empty());
}

#[test]
fn task_definition_network_and_strategy_are_deployed() {
    let w = want();
    let h = have_of(&w, None);
    for (field, now) in [
        (
            "task_definition",
            Running {
                task_definition: "arn:td/shop--pay--dev:0".into(),
                ..running()
            },
        ),
        (
            "network",
            Running {
                network: ecs::Network {
                    subnets: vec!["subnet-z".into()],
                    ..running().network
                },
                ..running()
            },
        ),
        (
            "strategy",
            Running {
                strategy: vec![],
                ..running()
            },
        ),
    ] {
        let ops = plan(&ctx(), &w, Some(&h), Some(&service(&now)), false).unwrap();
        assert_eq!(ops.len(), 1, "{field}");
        let c = ops[0].change(&ctx());
        assert_eq!(
            c.line().split(' ').take(4).collect::<Vec<_>>().join(" "),
            "+ codedeploy deployment shop--pay--dev"
        );
        assert_eq!(c.changes.keys().collect::<Vec<_>>(), [field]);
        assert_eq!(ops[0].phase(), Phase::Deployments);
    }
    // A service this run (re)creates starts with the wanted state: no deployment.
    let now = Running {
        task_definition: "arn:td/0".into(),
        ..running()
    };
    assert!(plan(&ctx(), &w, Some(&h), Some(&service(&now)), true)
        .unwrap()
        .is_empty());
}

#[test]
fn a_deployment_older_than_the_service_does_not_count() {
    let w = want();
    let mut h = have_of(
        &w,
        Some(Running {
            task_definition: "arn:td/ancient".into(),
            ..running()
        }),
    );
    h.deployments[0].created = 10;
    assert_eq!(
        running_now(Some(&h), &service(&running()), "pay", 8080),
        Some(running())
    );
    h.deployments[0].created = 60;
    assert_eq!(
        running_now(Some(&h), &service(&running()), "pay", 8080)
            .unwrap()
            .task_definition,
        "arn:td/ancient"
    );
}

#[test]
fn each_group_field_is_updated_in_place() {
    let w = want();
    let h = have_of(&w, None);
    for (field, changed) in [
        (
            "config",
            Want {
                bg: BlueGreen {
                    config: "CodeDeployDefault.ECSCanary10Percent5Minutes".into(),
                    ..bg()
                },
                ..want()
            },
        ),
        (
            "termination",
            Want {
                bg: BlueGreen {
                    termination_wait_minutes: 30,
                    ..bg()
                },
                ..want()
            },
        ),
        (
            "alarms",
            Want {
                bg: BlueGreen {
                    alarms: vec!["shop--pay-memory-high--dev".into()],
                    ..bg()
                },
                ..want()
            },
        ),
        (
            "target_group_pairs",
            Want {
                bg: BlueGreen {
                    test_listener_arn: "arn:listener/test2".into(),
                    ..bg()
                },
                ..want()
            },
        ),
        (
            "role",
            Want {
                role: "arn:aws:iam::1:role/other".into(),
                ..want()
            },
        ),
    ] {
        let ops = plan(
            &ctx(),
            &changed,
            Some(&h),
            Some(&service(&running())),
            false,
        )
        .unwrap();
        assert_eq!(ops.len(), 1, "{field}");
        let keys: Vec<String> = ops[0].change(&ctx()).changes.keys().cloned().collect();
        assert!(keys.contains(&field.to_owned()), "{field}: {keys:?}");
        assert!(matches!(ops[0], Op::UpdateGroup { .. }));
    }
    // No alarms: rollback on failure only, alarms off.
    let quiet = Want {
        bg: BlueGreen {
            alarms: vec![],
            ..bg()
        },
        ..want()
    };
    let keys: Vec<String> = plan(&ctx(), &quiet, Some(&h), Some(&service(&running())), false)
        .unwrap()[0]
        .change(&ctx())
        .changes
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["alarms", "rollback"]);
}

#[test]
fn applications_of_another_stack_or_platform() {
    let w = want();
    let foreign = Have {
        tags: Context::offline("x", "shop", "prod", "us-east-1").tags("codedeploy-pay"),
        ..have_of(&w, None)
    };
    assert_eq!(
        plan(&ctx(), &w, Some(&foreign), None, true)
            .unwrap_err()
            .exit_code(),
        10
    );
    let server = Have {
        ecs_platform: false,
        ..have_of(&w, None)
    };
    let ops = plan(&ctx(), &w, Some(&server), None, true).unwrap();
    assert!(
        lines(&ops)[0].starts_with("-/+ codedeploy application shop--pay--dev"),
        "{:?}",
        lines(&ops)
    );
    let mut tagged_other = have_of(&w, None);
    tagged_other.group.as_mut().unwrap().1 = ctx().tags("codedeploy-web");
    assert_eq!(
        plan(&ctx(), &w, Some(&tagged_other), None, true)
            .unwrap_err()
            .exit_code(),
        10
    );
}

#[test]
fn applications_no_blue_green_service_wants_are_deleted() {
    let ctx = ctx();
    let old = Have {
        name: "shop--old--dev".into(),
        tags: ctx.tags("codedeploy-old"),
        ..have_of(&want(), None)
    };
    let foreign = Have {
        name: "shop--x--dev".into(),
        tags: vec![],
        ..have_of(&want(), None)
    };
    let ops = prune(&ctx, &[want()], &[have_of(&want(), None), old, foreign]).unwrap();
    assert_eq!(lines(&ops), ["- codedeploy application shop--old--dev"]);
    assert_eq!(
        ops[0].phase(),
        Phase::Setup,
        "before the ECS service it names goes"
    );
}

#[test]
fn the_appspec_carries_the_strategy_and_reads_back() {
    let spec = appspec(&running());
    let p = &spec["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(
        p["CapacityProviderStrategy"],
        json!([{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1}])
    );
    assert_eq!(
        p["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"],
        "DISABLED"
    );
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(spec.to_string()).build())
        .build();
    assert_eq!(running_of(Some(&revision)), Some(running()));
    let yaml = RevisionLocation::builder()
        .app_spec_content(AppSpecContent::builder().content("version: 0.0").build())
        .build();
    assert_eq!(running_of(Some(&yaml)), None);
}
