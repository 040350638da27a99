//! The stack scripts overlap the layers (`up` in scripts/lib/stack.sh): net-up
//! --no-wait, ecr-up and secrets-up | cluster-up at once, then net-up again
//! (waiting for the NAT gateways and routing through them) beside alb-up |
//! svc-up | scale-up. Under the fault proxy's timing model, where a NAT gateway
//! stays pending, no ECS service may be created before the private subnets'
//! routes out, and the stack still comes up whole and converged.

use std::process::Stdio;
use std::time::Duration;

use testkit::{root, tools_dir, Emulator};

const REGION: &str = "eu-central-1";

#[test]
fn under_aws_like_waits_no_task_starts_before_the_route_out() {
    let em = Emulator::shared();
    let lane = em.lane();
    // NAT gateways pending 15 s: longer than round 2's alb-up and svc-up take
    // to reach their ECS services, so only svc-up's wait keeps them after the
    // routes. The ALB and namespace operations take 2 s.
    let timing = serde_json::json!({"nat": 15, "alb": 2, "namespace": 2});
    lane.set_faults(serde_json::json!({ "timing": timing }));
    let out = tempfile::tempdir().unwrap();
    let doc = out.path().join("ovl.json");
    let up = || {
        lane.shell("\"$ROOT/scripts/microservices.sh\"")
            .env("ROOT", root())
            .env("ENV", "ovl")
            .env("OUT", &doc)
            .env("BIN", tools_dir())
            .env("AWS_REGION", REGION)
            .env_remove("REGION")
    };
    up().succeeds();

    let log = lane.fault_state()["mutation_log"].clone();
    let log: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let first = |action: &str| log.iter().position(|m| m.starts_with(action));
    let last = |action: &str| log.iter().rposition(|m| m.starts_with(action));
    let (routes, services) = (last("ec2 CreateRoute"), first("ecs CreateService"));
    assert!(routes.is_some() && services.is_some(), "{log:?}");
    assert!(
        routes < services,
        "an ECS service was created before the last route out: {log:?}"
    );

    let inv = em.inventory(REGION, "microservices", "ovl");
    assert_eq!(inv.counts()["nat_gateway"], 2, "{:?}", inv.counts());
    assert_eq!(inv.counts()["ecs_service"], 3, "{:?}", inv.counts());
    // A second run finds everything in place and changes nothing.
    lane.set_faults(serde_json::json!({}));
    up().succeeds();
    assert_eq!(
        lane.mutations(),
        Vec::<String>::new(),
        "a converged stack's re-run"
    );
    assert_eq!(em.inventory(REGION, "microservices", "ovl"), inv);

    em.tool("teardown")
        .args(["--force-delete-secrets", "-q"])
        .stdin(std::fs::read(&doc).unwrap())
        .succeeds();
    let left = em.inventory(REGION, "microservices", "ovl");
    assert!(left.is_empty(), "left behind: {:?}", left.counts());
}

/// svc-up on a network whose NAT gateways are still pending (net-up --no-wait)
/// makes everything but its ECS services, and waits; once net-up has routed the
/// private subnets through the NAT gateways, it creates them.
#[test]
fn svc_up_starts_no_task_until_the_private_subnets_route_out() {
    let em = Emulator::shared();
    let lane = em.lane();
    // The NAT gateways pending for ten minutes; nothing else waits.
    let timing = serde_json::json!({"nat": 600, "alb": 0, "namespace": 0});
    lane.set_faults(serde_json::json!({ "timing": timing }));
    let dir = tempfile::tempdir().unwrap();
    let (base, out) = (dir.path().join("base.json"), dir.path().join("out.json"));
    let spec = root().join("stacks/microservices.json");
    lane.shell("net-up --no-wait --env gate < \"$SPEC\" | ecr-up | secrets-up | cluster-up | alb-up > \"$BASE\"")
        .env("SPEC", &spec)
        .env("BASE", &base)
        .env("AWS_REGION", REGION)
        .succeeds();

    let mut svc = lane
        .shell("svc-up < \"$BASE\" > \"$OUT\"")
        .env("BASE", &base)
        .env("OUT", &out)
        .env("AWS_REGION", REGION)
        .into_command()
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    assert!(svc.try_wait().unwrap().is_none(), "svc-up did not wait");
    let made = lane.mutations();
    assert!(
        made.iter()
            .any(|m| m.starts_with("ecs RegisterTaskDefinition")),
        "everything but the services is made meanwhile: {made:?}"
    );
    assert!(
        !made.iter().any(|m| m.starts_with("ecs CreateService")),
        "a service before the routes out: {made:?}"
    );

    // The NAT gateways become available (the timing model forgets them), and
    // net-up without --no-wait routes the private subnets through them.
    lane.set_faults(serde_json::json!({}));
    lane.tool("net-up")
        .stdin(std::fs::read(&base).unwrap())
        .env("AWS_REGION", REGION)
        .succeeds();
    let done = svc.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let log = lane.mutations();
    let last_route = log.iter().rposition(|m| m.starts_with("ec2 CreateRoute"));
    let first_service = log.iter().position(|m| m.starts_with("ecs CreateService"));
    assert!(
        last_route.is_some() && last_route < first_service,
        "routes first, then services: {log:?}"
    );

    em.tool("teardown")
        .args(["--force-delete-secrets", "-q"])
        .stdin(std::fs::read(&out).unwrap())
        .succeeds();
    let left = em.inventory(REGION, "microservices", "gate");
    assert!(left.is_empty(), "left behind: {:?}", left.counts());
}
