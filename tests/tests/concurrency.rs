//! One run per stack and env at a time: two and three `make microservices` of
//! one env started together leave exactly one platform (every tool takes the
//! stack's lock, so the later runs adopt what the first built), a later run
//! changes nothing, and the stack comes down clean, lock included. A held lock
//! is refused by name with exit 11, and a stale one is broken only on request.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use testkit::{counts, root, tools_dir, unique_stack, Emulator, Tool};

const REGION: &str = "eu-central-1";

/// microservices (seed 000) as one uninterrupted run builds it.
const EXPECTED: &[(&str, usize)] = &[
    ("vpc", 1),
    ("subnet", 4),
    ("internet_gateway", 1),
    ("nat_gateway", 2),
    ("elastic_ip", 2),
    ("route_table", 3),
    ("security_group", 4),
    ("ecr_repository", 3),
    ("ecr_lifecycle_policy", 3),
    ("secret", 2),
    ("ecs_cluster", 1),
    ("iam_role", 5), // with net-up's flow logs role
    ("kms_key", 1),
    ("load_balancer", 1),
    ("listener", 1),
    ("listener_rule", 3),
    ("target_group", 3),
    ("ecs_service", 3),
    ("task_definition", 3),
    ("log_group", 3),
    ("scalable_target", 3),
    ("scaling_policy", 3),
];

/// `make TARGET ENV=env` with this build's tools, documents in `out`.
fn make(em: &Emulator, out: &Path, target: &str, env: &str) -> Tool {
    let mut make = em
        .program("make")
        .current_dir(root())
        .args(["--no-print-directory", target])
        .arg(format!("ENV={env}"))
        .arg(format!("BIN={}", tools_dir().display()))
        .arg(format!("OUT_DIR={}", out.display()))
        .env("AWS_REGION", REGION)
        .env("FP_RETRY_BUDGET_SECS", "30");
    for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "REGION"] {
        make = make.env_remove(var);
    }
    make
}

/// `runs` copies of the stack at once, each with its own output directory.
fn concurrent_runs_leave_one_platform(env: &str, runs: usize) {
    let em = Emulator::shared();
    let dirs: Vec<_> = (0..runs).map(|_| tempfile::tempdir().unwrap()).collect();
    let children: Vec<Child> = dirs
        .iter()
        .map(|d| {
            make(em, d.path(), "microservices", env)
                .into_command()
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("make starts")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("make runs");
        assert!(
            out.status.success(),
            "concurrent run {i} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let inv = em.inventory(REGION, "microservices", env);
    assert_eq!(
        inv.counts(),
        counts(EXPECTED),
        "{runs} runs at once, by kind"
    );

    // A later run converges: nothing new, nothing gone.
    make(em, dirs[0].path(), "microservices", env).succeeds();
    assert_eq!(em.inventory(REGION, "microservices", env), inv);

    make(em, dirs[0].path(), "microservices-down", env).succeeds();
    let left = em.inventory(REGION, "microservices", env);
    assert!(left.is_empty(), "left behind: {:?}", left.counts());
}

#[test]
fn two_runs_of_one_stack_at_once_leave_one_platform() {
    concurrent_runs_leave_one_platform("c2", 2);
}

#[test]
fn three_runs_of_one_stack_at_once_leave_one_platform() {
    concurrent_runs_leave_one_platform("c3", 3);
}

#[test]
fn a_held_lock_is_named_and_refused_and_never_broken_while_alive() {
    let em = Emulator::shared();
    let stack = unique_stack("locked");
    // Taken as a run takes it, and kept: held by this live test process.
    let session = em.session(&stack, "dev", "us-east-1");
    let ctx = session.context(&stack, "dev");
    let opts = common::lock::Options {
        wait: Duration::ZERO,
        break_stale: false,
    };
    std::mem::forget(
        session
            .block_on(common::lock::acquire(&ctx, "net-up", opts))
            .expect("the lock"),
    );
    for extra in [&[][..], &["--break-lock"][..]] {
        let err = em
            .tool("net-up")
            .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
            .args(["--lock-wait", "1", "-q"])
            .args(extra)
            .fails()
            .code(11);
        let holder = format!("{stack}/dev is locked by test pid {}", std::process::id());
        assert!(err.contains(&holder), "{err}");
        assert!(err.contains(" ago)"), "when it started: {err}");
    }
    // Nothing was built behind the lock.
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert!(
        inv.counts().keys().all(|k| k == "lock"),
        "{:?}",
        inv.counts()
    );
}

#[test]
fn a_lock_left_by_a_dead_process_is_broken_only_with_break_lock() {
    // A net-up killed while it holds the lock: its first mutating call (the
    // lock) goes through, its second hangs, and the process is killed.
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("stale");
    lane.set_faults(serde_json::json!({"hang_after_mutations": 1}));
    let mut child = lane
        .tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        lane.wait_tripped(&mut child, Duration::from_secs(30)),
        "net-up never got past its lock"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    lane.set_faults(serde_json::json!({}));

    let run = |extra: &[&str]| {
        em.tool("net-up")
            .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
            .args(["--lock-wait", "0"])
            .args(extra)
    };
    let err = run(&[]).fails().code(11);
    assert!(err.contains("re-run with --break-lock"), "{err}");
    run(&["--break-lock"]).succeeds();
    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
    let left = em.inventory("us-east-1", &stack, "dev");
    assert!(left.is_empty(), "{:?}", left.counts());
}

/// A re-run with nothing to change reads without the lock: it neither waits
/// for another run's lock nor takes one, so it makes no mutating call at all.
/// A run with a change still needs the lock, and exits 11 while it is held.
#[test]
fn a_no_op_rerun_takes_no_lock_and_a_change_still_does() {
    let em = Emulator::shared();
    let stack = unique_stack("nolock");
    let doc = em
        .tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
        .succeeds()
        .stdout();
    let session = em.session(&stack, "dev", "us-east-1");
    let ctx = session.context(&stack, "dev");
    let opts = common::lock::Options {
        wait: Duration::ZERO,
        break_stale: false,
    };
    let held = session
        .block_on(common::lock::acquire(&ctx, "net-up", opts))
        .expect("the lock");

    let lane = em.lane();
    lane.tool("net-up")
        .args(["--lock-wait", "0", "-q"])
        .stdin(&doc)
        .succeeds();
    let log = &lane.fault_state()["mutation_log"];
    assert_eq!(
        log,
        &serde_json::json!([]),
        "a no-op re-run changes nothing, the lock included"
    );
    let err = em
        .tool("net-up")
        .args(["--lock-wait", "0", "-q", "--tag", "team=pay"])
        .stdin(&doc)
        .fails()
        .code(11);
    assert!(err.contains("is locked by"), "{err}");

    session.block_on(held.release());
    em.tool("teardown").stdin(&doc).succeeds();
    let left = em.inventory("us-east-1", &stack, "dev");
    assert!(left.is_empty(), "{:?}", left.counts());
}
