//! The whole spec is checked by every tool before its first AWS call: a typo in
//! any section, an invalid size of another env, a spec of the wrong type stops
//! each of the seven tools with exit 5 and one line naming the JSON path.
//!
//! Every tool is offline (pointed at a dead endpoint): a tool that made an AWS
//! call would exit 7 instead. The control test shows the same document without
//! the defect does reach AWS in every tool, so each refusal below is the check's.

use serde_json::{json, Value};
use testkit::offline;

const TOOLS: [&str; 7] = [
    "net-up",
    "ecr-up",
    "secrets-up",
    "cluster-up",
    "alb-up",
    "svc-up",
    "scale-up",
];

/// A valid document using every section of the spec, with the upstream
/// sections each tool needs (fake ids: no call gets that far offline).
fn document() -> Value {
    json!({
        "version": 1, "stack": "a", "env": "dev", "region": "us-east-1",
        "spec": {
            "network": {"cidr": "10.0.0.0/16", "azs": 2, "nat": "single"},
            "ecr": {"repositories": ["worker"], "keep_images": 5},
            "secrets": {"db": {"description": "db credentials", "json_keys": ["password"]}},
            "cluster": {"strategy_by_env": {"dev": [{"provider": "FARGATE_SPOT"}]}},
            "alb": {"idle_timeout": 30},
            "services": {
                "api": {
                    "image": "nginx:alpine", "port": 8080, "cpu": 256, "memory": 512,
                    "sizes": {"prod": {"cpu": 512, "memory": 1024, "desired_count": 2}},
                    "route": {"paths": ["/api/*"]}, "health_check": {"path": "/health"},
                    "secrets": {"DB_PASSWORD": {"secret": "db", "key": "password"}},
                    "discovery": {"ttl": 30},
                    "deployment": "rolling",
                    "scaling": {"min": 1, "max": 2, "cpu": 50, "sizes": {"prod": {"min": 2, "max": 6}}}
                },
                "worker": {"callers": [], "permissions": []}
            },
            "discovery": {"namespace": "a-dev.local"}
        },
        "network": {
            "vpc_id": "vpc-1", "cidr": "10.0.0.0/16", "azs": ["us-east-1a", "us-east-1b"],
            "public_subnet_ids": ["subnet-1", "subnet-2"], "private_subnet_ids": ["subnet-3", "subnet-4"],
            "public_subnets": [], "private_subnets": [], "internet_gateway_id": "igw-1",
            "nat": "single", "nat_gateway_ids": [], "nat_public_ips": [], "elastic_ip_allocation_ids": [],
            "public_route_table_id": "rtb-1", "private_route_table_ids": []
        },
        "ecr": {"repositories": {"worker": {"name": "a-worker-dev",
            "arn": "arn:aws:ecr:us-east-1:1:repository/a-worker-dev",
            "url": "1.dkr.ecr.us-east-1.amazonaws.com/a-worker-dev"}}},
        "secrets": {"db": {"name": "a-db-dev", "json_keys": ["password"],
            "arn": "arn:aws:secretsmanager:us-east-1:1:secret:a-db-dev-AbCdEf"}},
        "cluster": {"name": "a-cluster-dev", "arn": "arn:aws:ecs:us-east-1:1:cluster/a-cluster-dev",
            "execution_role_name": "a-execution-dev", "execution_role_arn": "arn:aws:iam::1:role/a-execution-dev",
            "container_insights": true, "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
            "default_strategy": [{"provider": "FARGATE_SPOT"}]},
        "alb": {"arn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/a-alb-dev/1",
            "name": "a-alb-dev", "dns_name": "x", "zone_id": "z", "security_group_id": "sg-1",
            "http_listener_arn": "arn:l",
            "target_groups": {"api": {"arn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a-api-dev/1",
                "name": "a-api-dev", "port": 8080}}},
        "services": {"api": {"service_name": "a-api-dev", "service_arn": "arn:s", "task_definition_arn": "td",
            "task_role_arn": "r", "security_group_id": "sg-2", "log_group": "/ecs/a-dev/api",
            "image": "nginx:alpine"}}
    })
}

/// `tool`, offline, refusing `doc` with exit `code`: its one error line.
fn refused(tool: &str, doc: &str, code: i32) -> String {
    offline(tool).stdin(doc).fails().code(code)
}

/// Every tool refuses `doc` with exit `code` and one line starting with `start`.
fn every_tool_refuses(doc: &str, code: i32, start: &str) {
    for tool in TOOLS {
        let err = refused(tool, doc, code);
        assert!(
            err.starts_with(&format!("{tool}: {start}")),
            "{tool}: expected `{start}`, got: {err}"
        );
    }
}

/// `doc` with `value` set at the JSON pointer `at` (its parent must exist).
fn with(at: &str, value: Value) -> String {
    let mut doc = document();
    let (parent, key) = at.rsplit_once('/').unwrap();
    doc.pointer_mut(parent)
        .unwrap_or_else(|| panic!("{parent} in the document"))
        .as_object_mut()
        .unwrap()
        .insert(key.to_owned(), value);
    doc.to_string()
}

#[test]
fn the_valid_document_reaches_aws_in_every_tool() {
    let doc = document().to_string();
    for tool in TOOLS {
        let err = refused(tool, &doc, 7);
        assert!(err.contains("AWS_ENDPOINT_URL"), "{tool}: {err}");
    }
}

#[test]
fn a_typo_in_any_section_stops_every_tool_before_aws() {
    for (pointer, path) in [
        ("/spec/network/nat_gatways", "spec.network.nat_gatways"),
        ("/spec/ecr/keep_imagez", "spec.ecr.keep_imagez"),
        ("/spec/secrets/db/descripton", "spec.secrets.db.descripton"),
        ("/spec/cluster/insights", "spec.cluster.insights"),
        ("/spec/alb/idle_timout", "spec.alb.idle_timout"),
        ("/spec/services/api/imgae", "spec.services.api.imgae"),
        (
            "/spec/services/api/scaling/mx",
            "spec.services.api.scaling.mx",
        ),
        ("/spec/discovery/namespce", "spec.discovery.namespce"),
    ] {
        every_tool_refuses(&with(pointer, json!(1)), 5, &format!("{path}: unknown key"));
    }
    // The object forms of a service's deployment and discovery.
    let doc = with(
        "/spec/services/api/deployment",
        json!({"type": "blue-green", "trafic": "all-at-once"}),
    );
    every_tool_refuses(
        &doc,
        5,
        "spec.services.api.deployment.trafic: unknown key; did you mean traffic?",
    );
    let doc = with("/spec/services/api/discovery", json!({"tll": 30}));
    every_tool_refuses(
        &doc,
        5,
        "spec.services.api.discovery.tll: unknown key; did you mean ttl?",
    );
    every_tool_refuses(
        &with("/spec/services/api/imgae", json!("nginx")),
        5,
        "spec.services.api.imgae: unknown key; did you mean image?",
    );
}

#[test]
fn an_invalid_prod_size_stops_a_dev_run() {
    let doc = with("/spec/services/api/sizes/prod", json!({"memory": 4096}));
    every_tool_refuses(
        &doc,
        5,
        "spec.services.api.sizes.prod.memory: Fargate does not run cpu 256 with memory 4096",
    );
    let doc = with(
        "/spec/services/api/scaling/sizes/prod",
        json!({"min": 3, "max": 1}),
    );
    every_tool_refuses(
        &doc,
        5,
        "spec.services.api.scaling.sizes.prod: min 3 is above max 1",
    );
    let doc = with(
        "/spec/cluster/strategy_by_env/prod",
        json!([{"provider": "FARGATE_SPOTT"}]),
    );
    every_tool_refuses(&doc, 5, "spec.cluster.strategy_by_env.prod: ");
}

#[test]
fn a_spec_of_the_wrong_type_or_a_misspelt_section_stops_every_tool() {
    every_tool_refuses(
        &with("/spec", json!([])),
        5,
        "spec: expected an object, got a list",
    );
    every_tool_refuses(
        &with("/spec", json!("x")),
        5,
        "spec: expected an object, got the string \"x\"",
    );
    let mut doc = document();
    let services = doc["spec"].as_object_mut().unwrap().remove("services");
    doc["spec"]["servcies"] = services.unwrap();
    every_tool_refuses(
        &doc.to_string(),
        5,
        "spec.servcies: unknown key; did you mean services?",
    );
    every_tool_refuses(
        &with("/spec/services", json!([])),
        5,
        "spec.services: expected an object, got a list",
    );
    every_tool_refuses(
        &with("/spec/network", json!([])),
        5,
        "spec.network: expected an object, got a list",
    );
    every_tool_refuses(
        &with("/spec/services/api/cpu", json!("512")),
        5,
        "spec.services.api.cpu: expected a number, got the string \"512\"",
    );
}

#[test]
fn a_document_with_a_key_twice_or_a_mistyped_field_stops_every_tool() {
    let doc = document().to_string().replacen(
        "\"nat\":\"single\"",
        "\"nat\":\"single\",\"nat\":\"per-az\"",
        1,
    );
    assert_ne!(doc, document().to_string());
    every_tool_refuses(
        &doc,
        3,
        "stdin is not a valid JSON document: duplicate key spec.network.nat",
    );
    every_tool_refuses(
        &with("/region", json!(123)),
        3,
        "the document's \"region\" must be a string, got the number 123",
    );
}

#[test]
fn a_huge_value_is_not_echoed_whole() {
    let huge = "x".repeat(1_000_000);
    for doc in [
        with("/spec/alb/default_service", json!(huge)),
        with("/stack", json!(huge)),
        with(&format!("/spec/services/{huge}"), json!({})),
    ] {
        for tool in ["net-up", "svc-up"] {
            let err = refused(tool, &doc, 5);
            assert!(err.len() < 400, "{tool}: {} chars", err.len());
        }
    }
}

/// teardown reads no spec: a typo must not keep a stack from being removed.
#[test]
fn teardown_is_not_stopped_by_the_spec() {
    refused(
        "teardown",
        &with("/spec/services/api/imgae", json!("nginx")),
        7,
    );
}
