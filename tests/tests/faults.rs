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
