//! svc-up against the emulator: a whole stack (net-up, cluster-up, secrets-up,
//! alb-up) with seed 001's three services, what exists afterwards as read
//! independently through the SDK, that a re-run changes nothing, that a memory
//! change registers exactly one revision and updates only that service, and
//! that teardown through the libraries leaves nothing.

use serde_json::{json, Value};
use testkit::{unique_stack, Emulator, Session};

/// svc-up -v on a document, which must succeed.
fn svc_up(em: &Emulator, doc: &Value) -> testkit::Run {
    em.tool("svc-up")
        .arg("-v")
        .stdin(doc.to_string())
        .succeeds()
}

fn services() -> Value {
    json!({
        "web": {"port": 3000, "image": "nginx:alpine", "route": {"default": true}},
        "api": {"port": 8080, "image": "nginx:alpine", "route": {"paths": ["/api/*"]},
                "secrets": {"DB_PASSWORD": {"secret": "db-credentials", "key": "password"}}},
        "processing": {"port": 9000, "image": "nginx:alpine", "discovery": true,
                       "callers": ["api"],
                       "permissions": [{"actions": ["s3:GetObject"],
                                        "resources": ["arn:aws:s3:::trades/*"]}]}
    })
}

/// net-up | cluster-up | secrets-up | alb-up, piped by hand.
fn platform(em: &Emulator, stack: &str) -> Value {
    let mut doc = em.network(stack, "dev");
    doc["spec"]["services"] = services();
    doc["spec"]["secrets"] = json!({"db-credentials": {}});
    let doc = em.up("cluster-up", &doc);
    let doc = em.up("secrets-up", &doc);
    em.up("alb-up", &doc)
}

fn ingress_sources(ec2: &aws_sdk_ec2::Client, s: &Session, id: &str) -> Vec<(i32, String)> {
    let out = s
        .block_on(ec2.describe_security_groups().group_ids(id).send())
        .unwrap();
    let g = &out.security_groups()[0];
    let mut v = Vec::new();
    for p in g.ip_permissions() {
        for pair in p.user_id_group_pairs() {
            v.push((
                p.from_port().unwrap_or(-1),
                pair.group_id().unwrap_or_default().to_owned(),
            ));
        }
        for r in p.ip_ranges() {
            v.push((
                p.from_port().unwrap_or(-1),
                r.cidr_ip().unwrap_or_default().to_owned(),
            ));
        }
    }
    v
}

/// The services layer's teardown plan for a document, then its deletes; the
/// layer must go away completely (a second discovery finds nothing).
fn layer_teardown(s: &Session, ctx: &common::Context, doc: &Value) -> Vec<common::plan::Change> {
    use common::layer::Owned;
    let doc = common::Document::parse(&doc.to_string()).unwrap();
    let m = common::owner::Mismatches::default();
    let found = s
        .block_on(svc_up::teardown::discover(ctx, &doc, &m))
        .unwrap();
    m.into_result(ctx)
        .expect("the document's ids are the stack's");
    let changes = found.changes(ctx);
    let left = common::plan::Leftovers::default();
    s.block_on(Box::new(found).destroy(ctx, &left, common::layer::TeardownOptions::default()));
    left.into_result()
        .expect("the services layer went away completely");
    let again = s
        .block_on(svc_up::teardown::discover(
            ctx,
            &doc,
            &common::owner::Mismatches::default(),
        ))
        .unwrap();
    assert!(again.changes(ctx).is_empty(), "{:?}", again.changes(ctx));
    changes
}

#[test]
fn seed_001_services_converge_change_one_revision_and_tear_down() {
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("svc");
    let doc = platform(em, &stack);
    let out = svc_up(em, &doc).json();
    let svcs = out["services"].as_object().unwrap().clone();
    assert_eq!(svcs.len(), 3);

    let inv = em.inventory("us-east-1", &stack, "dev").counts();
    assert_eq!(inv.get("ecs_service"), Some(&3), "{inv:?}");
    assert_eq!(inv.get("task_definition"), Some(&3), "{inv:?}");
    assert_eq!(inv.get("log_group"), Some(&3), "{inv:?}");
    assert_eq!(
        inv.get("iam_role"),
        Some(&5),
        "3 task roles + execution + net-up's flow logs role: {inv:?}"
    );
    assert_eq!(inv.get("namespace"), Some(&1), "{inv:?}");
    assert_eq!(inv.get("discovery_service"), Some(&1), "{inv:?}");
    // The ALB's group and one per service.
    assert_eq!(inv.get("security_group"), Some(&4), "{inv:?}");
    assert_eq!(
        out["discovery"]["namespace_name"],
        format!("dev.{stack}.local")
    );
    assert!(svcs["processing"]["discovery_service_arn"].is_string());
    assert!(svcs["web"].get("discovery_service_arn").is_none());

    // Security groups: processing only from api on 9000, web only from the ALB on 3000.
    let ctx = s.context(&stack, "dev");
    let ec2 = aws_sdk_ec2::Client::new(&ctx.sdk);
    let sg = |s: &str| svcs[s]["security_group_id"].as_str().unwrap().to_owned();
    assert_eq!(
        ingress_sources(&ec2, &s, &sg("processing")),
        [(9000, sg("api"))]
    );
    let alb_sg = out["alb"]["security_group_id"].as_str().unwrap().to_owned();
    assert_eq!(
        ingress_sources(&ec2, &s, &sg("web")),
        [(3000, alb_sg.clone())]
    );
    assert_eq!(ingress_sources(&ec2, &s, &sg("api")), [(8080, alb_sg)]);

    // The api's secret is a reference, never a plain value.
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let td = s
        .block_on(
            ecs.describe_task_definition()
                .task_definition(svcs["api"]["task_definition_arn"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    let td = td.task_definition().unwrap();
    let c = &td.container_definitions()[0];
    let secret_arn = out["secrets"]["db-credentials"]["arn"].as_str().unwrap();
    assert_eq!(c.secrets().len(), 1);
    assert_eq!(c.secrets()[0].name(), "DB_PASSWORD");
    assert_eq!(
        c.secrets()[0].value_from(),
        format!("{secret_arn}:password::")
    );
    assert!(c
        .environment()
        .iter()
        .all(|kv| kv.name() != Some("DB_PASSWORD")
            && !kv.value().unwrap_or_default().contains(secret_arn)));
    assert_eq!(c.readonly_root_filesystem(), Some(true));
    assert_eq!(td.cpu(), Some("256"));
    assert_eq!(
        td.execution_role_arn(),
        out["cluster"]["execution_role_arn"].as_str()
    );
    assert_eq!(td.task_role_arn(), svcs["api"]["task_role_arn"].as_str());

    // The ECS service: private subnets, no public IP, the ALB attached.
    let described = s
        .block_on(
            ecs.describe_services()
                .cluster(out["cluster"]["name"].as_str().unwrap())
                .services(svcs["web"]["service_name"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    let web = &described.services()[0];
    let vpc = web
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    let mut subnets = vpc.subnets().to_vec();
    subnets.sort();
    let mut private: Vec<String> =
        serde_json::from_value(out["network"]["private_subnet_ids"].clone()).unwrap();
    private.sort();
    assert_eq!(subnets, private);
    assert_eq!(vpc.assign_public_ip().map(|a| a.as_str()), Some("DISABLED"));
    assert_eq!(
        web.load_balancers()[0].target_group_arn(),
        out["alb"]["target_groups"]["web"]["arn"].as_str()
    );

    // A re-run changes nothing.
    let run = svc_up(em, &out);
    let (again, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    assert_eq!(again["services"], out["services"]);
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev")
            .counts()
            .get("task_definition"),
        Some(&3)
    );

    // A memory change: one new revision, only the api service updated.
    let mut changed = again.clone();
    changed["spec"]["services"]["api"]["cpu"] = json!(512);
    changed["spec"]["services"]["api"]["memory"] = json!(1024);
    let run = svc_up(em, &changed);
    let (after, log) = (run.json(), run.stderr());
    assert_ne!(
        after["services"]["api"]["task_definition_arn"],
        out["services"]["api"]["task_definition_arn"]
    );
    for s in ["web", "processing"] {
        assert_eq!(
            after["services"][s]["task_definition_arn"],
            out["services"][s]["task_definition_arn"]
        );
    }
    assert_eq!(
        log.matches("svc-up: ~ task definition ").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("svc-up: ~ ecs service ").count(), 1, "{log}");
    assert!(
        log.contains(&format!(
            "svc-up: ~ ecs service {stack}--api--dev (task_definition: "
        )),
        "{log}"
    );
    assert!(!log.contains("svc-up: + "), "{log}");
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev")
            .counts()
            .get("task_definition"),
        Some(&4)
    );

    // Teardown: the services layer's plan names every kind it made (the log
    // groups included: only teardown removes them), the layer goes away
    // completely, then the whole stack through the teardown tool.
    let changes = layer_teardown(&s, &ctx, &after);
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    for k in [
        "ecs service",
        "namespace",
        "discovery service",
        "task definition",
        "log group",
        "iam role",
        "security group",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    em.tool("teardown").stdin(after.to_string()).succeeds();
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert!(inv.is_empty(), "{inv:?}");
}

/// Seed 002's payment processor (blue/green, scaled 3-10) and a worker with a
/// fixed count, on net-up | cluster-up | alb-up.
fn blue_green_platform(em: &Emulator, stack: &str) -> Value {
    let mut doc = em.network(stack, "dev");
    doc["spec"]["services"] = json!({
        "payment-processor": {
            "cpu": 2048, "memory": 4096, "desired_count": 3, "port": 8080,
            "image": "nginx:alpine",
            "route": {"default": true}, "health_check": {"path": "/health"},
            "deployment": {"type": "blue-green", "traffic": "all-at-once", "termination_wait_minutes": 5},
            "scaling": {"min": 3, "max": 10, "cpu": 70, "memory": 80, "alarms": {"cpu": 85, "memory": 90}}
        },
        "worker": {"image": "nginx:alpine", "desired_count": 2}
    });
    let doc = em.up("cluster-up", &doc);
    em.up("alb-up", &doc)
}

fn describe_service(
    ecs: &aws_sdk_ecs::Client,
    s: &Session,
    cluster: &str,
    name: &str,
) -> aws_sdk_ecs::types::Service {
    let out = s
        .block_on(
            ecs.describe_services()
                .cluster(cluster)
                .services(name)
                .send(),
        )
        .unwrap();
    out.services()[0].clone()
}

/// The group's deployments, and the task definition each one's AppSpec names.
fn deployments(cd: &aws_sdk_codedeploy::Client, s: &Session, group: &str) -> Vec<(String, String)> {
    let ids = s
        .block_on(
            cd.list_deployments()
                .application_name(group)
                .deployment_group_name(group)
                .send(),
        )
        .unwrap()
        .deployments()
        .to_vec();
    if ids.is_empty() {
        return vec![];
    }
    let out = s
        .block_on(
            cd.batch_get_deployments()
                .set_deployment_ids(Some(ids))
                .send(),
        )
        .unwrap();
    out.deployments_info()
        .iter()
        .map(|d| {
            let content = d
                .revision()
                .and_then(|r| r.app_spec_content())
                .and_then(|c| c.content())
                .unwrap();
            let spec: Value = serde_json::from_str(content).unwrap();
            let td = spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"]
                .as_str()
                .unwrap()
                .to_owned();
            (d.deployment_id().unwrap().to_owned(), td)
        })
        .collect()
}

#[test]
fn seed_002_blue_green_deploys_through_codedeploy_once_per_change_and_tears_down() {
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("bg");
    let doc = blue_green_platform(em, &stack);
    let out = svc_up(em, &doc).json();
    let ctx = s.context(&stack, "dev");
    let (ecs, cd) = (
        aws_sdk_ecs::Client::new(&ctx.sdk),
        aws_sdk_codedeploy::Client::new(&ctx.sdk),
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&ctx.sdk);
    let cluster = out["cluster"]["name"].as_str().unwrap().to_owned();
    let pay = out["services"]["payment-processor"].clone();
    let tg = out["alb"]["target_groups"]["payment-processor"].clone();
    let name = format!("{stack}--payment-processor--dev");

    let inv = em.inventory("us-east-1", &stack, "dev").counts();
    for (kind, n) in [
        ("ecs_service", 2),
        ("codedeploy_application", 1),
        ("codedeploy_deployment_group", 1),
        ("target_group", 2),
        ("listener", 2),
        // The execution role, two task roles, CodeDeploy's, net-up's flow logs'.
        ("iam_role", 5),
    ] {
        assert_eq!(inv.get(kind), Some(&n), "{kind}: {inv:?}");
    }
    let codedeploy = &pay["codedeploy"];
    assert_eq!(codedeploy["application"], name.as_str());
    assert_eq!(codedeploy["deployment_group"], name.as_str());
    assert_eq!(codedeploy["config"], "CodeDeployDefault.ECSAllAtOnce");
    assert!(codedeploy["role_arn"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/{stack}--codedeploy--dev")));
    assert!(
        codedeploy.get("last_deployment_id").is_none(),
        "{codedeploy}"
    );
    assert!(out["services"]["worker"].get("codedeploy").is_none());

    // The ECS services: CodeDeploy's controller on the blue group; the worker
    // keeps ECS rolling updates with the circuit breaker.
    let svc = describe_service(&ecs, &s, &cluster, &name);
    assert_eq!(
        svc.deployment_controller().map(|d| d.r#type().as_str()),
        Some("CODE_DEPLOY")
    );
    assert_eq!(
        svc.load_balancers()[0].target_group_arn(),
        tg["arn"].as_str()
    );
    assert_eq!(svc.desired_count(), 3);
    let worker = describe_service(&ecs, &s, &cluster, &format!("{stack}--worker--dev"));
    assert_eq!(
        worker.deployment_controller().map(|d| d.r#type().as_str()),
        Some("ECS")
    );

    // The deployment group, read back: both groups, both listeners, the role,
    // the ECS service, the alarms scale-up will create.
    let group = s
        .block_on(
            cd.get_deployment_group()
                .application_name(&name)
                .deployment_group_name(&name)
                .send(),
        )
        .unwrap();
    let group = group.deployment_group_info().unwrap();
    let pair = &group
        .load_balancer_info()
        .unwrap()
        .target_group_pair_info_list()[0];
    let names: Vec<&str> = pair
        .target_groups()
        .iter()
        .filter_map(|t| t.name())
        .collect();
    assert_eq!(
        names,
        [
            tg["name"].as_str().unwrap(),
            tg["green"]["name"].as_str().unwrap()
        ]
    );
    assert_eq!(
        pair.prod_traffic_route().unwrap().listener_arns(),
        [out["alb"]["http_listener_arn"].as_str().unwrap()]
    );
    assert_eq!(
        pair.test_traffic_route().unwrap().listener_arns(),
        [tg["test_listener_arn"].as_str().unwrap()]
    );
    assert_eq!(group.service_role_arn(), codedeploy["role_arn"].as_str());
    let ecs_service = &group.ecs_services()[0];
    assert_eq!(
        (ecs_service.cluster_name(), ecs_service.service_name()),
        (Some(cluster.as_str()), Some(name.as_str()))
    );
    let style = group.deployment_style().unwrap();
    assert_eq!(
        (
            style.deployment_type().map(|t| t.as_str()),
            style.deployment_option().map(|o| o.as_str())
        ),
        (Some("BLUE_GREEN"), Some("WITH_TRAFFIC_CONTROL"))
    );
    let rollback = group.auto_rollback_configuration().unwrap();
    assert!(rollback.enabled());
    assert_eq!(rollback.events().len(), 2, "{rollback:?}");
    let mut alarms: Vec<&str> = group
        .alarm_configuration()
        .unwrap()
        .alarms()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    alarms.sort();
    assert_eq!(
        alarms,
        [
            common::sections::alarm_name(
                &stack,
                "dev",
                "payment-processor",
                common::sections::AlarmMetric::Cpu
            ),
            common::sections::alarm_name(
                &stack,
                "dev",
                "payment-processor",
                common::sections::AlarmMetric::Memory
            ),
        ]
    );
    let termination = group
        .blue_green_deployment_configuration()
        .unwrap()
        .terminate_blue_instances_on_deployment_success()
        .unwrap();
    assert_eq!(termination.termination_wait_time_in_minutes(), 5);
    // The application is tagged ours (its ARN holds the account of the service's).
    let account = pay["service_arn"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(4)
        .unwrap();
    let tags = s
        .block_on(
            cd.list_tags_for_resource()
                .resource_arn(format!(
                    "arn:aws:codedeploy:us-east-1:{account}:application:{name}"
                ))
                .send(),
        )
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == Some("fargate-pipes:stack") && t.value() == Some(stack.as_str())));

    // A second run creates nothing.
    let before = em.inventory("us-east-1", &stack, "dev");
    let run = svc_up(em, &out);
    let (again, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    assert_eq!(again["services"], out["services"]);
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), before);

    // Application Auto Scaling moves the scaled service's count; someone moves
    // the worker's. svc-up leaves the first alone and puts the second back.
    for (service, count) in [(name.as_str(), 7), (&format!("{stack}--worker--dev"), 5)] {
        s.block_on(
            ecs.update_service()
                .cluster(&cluster)
                .service(service)
                .desired_count(count)
                .send(),
        )
        .unwrap();
    }
    let log = svc_up(em, &out).stderr();
    assert_eq!(
        describe_service(&ecs, &s, &cluster, &name).desired_count(),
        7
    );
    assert_eq!(
        describe_service(&ecs, &s, &cluster, &format!("{stack}--worker--dev")).desired_count(),
        2
    );
    assert_eq!(log.matches("svc-up: ~ ecs service ").count(), 1, "{log}");
    assert!(
        log.contains(&format!(
            "svc-up: ~ ecs service {stack}--worker--dev (desired_count: 5 -> 2)"
        )),
        "{log}"
    );

    // CodeDeploy's swap (production and test listener to green): alb-up and
    // svc-up re-runs leave it there and change nothing.
    let green = tg["green"]["arn"].as_str().unwrap();
    for listener in [
        out["alb"]["http_listener_arn"].as_str().unwrap(),
        tg["test_listener_arn"].as_str().unwrap(),
    ] {
        s.block_on(
            elb.modify_listener()
                .listener_arn(listener)
                .default_actions(
                    aws_sdk_elasticloadbalancingv2::types::Action::builder()
                        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                        .target_group_arn(green)
                        .build(),
                )
                .send(),
        )
        .unwrap();
    }
    let run = em
        .tool("alb-up")
        .args(["-v"])
        .stdin(out.to_string())
        .succeeds();
    let (realb, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    assert_eq!(realb["alb"], out["alb"]);
    let log = svc_up(em, &realb).stderr();
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    let listener = s
        .block_on(
            elb.describe_listeners()
                .listener_arns(out["alb"]["http_listener_arn"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    assert_eq!(
        listener.listeners()[0].default_actions()[0].target_group_arn(),
        Some(green)
    );
    assert_eq!(
        describe_service(&ecs, &s, &cluster, &name).load_balancers()[0].target_group_arn(),
        tg["arn"].as_str(),
        "the service keeps the group it was created with"
    );

    // A new image: one new revision, rolled out by exactly one deployment whose
    // AppSpec names it; the ECS service is not updated with it.
    let mut changed = out.clone();
    changed["spec"]["services"]["payment-processor"]["image"] = json!("nginx:1.27-alpine");
    let run = svc_up(em, &changed);
    let (after, log) = (run.json(), run.stderr());
    let new_td = after["services"]["payment-processor"]["task_definition_arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_td, pay["task_definition_arn"].as_str().unwrap());
    assert!(log.contains("svc-up: + codedeploy deployment "), "{log}");
    let made = deployments(&cd, &s, &name);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].1, new_td);
    assert_eq!(
        after["services"]["payment-processor"]["codedeploy"]["last_deployment_id"],
        made[0].0.as_str()
    );
    assert_eq!(
        describe_service(&ecs, &s, &cluster, &name).task_definition(),
        pay["task_definition_arn"].as_str(),
        "no UpdateService with the new task definition"
    );

    // A third run recognises its deployment (the emulator never finishes it).
    let run = svc_up(em, &after);
    let (third, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    assert_eq!(deployments(&cd, &s, &name).len(), 1);
    assert_eq!(third["services"], after["services"]);

    // Back to rolling: the controller cannot change in place, so the service
    // is planned as a replacement; --plan changes nothing.
    let before = em.inventory("us-east-1", &stack, "dev");
    let mut rolling = third.clone();
    rolling["spec"]["services"]["payment-processor"]["deployment"] = json!("rolling");
    let planned = em
        .tool("svc-up")
        .arg("--plan")
        .stdin(rolling.to_string())
        .succeeds()
        .json();
    let entries = planned["plan"].as_array().cloned().unwrap_or_default();
    assert!(
        entries.iter().any(|c| c["action"] == "replace"
            && c["kind"] == "ecs service"
            && c["name"] == name.as_str()
            && c["changes"]["deployment_controller"]["to"] == "ECS"),
        "{entries:#?}"
    );
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), before);

    // Teardown: the application (its deployment stopped, its group with it)
    // before the ECS service, CodeDeploy's role too; nothing of the stack is
    // left, CodeDeploy included.
    let changes = layer_teardown(&s, &ctx, &third);
    let at = |k: &str, name: &str| {
        changes
            .iter()
            .position(|c| c.kind == k && c.name.contains(name))
            .unwrap_or_else(|| panic!("{k} {name} in {changes:?}"))
    };
    assert!(at("codedeploy application", &name) < at("ecs service", &name));
    at("iam role", &format!("{stack}--codedeploy--dev"));
    em.tool("teardown").stdin(third.to_string()).succeeds();
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert!(inv.is_empty(), "{inv:?}");
    let apps = s.block_on(cd.list_applications().send()).unwrap();
    assert!(
        !apps
            .applications()
            .iter()
            .any(|a| a.starts_with(&format!("{stack}--"))),
        "{apps:?}"
    );
}
