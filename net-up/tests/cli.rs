//! net-up's command line: help, versions, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at a
//! dead endpoint, where any call would end in the AWS exit code 7 instead).

use testkit::{assert_one_line_error, offline_tool};

fn net_up() -> testkit::ToolCommand {
    offline_tool("net-up")
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let out = net_up().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
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
    let out = net_up().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("net-up "));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = net_up()
        .args(["--stack", "a", "--env", "dev", "--frobnicate"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "net-up", 2);
    assert!(err.contains("--frobnicate"), "{err}");
}

#[test]
fn bad_flag_value_is_a_usage_error() {
    let out = net_up()
        .args(["-n", "--stack", "a", "--env", "dev", "--nat", "double"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "net-up", 2);
}

#[test]
fn missing_stack_is_a_usage_error() {
    let out = net_up().args(["-n", "--env", "dev"]).output().unwrap();
    let err = assert_one_line_error(&out, "net-up", 2);
    assert!(err.contains("--stack"), "{err}");
}

#[test]
fn empty_stdin_is_a_document_error() {
    let out = net_up()
        .args(["--stack", "a", "--env", "dev"])
        .write_stdin("")
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "net-up", 3);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn malformed_json_is_a_document_error() {
    let out = net_up()
        .write_stdin("{\"version\": 1, \"stack\": ")
        .output()
        .unwrap();
    assert_one_line_error(&out, "net-up", 3);
    let out = net_up().write_stdin("[1, 2]").output().unwrap();
    assert_one_line_error(&out, "net-up", 3);
}

#[test]
fn unknown_version_is_its_own_error() {
    let out = net_up()
        .write_stdin(r#"{"version": 7, "stack": "a", "env": "dev"}"#)
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "net-up", 4);
    assert!(err.contains("version 7"), "{err}");
}

#[test]
fn invalid_cidrs_are_spec_errors() {
    for cidr in ["10.0.0.0/33", "10.0.0.1/16", "banana", "10.0.0.0/8"] {
        let out = net_up()
            .args(["-n", "--stack", "a", "--env", "dev", "--cidr", cidr])
            .output()
            .unwrap();
        let err = assert_one_line_error(&out, "net-up", 5);
        assert!(err.contains(cidr), "{err}");
    }
    let doc = r#"{"version":1,"stack":"a","env":"dev","spec":{"network":{"cidr":"10.0.0.0/16","public_subnet_cidrs":["10.9.0.0/24","10.0.1.0/24"]}}}"#;
    let out = net_up().write_stdin(doc).output().unwrap();
    assert_one_line_error(&out, "net-up", 5);
}

#[test]
fn impossible_az_counts_are_spec_errors() {
    for azs in ["0", "7"] {
        let out = net_up()
            .args(["-n", "--stack", "a", "--env", "dev", "--azs", azs])
            .output()
            .unwrap();
        let err = assert_one_line_error(&out, "net-up", 5);
        assert!(err.contains("AZ count"), "{err}");
    }
    // A /26 VPC cut into /28s holds two AZs, not three.
    let out = net_up()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--cidr",
            "10.0.0.0/26",
            "--azs",
            "3",
        ])
        .output()
        .unwrap();
    assert_one_line_error(&out, "net-up", 5);
}

#[test]
fn typos_in_the_spec_are_spec_errors() {
    let doc =
        r#"{"version":1,"stack":"a","env":"dev","spec":{"network":{"nat_gateways":"single"}}}"#;
    let out = net_up().write_stdin(doc).output().unwrap();
    let err = assert_one_line_error(&out, "net-up", 5);
    assert!(err.contains("nat_gateways"), "{err}");
}

#[test]
fn bad_names_and_regions_are_spec_errors() {
    let out = net_up()
        .args(["-n", "--stack", "Bad_Name", "--env", "dev"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "net-up", 5);
    let out = net_up()
        .args(["-n", "--stack", "a", "--env", "dev", "--region", "mars"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "net-up", 5);
}

#[test]
fn unknown_endpoint_is_a_spec_error() {
    let out = net_up()
        .args([
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--endpoints",
            "s3,dynamodb",
        ])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "net-up", 5);
    assert!(err.contains("dynamodb"), "{err}");
}

#[test]
fn an_unreachable_endpoint_is_an_aws_error_that_says_what_to_do() {
    let out = net_up()
        .args(["-n", "--stack", "a", "--env", "dev"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "net-up", 7);
    assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
}
