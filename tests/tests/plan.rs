//! The whole pipeline planned, for every reference stack: on a fresh stack
//! `net-up --plan | … | scale-up --plan` lists the creates of all seven tools
//! and makes no mutating call (not even the lock's); the same pipeline without
//! `--plan` brings the stack up; planned again from its document, the plan is
//! empty; teardown leaves nothing.

use serde_json::Value;
use testkit::{parallel, root, unique_stack, Emulator};

const TOOLS: [&str; 7] = [
    "net-up",
    "ecr-up",
    "secrets-up",
    "cluster-up",
    "alb-up",
    "svc-up",
    "scale-up",
];

/// The README's pipeline from `input`, every tool with `flags`.
fn pipeline(input: &str, flags: &str) -> String {
    let rest: Vec<String> = TOOLS[1..].iter().map(|t| format!("{t} {flags}")).collect();
    format!("{} {flags} {input} | {}", TOOLS[0], rest.join(" | "))
}

fn plan_of(doc: &Value) -> Vec<Value> {
    doc["plan"].as_array().cloned().unwrap_or_default()
}

fn plan_apply_and_plan_again(stack: &str) {
    let em = Emulator::shared();
    let lane = em.lane();
    let env = unique_stack("pl");
    let spec = root().join(format!("stacks/{stack}.json"));
    let fresh = format!("--env {env} < {}", spec.display());

    let planned = lane.shell(&pipeline(&fresh, "--plan")).succeeds().json();
    let state = lane.fault_state();
    assert_eq!(
        state["mutations"], 0,
        "{stack}: a plan changes nothing: {state}"
    );
    let plan = plan_of(&planned);
    for tool in TOOLS {
        assert!(
            plan.iter()
                .any(|c| c["tool"] == tool && c["action"] == "create"),
            "{stack}: {tool} plans its creates: {plan:#?}"
        );
    }
    // Creates, and the one update a new VPC needs: AWS makes its default
    // security group with rules, and the baseline (EC2.2) strips them.
    assert!(
        plan.iter().all(|c| c["action"] == "create"
            || c["kind"] == "security group"
                && c["action"] == "update"
                && c["name"].as_str().is_some_and(|n| n.ends_with(" default"))),
        "{stack}: a fresh stack only creates: {plan:#?}"
    );

    let applied = lane.shell(&pipeline(&fresh, "")).succeeds().json();
    assert!(
        plan_of(&applied).is_empty(),
        "{stack}: an apply plans nothing"
    );
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.json");
    std::fs::write(&doc, applied.to_string()).unwrap();
    let again = lane
        .shell(&pipeline(&format!("< {}", doc.display()), "--plan"))
        .succeeds()
        .json();
    assert_eq!(
        plan_of(&again),
        Vec::<Value>::new(),
        "{stack}: an up-to-date stack plans nothing"
    );

    let confirm = format!("{stack}/{env}");
    lane.tool("teardown")
        .args(["--force-delete-secrets", "--confirm", &confirm])
        .stdin(applied.to_string())
        .succeeds();
    let region = applied["region"].as_str().unwrap();
    let left = em.inventory(region, stack, &env);
    assert!(left.is_empty(), "{stack}: teardown left {left:?}");
}

#[test]
fn every_reference_stack_plans_its_creates_without_a_change_then_an_empty_plan_once_up() {
    let stacks = [
        "microservices",
        "trading",
        "payment-migration",
        "payment-processing",
        "ohi",
    ];
    parallel(&stacks, 2, |stack| plan_apply_and_plan_again(stack));
}
