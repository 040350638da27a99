//! svc-up's command line: help, version, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at
//! a dead endpoint, where any call would end in the AWS exit code 7 instead).

use serde_json::{json, Value};
use testkit::offline;

fn network() -> Value {
    json!({
        "vpc_id": "vpc-1", "cidr": "10.0.0.0/16", "azs": ["us-east-1a", "us-east-1b"],
        "public_subnet_ids": ["subnet-1", "subnet-2"], "private_subnet_ids": ["subnet-3", "subnet-4"],
        "public_subnets": [], "private_subnets": [], "internet_gateway_id": "igw-1",
        "nat": "none", "nat_gateway_ids": [], "nat_public_ips": [], "elastic_ip_allocation_ids": [],
        "public_route_table_id": "rtb-1", "private_route_table_ids": []
    })
}

fn cluster() -> Value {
    json!({
        "name": "a-cluster-dev", "arn": "arn:aws:ecs:us-east-1:1:cluster/a-cluster-dev",
        "execution_role_name": "a-execution-dev", "execution_role_arn": "arn:aws:iam::1:role/a-execution-dev",
        "container_insights": true, "capacity_providers": ["FARGATE"],
        "default_strategy": [{"provider": "FARGATE"}]
    })
}

/// A whole document with fake (string) upstream sections.
fn doc(services: Value) -> Value {
    json!({
        "version": 1, "stack": "a", "env": "dev", "region": "us-east-1",
        "spec": {"services": services},
        "network": network(),
        "cluster": cluster(),
        "secrets": {"db-credentials": {"name": "a-db-credentials-dev",
            "arn": "arn:aws:secretsmanager:us-east-1:1:secret:a-db-credentials-dev-AbCdEf"}},
        "ecr": {"repositories": {"web": {"name": "a-web-dev", "arn": "arn:aws:ecr:us-east-1:1:repository/a-web-dev",
            "url": "1.dkr.ecr.us-east-1.amazonaws.com/a-web-dev"}}}
    })
}

fn spec_error(services: Value) -> String {
    offline!().stdin(doc(services).to_string()).fails().code(5)
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let help = offline!().arg("--help").succeeds().stdout();
    for needle in [
        ".network",
        ".cluster",
        "spec.services",
        ".services",
        "teardown",
        "--wait",
        "Exit codes",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
    let out = offline!().arg("--version").succeeds();
    assert!(out.stdout().starts_with("svc-up "));
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    offline!().arg("--no-such-flag").fails().code(2);
}

/// The deploy flags: `SERVICE=IMAGE` or nothing, a known service (with a
/// suggestion), an image that parses, never both image and image_tag, and
/// no `--status` together with a change.
#[test]
fn deploy_flags_are_checked_before_any_call() {
    let d = doc(json!({"web": {"port": 3000}}));
    let stdin = d.to_string();
    let err = offline!()
        .args(["--image", "web"])
        .stdin(stdin.clone())
        .fails()
        .code(2);
    assert!(err.contains("SERVICE=IMAGE"), "{err}");
    let err = offline!()
        .args(["--image", "wbe=nginx:1"])
        .stdin(stdin.clone())
        .fails()
        .code(2);
    assert!(err.contains("did you mean 'web'?"), "{err}");
    let err = offline!()
        .args(["--force-new-deployment", "nope"])
        .stdin(stdin.clone())
        .fails()
        .code(2);
    assert!(err.contains("no service 'nope'"), "{err}");
    let err = offline!()
        .args(["--image", "web=Nginx!"])
        .stdin(stdin.clone())
        .fails()
        .code(5);
    assert!(
        err.contains("spec.services.web.image: invalid image reference"),
        "{err}"
    );
    offline!()
        .args(["--status", "--wait"])
        .stdin(stdin)
        .fails()
        .code(2);
    let err = spec_error(json!({"web": {"image": "nginx:1", "image_tag": "v2"}}));
    assert!(err.contains("both image and image_tag"), "{err}");
}

#[test]
fn empty_stdin_is_a_document_error() {
    offline!().stdin("").fails().code(3);
}

#[test]
fn missing_network_or_cluster_names_the_tool_to_run() {
    let services = json!({"web": {"image": "nginx:alpine"}});
    for (section, tool) in [("network", "net-up"), ("cluster", "cluster-up")] {
        let mut d = doc(services.clone());
        d.as_object_mut().unwrap().remove(section);
        let err = offline!().stdin(d.to_string()).fails().code(6);
        assert!(err.contains(tool), "{err}");
    }
}

#[test]
fn an_impossible_cpu_memory_pair_is_named() {
    let err = spec_error(json!({"web": {"image": "nginx", "cpu": 256, "memory": 4096}}));
    assert!(err.contains("256") && err.contains("4096"), "{err}");
    // The env's size is checked too.
    let err = spec_error(json!({"web": {"image": "nginx",
        "sizes": {"dev": {"cpu": 1024, "memory": 512}}}}));
    assert!(err.contains("1024") && err.contains("512"), "{err}");
}

#[test]
fn an_unknown_caller_is_refused() {
    let err = spec_error(json!({"web": {"image": "nginx", "port": 80, "callers": ["ghost"]}}));
    assert!(err.contains("ghost"), "{err}");
}

#[test]
fn a_secret_not_in_the_document_is_refused() {
    let err = spec_error(json!({"web": {"image": "nginx",
        "secrets": {"DB_PASSWORD": {"secret": "nope", "key": "password"}}}}));
    assert!(err.contains("nope") && err.contains(".secrets"), "{err}");
}

#[test]
fn wildcard_permissions_are_refused() {
    for (actions, resources) in [
        (json!(["*"]), json!(["arn:aws:s3:::b/*"])),
        (json!(["s3:*"]), json!(["arn:aws:s3:::b/*"])),
        (json!(["s3:GetObject"]), json!(["*"])),
    ] {
        let err = spec_error(json!({"web": {"image": "nginx",
            "permissions": [{"actions": actions, "resources": resources}]}}));
        assert!(err.contains("least privilege"), "{err}");
    }
}

#[test]
fn no_image_and_no_repository_is_refused() {
    let err = spec_error(json!({"worker": {"cpu": 256}}));
    assert!(err.contains("no image") && err.contains("worker"), "{err}");
}

#[test]
fn unknown_fields_and_bad_retention_are_refused() {
    let err = spec_error(json!({"web": {"image": "nginx", "imgae": "x"}}));
    assert!(err.contains("imgae"), "{err}");
    let err = spec_error(json!({"web": {"image": "nginx", "log_retention_days": 10}}));
    assert!(err.contains("log_retention_days"), "{err}");
}

#[test]
fn bad_blue_green_deployments_are_refused() {
    let err =
        spec_error(json!({"web": {"image": "nginx", "port": 80, "deployment": "blue-green"}}));
    assert!(err.contains("needs the service behind the ALB"), "{err}");
    let err = spec_error(json!({
        "a": {"image": "nginx", "port": 80, "route": {"paths": ["/a"]},
              "deployment": {"type": "blue-green", "test_port": 9000}},
        "b": {"image": "nginx", "port": 81, "route": {"paths": ["/b"]},
              "deployment": {"type": "blue-green", "test_port": 9000}}
    }));
    assert!(
        err.contains("test_port 9000 is given to both a and b"),
        "{err}"
    );
    let err = spec_error(
        json!({"web": {"image": "nginx", "port": 80, "route": {"default": true},
        "deployment": {"type": "blue-green", "traffic": "canary-50-1"}}}),
    );
    assert!(
        err.contains("'canary-50-1' is not a traffic shift") && err.contains("linear-10-3"),
        "{err}"
    );
    let err = spec_error(
        json!({"web": {"image": "nginx", "port": 80, "route": {"default": true},
        "deployment": "green-blue"}}),
    );
    assert!(err.contains("green-blue"), "{err}");
}

/// The control: the same document with valid services (image from ECR, a secret
/// reference, alb-up's fields) gets past validation to the first AWS call.
#[test]
fn a_valid_document_reaches_aws() {
    let mut d = doc(json!({
        "web": {"port": 3000, "route": {"default": true}, "health_check": {"path": "/"},
                "deregistration_delay": 5, "image_tag": "v1",
                "secrets": {"DB_PASSWORD": {"secret": "db-credentials", "key": "password"}},
                "permissions": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}]},
        "api": {"image": "nginx:alpine", "cpu": 512, "memory": 1024, "port": 8080,
                "callers": ["web"], "discovery": {"ttl": 30}},
        "pay": {"image": "nginx:alpine", "port": 8081, "route": {"paths": ["/pay/*"]},
                "deployment": {"type": "blue-green", "traffic": "linear-10-1", "test_port": 9000},
                "scaling": {"min": 3, "max": 10, "cpu": 70, "alarms": {"cpu": 85}}}
    }));
    d["alb"] = json!({"arn": "arn:alb", "name": "a-alb-dev", "dns_name": "x", "zone_id": "z",
    "security_group_id": "sg-1", "http_listener_arn": "arn:l",
    "target_groups": {
        "web": {"arn": "arn:tg", "name": "a-web-dev", "port": 3000},
        "pay": {"arn": "arn:tg2", "name": "a-tg-pay-dev", "port": 8081,
                "green": {"arn": "arn:tg3", "name": "a-tg-pay-green-dev"},
                "test_port": 9000, "test_listener_arn": "arn:l2"}
    }});
    offline!().stdin(d.to_string()).fails().code(7);
}
