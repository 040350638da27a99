//! The five reference stacks (stacks/*.json), brought up and down the way a user
//! does it: `make NAME ENV=...` and `make NAME-down ENV=...` from the repository
//! root, against the emulator. Each test compares what the emulator then holds,
//! kind by kind, with the stack's expected inventory, reads the properties the
//! seed asks for back through the SDK, re-runs (nothing changes), and tears down
//! (nothing is left). One test runs two envs of ohi side by side, next to another
//! stack in the same region, and tears one down.
//!
//! Slow (minutes): every test is a whole platform.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use testkit::{counts, root, tools_dir, Emulator, Session, Tool};

/// Where a stack without a region in its spec (trading) lands: no other stack
/// of these tests uses it, so no other test's teardown meets it there.
const DEFAULT_REGION: &str = "us-west-2";

/// `make ARGS` at the repository root with this build's tools (`BIN`, so make
/// builds nothing), the emulator's AWS configuration, and the documents in
/// `out_dir` rather than the user's out/.
fn make(em: &Emulator, out_dir: &Path, args: &[&str]) -> Tool {
    let mut make = em
        .program("make")
        .current_dir(root())
        .arg("--no-print-directory")
        .args(args)
        .arg(format!("BIN={}", tools_dir().display()))
        .arg(format!("OUT_DIR={}", out_dir.display()))
        .env("AWS_REGION", DEFAULT_REGION)
        .env("FP_RETRY_BUDGET_SECS", "30");
    // Nothing from an outer make or the user's shell may steer this one.
    for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ENV", "REGION"] {
        make = make.env_remove(var);
    }
    make
}

/// A stack `make` brought up: its document, as text and parsed, and the SDK
/// in its region for reading back what was built.
struct Up {
    stack: String,
    env: String,
    region: String,
    text: String,
    doc: Value,
    aws: Session,
}

fn up(em: &Emulator, dir: &Path, stack: &str, env: &str, extra: &[&str]) -> Up {
    let env_arg = format!("ENV={env}");
    let mut args = vec![stack, env_arg.as_str()];
    args.extend(extra);
    make(em, dir, &args).succeeds();
    let path = dir.join(format!("{stack}-{env}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("make {stack} wrote no {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    assert_eq!(doc["stack"], stack);
    assert_eq!(doc["env"], env);
    let region = doc["region"].as_str().expect("a region").to_owned();
    Up {
        stack: stack.to_owned(),
        env: env.to_owned(),
        aws: em.session(stack, env, &region),
        region,
        text,
        doc,
    }
}

fn down(em: &Emulator, dir: &Path, u: &Up) {
    // prod is protected by default: its teardown names it.
    make(
        em,
        dir,
        &[
            &format!("{}-down", u.stack),
            &format!("ENV={}", u.env),
            &format!("CONFIRM={}/{}", u.stack, u.env),
        ],
    )
    .succeeds();
    assert!(
        !dir.join(format!("{}-{}.json", u.stack, u.env)).exists(),
        "the document goes with the stack"
    );
    let left = em.inventory(&u.region, &u.stack, &u.env);
    assert!(
        left.is_empty(),
        "{}/{} left behind: {:?}",
        u.stack,
        u.env,
        left.counts()
    );
}

/// Up, the inventory against `expected`, the stack's own checks, a re-run that
/// changes nothing, down.
fn lifecycle(stack: &str, env: &str, expected: &[(&str, usize)], check: impl Fn(&Up)) {
    let em = Emulator::shared();
    let dir = tempfile::tempdir().expect("a temp dir");
    let first = up(em, dir.path(), stack, env, &[]);
    let inv = em.inventory(&first.region, stack, env);
    assert_eq!(
        inv.counts(),
        counts(expected),
        "{stack}/{env}: what the emulator holds, by kind"
    );
    check(&first);

    let again = up(em, dir.path(), stack, env, &[]);
    assert_eq!(
        em.inventory(&first.region, stack, env),
        inv,
        "the re-run created or removed something"
    );
    assert_eq!(again.text, first.text, "the re-run changed the document");

    down(em, dir.path(), &first);
}

// ---- reading back what was built ------------------------------------------

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_str()
        .unwrap_or_else(|| panic!("no string at .{}", path.join(".")))
}

/// A service's task definition as ECS holds it.
struct TaskDef {
    cpu: String,
    memory: String,
    container: aws_sdk_ecs::types::ContainerDefinition,
}

fn task_definition(u: &Up, service: &str) -> TaskDef {
    let ecs = aws_sdk_ecs::Client::new(u.aws.sdk());
    let arn = s(&u.doc, &["services", service, "task_definition_arn"]);
    let td = u
        .aws
        .block_on(ecs.describe_task_definition().task_definition(arn).send())
        .expect("DescribeTaskDefinition")
        .task_definition
        .expect("a task definition");
    TaskDef {
        cpu: td.cpu().unwrap_or_default().to_owned(),
        memory: td.memory().unwrap_or_default().to_owned(),
        container: td.container_definitions()[0].clone(),
    }
}

/// The ECS services of the stack's cluster, by the spec's service name.
fn ecs_services(u: &Up) -> BTreeMap<String, aws_sdk_ecs::types::Service> {
    let ecs = aws_sdk_ecs::Client::new(u.aws.sdk());
    let cluster = s(&u.doc, &["cluster", "name"]);
    let mut out = BTreeMap::new();
    let services = u.doc["services"].as_object().expect(".services");
    let names: Vec<(String, String)> = services
        .iter()
        .map(|(k, v)| (k.clone(), s(v, &["service_name"]).to_owned()))
        .collect();
    for chunk in names.chunks(10) {
        let found = u
            .aws
            .block_on(
                ecs.describe_services()
                    .cluster(cluster)
                    .set_services(Some(chunk.iter().map(|(_, n)| n.clone()).collect()))
                    .send(),
            )
            .expect("DescribeServices");
        for svc in found.services() {
            let key = chunk
                .iter()
                .find(|(_, n)| Some(n.as_str()) == svc.service_name())
                .map(|(k, _)| k.clone())
                .expect("a service of the document");
            out.insert(key, svc.clone());
        }
    }
    assert_eq!(out.len(), services.len(), "every service is in ECS");
    out
}

/// The cluster's default capacity provider strategy: (provider, base, weight).
fn strategy(u: &Up) -> Vec<(String, i32, i32)> {
    let ecs = aws_sdk_ecs::Client::new(u.aws.sdk());
    let out = u
        .aws
        .block_on(
            ecs.describe_clusters()
                .clusters(s(&u.doc, &["cluster", "arn"]))
                .send(),
        )
        .expect("DescribeClusters");
    out.clusters()[0]
        .default_capacity_provider_strategy()
        .iter()
        .map(|i| (i.capacity_provider().to_owned(), i.base(), i.weight()))
        .collect()
}

/// Log group name to (retention days, KMS key).
fn log_groups(u: &Up) -> BTreeMap<String, (Option<i32>, Option<String>)> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(u.aws.sdk());
    let groups = u
        .aws
        .block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(format!("/ecs/{}/{}/", u.stack, u.env))
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .expect("DescribeLogGroups");
    groups
        .into_iter()
        .map(|g| {
            (
                g.log_group_name().unwrap_or_default().to_owned(),
                (g.retention_in_days(), g.kms_key_id().map(str::to_owned)),
            )
        })
        .collect()
}

/// Every log group keeps its events `days` days, encrypted with the cluster's key.
fn assert_logs(u: &Up, days: i32) {
    let groups = log_groups(u);
    let services = u.doc["services"].as_object().expect(".services");
    assert_eq!(groups.len(), services.len(), "one log group per service");
    let key = u.doc["cluster"]["log_kms_key_arn"]
        .as_str()
        .map(str::to_owned);
    assert!(key.is_some(), "the cluster made a log key");
    for (name, (retention, kms)) in groups {
        assert_eq!(retention, Some(days), "{name}: retention");
        assert_eq!(kms, key, "{name}: encrypted with the cluster's log key");
    }
}

/// A security group's ingress: (port, source group ids, CIDRs).
fn ingress(u: &Up, group: &str) -> Vec<(i32, BTreeSet<String>, BTreeSet<String>)> {
    let ec2 = aws_sdk_ec2::Client::new(u.aws.sdk());
    let out = u
        .aws
        .block_on(ec2.describe_security_groups().group_ids(group).send())
        .expect("DescribeSecurityGroups");
    out.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| {
            (
                p.from_port().unwrap_or(-1),
                p.user_id_group_pairs()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_owned))
                    .collect(),
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip().map(str::to_owned))
                    .collect(),
            )
        })
        .collect()
}

fn group_of(u: &Up, service: &str) -> String {
    s(&u.doc, &["services", service, "security_group_id"]).to_owned()
}

/// A service's group admits exactly `port` from exactly these groups.
fn assert_callers(u: &Up, service: &str, port: i32, from: &[&str]) {
    let want: BTreeSet<String> = from.iter().map(|g| (*g).to_owned()).collect();
    assert_eq!(
        ingress(u, &group_of(u, service)),
        vec![(port, want, BTreeSet::new())],
        "{service}: who may connect"
    );
}

/// Target group name to its health check path, and the listener's path rules.
fn alb_routing(u: &Up) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(u.aws.sdk());
    let lb = s(&u.doc, &["alb", "arn"]);
    let tgs = u
        .aws
        .block_on(elb.describe_target_groups().load_balancer_arn(lb).send())
        .expect("DescribeTargetGroups");
    let health = tgs
        .target_groups()
        .iter()
        .map(|t| {
            (
                t.target_group_name().unwrap_or_default().to_owned(),
                t.health_check_path().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let listener = s(&u.doc, &["alb", "http_listener_arn"]);
    let rules = u
        .aws
        .block_on(elb.describe_rules().listener_arn(listener).send())
        .expect("DescribeRules");
    let paths = rules
        .rules()
        .iter()
        .flat_map(|r| r.conditions())
        .flat_map(|c| {
            c.path_pattern_config()
                .map(|p| p.values().to_vec())
                .unwrap_or_default()
        })
        .collect();
    (health, paths)
}

/// The inline policies of a service's task role, as IAM returns them
/// (URL-encoded: ARNs are compared by their unreserved parts).
fn task_role_policies(u: &Up, service: &str) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(u.aws.sdk());
    let arn = s(&u.doc, &["services", service, "task_role_arn"]);
    let name = arn.rsplit('/').next().expect("a role name");
    let names = u
        .aws
        .block_on(iam.list_role_policies().role_name(name).send())
        .expect("ListRolePolicies")
        .policy_names()
        .to_vec();
    names
        .iter()
        .map(|p| {
            u.aws
                .block_on(iam.get_role_policy().role_name(name).policy_name(p).send())
                .expect("GetRolePolicy")
                .policy_document()
                .to_owned()
        })
        .collect()
}

fn env_of(c: &aws_sdk_ecs::types::ContainerDefinition) -> BTreeMap<String, String> {
    c.environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or_default().to_owned(),
                kv.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `.scaling.<service>` as scale-up wrote it: (min, max, policy kinds).
fn scaling(u: &Up, service: &str) -> (i64, i64, BTreeSet<String>) {
    let s = &u.doc["scaling"][service];
    let policies = s["policies"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    (
        s["min"].as_i64().unwrap_or(-1),
        s["max"].as_i64().unwrap_or(-1),
        policies,
    )
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---- the stacks -------------------------------------------------------------

/// Seed 000 lists 1 VPC, 4 subnets, 1 internet gateway, 2 NAT gateways, 3 route
/// tables, 3 repositories with 3 lifecycle policies, 2 secrets, 1 cluster, 3 log
/// groups, 2 roles, 2 groups, 1 ALB, 3 target groups, 1 listener with 3 rules,
/// 3 task definitions, 3 services, 3 scaling targets with 3 policies. Ours
/// differs where docs/stacks.md says why: a task role and a group per service,
/// the Elastic IPs listed, a KMS key for the logs.
#[test]
fn microservices_matches_seed_000() {
    lifecycle(
        "microservices",
        "dev",
        &[
            ("vpc", 1),
            ("subnet", 4),
            ("internet_gateway", 1),
            ("nat_gateway", 2),
            ("elastic_ip", 2),
            ("route_table", 3),
            ("security_group", 4),
            ("ecr_repository", 3),
            ("ecr_lifecycle_policy", 3),
            ("secret", 2),
            ("ecs_cluster", 1),
            ("iam_role", 5), // with net-up's flow logs role
            ("kms_key", 1),
            ("load_balancer", 1),
            ("listener", 1),
            ("listener_rule", 3),
            ("target_group", 3),
            ("ecs_service", 3),
            ("task_definition", 3),
            ("log_group", 3),
            ("scalable_target", 3),
            ("scaling_policy", 3),
        ],
        |u| {
            assert_eq!(u.region, "eu-central-1");
            for svc in ["api", "worker", "scheduler"] {
                let td = task_definition(u, svc);
                assert_eq!(
                    (td.cpu.as_str(), td.memory.as_str()),
                    ("512", "1024"),
                    "{svc}"
                );
            }
            for (name, svc) in ecs_services(u) {
                assert_eq!(svc.desired_count(), 2, "{name}: desired count");
            }
            let (health, paths) = alb_routing(u);
            assert_eq!(paths, set(&["/api/*", "/worker/*", "/scheduler/*"]));
            assert!(health.values().all(|p| p == "/health"), "{health:?}");
            assert_logs(u, 7);
            for svc in ["api", "worker", "scheduler"] {
                assert_eq!(scaling(u, svc), (2, 10, set(&["cpu"])), "{svc}: scaling");
            }
        },
    );
}

/// Seed 001 lists 1 VPC, 6 subnets, 1 internet gateway, 3 NAT gateways, 3 EIPs,
/// 4 route tables, 4 groups, 3 repositories with 3 lifecycle policies, 1 cluster,
/// 3 task definitions, 3 services, 1 ALB, 2 target groups, 1 listener with 1
/// rule, a Cloud Map namespace with 1 service, 4 roles, 3 log groups, 2 secrets,
/// 3 scaling targets with 3 policies.
#[test]
fn trading_matches_seed_001() {
    lifecycle(
        "trading",
        "dev",
        &[
            ("vpc", 1),
            ("subnet", 6),
            ("internet_gateway", 1),
            ("nat_gateway", 3),
            ("elastic_ip", 3),
            ("route_table", 4),
            ("security_group", 4),
            ("ecr_repository", 3),
            ("ecr_lifecycle_policy", 3),
            ("secret", 2),
            ("ecs_cluster", 1),
            ("iam_role", 5), // with net-up's flow logs role
            ("kms_key", 1),
            ("load_balancer", 1),
            ("listener", 1),
            ("listener_rule", 1),
            ("target_group", 2),
            ("ecs_service", 3),
            ("task_definition", 3),
            ("log_group", 3),
            ("namespace", 1),
            ("discovery_service", 1),
            ("scalable_target", 3),
            ("scaling_policy", 3),
        ],
        |u| {
            assert_eq!(
                u.region, DEFAULT_REGION,
                "the spec leaves the region to AWS_REGION"
            );
            for (svc, cpu, memory, port) in [
                ("frontend", "512", "1024", 3000),
                ("api-gateway", "1024", "2048", 8080),
                ("processing", "2048", "4096", 9000),
            ] {
                let td = task_definition(u, svc);
                assert_eq!(
                    (td.cpu.as_str(), td.memory.as_str()),
                    (cpu, memory),
                    "{svc}"
                );
                assert_eq!(
                    td.container.port_mappings()[0].container_port(),
                    Some(port),
                    "{svc}"
                );
            }
            let dns = s(&u.doc, &["alb", "dns_name"]);
            let frontend = env_of(&task_definition(u, "frontend").container);
            assert_eq!(frontend["API_ENDPOINT"], format!("http://{dns}/api"));
            let gateway = env_of(&task_definition(u, "api-gateway").container);
            assert_eq!(
                gateway["PROCESSING_SERVICE_URL"],
                "http://processing.dev.trading.local:9000"
            );
            assert_eq!(
                s(&u.doc, &["discovery", "namespace_name"]),
                "dev.trading.local"
            );

            assert_eq!(
                strategy(u),
                vec![("FARGATE".into(), 1, 1), ("FARGATE_SPOT".into(), 0, 4)]
            );
            // The chain: ALB -> frontend and api-gateway -> processing.
            let alb = s(&u.doc, &["alb", "security_group_id"]);
            assert_callers(u, "frontend", 3000, &[alb]);
            assert_callers(u, "api-gateway", 8080, &[alb]);
            assert_callers(u, "processing", 9000, &[&group_of(u, "api-gateway")]);
            let (health, paths) = alb_routing(u);
            assert_eq!(paths, set(&["/api/*"]));
            assert_eq!(
                health.values().cloned().collect::<BTreeSet<_>>(),
                set(&["/", "/health"])
            );

            // Least privilege: only processing reads the trade data bucket.
            let policies = task_role_policies(u, "processing");
            assert_eq!(policies.len(), 1, "{policies:?}");
            assert!(
                policies[0].contains("GetObject") && policies[0].contains("trading-trade-data"),
                "{policies:?}"
            );
            assert!(task_role_policies(u, "frontend").is_empty());
            assert!(task_role_policies(u, "api-gateway").is_empty());

            let ecr = aws_sdk_ecr::Client::new(u.aws.sdk());
            let names: Vec<String> = ["frontend", "api-gateway", "processing"]
                .iter()
                .map(|r| s(&u.doc, &["ecr", "repositories", r, "name"]).to_owned())
                .collect();
            let repos = u
                .aws
                .block_on(
                    ecr.describe_repositories()
                        .set_repository_names(Some(names))
                        .send(),
                )
                .expect("DescribeRepositories");
            for r in repos.repositories() {
                assert_eq!(
                    r.image_tag_mutability().map(|m| m.as_str()),
                    Some("IMMUTABLE")
                );
                assert_eq!(
                    r.image_scanning_configuration().map(|c| c.scan_on_push()),
                    Some(true)
                );
            }
            assert_logs(u, 30);
            for svc in ["frontend", "api-gateway", "processing"] {
                assert_eq!(scaling(u, svc), (2, 10, set(&["cpu"])), "{svc}: scaling");
            }
        },
    );
}

/// Seed 002: one service deployed blue/green by CodeDeploy (two target groups,
/// a test listener, a CodeDeploy application, deployment group and role), VPC
/// endpoints for ECR and S3 (and the interface endpoints' group), CPU and memory
/// scaling with alarms.
#[test]
fn payment_migration_matches_seed_002() {
    lifecycle(
        "payment-migration",
        "dev",
        &[
            ("vpc", 1),
            ("subnet", 4),
            ("internet_gateway", 1),
            ("nat_gateway", 1),
            ("elastic_ip", 1),
            ("route_table", 3),
            ("vpc_endpoint", 3),
            ("security_group", 3),
            ("ecr_repository", 1),
            ("ecr_lifecycle_policy", 1),
            ("secret", 1),
            ("ecs_cluster", 1),
            ("iam_role", 4), // with net-up's flow logs role
            ("kms_key", 1),
            ("load_balancer", 1),
            ("listener", 2),
            ("target_group", 2),
            ("ecs_service", 1),
            ("task_definition", 1),
            ("log_group", 1),
            ("codedeploy_application", 1),
            ("codedeploy_deployment_group", 1),
            ("scalable_target", 1),
            ("scaling_policy", 2),
            ("alarm", 2),
        ],
        |u| {
            assert_eq!(u.region, "us-east-2");
            let td = task_definition(u, "payment-processor");
            assert_eq!((td.cpu.as_str(), td.memory.as_str()), ("2048", "4096"));
            assert_eq!(td.container.secrets().len(), 1, "the secret by reference");
            let services = ecs_services(u);
            let svc = &services["payment-processor"];
            assert_eq!(svc.desired_count(), 3);
            // ECS Exec: moto keeps no enableExecuteCommand, so what is checked is
            // what Exec needs from the task definition, a writable root filesystem.
            assert_eq!(
                td.container.readonly_root_filesystem(),
                Some(false),
                "ECS Exec"
            );
            assert_logs(u, 30);

            // The secret exists without a value: it is set out of band.
            let sm = aws_sdk_secretsmanager::Client::new(u.aws.sdk());
            let arn = s(&u.doc, &["secrets", "db-credentials", "arn"]);
            assert!(
                u.aws
                    .block_on(sm.get_secret_value().secret_id(arn).send())
                    .is_err(),
                "the secret has no value"
            );

            // The seed's compliance tags, and the env's.
            let ec2 = aws_sdk_ec2::Client::new(u.aws.sdk());
            let vpc = u
                .aws
                .block_on(
                    ec2.describe_vpcs()
                        .vpc_ids(s(&u.doc, &["network", "vpc_id"]))
                        .send(),
                )
                .expect("DescribeVpcs");
            let tags: BTreeMap<&str, &str> = vpc.vpcs()[0]
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
                .collect();
            for (k, v) in [
                ("compliance", "pci-dss"),
                ("backup", "required"),
                ("cost-center", "engineering"),
                ("project", "payment-processor-migration"),
                ("application", "payment-processor"),
                ("team", "platform"),
                ("environment", "dev"),
            ] {
                assert_eq!(tags.get(k), Some(&v), "tag {k}");
            }
            let endpoints: BTreeSet<String> = u.doc["network"]["endpoints"]
                .as_object()
                .expect(".network.endpoints")
                .keys()
                .cloned()
                .collect();
            assert_eq!(endpoints, set(&["ecr.api", "ecr.dkr", "s3"]));

            // Blue/green: CodeDeploy owns the deployments.
            assert_eq!(
                svc.deployment_controller().map(|c| c.r#type().as_str()),
                Some("CODE_DEPLOY"),
                "deployment controller"
            );
            assert!(
                u.doc["services"]["payment-processor"]["codedeploy"]["deployment_group"]
                    .is_string(),
                ".services.payment-processor.codedeploy"
            );
            assert!(u.doc["alb"]["target_groups"]["payment-processor"]["green"]["arn"].is_string());
            let (min, max, policies) = scaling(u, "payment-processor");
            assert_eq!((min, max, policies), (3, 10, set(&["cpu", "memory"])));
            assert_eq!(
                u.doc["scaling"]["payment-processor"]["alarms"]
                    .as_array()
                    .map(Vec::len),
                Some(2),
                "CPU and memory alarms"
            );

            // ECS Exec: the agent's channels and the session log, granted on the task role.
            let policies = task_role_policies(u, "payment-processor").join("\n");
            let policies = policies.replace("%3A", ":");
            assert!(
                policies.contains("ssmmessages:OpenDataChannel"),
                "{policies}"
            );
            assert!(policies.contains("logs:PutLogEvents"), "{policies}");
        },
    );
}

/// Seed 003, and the fallback of `make NAME-down` without a document: teardown
/// by tag, in the spec's region (not the AWS configuration's).
#[test]
fn payment_processing_matches_seed_003_and_comes_down_by_tag() {
    let em = Emulator::shared();
    let dir = tempfile::tempdir().expect("a temp dir");
    let (stack, env) = ("payment-processing", "dev");
    let u = up(em, dir.path(), stack, env, &[]);
    assert_eq!(u.region, "us-east-1");
    let inv = em.inventory(&u.region, stack, env);
    assert_eq!(
        inv.counts(),
        counts(&[
            ("vpc", 1),
            ("subnet", 6),
            ("internet_gateway", 1),
            ("nat_gateway", 1),
            ("elastic_ip", 1),
            ("route_table", 4),
            ("security_group", 4),
            ("ecr_repository", 3),
            ("ecr_lifecycle_policy", 3),
            ("secret", 2),
            ("ecs_cluster", 1),
            ("iam_role", 5), // with net-up's flow logs role
            ("kms_key", 1),
            ("load_balancer", 1),
            ("listener", 1),
            ("target_group", 1),
            ("ecs_service", 3),
            ("task_definition", 3),
            ("log_group", 3),
            ("namespace", 1),
            ("discovery_service", 3),
            ("scalable_target", 3),
            ("scaling_policy", 6),
        ]),
        "{stack}/{env}: what the emulator holds, by kind"
    );
    // Images that start on Fargate as the spec runs them (issue 15 item 11):
    // nginx-unprivileged listens on 8080 as a non-root user and writes only
    // /tmp and /var/cache/nginx; busybox serves 8080 with its httpd; alpine
    // runs a loop that outlives the deployment's circuit breaker.
    for (svc, image, command, writable) in [
        (
            "api-gateway",
            "nginxinc/nginx-unprivileged:1.27-alpine",
            None,
            &["/tmp", "/var/cache/nginx"][..],
        ),
        ("payment-processor", "busybox:1.36", Some("httpd"), &[][..]),
        ("fraud-detector", "alpine:3.20", Some("sh"), &[][..]),
    ] {
        let td = task_definition(&u, svc);
        assert_eq!(td.container.image(), Some(image), "{svc}");
        assert_eq!(
            td.container.command().first().map(String::as_str),
            command,
            "{svc}"
        );
        let mounts: Vec<&str> = td
            .container
            .mount_points()
            .iter()
            .filter_map(|m| m.container_path())
            .collect();
        assert_eq!(mounts, writable, "{svc}: writable paths");
        assert_eq!(td.container.readonly_root_filesystem(), Some(true), "{svc}");
        let env: std::collections::BTreeMap<&str, &str> = td
            .container
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?, kv.value()?)))
            .collect();
        if svc != "fraud-detector" {
            assert_eq!(
                env["FRAUD_DETECTOR_URL"], "http://fraud-detector.payment.local:8080",
                "{svc}: a reference"
            );
        }
    }
    for (svc, image) in [
        ("api-gateway", "nginxinc/nginx-unprivileged:1.27-alpine"),
        ("payment-processor", "busybox:1.36"),
        ("fraud-detector", "alpine:3.20"),
    ] {
        let td = task_definition(&u, svc);
        assert_eq!(
            (td.cpu.as_str(), td.memory.as_str()),
            ("1024", "2048"),
            "{svc}"
        );
        assert_eq!(
            td.container.image(),
            Some(image),
            "{svc}: the seed's image, pinned"
        );
        assert_eq!(td.container.port_mappings()[0].container_port(), Some(8080));
    }
    assert_eq!(s(&u.doc, &["discovery", "namespace_name"]), "payment.local");
    let gateway = group_of(&u, "api-gateway");
    assert_callers(&u, "payment-processor", 8080, &[&gateway]);
    assert_callers(
        &u,
        "fraud-detector",
        8080,
        &[&gateway, &group_of(&u, "payment-processor")],
    );
    assert_logs(&u, 30);

    let again = up(em, dir.path(), stack, env, &[]);
    assert_eq!(em.inventory(&u.region, stack, env), inv);
    assert_eq!(again.text, u.text, "the re-run changed the document");
    for svc in ["api-gateway", "payment-processor", "fraud-detector"] {
        assert_eq!(scaling(&u, svc), (2, 10, set(&["cpu", "memory"])), "{svc}");
    }

    // The document is lost: `make payment-processing-down` finds it all by tag.
    std::fs::remove_file(dir.path().join(format!("{stack}-{env}.json"))).expect("remove");
    down(em, dir.path(), &u);
}

/// The seed's table: service, then (cpu, memory, desired count) in prod,
/// staging and dev.
type Sizes = (u32, u32, i32);
const OHI: &[(&str, Sizes, Sizes, Sizes)] = &[
    ("api", (1024, 2048, 3), (512, 1024, 2), (256, 512, 1)),
    ("graphql", (1024, 2048, 3), (512, 1024, 2), (256, 512, 1)),
    ("sse", (512, 1024, 2), (256, 512, 1), (256, 512, 1)),
    (
        "provider-api",
        (1024, 2048, 2),
        (512, 1024, 1),
        (256, 512, 1),
    ),
    ("reindexer", (512, 1024, 1), (256, 512, 1), (256, 512, 1)),
    ("blnk-api", (512, 1024, 2), (256, 512, 1), (256, 512, 1)),
    ("blnk-worker", (256, 512, 1), (256, 512, 1), (256, 512, 1)),
    (
        "clickhouse",
        (2048, 4096, 1),
        (1024, 2048, 1),
        (512, 1024, 1),
    ),
    (
        "otel-collector",
        (512, 1024, 2),
        (256, 512, 1),
        (256, 512, 1),
    ),
    (
        "signoz-query",
        (1024, 2048, 1),
        (512, 1024, 1),
        (256, 512, 1),
    ),
    (
        "signoz-frontend",
        (256, 512, 1),
        (256, 512, 1),
        (256, 512, 1),
    ),
];
const OHI_PUBLIC: &[&str] = &["api", "graphql", "sse", "provider-api"];

/// Every env of ohi holds the same kinds: 11 services, their repositories, task
/// roles, groups and logs, 4 behind the ALB (3 rules: api is the default), 9
/// discovered (the background jobs are not), the 4 public ones scaled on CPU
/// and memory.
const OHI_INVENTORY: &[(&str, usize)] = &[
    ("vpc", 1),
    ("subnet", 4),
    ("internet_gateway", 1),
    ("nat_gateway", 1),
    ("elastic_ip", 1),
    ("route_table", 3),
    ("security_group", 12),
    ("ecr_repository", 11),
    ("ecr_lifecycle_policy", 11),
    ("secret", 2),
    ("ecs_cluster", 1),
    ("iam_role", 13), // with net-up's flow logs role
    ("kms_key", 1),
    ("load_balancer", 1),
    ("listener", 1),
    ("listener_rule", 3),
    ("target_group", 4),
    ("ecs_service", 11),
    ("task_definition", 11),
    ("log_group", 11),
    ("namespace", 1),
    ("discovery_service", 9),
    ("scalable_target", 4),
    ("scaling_policy", 8),
];

/// ohi in one env against the seed: the sizing table's column, Spot in dev
/// only, logs 30 days in prod and 7 elsewhere, scaling bounds per env, and the
/// seed's known limitations fixed: a task role per service, health checks, the
/// region a flag (the circuit breaker cannot be read back: moto keeps no
/// deploymentConfiguration).
fn check_ohi(u: &Up) {
    let services = ecs_services(u);
    for (name, prod, staging, dev) in OHI {
        let (cpu, memory, count) = match u.env.as_str() {
            "prod" => *prod,
            "staging" => *staging,
            _ => *dev,
        };
        let td = task_definition(u, name);
        assert_eq!(
            (td.cpu, td.memory),
            (cpu.to_string(), memory.to_string()),
            "{name} in {}: cpu and memory",
            u.env
        );
        let svc = &services[*name];
        assert_eq!(
            svc.desired_count(),
            count,
            "{name} in {}: desired count",
            u.env
        );
        assert_eq!(
            svc.load_balancers().is_empty(),
            !OHI_PUBLIC.contains(name),
            "{name}: behind the ALB only if public"
        );
        assert!(
            s(&u.doc, &["services", name, "task_role_arn"]).contains(":role/"),
            "{name}: a task role"
        );
    }
    // The seed's variables, per env: LOG_LEVEL by override, the hosts by ${env}.
    let level = match u.env.as_str() {
        "prod" => "warn",
        "staging" => "info",
        _ => "debug",
    };
    for (name, ..) in OHI {
        let td = task_definition(u, name);
        let env: BTreeMap<&str, &str> = td
            .container
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?, kv.value()?)))
            .collect();
        assert_eq!(env.get("LOG_LEVEL"), Some(&level), "{name} in {}", u.env);
        if td
            .container
            .secrets()
            .iter()
            .any(|s| s.name() == "DATABASE_PASSWORD")
        {
            let db = format!("ohi-{}-postgres.internal", u.env);
            let redis = format!("ohi-{}-redis.internal", u.env);
            assert_eq!(env.get("DATABASE_HOST"), Some(&db.as_str()), "{name}");
            assert_eq!(env.get("REDIS_HOST"), Some(&redis.as_str()), "{name}");
        }
    }
    for name in ["blnk-api", "clickhouse", "signoz-query", "signoz-frontend"] {
        assert!(
            task_definition(u, name).container.health_check().is_some(),
            "{name}: container health check"
        );
    }
    let (health, paths) = alb_routing(u);
    assert_eq!(health.len(), 4);
    assert!(health.values().all(|p| p == "/health"), "{health:?}");
    assert_eq!(
        paths,
        set(&[
            "/graphql",
            "/graphql/*",
            "/sse",
            "/sse/*",
            "/provider",
            "/provider/*"
        ])
    );
    assert_eq!(
        s(&u.doc, &["discovery", "namespace_name"]),
        format!("{}.ohi.local", u.env)
    );
    let spot = u.env == "dev";
    let provider = if spot { "FARGATE_SPOT" } else { "FARGATE" };
    assert_eq!(
        strategy(u),
        vec![(provider.to_owned(), 0, 1)],
        "Spot in dev only"
    );
    assert_logs(u, if u.env == "prod" { 30 } else { 7 });
    let (min, max) = match u.env.as_str() {
        "prod" => (2, 10),
        "staging" => (1, 5),
        _ => (1, 3),
    };
    for name in OHI_PUBLIC {
        assert_eq!(
            scaling(u, name),
            (min, max, set(&["cpu", "memory"])),
            "{name} in {}: scaling",
            u.env
        );
    }
    for name in ["reindexer", "blnk-worker"] {
        assert!(
            u.doc["scaling"].get(name).is_none(),
            "{name}: a fixed count"
        );
    }
}

#[test]
fn ohi_staging_matches_seed_004() {
    lifecycle("ohi", "staging", OHI_INVENTORY, |u| {
        assert_eq!(u.region, "eu-west-1");
        check_ohi(u);
    });
}

/// ohi's prod and dev side by side in eu-west-1, with payment-processing moved
/// there too (REGION): each carries its own column of the sizing table; taking
/// dev down leaves prod and the other stack exactly as they were.
#[test]
fn ohi_prod_and_dev_side_by_side_then_dev_goes() {
    let em = Emulator::shared();
    let dir = tempfile::tempdir().expect("a temp dir");
    let prod = up(em, dir.path(), "ohi", "prod", &[]);
    let dev = up(em, dir.path(), "ohi", "dev", &[]);
    let other = up(
        em,
        dir.path(),
        "payment-processing",
        "qa",
        &["REGION=eu-west-1"],
    );
    assert_eq!(
        (
            prod.region.as_str(),
            dev.region.as_str(),
            other.region.as_str()
        ),
        ("eu-west-1", "eu-west-1", "eu-west-1")
    );
    for u in [&prod, &dev] {
        assert_eq!(
            em.inventory(&u.region, "ohi", &u.env).counts(),
            counts(OHI_INVENTORY),
            "ohi/{}",
            u.env
        );
    }
    assert_ne!(
        prod.doc["network"]["vpc_id"], dev.doc["network"]["vpc_id"],
        "each env has its own network"
    );
    check_ohi(&prod);
    check_ohi(&dev);

    let prod_before = em.inventory(&prod.region, "ohi", "prod");
    let other_before = em.inventory(&other.region, "payment-processing", "qa");
    assert!(!other_before.is_empty());
    down(em, dir.path(), &dev);
    assert_eq!(
        em.inventory(&prod.region, "ohi", "prod"),
        prod_before,
        "prod is untouched"
    );
    assert_eq!(
        em.inventory(&other.region, "payment-processing", "qa"),
        other_before,
        "the other stack is untouched"
    );
    assert!(
        dir.path().join("ohi-prod.json").exists(),
        "prod's document stays"
    );

    down(em, dir.path(), &prod);
    down(em, dir.path(), &other);
}
