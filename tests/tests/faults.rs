//! The tools against AWS's misbehaviour, injected by tests/faults.py in front of
//! the emulator: throttling, 5xx, NotFound right after a create, dependency errors
//! on delete, and a tool killed after its Nth mutating call.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::{json, unique_stack, Emulator};

const REGION: &str = "us-east-1";

fn net_up(em: &Emulator, stack: &str) -> Command {
    let mut cmd = em.std_tool("net-up");
    // A killed run leaves its lock; its process is gone, so the lock is stale.
    cmd.env("FP_BREAK_LOCK", "1");
    cmd.args([
        "-n",
        "--stack",
        stack,
        "--env",
        "dev",
        "--azs",
        "3",
        "--nat",
        "per-az",
        "--endpoints",
        "s3,logs",
    ]);
    cmd
}

fn run_ok(mut cmd: Command) -> serde_json::Value {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out.stdout)
}

fn teardown(em: &Emulator, stack: &str) {
    let mut cmd = em.std_tool("teardown");
    cmd.env("FP_BREAK_LOCK", "1");
    cmd.args(["-n", "--stack", stack, "--env", "dev"]);
    run_ok(cmd);
}

#[test]
fn throttling_5xx_and_eventual_consistency_on_the_way_up_dependency_errors_on_the_way_down() {
    let em = Emulator::with_faults();
    let stack = unique_stack("flaky");
    em.set_faults(
        json!({"seed": 7, "throttle": 0.2, "server_error": 0.05, "not_found_after_create": true}),
    );
    // Random (not rate-based) throttling is what the adaptive mode's rate limiter
    // cannot improve on; standard mode keeps the test short. Both retry the same answers.
    let mut cmd = net_up(&em, &stack);
    cmd.env("AWS_RETRY_MODE", "standard");
    let doc = run_ok(cmd);
    let state = em.fault_state();
    assert!(
        state["injected"]["throttle"].as_u64().unwrap() > 5,
        "{state}"
    );
    assert!(
        state["injected"]["not_found"].as_u64().unwrap() > 0,
        "{state}"
    );
    // The inventory reads through the same proxy: no faults for it.
    em.set_faults(json!({}));
    let inv = em.inventory(REGION, &stack, "dev");
    assert_eq!(inv.counts()["nat_gateway"], 3, "no duplicates: {inv:?}");
    assert_eq!(inv.counts()["subnet"], 6);
    assert_eq!(inv.counts()["vpc"], 1);
    assert_eq!(inv.counts()["elastic_ip"], 3);
    assert_eq!(inv.counts()["vpc_endpoint"], 2);

    em.set_faults(json!({"dependency": {
        "DeleteSubnet": 2, "DeleteSecurityGroup": 2, "DetachInternetGateway": 2,
        "DeleteInternetGateway": 2, "DeleteRouteTable": 2, "DeleteVpc": 2, "ReleaseAddress": 2
    }}));
    let mut cmd = em.std_tool("teardown");
    cmd.arg("-v").stdin(Stdio::piped());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), doc.to_string().as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(em.fault_state()["injected"]["dependency"].as_u64().unwrap() >= 2 * 12);
    em.set_faults(json!({}));
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}

/// Runs the command until the injector has let `n` mutating calls through, then kills it.
fn kill_after(em: &Emulator, n: u64, mut cmd: Command) {
    em.set_faults(json!({"hang_after_mutations": n}));
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if em.fault_state()["tripped"] == true {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break; // finished before the Nth mutating call
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the tool neither finished nor tripped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    em.set_faults(json!({}));
}

#[test]
fn killed_after_every_mutating_call_a_rerun_completes_and_teardown_cleans_up() {
    let em = Emulator::with_faults();

    // The uninterrupted run: its inventory and its number of mutating calls.
    let reference = unique_stack("ref");
    em.set_faults(json!({}));
    run_ok(net_up(&em, &reference));
    let calls = em.fault_state()["mutations"].as_u64().unwrap();
    let expected = em.inventory(REGION, &reference, "dev").counts();
    assert!(calls > 20, "net-up makes {calls} mutating calls");
    teardown(&em, &reference);

    for n in 1..calls {
        let stack = unique_stack("kill");
        kill_after(&em, n, net_up(&em, &stack));
        if n % 2 == 0 {
            // Resume: the same command finishes the job without a duplicate.
            run_ok(net_up(&em, &stack));
            assert_eq!(
                em.inventory(REGION, &stack, "dev").counts(),
                expected,
                "after a kill at call {n}"
            );
        }
        // Either way, teardown by tag alone leaves nothing.
        teardown(&em, &stack);
        assert!(
            em.inventory(REGION, &stack, "dev").is_empty(),
            "leftovers after a kill at call {n}"
        );
    }
}

/// The reference stack every platform test runs: stacks/microservices.json (seed
/// 000) through all seven tools, under a stack name of the test's own.
const STACK_REGION: &str = "eu-central-1";

/// The retry budget of the run under heavy throttling.
const THROTTLED_BUDGET: &str = "120";

fn pipeline_script(stack: &str) -> String {
    let spec = testkit::root().join("stacks/microservices.json");
    format!(
        "net-up --stack {stack} --env dev < {} | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up > out.json",
        spec.display()
    )
}

/// The whole pipeline in bash, in a process group of its own so a kill takes every tool.
fn pipeline(em: &Emulator, dir: &std::path::Path, stack: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let bin = testkit::tool_path("net-up").parent().unwrap().to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        &format!("set -euo pipefail; {}", pipeline_script(stack)),
    ])
    .current_dir(dir)
    .env(
        "PATH",
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    )
    .env("AWS_ENDPOINT_URL", &em.endpoint)
    .env("AWS_ACCESS_KEY_ID", "testing")
    .env("AWS_SECRET_ACCESS_KEY", "testing")
    .env("AWS_REGION", "us-east-1")
    .env("FP_RETRY_BUDGET_SECS", "20")
    // A killed run leaves its lock; its process is gone, so the lock is stale.
    .env("FP_BREAK_LOCK", "1")
    .env_remove("AWS_PROFILE")
    .process_group(0);
    cmd
}

fn teardown_all(em: &Emulator, stack: &str) {
    let mut cmd = em.std_tool("teardown");
    cmd.env("FP_BREAK_LOCK", "1");
    cmd.args([
        "-n",
        "--stack",
        stack,
        "--env",
        "dev",
        "--region",
        STACK_REGION,
        "--force-delete-secrets",
    ]);
    run_ok(cmd);
}

fn run_pipeline_ok(em: &Emulator, dir: &std::path::Path, stack: &str) {
    let out = pipeline(em, dir, stack).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_reference_stack_comes_up_throttled_and_tears_down_through_dependency_errors() {
    let em = Emulator::with_faults();
    let dir = tempfile::tempdir().unwrap();

    // The expected inventory: the same stack, undisturbed.
    let reference = unique_stack("tref");
    em.set_faults(json!({}));
    run_pipeline_ok(&em, dir.path(), &reference);
    let expected = em.inventory(STACK_REGION, &reference, "dev").counts();
    teardown_all(&em, &reference);

    let stack = unique_stack("throttled");
    em.set_faults(json!({"seed": 11, "throttle": 0.2}));
    // The tests' 20 s retry budget is for failing fast when nothing is injected:
    // with a fifth of all calls throttled, the SDK's own backoff (and its retry
    // quota running dry) eats into it. Real runs have 10 minutes.
    let out = pipeline(&em, dir.path(), &stack)
        .env("FP_RETRY_BUDGET_SECS", THROTTLED_BUDGET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = em.fault_state();
    let throttled = state["injected"]["throttle"].as_u64().unwrap();
    let calls = state["calls"].as_u64().unwrap();
    em.set_faults(json!({}));
    // About a fifth of every call, retries included, was refused.
    assert!(throttled > 20 && throttled * 8 > calls, "{state}");
    assert_eq!(
        em.inventory(STACK_REGION, &stack, "dev").counts(),
        expected,
        "no duplicates and nothing missing after {throttled} throttled calls"
    );

    // AWS refuses these deletes while a dependent is still going away.
    em.set_faults(json!({"dependency": {
        "DeleteSubnet": 2, "DeleteSecurityGroup": 2, "DeleteTargetGroup": 2,
        "DetachInternetGateway": 2, "DeleteInternetGateway": 2
    }}));
    let doc = std::fs::read_to_string(dir.path().join("out.json")).unwrap();
    let mut cmd = em.std_tool("teardown");
    cmd.arg("--force-delete-secrets")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), doc.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let state = em.fault_state();
    em.set_faults(json!({}));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every subnet, security group and target group delete, and the IGW's detach
    // and delete, was refused twice before it went through.
    let refused = state["injected"]["dependency"].as_u64().unwrap();
    let deletions = ["subnet", "security_group", "target_group"]
        .iter()
        .map(|k| expected.get(*k).copied().unwrap_or(0) as u64)
        .sum::<u64>()
        + 2; // the IGW's detach and delete
    assert!(
        refused >= 2 * deletions,
        "{refused} dependency errors for {deletions} deletions: {state}"
    );
    let left = em.inventory(STACK_REGION, &stack, "dev");
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_whole_platform_killed_at_a_spread_of_points_resumes_or_tears_down_cleanly() {
    let em = Emulator::with_faults();
    let dir = tempfile::tempdir().unwrap();

    let reference = unique_stack("pref");
    em.set_faults(json!({}));
    run_pipeline_ok(&em, dir.path(), &reference);
    let calls = em.fault_state()["mutations"].as_u64().unwrap();
    let expected = em.inventory(STACK_REGION, &reference, "dev").counts();
    for kind in [
        "load_balancer",
        "ecs_cluster",
        "ecs_service",
        "scalable_target",
    ] {
        assert!(expected.contains_key(kind), "{kind} in {expected:?}");
    }
    teardown_all(&em, &reference);

    // Fifty kill points spread evenly over every mutating call the platform
    // makes (all of them if it makes fewer): half are re-run to completion, half
    // torn down as the kill left them, so each path is tried at 25 points.
    let mut points: Vec<u64> = (0..50).map(|k| 1 + k * (calls - 1) / 50).collect();
    points.dedup();
    assert!(
        points.len() >= 50 || points.len() as u64 == calls - 1,
        "{calls} calls, {} points",
        points.len()
    );
    for (i, n) in points.into_iter().enumerate() {
        let stack = unique_stack("pkill");
        em.set_faults(json!({"hang_after_mutations": n}));
        let mut child = pipeline(&em, dir.path(), &stack)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while em.fault_state()["tripped"] != true && child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "neither finished nor tripped at {n}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // `--`: without it, kill reads "-PGID" as a signal name.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        em.set_faults(json!({}));
        if i % 2 == 0 {
            let out = pipeline(&em, dir.path(), &stack).output().unwrap();
            assert!(
                out.status.success(),
                "re-run after a kill at {n}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                em.inventory(STACK_REGION, &stack, "dev").counts(),
                expected,
                "after a kill at call {n}"
            );
        }
        teardown_all(&em, &stack);
        let left = em.inventory(STACK_REGION, &stack, "dev");
        assert!(
            left.is_empty(),
            "leftovers after a kill at call {n}: {left:?}"
        );
        eprintln!("kill at {n}/{calls}: ok after {:?}", start.elapsed());
    }
}
