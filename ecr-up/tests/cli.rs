//! ecr-up's command line: help, versions, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at a
//! dead endpoint, where any call would end in the AWS exit code 7 instead).

use testkit::{assert_one_line_error, offline_tool};

fn ecr_up() -> testkit::ToolCommand {
    offline_tool("ecr-up")
}

/// A document for stack `a`, env `dev`, with the given `spec` object.
fn doc(spec: &str) -> String {
    format!(r#"{{"version":1,"stack":"a","env":"dev","spec":{spec}}}"#)
}

/// Runs ecr-up on a document and expects a spec error (5); returns the message.
fn spec_error(stdin: &str, args: &[&str]) -> String {
    let out = ecr_up().args(args).write_stdin(stdin).output().unwrap();
    assert_one_line_error(&out, "ecr-up", 5)
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let out = ecr_up().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "spec.ecr",
        "spec.services",
        ".ecr",
        ".ecr.repositories.api.url",
        "teardown",
        "--keep-images",
        "Exit codes",
        "5  invalid spec",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn version() {
    let out = ecr_up().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("ecr-up "));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = ecr_up()
        .args(["--stack", "a", "--env", "dev", "--frobnicate"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "ecr-up", 2);
    assert!(err.contains("--frobnicate"), "{err}");
}

#[test]
fn bad_flag_values_are_usage_errors() {
    for args in [["--encryption", "des"], ["--keep-images", "many"]] {
        let out = ecr_up()
            .args(["-n", "--stack", "a", "--env", "dev"])
            .args(args)
            .output()
            .unwrap();
        assert_one_line_error(&out, "ecr-up", 2);
    }
}

#[test]
fn empty_stdin_is_a_document_error() {
    let out = ecr_up()
        .args(["--stack", "a", "--env", "dev"])
        .write_stdin("")
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "ecr-up", 3);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn malformed_json_is_a_document_error() {
    let out = ecr_up()
        .write_stdin("{\"version\": 1, \"stack\": ")
        .output()
        .unwrap();
    assert_one_line_error(&out, "ecr-up", 3);
    let out = ecr_up().write_stdin("\"ecr\"").output().unwrap();
    assert_one_line_error(&out, "ecr-up", 3);
}

#[test]
fn unknown_version_is_its_own_error() {
    let out = ecr_up()
        .write_stdin(r#"{"version": 9, "stack": "a", "env": "dev"}"#)
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "ecr-up", 4);
    assert!(err.contains("version 9"), "{err}");
}

#[test]
fn a_negative_keep_images_is_a_spec_error_from_the_flag_and_the_spec() {
    let err = spec_error(
        "",
        &[
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--repository",
            "api",
            "--keep-images",
            "-1",
        ],
    );
    assert!(err.contains("-1") && err.contains("keep_images"), "{err}");
    let err = spec_error(
        &doc(r#"{"ecr":{"repositories":["api"],"keep_images":-1}}"#),
        &[],
    );
    assert!(err.contains("-1") && err.contains("keep_images"), "{err}");
    // Zero and too many are refused too, even with no repository to make.
    for n in ["0", "1001"] {
        let err = spec_error(
            "",
            &["-n", "--stack", "a", "--env", "dev", "--keep-images", n],
        );
        assert!(err.contains(n), "{err}");
    }
}

#[test]
fn invalid_service_names_are_spec_errors() {
    let err = spec_error(
        "",
        &[
            "-n",
            "--stack",
            "a",
            "--env",
            "dev",
            "--repository",
            "Bad_Name",
        ],
    );
    assert!(err.contains("Bad_Name"), "{err}");
    // Names from spec.services are checked the same way.
    let err = spec_error(&doc(r#"{"services":{"api":{},"my_worker":{}}}"#), &[]);
    assert!(err.contains("my_worker"), "{err}");
}

#[test]
fn kms_key_goes_only_with_kms_encryption() {
    // A key with the default AES256, or with AES256 named.
    let err = spec_error(
        &doc(r#"{"ecr":{"repositories":["api"],"kms_key":"alias/mine"}}"#),
        &[],
    );
    assert!(err.contains("KMS"), "{err}");
    let err = spec_error(
        &doc(r#"{"ecr":{"repositories":["api"],"encryption":"AES256","kms_key":"alias/mine"}}"#),
        &[],
    );
    assert!(err.contains("alias/mine"), "{err}");
    // The flag overrides a spec that had it right.
    spec_error(
        &doc(r#"{"ecr":{"repositories":["api"],"encryption":"KMS","kms_key":"alias/mine"}}"#),
        &["--encryption", "aes256"],
    );
    // Something that is no key at all.
    let err = spec_error(
        &doc(r#"{"ecr":{"repositories":["api"],"encryption":"KMS","kms_key":"my key"}}"#),
        &[],
    );
    assert!(err.contains("my key"), "{err}");
}

#[test]
fn an_unknown_encryption_is_a_spec_error() {
    let err = spec_error(
        &doc(r#"{"ecr":{"repositories":["api"],"encryption":"DES"}}"#),
        &[],
    );
    assert!(err.contains("spec.ecr") && err.contains("DES"), "{err}");
}

#[test]
fn typos_in_the_spec_are_spec_errors() {
    let err = spec_error(&doc(r#"{"ecr":{"keep_image":5}}"#), &[]);
    assert!(err.contains("keep_image"), "{err}");
    let err = spec_error(&doc(r#"{"services":["api"]}"#), &[]);
    assert!(err.contains("spec.services"), "{err}");
}

#[test]
fn a_valid_spec_reaches_aws_which_proves_the_checks_above_come_first() {
    let out = ecr_up()
        .args(["-n", "--stack", "a", "--env", "dev", "--repository", "api"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&out, "ecr-up", 7);
    assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
}

#[test]
fn nothing_to_make_writes_an_empty_section_without_aws() {
    let out = ecr_up()
        .write_stdin(doc(r#"{"services":{"nginx":{"image":"nginx:1"}}}"#))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = testkit::json(&out.stdout);
    assert_eq!(doc["ecr"], serde_json::json!({"repositories": {}}));
    assert_eq!(doc["spec"]["services"]["nginx"]["image"], "nginx:1");
}
