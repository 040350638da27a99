//! alb-up's command line: help, versions, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at a
//! dead endpoint, where any call would end in the AWS exit code 7 instead).

use serde_json::{json, Value};
use testkit::offline;

/// A document whose `.network` is only strings: fine for everything up to the first AWS call.
fn doc(alb: Value, services: Value) -> String {
    json!({
        "version": 1, "stack": "a", "env": "dev",
        "spec": {"alb": alb, "services": services},
        "network": {
            "vpc_id": "vpc-1", "cidr": "10.0.0.0/16", "azs": ["us-east-1a", "us-east-1b"],
            "public_subnet_ids": ["subnet-1", "subnet-2"], "private_subnet_ids": ["subnet-3", "subnet-4"],
            "public_subnets": [], "private_subnets": [], "internet_gateway_id": "igw-1",
            "nat": "none", "nat_gateway_ids": [], "nat_public_ips": [], "elastic_ip_allocation_ids": [],
            "public_route_table_id": "rtb-1", "private_route_table_ids": []
        }
    })
    .to_string()
}

/// Seed 001's routing: the frontend as the default, the API gateway under /api/*.
fn seed_001() -> Value {
    json!({
        "frontend": {"port": 3000, "cpu": 512, "memory": 1024, "route": {"default": true}, "health_check": {"path": "/"}},
        "api-gateway": {"port": 8080, "route": {"paths": ["/api/*"]}, "health_check": {"path": "/health"}},
        "processing": {"port": 9000, "image": "processing:1"}
    })
}

fn spec_error(alb: Value, services: Value) -> String {
    offline!().stdin(doc(alb, services)).fails().code(5)
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let help = offline!().arg("--help").succeeds().stdout();
    for needle in [
        ".network",
        "spec.alb",
        "spec.services",
        ".alb",
        "teardown",
        "--certificate-arn",
        "--ingress-cidr",
        "Exit codes",
        "6  missing upstream layer",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn version() {
    let out = offline!().arg("--version").succeeds();
    assert!(out.stdout().starts_with("alb-up "));
}

#[test]
fn unknown_flag_and_bad_values_are_usage_errors() {
    let err = offline!()
        .args(["--stack", "a", "--env", "dev", "--frobnicate"])
        .fails()
        .code(2);
    assert!(err.contains("--frobnicate"), "{err}");
    offline!()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--deletion-protection",
            "maybe",
        ])
        .fails()
        .code(2);
}

#[test]
fn empty_and_malformed_stdin_are_document_errors() {
    let err = offline!()
        .args(["--stack", "a", "--env", "dev"])
        .stdin("")
        .fails()
        .code(3);
    assert!(err.contains("empty"), "{err}");
    offline!()
        .stdin("{\"version\": 1, \"network\": ")
        .fails()
        .code(3);
}

#[test]
fn unknown_version_is_its_own_error() {
    let err = offline!()
        .stdin(r#"{"version": 2, "stack": "a", "env": "dev"}"#)
        .fails()
        .code(4);
    assert!(err.contains("version 2"), "{err}");
}

#[test]
fn no_network_names_net_up() {
    let err = offline!()
        .stdin(r#"{"version": 1, "stack": "a", "env": "dev", "spec": {}}"#)
        .fails()
        .code(6);
    assert!(err.contains("net-up"), "{err}");
    // -n starts from nothing: no network either.
    offline!()
        .args(["-n", "--stack", "a", "--env", "dev"])
        .fails()
        .code(6);
}

#[test]
fn the_fake_network_reaches_aws_so_only_validation_fails_below() {
    // The control for every spec-error test: a valid spec gets as far as the
    // first AWS call, which fails on the dead endpoint with the AWS exit code.
    offline!().stdin(doc(json!({}), seed_001())).fails().code(7);
}

#[test]
fn a_duplicate_path_is_a_spec_error() {
    let err = spec_error(
        json!({}),
        json!({
            "api": {"port": 8080, "route": {"paths": ["/api/*"]}},
            "api2": {"port": 8081, "route": {"paths": ["/v2/*", "/api/*"]}}
        }),
    );
    assert!(err.contains("duplicate path '/api/*'"), "{err}");
}

#[test]
fn a_default_route_to_an_unknown_service_is_a_spec_error() {
    let err = spec_error(json!({"default_service": "web"}), seed_001());
    assert!(err.contains("unknown service 'web'"), "{err}");
    offline!()
        .args(["--default-service", "nobody"])
        .stdin(doc(json!({}), json!({})))
        .fails()
        .code(5);
}

#[test]
fn two_defaults_are_a_spec_error() {
    let err = spec_error(json!({"default_service": "api-gateway"}), seed_001());
    assert!(err.contains("more than one default"), "{err}");
    let err = spec_error(
        json!({}),
        json!({
            "a": {"port": 1, "route": {"default": true}},
            "b": {"port": 2, "route": {"default": true}}
        }),
    );
    assert!(err.contains("more than one default"), "{err}");
}

#[test]
fn an_invalid_ingress_cidr_is_a_spec_error() {
    let err = spec_error(json!({"ingress_cidrs": ["10.0.0.0/33"]}), seed_001());
    assert!(err.contains("10.0.0.0/33"), "{err}");
    let err = offline!()
        .args(["--ingress-cidr", "192.168.1.1/24"])
        .stdin(doc(json!({}), seed_001()))
        .fails()
        .code(5);
    assert!(
        err.contains("192.168.1.0/24"),
        "suggests the network address: {err}"
    );
}

#[test]
fn a_health_check_path_without_a_slash_is_a_spec_error() {
    let err = spec_error(
        json!({}),
        json!({"api": {"port": 8080, "route": {"paths": ["/api/*"]}, "health_check": {"path": "health"}}}),
    );
    assert!(err.contains("health_check.path 'health'"), "{err}");
}

#[test]
fn a_routed_service_without_a_port_is_a_spec_error() {
    let err = spec_error(json!({}), json!({"api": {"route": {"paths": ["/api/*"]}}}));
    assert!(err.contains("no port"), "{err}");
    let err = spec_error(
        json!({}),
        json!({"api": {"port": 0, "route": {"paths": ["/api/*"]}}}),
    );
    assert!(err.contains("port 0"), "{err}");
}

#[test]
fn other_impossible_routes_are_spec_errors() {
    for (services, needle) in [
        (json!({"a": {"port": 1, "route": {}}}), "no condition"),
        (
            json!({"a": {"port": 1, "route": {"paths": ["/a"], "priority": 50001}}}),
            "out of range",
        ),
        (
            json!({
                "a": {"port": 1, "route": {"paths": ["/a"], "priority": 7}},
                "b": {"port": 2, "route": {"paths": ["/b"], "priority": 7}}
            }),
            "priority 7",
        ),
        (
            json!({"a": {"port": 1, "route": {"paths": ["/1", "/2", "/3", "/4"], "hosts": ["x.example.com", "y.example.com"]}}}),
            "condition values",
        ),
        (
            json!({"a": {"port": 1, "route": {"pathz": ["/a"]}}}),
            "pathz",
        ),
    ] {
        let err = spec_error(json!({}), services);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let err = spec_error(json!({"idle_timeout": 5000}), seed_001());
    assert!(err.contains("idle timeout"), "{err}");
    let err = spec_error(json!({"listeners": 2}), seed_001());
    assert!(err.contains("listeners"), "{err}");
}

#[test]
fn bad_blue_green_services_are_spec_errors() {
    let err = spec_error(
        json!({}),
        json!({"pay": {"port": 8080, "deployment": "blue-green"}}),
    );
    assert!(err.contains("needs the service behind the ALB"), "{err}");
    let err = spec_error(
        json!({}),
        json!({
            "a": {"port": 1, "route": {"paths": ["/a"]}, "deployment": {"type": "blue-green", "test_port": 9000}},
            "b": {"port": 2, "route": {"paths": ["/b"]}, "deployment": {"type": "blue-green", "test_port": 9000}}
        }),
    );
    assert!(
        err.contains("test_port 9000 is given to both a and b"),
        "{err}"
    );
    let err = spec_error(
        json!({}),
        json!({"a": {"port": 1, "route": {"default": true}, "deployment": {"type": "blue-green", "test_port": 80}}}),
    );
    assert!(err.contains("not a test listener port"), "{err}");
    // The control: a valid blue/green service reaches AWS.
    offline!()
        .stdin(doc(
            json!({}),
            json!({"a": {"port": 1, "route": {"default": true}, "deployment": "blue-green"}}),
        ))
        .fails()
        .code(7);
}

#[test]
fn one_az_is_not_enough_for_an_alb() {
    let mut d: Value = serde_json::from_str(&doc(json!({}), seed_001())).unwrap();
    d["network"]["public_subnet_ids"] = json!(["subnet-1"]);
    let err = offline!().stdin(d.to_string()).fails().code(5);
    assert!(err.contains("two AZs"), "{err}");
}
