//! The tools against AWS's misbehaviour, injected by tests/faults.py in front of
//! the emulator: throttling, 5xx, NotFound right after a create, dependency errors
//! on delete, and a tool killed after its Nth mutating call.
//!
//! Each test, and each kill point, injects its faults in a lane of its own (see
//! `testkit::Lane`): only its own tools' calls see them, so kill points run in
//! parallel on the binary's one emulator, each on a stack name of its own.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::{parallel, unique_stack, Emulator, Lane, Tool};

const REGION: &str = "us-east-1";

/// Kill points checked at once. The machine's cores are what bounds them: the
/// tools and the emulator take turns on a call, so one pipeline keeps about one
/// core busy.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// How long a tool may run before it either trips the lane or finishes.
const TRIP_WAIT: Duration = Duration::from_secs(60);

fn net_up(lane: &Lane, stack: &str) -> Tool {
    // A killed run leaves its lock, held by a process that is gone: stale.
    lane.tool("net-up")
        .env("FP_BREAK_LOCK", "1")
        .args(["-n", "--stack", stack, "--env", "dev"])
        .args(["--azs", "3", "--nat", "per-az", "--endpoints", "s3,logs"])
}

fn teardown(em: &Emulator, stack: &str) {
    em.tool("teardown")
        .env("FP_BREAK_LOCK", "1")
        .args(["-n", "--stack", stack, "--env", "dev"])
        .succeeds();
}

#[test]
fn throttling_5xx_and_eventual_consistency_on_the_way_up_dependency_errors_on_the_way_down() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("flaky");
    lane.set_faults(
        json!({"seed": 7, "throttle": 0.2, "server_error": 0.05, "not_found_after_create": true}),
    );
    // Random (not rate-based) throttling is what the adaptive mode's rate limiter
    // cannot improve on; standard mode keeps the test short. Both retry the same answers.
    let doc = net_up(&lane, &stack)
        .env("AWS_RETRY_MODE", "standard")
        .succeeds()
        .json();
    let state = lane.fault_state();
    assert!(
        state["injected"]["throttle"].as_u64().unwrap() > 5,
        "{state}"
    );
    assert!(
        state["injected"]["not_found"].as_u64().unwrap() > 0,
        "{state}"
    );
    // The inventory's calls are outside the lane: no faults for them.
    let inv = em.inventory(REGION, &stack, "dev");
    assert_eq!(inv.counts()["nat_gateway"], 3, "no duplicates: {inv:?}");
    assert_eq!(inv.counts()["subnet"], 6);
    assert_eq!(inv.counts()["vpc"], 1);
    assert_eq!(inv.counts()["elastic_ip"], 3);
    assert_eq!(inv.counts()["vpc_endpoint"], 2);

    lane.set_faults(json!({"dependency": {
        "DeleteSubnet": 2, "DeleteSecurityGroup": 2, "DetachInternetGateway": 2,
        "DeleteInternetGateway": 2, "DeleteRouteTable": 2, "DeleteVpc": 2, "ReleaseAddress": 2
    }}));
    lane.tool("teardown")
        .arg("-v")
        .stdin(doc.to_string())
        .succeeds();
    assert!(
        lane.fault_state()["injected"]["dependency"]
            .as_u64()
            .unwrap()
            >= 2 * 12
    );
    lane.set_faults(json!({}));
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}

/// Runs `cmd` until its lane has let `n` mutating calls through, then kills
/// its process group (the command is spawned as the leader of a group of its
/// own, so a pipeline goes with its shell).
fn kill_after(lane: &Lane, n: u64, mut cmd: Command) {
    lane.set_faults(json!({"hang_after_mutations": n}));
    let mut child = cmd
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tool starts");
    // Tripped, or finished before the Nth mutating call: either way it stops here.
    lane.wait_tripped(&mut child, TRIP_WAIT);
    // `--`: without it, kill reads "-PGID" as a signal name.
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
    lane.set_faults(json!({}));
}

#[test]
fn killed_after_every_mutating_call_a_rerun_completes_and_teardown_cleans_up() {
    let em = Emulator::shared();

    // The uninterrupted run: its inventory and its number of mutating calls.
    let reference = unique_stack("ref");
    let lane = em.lane();
    net_up(&lane, &reference).succeeds();
    let calls = lane.fault_state()["mutations"].as_u64().unwrap();
    let expected = em.inventory(REGION, &reference, "dev").counts();
    assert!(calls > 20, "net-up makes {calls} mutating calls");
    teardown(em, &reference);

    let points: Vec<u64> = (1..calls).collect();
    parallel(&points, workers(), |&n| {
        let lane = em.lane();
        let stack = unique_stack("kill");
        kill_after(&lane, n, net_up(&lane, &stack).into_command());
        if n % 2 == 0 {
            // Resume: the same command finishes the job without a duplicate.
            net_up(&lane, &stack).succeeds();
            assert_eq!(
                em.inventory(REGION, &stack, "dev").counts(),
                expected,
                "after a kill at call {n}"
            );
        }
        // Either way, teardown by tag alone leaves nothing.
        teardown(em, &stack);
        assert!(
            em.inventory(REGION, &stack, "dev").is_empty(),
            "leftovers after a kill at call {n}"
        );
    });
}

/// The reference stack every platform test runs: stacks/microservices.json (seed
/// 000) through all seven tools, under a stack name of the test's own.
const STACK_REGION: &str = "eu-central-1";

/// The retry budget of the run under heavy throttling.
const THROTTLED_BUDGET: &str = "120";

/// The whole pipeline in bash, in `dir` (where it writes out.json).
fn pipeline(lane: &Lane, dir: &Path, stack: &str) -> Tool {
    let spec = testkit::root().join("stacks/microservices.json");
    let script = format!(
        "net-up --stack {stack} --env dev < {} | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up > out.json",
        spec.display()
    );
    // A killed run leaves its lock, held by a process that is gone: stale.
    lane.shell(&script)
        .current_dir(dir)
        .env("FP_BREAK_LOCK", "1")
}

fn teardown_all(em: &Emulator, stack: &str) {
    em.tool("teardown")
        .env("FP_BREAK_LOCK", "1")
        .args(["-n", "--stack", stack, "--env", "dev"])
        .args(["--region", STACK_REGION, "--force-delete-secrets"])
        .succeeds();
}

/// The undisturbed platform, run once for the tests that compare with it.
struct Reference {
    /// Its mutating calls.
    calls: u64,
    /// What it leaves in the emulator, by kind.
    expected: BTreeMap<String, usize>,
}

fn reference(em: &Emulator) -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let stack = unique_stack("pref");
        let lane = em.lane();
        pipeline(&lane, dir.path(), &stack).succeeds();
        let calls = lane.fault_state()["mutations"].as_u64().unwrap();
        let expected = em.inventory(STACK_REGION, &stack, "dev").counts();
        teardown_all(em, &stack);
        Reference { calls, expected }
    })
}

#[test]
fn a_reference_stack_comes_up_throttled_and_tears_down_through_dependency_errors() {
    let em = Emulator::shared();
    let dir = tempfile::tempdir().unwrap();
    let expected = &reference(em).expected;

    let stack = unique_stack("throttled");
    let lane = em.lane();
    lane.set_faults(json!({"seed": 11, "throttle": 0.2}));
    // The tests' 20 s retry budget is for failing fast when nothing is injected:
    // with a fifth of all calls throttled, the SDK's own backoff (and its retry
    // quota running dry) eats into it. Real runs have 10 minutes.
    // Standard retry mode, as in the network test above: against random
    // throttling, adaptive mode's client-side rate limiter only slows every
    // tool down (the same run takes minutes instead of seconds), and both
    // modes retry the same answers.
    pipeline(&lane, dir.path(), &stack)
        .env("FP_RETRY_BUDGET_SECS", THROTTLED_BUDGET)
        .env("AWS_RETRY_MODE", "standard")
        .succeeds();
    let state = lane.fault_state();
    let throttled = state["injected"]["throttle"].as_u64().unwrap();
    let calls = state["calls"].as_u64().unwrap();
    lane.set_faults(json!({}));
    // About a fifth of every call, retries included, was refused.
    assert!(throttled > 20 && throttled * 8 > calls, "{state}");
    assert_eq!(
        &em.inventory(STACK_REGION, &stack, "dev").counts(),
        expected,
        "no duplicates and nothing missing after {throttled} throttled calls"
    );

    // AWS refuses these deletes while a dependent is still going away.
    lane.set_faults(json!({"dependency": {
        "DeleteSubnet": 2, "DeleteSecurityGroup": 2, "DeleteTargetGroup": 2,
        "DetachInternetGateway": 2, "DeleteInternetGateway": 2
    }}));
    let doc = std::fs::read_to_string(dir.path().join("out.json")).unwrap();
    let out = lane
        .tool("teardown")
        .arg("--force-delete-secrets")
        .stdin(doc)
        .run();
    let state = lane.fault_state();
    lane.set_faults(json!({}));
    assert_eq!(out.status(), Some(0), "{}", out.stderr());
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
    let em = Emulator::shared();
    let Reference { calls, expected } = reference(em);
    let calls = *calls;
    for kind in [
        "load_balancer",
        "ecs_cluster",
        "ecs_service",
        "scalable_target",
    ] {
        assert!(expected.contains_key(kind), "{kind} in {expected:?}");
    }

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
    let points: Vec<(usize, u64)> = points.into_iter().enumerate().collect();
    parallel(&points, workers(), |&(i, n)| {
        let start = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let stack = unique_stack("pkill");
        let lane = em.lane();
        kill_after(&lane, n, pipeline(&lane, dir.path(), &stack).into_command());
        if i % 2 == 0 {
            let out = pipeline(&lane, dir.path(), &stack).run();
            assert_eq!(
                out.status(),
                Some(0),
                "re-run after a kill at {n}: {}",
                out.stderr()
            );
            assert_eq!(
                &em.inventory(STACK_REGION, &stack, "dev").counts(),
                expected,
                "after a kill at call {n}"
            );
        }
        teardown_all(em, &stack);
        let left = em.inventory(STACK_REGION, &stack, "dev");
        assert!(
            left.is_empty(),
            "leftovers after a kill at call {n}: {left:?}"
        );
        eprintln!("kill at {n}/{calls}: ok after {:?}", start.elapsed());
    });
}
