//! secrets-up's command line: help, versions, and every kind of bad input, each a
//! one-line error with its own exit code and no AWS call (the tool is pointed at a
//! dead endpoint, where any call would end in the AWS exit code 7 instead), and
//! no way to hand it a secret value on the command line.

use testkit::offline;

fn doc(secrets: &str) -> String {
    format!(r#"{{"version":1,"stack":"a","env":"dev","spec":{{"secrets":{secrets}}}}}"#)
}

#[test]
fn help_says_what_it_reads_writes_and_how_values_come_in() {
    let help = offline!().arg("--help").succeeds().stdout();
    for needle in [
        "spec.secrets",
        ".secrets",
        "Names and ARNs only",
        "never printed",
        "--value-file",
        "--value-env",
        "--value-prompt",
        "never from the document",
        "same value again changes nothing",
        "teardown",
        "Exit codes",
        "5  invalid spec",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[test]
fn version() {
    let out = offline!().arg("--version").succeeds();
    assert!(out.stdout().starts_with("secrets-up "));
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
fn a_value_cannot_be_passed_on_the_command_line_and_is_not_echoed() {
    const VALUE: &str = "s3cr3t-CLI-value-77";
    let attempts: [&[&str]; 5] = [
        &["--value", VALUE],
        &[&format!("--value={VALUE}")],
        &[&format!("--secret-string={VALUE}")],
        // A value where a flag's argument or a stray word would go.
        &["--secret", "db", VALUE],
        &["--value-env", VALUE],
    ];
    for extra in attempts {
        let err = offline!()
            .args(["-n", "--stack", "a", "--env", "dev"])
            .args(extra)
            .fails()
            .code(2);
        assert!(!err.contains(VALUE), "{extra:?} echoed the value: {err}");
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
fn a_value_file_that_does_not_exist_is_a_spec_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-password-file");
    let arg = format!("db-credentials={}", path.display());
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev", "--value-file", &arg])
        .fails()
        .code(5);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("db-credentials"), "{err}");
}

#[test]
fn an_unset_environment_variable_is_a_spec_error_naming_it() {
    let err = offline!()
        .env_remove("FP_TEST_UNSET_SECRET")
        .args(["-n", "--stack", "a", "--env", "dev"])
        .args(["--value-env", "api-keys=FP_TEST_UNSET_SECRET"])
        .fails()
        .code(5);
    assert!(err.contains("FP_TEST_UNSET_SECRET"), "{err}");
    assert!(err.contains("not set"), "{err}");
}

#[test]
fn a_spec_that_still_names_a_value_source_is_refused_pointing_at_the_flags() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "s3cr3t-from-a-spec-file").unwrap();
    for (field, flag, value) in [
        (
            "value_file",
            "--value-file",
            file.path().display().to_string(),
        ),
        ("value_env", "--value-env", "HOME".to_owned()),
    ] {
        let spec = format!(r#"{{"db":{{"{field}":"{value}"}}}}"#);
        let err = offline!().stdin(doc(&spec)).fails().code(5);
        assert!(
            err.starts_with(&format!("secrets-up: spec.secrets.db.{field}: ")),
            "{err}"
        );
        assert!(
            err.contains(flag) && err.contains("--value-prompt"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}

#[test]
fn one_value_source_per_secret() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "v").unwrap();
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev"])
        .args(["--value-file", &format!("db={}", file.path().display())])
        .args(["--value-env", "db=HOME"])
        .fails()
        .code(2);
    assert!(err.contains("two values"), "{err}");
}

#[test]
fn fifos_devices_and_directories_are_refused_without_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for path in [
        fifo.display().to_string(),
        "/dev/zero".to_owned(),
        dir.path().display().to_string(),
    ] {
        let start = std::time::Instant::now();
        let err = offline!()
            .args(["-n", "--stack", "a", "--env", "dev"])
            .args(["--value-file", &format!("db={path}")])
            .fails()
            .code(5);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{path}"
        );
        assert!(err.contains(&path) && err.contains("regular file"), "{err}");
    }
}

#[test]
fn a_prompt_without_a_terminal_is_a_usage_error() {
    // setsid: no controlling terminal, as in a CI job.
    let out = std::process::Command::new("setsid")
        .arg(testkit::tool_path("secrets-up"))
        .args(["-n", "--stack", "a", "--env", "dev", "--value-prompt", "db"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--value-prompt db needs a terminal"), "{err}");
}

#[test]
fn a_recovery_window_outside_7_to_30_is_a_spec_error() {
    for days in ["3", "31"] {
        let spec = format!(r#"{{"db":{{"recovery_window_days":{days}}}}}"#);
        let err = offline!().stdin(doc(&spec)).fails().code(5);
        assert!(err.contains(days) && err.contains("7..=30"), "{err}");
    }
}

#[test]
fn invalid_secret_names_are_spec_errors() {
    for name in ["DB_Creds", "9db", "db--x", "db/prod", "db-"] {
        let err = offline!()
            .args(["-n", "--stack", "a", "--env", "dev", "--secret", name])
            .fails()
            .code(5);
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn typos_in_the_spec_are_spec_errors() {
    let err = offline!()
        .stdin(doc(r#"{"db":{"json_key":["x"]}}"#))
        .fails()
        .code(5);
    assert!(
        err.contains("json_key") && err.contains("did you mean json_keys"),
        "{err}"
    );
}

#[test]
fn a_valid_spec_reaches_aws() {
    // The counterpart of the tests above: with good input the tool gets as far as
    // the (dead) endpoint, so their codes really come from validation.
    let err = offline!()
        .args(["-n", "--stack", "a", "--env", "dev", "--secret", "db"])
        .fails()
        .code(7);
    // Its first call takes the stack's lock.
    assert!(err.contains("the stack's lock"), "{err}");
}
