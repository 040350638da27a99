//! teardown's command line and its safety: bad input is refused before any call,
//! --dry-run changes nothing, and another stack is never touched.

use testkit::{assert_one_line_error, json, offline_tool, unique_stack, Emulator};

#[test]
fn help_and_version() {
    let out = offline_tool("teardown").arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--dry-run")
            && help.contains("Exit codes")
            && help.contains("9  teardown left"),
        "{help}"
    );
    assert!(offline_tool("teardown")
        .arg("--version")
        .output()
        .unwrap()
        .status
        .success());
}

#[test]
fn bad_input_is_refused_before_any_call() {
    let out = offline_tool("teardown")
        .args(["--everything"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "teardown", 2);
    let out = offline_tool("teardown")
        .args(["-n", "--env", "dev"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "teardown", 2);
    let out = offline_tool("teardown").write_stdin("").output().unwrap();
    assert_one_line_error(&out, "teardown", 3);
    let out = offline_tool("teardown")
        .write_stdin("not json")
        .output()
        .unwrap();
    assert_one_line_error(&out, "teardown", 3);
    let out = offline_tool("teardown")
        .write_stdin(r#"{"version":2,"stack":"a","env":"dev"}"#)
        .output()
        .unwrap();
    assert_one_line_error(&out, "teardown", 4);
    let out = offline_tool("teardown")
        .write_stdin(r#"{"version":1,"stack":"a","env":"dev","network":{"vpc_id":5}}"#)
        .output()
        .unwrap();
    assert_one_line_error(&out, "teardown", 3);
}

#[test]
fn dry_run_lists_the_plan_in_order_and_changes_nothing() {
    let em = Emulator::shared();
    let stack = unique_stack("dry");
    let out = em
        .tool("net-up")
        .args([
            "-n", "--stack", &stack, "--env", "dev", "--azs", "2", "--nat", "single",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let before = em.inventory("us-east-1", &stack, "dev");

    let out = em
        .tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = json(&out.stdout)["plan"].as_array().unwrap().clone();
    let kinds: Vec<&str> = plan.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    let first = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
    assert!(first("nat gateway") < first("elastic ip"));
    assert!(first("elastic ip") < first("internet gateway"));
    assert!(first("subnet") < first("vpc"));
    assert_eq!(plan.len(), before.counts().values().sum::<usize>());
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev"),
        before,
        "dry run changed nothing"
    );

    let out = em
        .tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn tearing_down_one_stack_or_env_leaves_the_others_alone() {
    let em = Emulator::shared();
    let a = unique_stack("keep");
    let b = unique_stack("gone");
    for (stack, env) in [(&a, "dev"), (&b, "dev"), (&b, "prod")] {
        let out = em
            .tool("net-up")
            .args([
                "-n", "--stack", stack, "--env", env, "--azs", "2", "--nat", "per-az",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let keep_a = em.inventory("us-east-1", &a, "dev");
    let keep_b_prod = em.inventory("us-east-1", &b, "prod");

    let out = em
        .tool("teardown")
        .args(["-n", "--stack", &b, "--env", "dev"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(em.inventory("us-east-1", &b, "dev").is_empty());
    assert_eq!(em.inventory("us-east-1", &a, "dev"), keep_a);
    assert_eq!(em.inventory("us-east-1", &b, "prod"), keep_b_prod);

    for (stack, env) in [(&a, "dev"), (&b, "prod")] {
        let out = em
            .tool("teardown")
            .args(["-n", "--stack", stack, "--env", env])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(em.inventory("us-east-1", stack, env).is_empty());
    }
}

#[test]
fn tearing_down_an_empty_stack_is_a_no_op() {
    let em = Emulator::shared();
    let out = em
        .tool("teardown")
        .args(["-n", "--stack", &unique_stack("none"), "--env", "dev"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
