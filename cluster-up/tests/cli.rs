//! cluster-up's command line: help, version, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at
//! a dead endpoint, where any call would end in the AWS exit code 7 instead).

use testkit::offline;

/// A document whose `spec.cluster` is `cluster` (JSON text).
fn doc(cluster: &str) -> String {
    format!(r#"{{"version":1,"stack":"a","env":"dev","spec":{{"cluster":{cluster}}}}}"#)
}

fn spec_error(cluster: &str) -> String {
    offline!().stdin(doc(cluster)).fails().code(5)
}

/// cluster-up from flags alone, with `--strategy`.
fn with_strategy(strategy: &str) -> testkit::Tool {
    offline!().args(["-n", "--stack", "a", "--env", "dev", "--strategy", strategy])
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let help = offline!().arg("--help").succeeds().stdout();
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
    let out = offline!().arg("--version").succeeds();
    assert!(out.stdout().starts_with("cluster-up "));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev", "--spot-only"])
        .fails()
        .code(2);
    assert!(err.contains("--spot-only"), "{err}");
}

#[test]
fn a_malformed_strategy_flag_is_a_usage_error() {
    with_strategy("FARGATE:one:1").fails().code(2);
}

#[test]
fn empty_stdin_is_a_document_error() {
    let err = offline!()
        .args(["--stack", "a", "--env", "dev"])
        .stdin("")
        .fails()
        .code(3);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn malformed_json_is_a_document_error() {
    offline!()
        .stdin("{\"version\": 1, \"spec\": {")
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
fn an_unknown_capacity_provider_is_named() {
    let err = spec_error(r#"{"capacity_providers":["FARGATE","FARGATE_TURBO"]}"#);
    assert!(err.contains("FARGATE_TURBO"), "{err}");
    let err = spec_error(r#"{"strategy":[{"provider":"FARGATE_TURBO","weight":1}]}"#);
    assert!(err.contains("FARGATE_TURBO"), "{err}");
    // The same through the flag.
    let err = with_strategy("FARGATE_TURBO:0:1").fails().code(5);
    assert!(err.contains("FARGATE_TURBO"), "{err}");
}

#[test]
fn a_base_on_two_providers_is_refused() {
    let err = spec_error(
        r#"{"strategy":[{"provider":"FARGATE","base":1},{"provider":"FARGATE_SPOT","base":1,"weight":4}]}"#,
    );
    assert!(err.contains("base"), "{err}");
    with_strategy("FARGATE:1:1,FARGATE_SPOT:2:4")
        .fails()
        .code(5);
}

#[test]
fn negative_numbers_are_refused() {
    let err = spec_error(r#"{"strategy":[{"provider":"FARGATE","weight":-1}]}"#);
    assert!(err.contains("weight -1"), "{err}");
    let err = spec_error(r#"{"strategy":[{"provider":"FARGATE","base":-2}]}"#);
    assert!(err.contains("base -2"), "{err}");
    with_strategy("FARGATE:0:-1").fails().code(5);
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
    let err = offline!()
        .stdin(r#"{"version":1,"stack":"a","env":"dev","secrets":{"db":{"name":5}}}"#)
        .fails()
        .code(3);
    assert!(err.contains(".secrets"), "{err}");
}

#[test]
fn a_valid_spec_reaches_aws() {
    // The seed-001 split is valid: the first thing that fails is the (dead) endpoint.
    let err = with_strategy("FARGATE:1:1,FARGATE_SPOT:0:4")
        .fails()
        .code(7);
    assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
}
