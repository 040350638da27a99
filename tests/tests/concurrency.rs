//! One run per stack and env at a time: two and three `make microservices` of
//! one env started together leave exactly one platform (every tool takes the
//! stack's lock, so the later runs adopt what the first built), a later run
//! changes nothing, and the stack comes down clean, lock included. A held lock
//! is refused by name with exit 11, and a stale one is broken only on request.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use testkit::{counts, root, tool_path, Emulator};

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
    ("iam_role", 4),
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
fn make(em: &Emulator, out: &Path, target: &str, env: &str) -> Command {
    let bin = tool_path("net-up")
        .parent()
        .expect("tools dir")
        .to_path_buf();
    let mut cmd = Command::new("make");
    cmd.current_dir(root())
        .args(["--no-print-directory", target])
        .arg(format!("ENV={env}"))
        .arg(format!("BIN={}", bin.display()))
        .arg(format!("OUT_DIR={}", out.display()));
    for var in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "REGION",
        "AWS_PROFILE",
        "FP_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ENDPOINT_URL", &em.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("FP_RETRY_BUDGET_SECS", "30");
    cmd
}

fn wait_ok(child: Child, what: &str) {
    let out = child.wait_with_output().expect("make runs");
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `runs` copies of the stack at once, each with its own output directory.
fn concurrent_runs_leave_one_platform(env: &str, runs: usize) {
    let em = Emulator::shared();
    let dirs: Vec<_> = (0..runs).map(|_| tempfile::tempdir().unwrap()).collect();
    let children: Vec<Child> = dirs
        .iter()
        .map(|d| {
            make(em, d.path(), "microservices", env)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("make starts")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        wait_ok(child, &format!("concurrent run {i}"));
    }
    let inv = em.inventory(REGION, "microservices", env);
    assert_eq!(
        inv.counts(),
        counts(EXPECTED),
        "{runs} runs at once, by kind"
    );

    // A later run converges: nothing new, nothing gone.
    wait_ok(
        make(em, dirs[0].path(), "microservices", env)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        "the re-run",
    );
    assert_eq!(em.inventory(REGION, "microservices", env), inv);

    wait_ok(
        make(em, dirs[0].path(), "microservices-down", env)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        "make microservices-down",
    );
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

/// Takes the lock as a run would and leaves it there, as a killed run does.
fn hold_lock(em: &Emulator, stack: &str, env: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = em.context(stack, env, "us-east-1").await;
        let opts = common::lock::Options {
            wait: std::time::Duration::ZERO,
            break_stale: false,
        };
        // Dropped without release: the lock stays, held by this live process.
        std::mem::forget(common::lock::acquire(&ctx, opts).await.expect("the lock"));
    });
}

#[test]
fn a_held_lock_is_named_and_refused_and_never_broken_while_alive() {
    let em = Emulator::shared();
    let stack = testkit::unique_stack("locked");
    hold_lock(em, &stack, "dev");
    for extra in [&[][..], &["--break-lock"][..]] {
        let out = em
            .tool("net-up")
            .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
            .args(["--lock-wait", "1"])
            .args(extra)
            .output()
            .unwrap();
        let err = testkit::assert_one_line_error(&out, "net-up", 11);
        assert!(
            err.contains(&format!(
                "{stack}/dev is locked by test pid {}",
                std::process::id()
            )),
            "{err}"
        );
        assert!(err.contains(" ago)"), "when it started: {err}");
    }
    // Nothing was built behind the lock.
    assert!(em
        .inventory("us-east-1", &stack, "dev")
        .counts()
        .keys()
        .all(|k| k == "lock"));
}

#[test]
fn a_lock_left_by_a_dead_process_is_broken_only_with_break_lock() {
    // A net-up killed while it holds the lock: its first mutating call (the
    // lock) goes through, its second hangs, and the process is killed.
    let em = Emulator::with_faults();
    let stack = testkit::unique_stack("stale");
    em.set_faults(serde_json::json!({"hang_after_mutations": 1}));
    let mut child = em
        .std_tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while em.fault_state()["tripped"] != true {
        assert!(
            start.elapsed().as_secs() < 30,
            "net-up never got past its lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    em.set_faults(serde_json::json!({}));

    let run = |extra: &[&str]| {
        em.tool("net-up")
            .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
            .args(["--lock-wait", "0"])
            .args(extra)
            .output()
            .unwrap()
    };
    let err = testkit::assert_one_line_error(&run(&[]), "net-up", 11);
    assert!(err.contains("re-run with --break-lock"), "{err}");
    let out = run(&["--break-lock"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let down = em
        .tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}
