//! The data layers (ecr-up, secrets-up, cluster-up) on the microservices
//! reference stack: a re-run of each is a no-op that changes nothing, makes no
//! mutating call but the stack lock's, and costs a handful of calls (issue
//! "Speed at scale": discovery is batched per kind). The fault proxy's lane
//! counts every call a tool makes.

use serde_json::{json, Value};
use testkit::{change_lines, root, unique_stack, Emulator};

/// Calls a no-op re-run may make, per tool, measured (2026-12-03): each
/// includes the stack lock's 4 (common::lock). ecr-up: the registry listing,
/// then each of the 3 repositories' tags and lifecycle policy (ECR has no
/// batch for either). secrets-up: one ListSecrets. cluster-up: one call per
/// kind and setting (the cluster; the role, its managed and inline policies;
/// the key's alias, tags, policy and rotation, the keys tagged as it; the
/// stack's secrets; the account id).
const BOUNDS: [(&str, u64); 3] = [("ecr-up", 11), ("secrets-up", 5), ("cluster-up", 15)];

#[test]
fn a_no_op_rerun_of_each_data_layer_is_a_handful_of_calls() {
    let em = Emulator::shared();
    let stack = unique_stack("msdata");
    let text = std::fs::read_to_string(root().join("stacks/microservices.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["stack"] = json!(stack);
    doc["env"] = json!("dev");
    let region = doc["region"].as_str().unwrap().to_owned();
    for (tool, _) in BOUNDS {
        doc = em.up(tool, &doc);
    }
    let before = em.inventory(&region, &stack, "dev");

    for (tool, bound) in BOUNDS {
        let lane = em.lane();
        let run = lane.tool(tool).arg("-v").stdin(doc.to_string()).succeeds();
        let log = run.stderr();
        assert!(
            change_lines(tool, &log).is_empty(),
            "{tool}: a no-op:\n{log}"
        );
        assert_eq!(run.json(), doc, "{tool}: the same document");
        let state = lane.fault_state();
        let mutations: Vec<String> = state["mutation_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .filter(|m| !m.contains("/fargate-pipes/locks/"))
            .collect();
        assert!(mutations.is_empty(), "{tool}: {mutations:?}");
        let calls = state["calls"].as_u64().unwrap();
        eprintln!("{tool}: a no-op re-run of the microservices stack made {calls} calls");
        assert!(calls <= bound, "{tool}: {calls} calls, more than {bound}");
    }
    assert_eq!(em.inventory(&region, &stack, "dev"), before);

    em.tool("teardown")
        .arg("--force-delete-secrets")
        .stdin(doc.to_string())
        .succeeds();
    let left = em.inventory(&region, &stack, "dev");
    assert!(left.is_empty(), "{left:?}");
}
