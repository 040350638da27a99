//! Whole pipelines against the emulator: the tools composed through a real shell
//! pipe, what the emulator holds afterwards, re-runs, and teardown.

use testkit::{unique_stack, Emulator};

const REGION: &str = "us-east-1";

fn spec(stack: &str) -> String {
    serde_json::json!({
        "version": 1,
        "stack": stack,
        "env": "dev",
        "tags": {"team": "platform"},
        "spec": {
            "network": {"azs": 2, "nat": "single"},
            "ecr": {"keep_images": 10},
            "secrets": {"db-credentials": {}, "api-keys": {}},
            "cluster": {"strategy": [
                {"provider": "FARGATE", "base": 1, "weight": 1},
                {"provider": "FARGATE_SPOT", "weight": 4}
            ]},
            "services": {"api": {"port": 8080}, "worker": {}, "scheduler": {}}
        }
    })
    .to_string()
}

#[test]
fn registries_secrets_and_cluster_through_one_pipe_then_teardown() {
    let em = Emulator::shared();
    let stack = unique_stack("pipe");
    let pipeline = "net-up | ecr-up | secrets-up | cluster-up -v";
    let doc = em.shell(pipeline).stdin(spec(&stack)).succeeds().json();

    let inv = em.inventory(REGION, &stack, "dev");
    let counts = inv.counts();
    assert_eq!(counts["ecr_repository"], 3, "{counts:?}");
    assert_eq!(counts["ecr_lifecycle_policy"], 3);
    assert_eq!(counts["secret"], 2);
    assert_eq!(counts["ecs_cluster"], 1);
    // cluster-up's role and net-up's flow logs' delivery role.
    assert_eq!(counts["iam_role"], 2);
    assert_eq!(counts["kms_key"], 1);
    assert_eq!(counts["vpc"], 1);

    // Outputs at short jq paths.
    assert!(doc["ecr"]["repositories"]["api"]["url"]
        .as_str()
        .unwrap()
        .contains(&format!("{stack}/dev/api")));
    assert_eq!(doc["secrets"]["db-credentials"]["has_value"], false);
    let strategy = &doc["cluster"]["default_strategy"];
    assert_eq!(strategy.as_array().unwrap().len(), 2, "{strategy}");
    assert_eq!(
        doc["cluster"]["capacity_providers"],
        serde_json::json!(["FARGATE", "FARGATE_SPOT"])
    );
    assert!(doc["cluster"]["log_kms_key_arn"].is_string());

    // A second run through the same pipe creates nothing and changes nothing.
    let again = em
        .shell("net-up -v | ecr-up -v | secrets-up -v | cluster-up -v")
        .stdin(spec(&stack))
        .succeeds();
    let log = again.stderr();
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "second run changed something:\n{log}"
    );
    assert_eq!(em.inventory(REGION, &stack, "dev"), inv);
    let doc2 = again.json();
    for section in ["network", "ecr", "secrets", "cluster"] {
        assert_eq!(doc[section], doc2[section], "{section} is stable");
    }

    // teardown takes the document straight from the pipe, and leaves nothing.
    let rest = em
        .shell("teardown --force-delete-secrets")
        .stdin(doc.to_string())
        .succeeds()
        .json();
    for section in ["network", "ecr", "secrets", "cluster"] {
        assert!(
            rest.get(section).is_none(),
            "{section} removed from the document"
        );
    }
    assert!(rest["spec"]["services"].is_object(), "the spec stays");
    let left = em.inventory(REGION, &stack, "dev");
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn each_layer_says_which_upstream_layer_is_missing() {
    let em = Emulator::shared();
    let stack = unique_stack("miss");
    let doc =
        serde_json::json!({"version": 1, "stack": stack, "env": "dev", "spec": {}}).to_string();
    // cluster-up works without secrets; alb-up needs the network.
    let err = em.shell("alb-up").stdin(doc).fails().status(6).stderr();
    assert!(err.contains("net-up"), "{err}");
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}
