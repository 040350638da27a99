//! scale-up's command line: help, and every kind of bad input, each a one-line
//! error with its own exit code and no AWS call (the tool is pointed at a dead
//! endpoint, where any call would end in the AWS exit code 7 instead).

use serde_json::{json, Value};
use testkit::offline;

/// A document for stack `a`, env `dev`: service `api` with the given scaling,
/// and the upstream sections scale-up reads (written by hand: nothing is called).
fn doc(scaling: Value) -> Value {
    json!({
        "version": 1, "stack": "a", "env": "dev", "region": "us-east-1",
        "spec": {"services": {"api": {"image": "nginx:alpine", "port": 80, "scaling": scaling}}},
        "cluster": {"name": "a-cluster-dev", "arn": "arn:aws:ecs:us-east-1:1:cluster/a-cluster-dev",
                    "execution_role_name": "x", "execution_role_arn": "arn:aws:iam::1:role/x",
                    "container_insights": true, "capacity_providers": ["FARGATE"],
                    "default_strategy": []},
        "services": {"api": {"service_name": "a-api-dev", "service_arn": "arn", "task_definition_arn": "td",
                             "task_role_arn": "r", "security_group_id": "sg-1", "log_group": "/ecs/a-dev/api",
                             "image": "nginx:alpine"}}
    })
}

fn fails(stdin: &Value, args: &[&str], code: i32) -> String {
    offline!()
        .args(args)
        .stdin(stdin.to_string())
        .fails()
        .code(code)
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let help = offline!().arg("--help").succeeds().stdout();
    for needle in [
        "spec.services.<name>.scaling",
        ".cluster",
        ".services",
        ".alb",
        ".scaling",
        "teardown",
        "Exit codes",
        "6  missing upstream layer",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let err = fails(&doc(json!({"min": 1, "max": 2, "cpu": 50})), &["--max"], 2);
    assert!(err.contains("--max"), "{err}");
}

#[test]
fn min_above_max_is_a_spec_error() {
    let err = fails(&doc(json!({"min": 5, "max": 2, "cpu": 70})), &[], 5);
    assert!(
        err.contains("spec.services.api.scaling: min 5 is above max 2"),
        "{err}"
    );
    // In the env's sizes too, even when another env runs.
    let err = fails(
        &doc(json!({"min": 1, "max": 4, "cpu": 70, "sizes": {"prod": {"min": 6}}})),
        &[],
        5,
    );
    assert!(err.contains("sizes.prod"), "{err}");
}

#[test]
fn a_target_of_zero_is_a_spec_error() {
    let err = fails(&doc(json!({"min": 1, "max": 2, "cpu": 0})), &[], 5);
    assert!(err.contains("scaling.cpu: 0"), "{err}");
}

#[test]
fn an_unknown_field_in_scaling_is_a_spec_error_but_not_elsewhere() {
    let err = fails(
        &doc(json!({"min": 1, "max": 2, "cpu": 50, "maximum": 3})),
        &[],
        5,
    );
    assert!(err.contains("maximum"), "{err}");
    // A field scale-up does not own is not its business: this one reaches AWS (7).
    // A typo in another tool's field stops scale-up too: the spec is one schema.
    let mut d = doc(json!({"min": 1, "max": 2, "cpu": 50}));
    d["spec"]["services"]["api"]["svc_up_field"] = json!(true);
    let err = fails(&d, &[], 5);
    assert!(err.contains("spec.services.api.svc_up_field"), "{err}");
}

#[test]
fn missing_cluster_is_a_missing_layer() {
    let mut d = doc(json!({"min": 1, "max": 2, "cpu": 50}));
    d.as_object_mut().unwrap().remove("cluster");
    let err = fails(&d, &[], 6);
    assert!(err.contains("run cluster-up first"), "{err}");
}

#[test]
fn a_scaled_service_svc_up_has_not_made_is_named() {
    let mut d = doc(json!({"min": 1, "max": 2, "cpu": 50}));
    d["spec"]["services"]["worker"] =
        json!({"image": "x", "scaling": {"min": 1, "max": 2, "cpu": 50}});
    let err = fails(&d, &[], 6);
    assert!(
        err.contains(".services.worker") && err.contains("svc-up"),
        "{err}"
    );
}

#[test]
fn requests_need_a_target_group() {
    let err = fails(&doc(json!({"min": 1, "max": 2, "requests": 500})), &[], 5);
    assert!(err.contains("target group"), "{err}");
}

#[test]
fn nothing_to_scale_and_no_cluster_writes_an_empty_section_without_aws() {
    let d = json!({"version": 1, "stack": "a", "env": "dev", "region": "us-east-1",
                   "spec": {"services": {"job": {"image": "x"}}}, "custom": [1]});
    let got = offline!().stdin(d.to_string()).succeeds().json();
    assert_eq!(got["scaling"], json!({}));
    assert_eq!(got["custom"], json!([1]));
}
