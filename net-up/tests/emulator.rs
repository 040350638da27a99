//! net-up against the emulator: what it creates, that a re-run creates nothing,
//! that changes converge in place, and that teardown leaves nothing.

use testkit::{counts, unique_stack, Emulator};

fn teardown_by_tag(em: &Emulator, stack: &str) {
    em.tool("teardown")
        .args(["-n", "--stack", stack, "--env", "dev"])
        .succeeds();
}

#[test]
fn three_azs_with_a_nat_per_az_then_teardown_through_a_pipe() {
    let em = Emulator::shared();
    let stack = unique_stack("net");
    // Up, count, then down: split around the count so the inventory sees the middle.
    let up = format!("net-up --stack {stack} --env dev --azs 3 --nat per-az -n");
    let doc = em.shell(&up).succeeds().json();
    assert_eq!(doc["network"]["azs"].as_array().unwrap().len(), 3);
    assert_eq!(doc["network"]["nat"], "per-az");

    let inv = em.inventory("us-east-1", &stack, "dev");
    assert_eq!(
        inv.counts(),
        counts(&[
            ("vpc", 1),
            // The flow logs' delivery role (flow logs are on by default).
            ("iam_role", 1),
            ("subnet", 6),
            ("internet_gateway", 1),
            ("nat_gateway", 3),
            ("elastic_ip", 3),
            ("route_table", 4),
        ])
    );
    // The document names exactly what exists.
    assert_eq!(
        doc["network"]["vpc_id"].as_str(),
        inv.ids["vpc"].first().map(String::as_str)
    );

    // The document from net-up, piped straight into teardown.
    let rest = em.shell(&format!("{up} | teardown")).succeeds().json();
    assert!(
        rest.get("network").is_none(),
        "teardown drops the layer it removed"
    );
    assert!(rest["spec"]["network"].is_object(), "and keeps the spec");
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn a_second_run_creates_nothing_and_teardown_by_tag_removes_the_first() {
    let em = Emulator::shared();
    let stack = unique_stack("rerun");
    let args = [
        "-n", "--stack", &stack, "--env", "dev", "--azs", "2", "--nat", "single", "-v",
    ];
    let first = em.tool("net-up").args(args).succeeds().json();
    let before = em.inventory("us-east-1", &stack, "dev");
    let second = em.tool("net-up").args(args).succeeds();
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev"),
        before,
        "same resources, same ids"
    );
    assert_eq!(first["network"], second.json()["network"]);
    let log = second.stderr();
    assert!(
        !log.contains("created"),
        "nothing created on the second run:\n{log}"
    );
    assert!(log.contains("nothing to do"), "{log}");

    teardown_by_tag(em, &stack);
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn the_document_passes_unknown_keys_through_and_records_the_spec() {
    let em = Emulator::shared();
    let stack = unique_stack("keys");
    let doc = format!(
        r#"{{"version":1,"stack":"{stack}","env":"dev","custom":{{"keep":[1,2,3]}},"spec":{{"network":{{"azs":1,"nat":"none"}},"discovery":{{}}}}}}"#
    );
    let out = em
        .tool("net-up")
        .args(["--cidr", "10.20.0.0/16"])
        .stdin(doc)
        .succeeds()
        .json();
    assert_eq!(out["custom"]["keep"], serde_json::json!([1, 2, 3]));
    // Other sections of the spec stay as they were (an unknown one is refused:
    // tests/tests/spec.rs).
    assert_eq!(out["spec"]["discovery"], serde_json::json!({}));
    assert_eq!(
        out["spec"]["network"]["cidr"], "10.20.0.0/16",
        "flags override and are recorded"
    );
    assert_eq!(out["region"], "us-east-1");
    assert_eq!(out["network"]["cidr"], "10.20.0.0/16");
    assert_eq!(out["network"]["nat_gateway_ids"], serde_json::json!([]));
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[
            ("vpc", 1),
            // The flow logs' delivery role (flow logs are on by default).
            ("iam_role", 1),
            ("subnet", 2),
            ("internet_gateway", 1),
            ("route_table", 2)
        ])
    );
    teardown_by_tag(em, &stack);
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn vpc_endpoints_get_their_group_and_go_away_with_the_network() {
    let em = Emulator::shared();
    let stack = unique_stack("vpce");
    let args = [
        "-n",
        "--stack",
        &stack,
        "--env",
        "dev",
        "--azs",
        "2",
        "--endpoints",
        "ecr.api,ecr.dkr,s3,logs,secretsmanager",
    ];
    let doc = em.tool("net-up").args(args).succeeds().json();
    let endpoints = doc["network"]["endpoints"].as_object().unwrap();
    assert_eq!(endpoints.len(), 5);
    assert!(doc["network"]["endpoint_security_group_id"].is_string());
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert_eq!(inv.counts()["vpc_endpoint"], 5);
    assert_eq!(inv.counts()["security_group"], 1);
    // Re-running adopts them.
    let again = em.tool("net-up").args(args).arg("-v").succeeds();
    assert_eq!(
        again.json()["network"]["endpoints"],
        doc["network"]["endpoints"]
    );
    let log = again.stderr();
    assert!(!log.contains("created"), "{log}");
    teardown_by_tag(em, &stack);
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn narrowing_nat_from_per_az_to_single_removes_the_extra_gateways() {
    let em = Emulator::shared();
    let stack = unique_stack("nat");
    let per_az = em
        .tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev", "--azs", "2"])
        .args(["--nat", "per-az"])
        .succeeds()
        .json();
    // Flags alone never prune; the document from the first run states the
    // network (its flags were recorded in spec.network), so this run may.
    let single = em
        .tool("net-up")
        .args(["--nat", "single"])
        .stdin(per_az.to_string())
        .succeeds()
        .json();
    assert_eq!(
        single["network"]["nat_gateway_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        single["network"]["nat_gateway_ids"][0], per_az["network"]["nat_gateway_ids"][0],
        "the first is kept"
    );
    assert_eq!(single["network"]["vpc_id"], per_az["network"]["vpc_id"]);
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert_eq!(inv.counts()["nat_gateway"], 1);
    assert_eq!(inv.counts()["elastic_ip"], 1);
    teardown_by_tag(em, &stack);
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn too_many_azs_for_the_region_fails_before_creating_anything() {
    let em = Emulator::shared();
    let stack = unique_stack("azs");
    // The emulator's eu-central-1 has three AZs.
    let err = em
        .tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .args(["--region", "eu-central-1", "--azs", "5"])
        .fails()
        .code(5);
    assert!(err.contains("eu-central-1"), "{err}");
    assert!(em.inventory("eu-central-1", &stack, "dev").is_empty());
}

#[test]
fn a_changed_vpc_cidr_is_refused_before_any_change() {
    let em = Emulator::shared();
    let stack = unique_stack("cidr");
    let args = [
        "-n", "--stack", &stack, "--env", "dev", "--azs", "1", "--nat", "none",
    ];
    em.tool("net-up").args(args).succeeds();
    let before = em.inventory("us-east-1", &stack, "dev");
    let err = em
        .tool("net-up")
        .args(args)
        .args(["--cidr", "10.9.0.0/16"])
        .fails()
        .code(5);
    assert!(err.contains("cannot change"), "{err}");
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), before);
    teardown_by_tag(em, &stack);
}
