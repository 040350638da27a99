//! teardown's command line and its safety: bad input is refused before any call,
//! --dry-run changes nothing, and another stack is never touched.

use testkit::{offline, unique_stack, Emulator};

#[test]
fn help_and_version() {
    let help = offline!().arg("--help").succeeds().stdout();
    assert!(
        help.contains("--dry-run")
            && help.contains("Exit codes")
            && help.contains("9  teardown left"),
        "{help}"
    );
    offline!().arg("--version").succeeds();
}

#[test]
fn bad_input_is_refused_before_any_call() {
    offline!().args(["--everything"]).fails().code(2);
    offline!().args(["-n", "--env", "dev"]).fails().code(2);
    offline!().stdin("").fails().code(3);
    offline!().stdin("not json").fails().code(3);
    offline!()
        .stdin(r#"{"version":2,"stack":"a","env":"dev"}"#)
        .fails()
        .code(4);
    offline!()
        .stdin(r#"{"version":1,"stack":"a","env":"dev","network":{"vpc_id":5}}"#)
        .fails()
        .code(3);
}

/// `teardown -n --stack STACK --env ENV`, which must succeed.
fn teardown_by_tag(em: &Emulator, stack: &str, env: &str) {
    // prod is protected by default: its teardown names it.
    em.tool("teardown")
        .args(["-n", "--stack", stack, "--env", env])
        .args(["--confirm", &format!("{stack}/{env}")])
        .succeeds();
}

#[test]
fn a_protected_env_goes_only_when_confirmed_by_name() {
    let em = Emulator::shared();
    let stack = unique_stack("prot");
    em.network(&stack, "prod");
    let before = em.inventory("us-east-1", &stack, "prod");
    assert!(!before.is_empty());
    for confirm in [
        None,
        Some(format!("{stack}/dev")),
        Some("other/prod".to_owned()),
    ] {
        let mut run = em
            .tool("teardown")
            .args(["-n", "--stack", &stack, "--env", "prod"]);
        if let Some(c) = &confirm {
            run = run.args(["--confirm", c]);
        }
        let err = run.fails().code(5);
        assert!(err.contains(&format!("--confirm {stack}/prod")), "{err}");
        assert_eq!(
            em.inventory("us-east-1", &stack, "prod"),
            before,
            "nothing deleted"
        );
    }
    // A plan needs no confirmation: it deletes nothing.
    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "prod", "--plan"])
        .succeeds();
    teardown_by_tag(em, &stack, "prod");
    assert!(em.inventory("us-east-1", &stack, "prod").is_empty());
}

#[test]
fn a_teardown_that_finds_nothing_says_where_it_looked() {
    let em = Emulator::shared();
    let stack = unique_stack("shpo");
    let run = em
        .tool("teardown")
        .args([
            "-n",
            "--stack",
            &stack,
            "--env",
            "dev",
            "--region",
            "eu-west-1",
        ])
        .succeeds();
    let err = run.stderr();
    assert!(
        err.contains(&format!("found nothing of {stack}/dev in eu-west-1")),
        "{err}"
    );
}

#[test]
fn dry_run_lists_the_plan_in_order_and_changes_nothing() {
    let em = Emulator::shared();
    let stack = unique_stack("dry");
    em.tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .args(["--azs", "2", "--nat", "single"])
        .succeeds();
    let before = em.inventory("us-east-1", &stack, "dev");

    let out = em
        .tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev", "--dry-run"])
        .succeeds();
    let plan = out.json()["plan"].as_array().unwrap().clone();
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

    teardown_by_tag(em, &stack, "dev");
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn tearing_down_one_stack_or_env_leaves_the_others_alone() {
    let em = Emulator::shared();
    let a = unique_stack("keep");
    let b = unique_stack("gone");
    for (stack, env) in [(&a, "dev"), (&b, "dev"), (&b, "prod")] {
        em.tool("net-up")
            .args(["-n", "--stack", stack, "--env", env])
            .args(["--azs", "2", "--nat", "per-az"])
            .succeeds();
    }
    let keep_a = em.inventory("us-east-1", &a, "dev");
    let keep_b_prod = em.inventory("us-east-1", &b, "prod");

    teardown_by_tag(em, &b, "dev");
    assert!(em.inventory("us-east-1", &b, "dev").is_empty());
    assert_eq!(em.inventory("us-east-1", &a, "dev"), keep_a);
    assert_eq!(em.inventory("us-east-1", &b, "prod"), keep_b_prod);

    for (stack, env) in [(&a, "dev"), (&b, "prod")] {
        teardown_by_tag(em, stack, env);
        assert!(em.inventory("us-east-1", stack, env).is_empty());
    }
}

#[test]
fn tearing_down_an_empty_stack_is_a_no_op() {
    let em = Emulator::shared();
    teardown_by_tag(em, &unique_stack("none"), "dev");
}
