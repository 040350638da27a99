//! cluster-up's command line: help, version, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at
//! a dead endpoint, where any call would end in the AWS exit code 7 instead).

use testkit::{assert_one_line_error, offline_tool};

fn cluster_up() -> testkit::ToolCommand {
    offline_tool("cluster-up")
}

/// A document whose `spec.cluster` is `cluster` (JSON text).
fn doc(cluster: &str) -> String {
    format!(r#"{{"version":1,"stack":"a","env":"dev","spec":{{"cluster":{cluster}}}}}"#)
}

fn spec_error(cluster: &str) -> String {
    let out = cluster_up().write_stdin(doc(cluster)).output().unwrap();
    assert_one_line_error(&out, "cluster-up", 5)
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let out = cluster_up().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "spec.cluster",
        ".secrets",
        ".cluster",
        "teardown",
        "--strategy",
        "--no-container-insights",
        "Exit codes",
        "5  invalid spec",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn version() {
    let out = cluster_up().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("cluster-up "));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = cluster_up()
        .args(["-n", "--stack", "a", "--env", "dev", "--spot-only"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "cluster-up", 2);
    assert!(err.contains("--spot-only"), "{err}");
}

#[test]
fn a_malformed_strategy_flag_is_a_usage_error() {
    let out = cluster_up()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--strategy",
            "FARGATE:one:1",
        ])
        .output()
        .unwrap();
    assert_one_line_error(&out, "cluster-up", 2);
}

#[test]
fn empty_stdin_is_a_document_error() {
    let out = cluster_up()
        .args(["--stack", "a", "--env", "dev"])
        .write_stdin("")
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "cluster-up", 3);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn malformed_json_is_a_document_error() {
    let out = cluster_up()
        .write_stdin("{\"version\": 1, \"spec\": {")
        .output()
        .unwrap();
    assert_one_line_error(&out, "cluster-up", 3);
}

#[test]
fn unknown_version_is_its_own_error() {
    let out = cluster_up()
        .write_stdin(r#"{"version": 2, "stack": "a", "env": "dev"}"#)
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "cluster-up", 4);
    assert!(err.contains("version 2"), "{err}");
}

#[test]
fn an_unknown_capacity_provider_is_named() {
    let err = spec_error(r#"{"capacity_providers":["FARGATE","FARGATE_TURBO"]}"#);
    assert!(err.contains("FARGATE_TURBO"), "{err}");
    let err = spec_error(r#"{"strategy":[{"provider":"FARGATE_TURBO","weight":1}]}"#);
    assert!(err.contains("FARGATE_TURBO"), "{err}");
    // The same through the flag.
    let out = cluster_up()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--strategy",
            "FARGATE_TURBO:0:1",
        ])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "cluster-up", 5);
    assert!(err.contains("FARGATE_TURBO"), "{err}");
}

#[test]
fn a_base_on_two_providers_is_refused() {
    let err = spec_error(
        r#"{"strategy":[{"provider":"FARGATE","base":1},{"provider":"FARGATE_SPOT","base":1,"weight":4}]}"#,
    );
    assert!(err.contains("base"), "{err}");
    let out = cluster_up()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--strategy",
            "FARGATE:1:1,FARGATE_SPOT:2:4",
        ])
        .output()
        .unwrap();
    assert_one_line_error(&out, "cluster-up", 5);
}

#[test]
fn negative_numbers_are_refused() {
    let err = spec_error(r#"{"strategy":[{"provider":"FARGATE","weight":-1}]}"#);
    assert!(err.contains("weight -1"), "{err}");
    let err = spec_error(r#"{"strategy":[{"provider":"FARGATE","base":-2}]}"#);
    assert!(err.contains("base -2"), "{err}");
    let out = cluster_up()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--strategy",
            "FARGATE:0:-1",
        ])
        .output()
        .unwrap();
    assert_one_line_error(&out, "cluster-up", 5);
}

#[test]
fn all_weights_zero_is_refused() {
    let err = spec_error(
        r#"{"strategy":[{"provider":"FARGATE","weight":0},{"provider":"FARGATE_SPOT","weight":0}]}"#,
    );
    assert!(err.contains("weights"), "{err}");
}

#[test]
fn a_strategy_provider_must_be_one_of_the_clusters() {
    let err = spec_error(
        r#"{"capacity_providers":["FARGATE"],"strategy":[{"provider":"FARGATE_SPOT"}]}"#,
    );
    assert!(err.contains("FARGATE_SPOT"), "{err}");
}

#[test]
fn a_bad_strategy_of_another_env_is_refused_too() {
    let err = spec_error(r#"{"strategy_by_env":{"prod":[{"provider":"FARGATE","weight":0}]}}"#);
    assert!(err.contains("prod"), "{err}");
}

#[test]
fn unknown_fields_are_spec_errors() {
    let err = spec_error(r#"{"insights":true}"#);
    assert!(err.contains("insights"), "{err}");
    let err = spec_error(r#"{"strategy":[{"provider":"FARGATE","wieght":1}]}"#);
    assert!(err.contains("wieght"), "{err}");
}

#[test]
fn a_malformed_secrets_section_is_a_document_error() {
    let out = cluster_up()
        .write_stdin(r#"{"version":1,"stack":"a","env":"dev","secrets":{"db":{"name":5}}}"#)
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "cluster-up", 3);
    assert!(err.contains(".secrets"), "{err}");
}

#[test]
fn a_valid_spec_reaches_aws() {
    // The seed-001 split is valid: the first thing that fails is the (dead) endpoint.
    let out = cluster_up()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--strategy",
            "FARGATE:1:1,FARGATE_SPOT:0:4",
        ])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "cluster-up", 7);
    assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
}
