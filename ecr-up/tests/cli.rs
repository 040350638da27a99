//! ecr-up's command line: help, versions, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at a
//! dead endpoint, where any call would end in the AWS exit code 7 instead).

use testkit::offline;

/// A document for stack `a`, env `dev`, with the given `spec` object.
fn doc(spec: &str) -> String {
    format!(r#"{{"version":1,"stack":"a","env":"dev","spec":{spec}}}"#)
}

#[test]
fn help_says_what_it_reads_writes_and_the_exit_codes() {
    let help = offline!().arg("--help").succeeds().stdout();
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
    let out = offline!().arg("--version").succeeds();
    assert!(out.stdout().starts_with("ecr-up "));
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
fn bad_flag_values_are_usage_errors() {
    for args in [["--encryption", "des"], ["--keep-images", "many"]] {
        offline!()
            .args(["-n", "--stack", "a", "--env", "dev"])
            .args(args)
            .fails()
            .code(2);
    }
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
    offline!().stdin("\"ecr\"").fails().code(3);
}

#[test]
fn unknown_version_is_its_own_error() {
    let err = offline!()
        .stdin(r#"{"version": 9, "stack": "a", "env": "dev"}"#)
        .fails()
        .code(4);
    assert!(err.contains("version 9"), "{err}");
}

#[test]
fn a_negative_keep_images_is_a_spec_error_from_the_flag_and_the_spec() {
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev", "--repository", "api"])
        .args(["--keep-images", "-1"])
        .fails()
        .code(5);
    assert!(err.contains("-1") && err.contains("keep_images"), "{err}");
    let err = offline!()
        .stdin(doc(r#"{"ecr":{"repositories":["api"],"keep_images":-1}}"#))
        .fails()
        .code(5);
    assert!(err.contains("-1") && err.contains("keep_images"), "{err}");
    // Zero and too many are refused too, even with no repository to make.
    for n in ["0", "1001"] {
        let err = offline!()
            .args(["-n", "--stack", "a", "--env", "dev", "--keep-images", n])
            .fails()
            .code(5);
        assert!(err.contains(n), "{err}");
    }
}

#[test]
fn invalid_service_names_are_spec_errors() {
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev"])
        .args(["--repository", "Bad_Name"])
        .fails()
        .code(5);
    assert!(err.contains("Bad_Name"), "{err}");
    // Names from spec.services are checked the same way.
    let err = offline!()
        .stdin(doc(r#"{"services":{"api":{},"my_worker":{}}}"#))
        .fails()
        .code(5);
    assert!(err.contains("my_worker"), "{err}");
}

#[test]
fn kms_key_goes_only_with_kms_encryption() {
    // A key with the default AES256, or with AES256 named.
    let err = offline!()
        .stdin(doc(
            r#"{"ecr":{"repositories":["api"],"kms_key":"alias/mine"}}"#,
        ))
        .fails()
        .code(5);
    assert!(err.contains("KMS"), "{err}");
    let err = offline!()
        .stdin(doc(
            r#"{"ecr":{"repositories":["api"],"encryption":"AES256","kms_key":"alias/mine"}}"#,
        ))
        .fails()
        .code(5);
    assert!(err.contains("alias/mine"), "{err}");
    // The flag overrides a spec that had it right.
    offline!()
        .args(["--encryption", "aes256"])
        .stdin(doc(
            r#"{"ecr":{"repositories":["api"],"encryption":"KMS","kms_key":"alias/mine"}}"#,
        ))
        .fails()
        .code(5);
    // Something that is no key at all.
    let err = offline!()
        .stdin(doc(
            r#"{"ecr":{"repositories":["api"],"encryption":"KMS","kms_key":"my key"}}"#,
        ))
        .fails()
        .code(5);
    assert!(err.contains("my key"), "{err}");
}

#[test]
fn an_unknown_encryption_is_a_spec_error() {
    let err = offline!()
        .stdin(doc(
            r#"{"ecr":{"repositories":["api"],"encryption":"DES"}}"#,
        ))
        .fails()
        .code(5);
    assert!(err.contains("spec.ecr") && err.contains("DES"), "{err}");
}

#[test]
fn typos_in_the_spec_are_spec_errors() {
    let err = offline!()
        .stdin(doc(r#"{"ecr":{"keep_image":5}}"#))
        .fails()
        .code(5);
    assert!(err.contains("keep_image"), "{err}");
    let err = offline!()
        .stdin(doc(r#"{"services":["api"]}"#))
        .fails()
        .code(5);
    assert!(err.contains("spec.services"), "{err}");
}

#[test]
fn a_valid_spec_reaches_aws_which_proves_the_checks_above_come_first() {
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev", "--repository", "api"])
        .fails()
        .code(7);
    assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
}

#[test]
fn nothing_to_make_writes_an_empty_section_without_aws() {
    let doc = offline!()
        .stdin(doc(r#"{"services":{"nginx":{"image":"nginx:1"}}}"#))
        .succeeds()
        .json();
    assert_eq!(doc["ecr"], serde_json::json!({"repositories": {}}));
    assert_eq!(doc["spec"]["services"]["nginx"]["image"], "nginx:1");
}
