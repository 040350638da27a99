//! Every row of the ECS service table in docs/converge/svc-up.md: each field,
//! changed alone, gives one update naming exactly it (or the replacement AWS
//! needs), and nothing else.

use super::*;
use crate::testing::ctx;

fn want() -> Want {
    let ctx = ctx();
    Want {
        service: "api".into(),
        name: "shop--api--dev".into(),
        cluster: "shop--cluster--dev".into(),
        task_definition: "arn:td/shop--api--dev:1".into(),
        desired_count: 2,
        scaled: false,
        blue_green: false,
        load_balancer: Some(Attachment {
            target_group: "arn:tg/blue".into(),
            container: "api".into(),
            port: 8080,
        }),
        green_target_group: None,
        registry: None,
        network: Network {
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-api".into()],
            public_ip: false,
        },
        strategy: vec![Strategy {
            provider: "FARGATE".into(),
            base: 0,
            weight: 1,
        }],
        deployment: Deployment {
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            circuit_breaker: true,
        },
        grace: GRACE_SECONDS,
        exec: false,
        tags: ctx.tags("api"),
        force: false,
    }
}

/// The service as ECS holds it once created from `w`.
fn have_of(w: &Want) -> Have {
    Have {
        name: w.name.clone(),
        arn: "arn:aws:ecs:us-east-1:1:service/shop--cluster--dev/shop--api--dev".into(),
        status: "ACTIVE".into(),
        blue_green: w.blue_green,
        task_definition: Some(w.task_definition.clone()),
        desired_count: w.desired_count,
        load_balancers: w.load_balancer.iter().cloned().collect(),
        registries: w.registry.iter().cloned().collect(),
        network: Some(w.network.clone()),
        strategy: w.strategy.clone(),
        deployment: Some(w.deployment.clone()),
        grace: w.grace,
        exec: w.exec,
        propagate_tags: Some("SERVICE".into()),
        tags: w.tags.clone(),
        created_at: Some(1),
    }
}

fn op(w: &Want, h: &Have) -> Option<Op> {
    plan(&ctx(), w, Some(h)).unwrap()
}

fn line(o: &Op) -> String {
    o.change(&ctx()).line()
}

fn changed(o: &Op) -> Vec<String> {
    o.change(&ctx()).changes.keys().cloned().collect()
}

#[test]
fn a_missing_service_is_created_and_an_unchanged_one_left_alone() {
    let w = want();
    let o = plan(&ctx(), &w, None).unwrap().unwrap();
    assert_eq!(line(&o), "+ ecs service shop--api--dev");
    assert!(o.creates());
    assert_eq!(op(&w, &have_of(&w)), None);
    assert!(common::plan::is_planned(&w.arn(None)));
}

#[test]
fn each_field_of_a_rolling_service_is_one_in_place_update() {
    let base = want();
    let have = have_of(&base);
    let mut cases: Vec<(&str, Want)> = Vec::new();
    let mut w = base.clone();
    w.task_definition = "arn:td/shop--api--dev:2".into();
    cases.push(("task_definition", w));
    let mut w = base.clone();
    w.desired_count = 3;
    cases.push(("desired_count", w));
    let mut w = base.clone();
    w.network.subnets = vec!["subnet-c".into()];
    cases.push(("network", w));
    let mut w = base.clone();
    w.network.security_groups = vec!["sg-other".into()];
    cases.push(("network", w));
    let mut w = base.clone();
    w.strategy = vec![Strategy {
        provider: "FARGATE_SPOT".into(),
        base: 0,
        weight: 1,
    }];
    cases.push(("capacity_provider_strategy", w));
    let mut w = base.clone();
    w.deployment.circuit_breaker = false;
    cases.push(("deployment_configuration", w));
    let mut w = base.clone();
    w.deployment.maximum_percent = 150;
    cases.push(("deployment_configuration", w));
    let mut w = base.clone();
    w.grace = 0;
    cases.push(("health_check_grace_period", w));
    let mut w = base.clone();
    w.exec = true;
    cases.push(("enable_execute_command", w));
    let mut w = base.clone();
    w.tags.push(("team".into(), "payments".into()));
    cases.push(("tags", w));
    let mut w = base.clone();
    w.registry = Some("arn:sd/srv-1".into());
    cases.push(("service_registries", w));
    for (field, w) in cases {
        let o = op(&w, &have).unwrap_or_else(|| panic!("{field}: no op"));
        assert!(matches!(o, Op::Update { .. }), "{field}: {}", line(&o));
        assert_eq!(changed(&o), [field], "{}", line(&o));
    }
}

#[test]
fn load_balancers_and_registries_attach_and_detach_in_place() {
    let attached = want();
    let detached = Want {
        load_balancer: None,
        grace: 0,
        ..want()
    };
    // Attach: a route added to a running service.
    let o = op(&attached, &have_of(&detached)).unwrap();
    assert_eq!(changed(&o), ["health_check_grace_period", "load_balancers"]);
    assert!(
        line(&o).contains("load_balancers: [] -> [{"),
        "{}",
        line(&o)
    );
    // Detach: the route removed.
    let o = op(&detached, &have_of(&attached)).unwrap();
    assert!(line(&o).contains("-> []"), "{}", line(&o));
    assert!(matches!(o, Op::Update { .. }));
    // Cloud Map: discovery turned on, then off.
    let registered = Want {
        registry: Some("arn:sd/srv-1".into()),
        ..want()
    };
    let o = op(&registered, &have_of(&want())).unwrap();
    assert_eq!(changed(&o), ["service_registries"]);
    let o = op(&want(), &have_of(&registered)).unwrap();
    assert!(
        line(&o).contains("service_registries: [\"arn:sd/srv-1\"] -> []"),
        "{}",
        line(&o)
    );
}

#[test]
fn a_scaled_services_count_is_application_auto_scalings() {
    let w = Want {
        scaled: true,
        ..want()
    };
    let mut have = have_of(&w);
    have.desired_count = 7;
    assert_eq!(op(&w, &have), None);
    // At creation it still gets the spec's count.
    assert!(plan(&ctx(), &w, None).unwrap().is_some());
}

#[test]
fn propagate_tags_and_aws_own_tags() {
    let w = want();
    let mut have = have_of(&w);
    have.propagate_tags = Some("NONE".into());
    assert_eq!(changed(&op(&w, &have).unwrap()), ["propagate_tags"]);
    let mut have = have_of(&w);
    have.tags
        .push(("aws:cloudformation:stack-name".into(), "x".into()));
    assert_eq!(op(&w, &have), None, "aws: tags are AWS's");
}

#[test]
fn a_changed_controller_is_a_replacement() {
    let rolling = want();
    let bg = Want {
        blue_green: true,
        deployment: Deployment {
            circuit_breaker: false,
            ..want().deployment
        },
        ..want()
    };
    let o = op(&bg, &have_of(&rolling)).unwrap();
    assert!(matches!(o, Op::Replace { .. }) && o.creates());
    assert!(
        line(&o).starts_with("-/+ ecs service shop--api--dev ("),
        "{}",
        line(&o)
    );
    assert!(
        line(&o).contains("deployment_controller: ECS -> CODE_DEPLOY"),
        "{}",
        line(&o)
    );
    let o = op(&rolling, &have_of(&bg)).unwrap();
    assert!(matches!(o, Op::Replace { .. }));
}

#[test]
fn a_blue_green_service_takes_in_place_only_what_its_controller_accepts() {
    let bg = Want {
        blue_green: true,
        green_target_group: Some("arn:tg/green".into()),
        deployment: Deployment {
            circuit_breaker: false,
            ..want().deployment
        },
        ..want()
    };
    let have = have_of(&bg);
    // In place.
    for (field, w) in [
        (
            "desired_count",
            Want {
                desired_count: 5,
                ..bg.clone()
            },
        ),
        (
            "health_check_grace_period",
            Want {
                grace: 30,
                ..bg.clone()
            },
        ),
        (
            "deployment_configuration",
            Want {
                deployment: Deployment {
                    maximum_percent: 150,
                    ..bg.deployment.clone()
                },
                ..bg.clone()
            },
        ),
    ] {
        let o = op(&w, &have).unwrap();
        assert!(matches!(o, Op::Update { .. }), "{field}");
        assert_eq!(changed(&o), [field]);
    }
    // Through a CodeDeploy deployment: no ECS op at all.
    for w in [
        Want {
            task_definition: "arn:td/2".into(),
            ..bg.clone()
        },
        Want {
            network: Network {
                subnets: vec!["subnet-z".into()],
                ..bg.network.clone()
            },
            ..bg.clone()
        },
        Want {
            strategy: vec![],
            ..bg.clone()
        },
    ] {
        assert_eq!(op(&w, &have), None);
    }
    // Only a replacement changes these.
    for (field, w) in [
        (
            "enable_execute_command",
            Want {
                exec: true,
                ..bg.clone()
            },
        ),
        (
            "service_registries",
            Want {
                registry: Some("arn:sd/1".into()),
                ..bg.clone()
            },
        ),
        (
            "load_balancers",
            Want {
                load_balancer: Some(Attachment {
                    port: 9000,
                    ..bg.load_balancer.clone().unwrap()
                }),
                ..bg.clone()
            },
        ),
    ] {
        let o = op(&w, &have).unwrap();
        assert!(matches!(o, Op::Replace { .. }), "{field}: {}", line(&o));
        assert!(changed(&o).contains(&field.to_owned()));
    }
    // CodeDeploy moved the service to the green group: as good as blue.
    let mut moved = have_of(&bg);
    moved.load_balancers[0].target_group = "arn:tg/green".into();
    assert_eq!(op(&bg, &moved), None);
}

#[test]
fn another_stacks_or_services_service_is_refused() {
    let w = want();
    for tags in [
        Context::offline("x", "shop", "prod", "us-east-1").tags("api"),
        ctx().tags("web"),
        vec![],
    ] {
        let have = Have {
            tags,
            ..have_of(&w)
        };
        assert_eq!(plan(&ctx(), &w, Some(&have)).unwrap_err().exit_code(), 10);
    }
}

#[test]
fn a_draining_service_is_waited_out_then_created() {
    let w = want();
    let have = Have {
        status: "DRAINING".into(),
        ..have_of(&w)
    };
    let o = plan(&ctx(), &w, Some(&have)).unwrap().unwrap();
    assert!(matches!(
        &o,
        Op::Create {
            drained: Some(_),
            ..
        }
    ));
    assert!(common::plan::is_planned(&w.arn(Some(&have))));
}

#[test]
fn unwanted_services_are_deleted_and_two_claims_refused() {
    let ctx = ctx();
    let old = Have {
        name: "shop--old--dev".into(),
        arn: "arn:aws:ecs:r:1:service/shop--cluster--dev/shop--old--dev".into(),
        tags: ctx.tags("old"),
        ..have_of(&want())
    };
    let foreign = Have {
        name: "shop--x--dev".into(),
        tags: Context::offline("x", "other", "dev", "us-east-1").tags("x"),
        ..have_of(&want())
    };
    let all = vec![have_of(&want()), old, foreign];
    let by = by_service(&ctx, &all).unwrap();
    assert_eq!(by.len(), 2, "another stack's service is not ours");
    let ops = prune(&ctx, &[want()], &by).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(line(&ops[0]), "- ecs service shop--old--dev");
    assert_eq!(ops[0].phase(), Phase::PruneServices);
    let twin = Have {
        name: "shop--api-2--dev".into(),
        arn: "arn:2".into(),
        ..have_of(&want())
    };
    let e = by_service(&ctx, &[have_of(&want()), twin]).unwrap_err();
    assert_eq!(e.exit_code(), 10);
    assert!(e.to_string().contains("arn:2"), "{e}");
}

#[test]
fn clusters_read_from_service_arns() {
    assert_eq!(
        cluster_of("arn:aws:ecs:us-east-1:1:service/c1/s1").as_deref(),
        Some("c1")
    );
    assert_eq!(cluster_of("arn:aws:ecs:us-east-1:1:service/s1"), None);
}

/// `--force-new-deployment`: an update naming only that, on a service that
/// is otherwise as wanted.
#[test]
fn a_forced_deployment_is_one_update_of_its_own() {
    let w = Want {
        force: true,
        ..want()
    };
    let have = have_of(&want());
    let Some(Op::Update { fields, .. }) = plan(&ctx(), &w, Some(&have)).unwrap() else {
        panic!("an update");
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    assert_eq!(names, ["force_new_deployment"]);
    assert_eq!(plan(&ctx(), &want(), Some(&have)).unwrap(), None);
}
