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

/// A three-service stack through every layer that exists so far.
fn platform_spec(stack: &str) -> String {
    json!({
        "version": 1, "stack": stack, "env": "dev", "region": REGION,
        "spec": {
            "network": {"azs": 2, "nat": "single"},
            "secrets": {"db-credentials": {}, "api-keys": {}},
            "cluster": {"strategy": [{"provider": "FARGATE", "base": 1, "weight": 1}, {"provider": "FARGATE_SPOT", "weight": 4}]},
            "services": {
                "web": {"port": 3000, "route": {"paths": ["/*"], "default": true}},
                "api": {"port": 8080, "route": {"paths": ["/api/*"]}, "health_check": {"path": "/health"}},
                "worker": {}
            }
        }
    })
    .to_string()
}

const PIPELINE: &str =
    "net-up < spec.json | ecr-up | secrets-up | cluster-up | alb-up | svc-up > out.json";

/// The whole pipeline in bash, in a process group of its own so a kill takes every tool.
fn pipeline(em: &Emulator, dir: &std::path::Path) -> Command {
    use std::os::unix::process::CommandExt;
    let bin = testkit::tool_path("net-up").parent().unwrap().to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &format!("set -euo pipefail; {PIPELINE}")])
        .current_dir(dir)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("AWS_ENDPOINT_URL", &em.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("FP_RETRY_BUDGET_SECS", "20")
        .env_remove("AWS_PROFILE")
        .process_group(0);
    cmd
}

fn teardown_all(em: &Emulator, stack: &str) {
    let mut cmd = em.std_tool("teardown");
    cmd.args([
        "-n",
        "--stack",
        stack,
        "--env",
        "dev",
        "--force-delete-secrets",
    ]);
    run_ok(cmd);
}

#[test]
fn a_whole_platform_killed_at_a_spread_of_points_resumes_or_tears_down_cleanly() {
    let em = Emulator::with_faults();
    let dir = tempfile::tempdir().unwrap();

    let reference = unique_stack("pref");
    std::fs::write(dir.path().join("spec.json"), platform_spec(&reference)).unwrap();
    em.set_faults(json!({}));
    let out = pipeline(&em, dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = em.fault_state()["mutations"].as_u64().unwrap();
    let expected = em.inventory(REGION, &reference, "dev").counts();
    assert!(
        expected.contains_key("load_balancer") && expected.contains_key("ecs_cluster"),
        "{expected:?}"
    );
    teardown_all(&em, &reference);

    // At least 25 kill points spread over every mutating call the platform makes.
    let step = (calls / 25).max(1);
    let points: Vec<u64> = (1..calls).step_by(step as usize).collect();
    assert!(
        points.len() >= 25 || points.len() as u64 == calls - 1,
        "{calls} calls, {} points",
        points.len()
    );
    for (i, n) in points.into_iter().enumerate() {
        let stack = unique_stack("pkill");
        std::fs::write(dir.path().join("spec.json"), platform_spec(&stack)).unwrap();
        em.set_faults(json!({"hang_after_mutations": n}));
        let mut child = pipeline(&em, dir.path())
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
            let out = pipeline(&em, dir.path()).output().unwrap();
            assert!(
                out.status.success(),
                "re-run after a kill at {n}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                em.inventory(REGION, &stack, "dev").counts(),
                expected,
                "after a kill at call {n}"
            );
        }
        teardown_all(&em, &stack);
        let left = em.inventory(REGION, &stack, "dev");
        assert!(
            left.is_empty(),
            "leftovers after a kill at call {n}: {left:?}"
        );
        eprintln!("kill at {n}/{calls}: ok after {:?}", start.elapsed());
    }
}
