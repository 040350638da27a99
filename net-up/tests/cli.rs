//! net-up's command line: help, versions, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at a
//! dead endpoint, where any call would end in the AWS exit code 7 instead).

use testkit::offline;

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let help = offline!().arg("--help").succeeds().stdout();
    for needle in [
        "spec.network",
        ".network",
        "teardown",
        "Exit codes",
        "6  missing upstream layer",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn version() {
    let out = offline!().arg("--version").succeeds();
    assert!(out.stdout().starts_with("net-up "));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let err = offline!()
        .args(["--stack", "a", "--env", "dev", "--frobnicate"])
        .fails()
        .code(2);
    assert!(err.contains("--frobnicate"), "{err}");
}

#[test]
fn bad_flag_value_is_a_usage_error() {
    offline!()
        .args(["-n", "--stack", "a", "--env", "dev", "--nat", "double"])
        .fails()
        .code(2);
}

#[test]
fn missing_stack_is_a_usage_error() {
    let err = offline!().args(["-n", "--env", "dev"]).fails().code(2);
    assert!(err.contains("--stack"), "{err}");
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
        .stdin("{\"version\": 1, \"stack\": ")
        .fails()
        .code(3);
    offline!().stdin("[1, 2]").fails().code(3);
}

#[test]
fn unknown_version_is_its_own_error() {
    let err = offline!()
        .stdin(r#"{"version": 7, "stack": "a", "env": "dev"}"#)
        .fails()
        .code(4);
    assert!(err.contains("version 7"), "{err}");
}

#[test]
fn invalid_cidrs_are_spec_errors() {
    for cidr in ["10.0.0.0/33", "10.0.0.1/16", "banana", "10.0.0.0/8"] {
        let err = offline!()
            .args(["-n", "--stack", "a", "--env", "dev", "--cidr", cidr])
            .fails()
            .code(5);
        assert!(err.contains(cidr), "{err}");
    }
    let doc = r#"{"version":1,"stack":"a","env":"dev","spec":{"network":{"cidr":"10.0.0.0/16","public_subnet_cidrs":["10.9.0.0/24","10.0.1.0/24"]}}}"#;
    offline!().stdin(doc).fails().code(5);
}

#[test]
fn impossible_az_counts_are_spec_errors() {
    for azs in ["0", "7"] {
        let err = offline!()
            .args(["-n", "--stack", "a", "--env", "dev", "--azs", azs])
            .fails()
            .code(5);
        assert!(err.contains("AZ count"), "{err}");
    }
    // A /26 VPC cut into /28s holds two AZs, not three.
    offline!()
        .args(["-n", "--stack", "a", "--env", "dev"])
        .args(["--cidr", "10.0.0.0/26", "--azs", "3"])
        .fails()
        .code(5);
}

#[test]
fn typos_in_the_spec_are_spec_errors() {
    let doc =
        r#"{"version":1,"stack":"a","env":"dev","spec":{"network":{"nat_gateways":"single"}}}"#;
    let err = offline!().stdin(doc).fails().code(5);
    assert!(err.contains("nat_gateways"), "{err}");
}

#[test]
fn bad_names_and_regions_are_spec_errors() {
    offline!()
        .args(["-n", "--stack", "Bad_Name", "--env", "dev"])
        .fails()
        .code(5);
    offline!()
        .args(["-n", "--stack", "a", "--env", "dev", "--region", "mars"])
        .fails()
        .code(5);
}

#[test]
fn unknown_endpoint_is_a_spec_error() {
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev"])
        .args(["--endpoints", "s3,dynamodb"])
        .fails()
        .code(5);
    assert!(err.contains("dynamodb"), "{err}");
}

#[test]
fn an_unreachable_endpoint_is_an_aws_error_that_says_what_to_do() {
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev"])
        .fails()
        .code(7);
    assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
}
