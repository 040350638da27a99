//! svc-up against the emulator: a whole stack (net-up, cluster-up, secrets-up,
//! alb-up) with seed 001's three services, what exists afterwards as read
//! independently through the SDK, that a re-run changes nothing, that a memory
//! change registers exactly one revision and updates only that service, and
//! that teardown through the libraries leaves nothing.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Value};
use testkit::{json, unique_stack, Emulator};

fn run(em: &Emulator, tool: &str, args: &[&str], stdin: &str) -> (Value, String) {
    let out = em
        .tool(tool)
        .args(args)
        .write_stdin(stdin.to_owned())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{tool} failed: {stderr}");
    (json(&out.stdout), stderr)
}

fn context(em: &Emulator, rt: &tokio::runtime::Runtime, stack: &str, env: &str) -> common::Context {
    static ENV: OnceLock<()> = OnceLock::new();
    ENV.get_or_init(|| {
        std::env::set_var("AWS_ENDPOINT_URL", &em.endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("FP_RETRY_BUDGET_SECS", "20");
    });
    common::Context {
        tool: "svc-up-test".into(),
        stack: stack.into(),
        env: env.into(),
        region: "us-east-1".into(),
        user_tags: BTreeMap::new(),
        sdk: rt.block_on(common::aws::sdk_config("us-east-1")),
        report: common::runner::Report::default(),
    }
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
    let (mut doc, _) = run(
        em,
        "net-up",
        &[
            "-n", "--stack", stack, "--env", "dev", "--azs", "2", "--nat", "none",
        ],
        "",
    );
    doc["spec"]["services"] = services();
    doc["spec"]["secrets"] = json!({"db-credentials": {}});
    let (doc, _) = run(em, "cluster-up", &[], &doc.to_string());
    let (doc, _) = run(em, "secrets-up", &[], &doc.to_string());
    let (doc, _) = run(em, "alb-up", &[], &doc.to_string());
    doc
}

fn ingress_sources(
    ec2: &aws_sdk_ec2::Client,
    rt: &tokio::runtime::Runtime,
    id: &str,
) -> Vec<(i32, String)> {
    let out = rt
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

#[test]
fn seed_001_services_converge_change_one_revision_and_tear_down() {
    let em = Emulator::shared();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stack = unique_stack("svc");
    let doc = platform(em, &stack);
    let (out, _) = run(em, "svc-up", &["-v"], &doc.to_string());
    let svcs = out["services"].as_object().unwrap().clone();
    assert_eq!(svcs.len(), 3);

    let inv = em.inventory("us-east-1", &stack, "dev").counts();
    assert_eq!(inv.get("ecs_service"), Some(&3), "{inv:?}");
    assert_eq!(inv.get("task_definition"), Some(&3), "{inv:?}");
    assert_eq!(inv.get("log_group"), Some(&3), "{inv:?}");
    assert_eq!(
        inv.get("iam_role"),
        Some(&4),
        "3 task roles + execution: {inv:?}"
    );
    assert_eq!(inv.get("namespace"), Some(&1), "{inv:?}");
    assert_eq!(inv.get("discovery_service"), Some(&1), "{inv:?}");
    // The ALB's group and one per service.
    assert_eq!(inv.get("security_group"), Some(&4), "{inv:?}");
    assert_eq!(
        out["discovery"]["namespace_name"],
        format!("{stack}-dev.local")
    );
    assert!(svcs["processing"]["discovery_service_arn"].is_string());
    assert!(svcs["web"].get("discovery_service_arn").is_none());

    // Security groups: processing only from api on 9000, web only from the ALB on 3000.
    let ctx = context(em, &rt, &stack, "dev");
    let ec2 = aws_sdk_ec2::Client::new(&ctx.sdk);
    let sg = |s: &str| svcs[s]["security_group_id"].as_str().unwrap().to_owned();
    assert_eq!(
        ingress_sources(&ec2, &rt, &sg("processing")),
        [(9000, sg("api"))]
    );
    let alb_sg = out["alb"]["security_group_id"].as_str().unwrap().to_owned();
    assert_eq!(
        ingress_sources(&ec2, &rt, &sg("web")),
        [(3000, alb_sg.clone())]
    );
    assert_eq!(ingress_sources(&ec2, &rt, &sg("api")), [(8080, alb_sg)]);

    // The api's secret is a reference, never a plain value.
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let td = rt
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
    let described = rt
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
    let (again, log) = run(em, "svc-up", &["-v"], &out.to_string());
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
    let (after, log) = run(em, "svc-up", &["-v"], &changed.to_string());
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
    assert_eq!(log.matches("updated task definition").count(), 1, "{log}");
    assert_eq!(log.matches("updated ecs service").count(), 1, "{log}");
    assert!(!log.contains("created"), "{log}");
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev")
            .counts()
            .get("task_definition"),
        Some(&4)
    );

    // Teardown: ours, then the cluster, the ALB and the network.
    let services: common::sections::Services =
        serde_json::from_value(after["services"].clone()).unwrap();
    let discovery: common::sections::Discovery =
        serde_json::from_value(after["discovery"].clone()).unwrap();
    let found = rt
        .block_on(svc_up::teardown::discover(
            &ctx,
            Some(&services),
            Some(&discovery),
        ))
        .unwrap();
    let kinds: Vec<&str> = found.plan(&ctx).iter().map(|s| s.kind).collect();
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
    let left = common::plan::Leftovers::default();
    rt.block_on(found.destroy(&ctx, &left));
    left.into_result()
        .expect("the services layer went away completely");
    assert!(rt
        .block_on(svc_up::teardown::discover(
            &ctx,
            Some(&services),
            Some(&discovery)
        ))
        .unwrap()
        .is_empty());

    let cluster: common::sections::Cluster =
        serde_json::from_value(after["cluster"].clone()).unwrap();
    let found = rt
        .block_on(cluster_up::teardown::discover(&ctx, Some(&cluster)))
        .unwrap();
    let left = common::plan::Leftovers::default();
    rt.block_on(found.destroy(&ctx, &left));
    left.into_result().expect("cluster layer gone");
    let alb: common::sections::Alb = serde_json::from_value(after["alb"].clone()).unwrap();
    let found = rt
        .block_on(alb_up::teardown::discover(&ctx, Some(&alb)))
        .unwrap();
    let left = common::plan::Leftovers::default();
    rt.block_on(found.destroy(&ctx, &left));
    left.into_result().expect("ALB layer gone");
    let network: common::sections::Network =
        serde_json::from_value(after["network"].clone()).unwrap();
    let found = rt
        .block_on(net_up::teardown::discover(&ctx, Some(&network)))
        .unwrap();
    let left = common::plan::Leftovers::default();
    rt.block_on(found.destroy(&ctx, &left));
    left.into_result().expect("network gone");
    // Secrets are scheduled for deletion by their own layer's teardown.
    let out = em
        .tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "teardown: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert!(inv.is_empty(), "{inv:?}");
}
