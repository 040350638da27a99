//! svc-up's convergence against the emulator, through the fault proxy's lane
//! (its call counter and mutation log): `--plan` on a fresh layer lists every
//! create and changes nothing; a re-run makes no mutating call but the lock's;
//! adding and removing `discovery` on a running service attaches and detaches
//! its Cloud Map registry with exactly one service update; a service dropped
//! from an explicit spec is pruned (its log group kept), and an empty spec
//! prunes nothing; a document moved to another env is refused with no change.

use serde_json::{json, Value};
use testkit::{unique_stack, Emulator, Lane};

/// net-up | cluster-up | alb-up for two services: a routed `web` and a plain `worker`.
fn platform(em: &Emulator, stack: &str) -> Value {
    let mut doc = em.network(stack, "dev");
    doc["spec"]["services"] = json!({
        "web": {"port": 3000, "image": "nginx:alpine", "route": {"default": true}},
        "worker": {"port": 9000, "image": "nginx:alpine"}
    });
    let doc = em.up("cluster-up", &doc);
    em.up("alb-up", &doc)
}

/// The applied change lines of a `-v` run (`svc-up: <Change::line()>`).
fn change_lines(stderr: &str) -> Vec<String> {
    testkit::change_lines("svc-up", stderr)
}

/// svc-up -v on the lane; its document and its change lines.
fn run(lane: &Lane<'_>, doc: &Value) -> (Value, Vec<String>) {
    lane.set_faults(json!({}));
    let r = lane
        .tool("svc-up")
        .arg("-v")
        .stdin(doc.to_string())
        .succeeds();
    (r.json(), change_lines(&r.stderr()))
}

fn registries(em: &Emulator, doc: &Value, service: &str) -> Vec<String> {
    let s = em.session("probe", "dev", "us-east-1");
    let ecs = aws_sdk_ecs::Client::new(s.sdk());
    let out = s
        .block_on(
            ecs.describe_services()
                .cluster(doc["cluster"]["name"].as_str().unwrap())
                .services(doc["services"][service]["service_name"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    out.services()[0]
        .service_registries()
        .iter()
        .filter_map(|r| r.registry_arn().map(str::to_owned))
        .collect()
}

#[test]
fn svc_plan_apply_rerun_attach_detach_prune() {
    let em = Emulator::shared();
    let stack = unique_stack("svcc");
    let doc = platform(em, &stack);
    let lane = em.lane();

    // --plan on a fresh layer: every create, no mutating call at all.
    let planned = lane
        .tool("svc-up")
        .arg("--plan")
        .stdin(doc.to_string())
        .succeeds()
        .json();
    let entries = planned["plan"].as_array().cloned().unwrap_or_default();
    assert!(
        entries.iter().all(|c| c["action"] == "create"),
        "{entries:#?}"
    );
    for kind in [
        "log group",
        "iam role",
        "security group",
        "task definition",
        "ecs service",
    ] {
        assert_eq!(
            entries.iter().filter(|c| c["kind"] == kind).count(),
            2,
            "{kind}: {entries:#?}"
        );
    }
    assert!(
        lane.fault_state()["mutation_log"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{}",
        lane.fault_state()
    );

    // Apply: the applied changes are the plan's entries.
    let (out, lines) = run(&lane, &doc);
    let mut planned_lines: Vec<String> = entries
        .iter()
        .map(|c| {
            let c: common::plan::Change = serde_json::from_value(c.clone()).unwrap();
            c.line()
        })
        .collect();
    let mut applied = lines.clone();
    planned_lines.sort();
    applied.sort();
    assert_eq!(applied, planned_lines);

    // A re-run: no change, no mutating call but the lock's; --plan is empty.
    let (again, lines) = run(&lane, &out);
    assert!(lines.is_empty(), "{lines:#?}");
    assert!(lane.mutations().is_empty(), "{:?}", lane.mutations());
    let calls = lane.fault_state()["calls"].as_u64().unwrap();
    eprintln!("svc-up no-op re-run: {calls} AWS calls");
    assert_eq!(again["services"], out["services"]);
    let p = lane
        .tool("svc-up")
        .arg("--plan")
        .stdin(out.to_string())
        .succeeds()
        .json();
    assert!(
        p["plan"].as_array().is_none_or(Vec::is_empty),
        "{}",
        p["plan"]
    );

    // discovery on the running worker: the registry is attached in place.
    let mut disc = out.clone();
    disc["spec"]["services"]["worker"]["discovery"] = json!(true);
    let (with, lines) = run(&lane, &disc);
    let updates: Vec<&String> = lines.iter().filter(|l| l.starts_with("~ ")).collect();
    assert_eq!(updates.len(), 1, "{lines:#?}");
    assert!(
        updates[0].starts_with(&format!(
            "~ ecs service {stack}--worker--dev (service_registries:"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("+ discovery service")),
        "{lines:#?}"
    );
    let arn = with["services"]["worker"]["discovery_service_arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(registries(em, &with, "worker"), [arn]);
    let ns_arn = with["discovery"]["namespace_arn"].as_str().unwrap();
    assert!(
        ns_arn.starts_with("arn:")
            && ns_arn.ends_with(with["discovery"]["namespace_id"].as_str().unwrap()),
        "{ns_arn}"
    );
    let (_, lines) = run(&lane, &with);
    assert!(lines.is_empty(), "{lines:#?}");

    // ...and detached when it goes, its Cloud Map service pruned.
    let mut plain = with.clone();
    plain["spec"]["services"]["worker"]["discovery"] = json!(false);
    let (without, lines) = run(&lane, &plain);
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "~ ecs service {stack}--worker--dev (service_registries:"
        ))),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("- discovery service")),
        "{lines:#?}"
    );
    assert!(registries(em, &without, "worker").is_empty());

    // An empty spec.services prunes nothing.
    let mut empty = without.clone();
    empty["spec"]["services"] = json!({});
    lane.set_faults(json!({}));
    let r = lane.tool("svc-up").arg("-v").stdin(empty.to_string()).run();
    assert!(
        lane.mutations().is_empty(),
        "{:?} {}",
        lane.mutations(),
        r.stderr()
    );

    // Another env's document: refused, nothing changed.
    let mut prod = without.clone();
    prod["env"] = json!("prod");
    lane.set_faults(json!({}));
    lane.tool("svc-up").stdin(prod.to_string()).fails();
    assert!(lane.mutations().is_empty(), "{:?}", lane.mutations());

    // The worker dropped from an explicit spec: pruned, its log group kept.
    let mut dropped = without.clone();
    dropped["spec"]["services"]
        .as_object_mut()
        .unwrap()
        .remove("worker");
    let (after, lines) = run(&lane, &dropped);
    for kind in [
        "ecs service",
        "iam role",
        "security group",
        "task definition",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("- {kind} "))),
            "{kind}: {lines:#?}"
        );
    }
    assert!(!lines.iter().any(|l| l.contains("log group")), "{lines:#?}");
    assert!(after["services"].get("worker").is_none());
    let inv = em.inventory("us-east-1", &stack, "dev").counts();
    assert_eq!(inv.get("ecs_service"), Some(&1), "{inv:?}");
    assert_eq!(
        inv.get("log_group"),
        Some(&2),
        "the worker's logs are kept: {inv:?}"
    );

    em.tool("teardown").stdin(after.to_string()).succeeds();
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert!(inv.is_empty(), "{inv:?}");
}

/// Issue 12: a service named `execution` would own the task role
/// `task-execution`, the cluster's execution role: refused by the spec check
/// (exit 5, naming the path) before any AWS call (the tool is offline).
#[test]
fn svc_a_service_named_execution_is_refused_before_any_call() {
    let mut doc =
        json!({"version": 1, "stack": "pp", "env": "dev", "region": "us-east-1", "spec": {}});
    doc["spec"]["services"] = json!({"execution": {"port": 80, "image": "nginx:alpine"}});
    let err = testkit::offline("svc-up")
        .stdin(doc.to_string())
        .fails()
        .code(5);
    assert!(err.contains("spec.services.execution"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Issue 15: CloudWatch Logs answers CreateLogGroup with AccessDenied while a
/// new KMS key's grant has not propagated; svc-up retries that answer, bounded,
/// and the log groups end up made with the key.
#[test]
fn svc_log_group_creation_waits_for_the_kms_key() {
    let em = Emulator::shared();
    let stack = unique_stack("svck");
    let mut doc = platform(em, &stack);
    let s = em.session("probe", "dev", "us-east-1");
    let kms = aws_sdk_kms::Client::new(s.sdk());
    let key = s.block_on(kms.create_key().send()).unwrap();
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let cluster = doc["cluster"].clone();
    doc["cluster"]["log_kms_key_arn"] = json!(arn);
    let lane = em.lane();
    lane.set_faults(json!({"answer": {"CreateLogGroup": {
        "times": 2, "each": true, "match": "/ecs/", "status": 400,
        "code": "AccessDeniedException",
        "message": format!("The specified KMS key does not exist or is not allowed to be used with Arn '{arn}'")
    }}}));
    let out = lane.tool("svc-up").stdin(doc.to_string()).succeeds().json();
    let state = lane.fault_state();
    assert_eq!(
        state["injected"]["answer"], 4,
        "two refusals per group: {state}"
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(s.sdk());
    let groups = s
        .block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(format!("/ecs/{stack}/dev/"))
                .send(),
        )
        .unwrap();
    assert_eq!(groups.log_groups().len(), 2);
    assert!(groups
        .log_groups()
        .iter()
        .all(|g| g.kms_key_id() == Some(arn.as_str())));
    // The key is the test's, not the cluster layer's: teardown gets the
    // cluster section cluster-up wrote.
    let mut down = out.clone();
    down["cluster"] = cluster;
    em.tool("teardown").stdin(down.to_string()).succeeds();
}

/// Issue 12: stack `pp` with service `x-api` and stack `pp-x` with service
/// `api` share no name (`pp--x-api--dev`, `pp-x--api--dev`), and tearing `pp`
/// down leaves every one of `pp-x`'s task definitions alone.
#[test]
fn svc_prefix_stacks_share_nothing_and_teardown_keeps_the_other() {
    let em = Emulator::shared();
    let a = unique_stack("pp");
    let b = format!("{a}-x");
    let up = |stack: &str, service: &str| {
        let mut doc = em.network(stack, "dev");
        doc["spec"]["services"] = json!({ service: {"port": 80, "image": "nginx:alpine"} });
        let doc = em.up("cluster-up", &doc);
        em.up("svc-up", &doc)
    };
    let da = up(&a, "x-api");
    let db = up(&b, "api");
    assert_ne!(
        da["services"]["x-api"]["service_name"],
        db["services"]["api"]["service_name"]
    );
    assert_ne!(
        da["services"]["x-api"]["task_role_arn"],
        db["services"]["api"]["task_role_arn"]
    );
    let before = em.inventory("us-east-1", &b, "dev");
    em.tool("teardown").stdin(da.to_string()).succeeds();
    assert!(em.inventory("us-east-1", &a, "dev").is_empty());
    assert_eq!(em.inventory("us-east-1", &b, "dev"), before);
    let s = em.session("probe", "dev", "us-east-1");
    let ecs = aws_sdk_ecs::Client::new(s.sdk());
    let td = db["services"]["api"]["task_definition_arn"]
        .as_str()
        .unwrap();
    let out = s
        .block_on(ecs.describe_task_definition().task_definition(td).send())
        .unwrap();
    assert_eq!(
        out.task_definition()
            .and_then(|t| t.status())
            .map(|s| s.as_str()),
        Some("ACTIVE")
    );
    em.tool("teardown").stdin(db.to_string()).succeeds();
}

fn load_balancers(em: &Emulator, doc: &Value, service: &str) -> Vec<String> {
    let s = em.session("probe", "dev", "us-east-1");
    let ecs = aws_sdk_ecs::Client::new(s.sdk());
    let out = s
        .block_on(
            ecs.describe_services()
                .cluster(doc["cluster"]["name"].as_str().unwrap())
                .services(doc["services"][service]["service_name"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    out.services()[0]
        .load_balancers()
        .iter()
        .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
        .collect()
}

/// Issue 13's first example: a route added to a running service gets its
/// target group from alb-up, and svc-up attaches it in place (it used to say
/// "unchanged" and leave `loadBalancers` empty forever).
#[test]
fn svc_a_route_added_to_a_running_service_attaches_its_target_group() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("svcr");
    let (out, _) = run(&lane, &platform(em, &stack));
    assert!(load_balancers(em, &out, "worker").is_empty());

    let mut routed = out.clone();
    routed["spec"]["services"]["worker"]["route"] = json!({"paths": ["/worker/*"]});
    let routed = em.up("alb-up", &routed);
    let group = routed["alb"]["target_groups"]["worker"]["arn"]
        .as_str()
        .expect("alb-up made the worker's target group")
        .to_owned();
    let (with, lines) = run(&lane, &routed);
    // Exactly two changes: the service's group lets the ALB in, and the
    // service takes the target group in place (no replacement, no create).
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "~ security group {stack}--svc-worker--dev (ingress: [] -> "
        )) && lines[1].starts_with(&format!("~ ecs service {stack}--worker--dev ("))
            && lines[1].contains("load_balancers: [] -> "),
        "{lines:#?}"
    );
    assert_eq!(load_balancers(em, &with, "worker"), [group]);
    let (_, lines) = run(&lane, &with);
    assert!(lines.is_empty(), "a re-run changes nothing: {lines:#?}");

    em.tool("teardown").stdin(with.to_string()).succeeds();
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert!(inv.is_empty(), "{inv:?}");
}
