//! scale-up against the emulator: three services scaled 2-10 on CPU (70%) and
//! memory (80%) with alarms, read back independently through the SDK; a re-run
//! changes nothing; a new max updates the target in place; a service that
//! loses `scaling` loses its target, policies and alarms; teardown (the
//! library, then the binary by --stack/--env) leaves nothing.
//!
//! The emulator registers a scalable target only on an ECS service that exists
//! (as AWS does), so the services are brought up for real: net-up, cluster-up,
//! svc-up.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, ScalableDimension, ScalableTarget, ScalingPolicy, ServiceNamespace,
};
use common::layer::Owned;
use serde_json::{json, Value};
use testkit::{unique_stack, Emulator, Session};

const REGION: &str = "us-east-1";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ops";

fn scaling(max: u32) -> Value {
    json!({"min": 2, "max": max, "cpu": 70, "memory": 80,
           "alarms": {"cpu": 85, "memory": 90, "actions": [TOPIC]}})
}

/// net-up | cluster-up | svc-up with three scaled services.
fn platform(em: &Emulator, stack: &str) -> Value {
    let mut doc = em.network(stack, "dev");
    doc["spec"]["services"] = json!({
        "api": {"image": "nginx:alpine", "port": 8080, "scaling": scaling(10)},
        "worker": {"image": "nginx:alpine", "scaling": scaling(10)},
        "scheduler": {"image": "nginx:alpine", "scaling": scaling(10)},
    });
    let doc = em.up("cluster-up", &doc);
    em.up("svc-up", &doc)
}

/// Application Auto Scaling and CloudWatch as the test reads them, and the
/// session for the layer's library.
struct Sdk {
    s: Session,
    aas: aws_sdk_applicationautoscaling::Client,
    cw: aws_sdk_cloudwatch::Client,
}

impl Sdk {
    fn new(s: Session) -> Sdk {
        Sdk {
            aas: aws_sdk_applicationautoscaling::Client::new(s.sdk()),
            cw: aws_sdk_cloudwatch::Client::new(s.sdk()),
            s,
        }
    }

    fn target(&self, resource_id: &str) -> Option<ScalableTarget> {
        let out = self
            .s
            .block_on(
                self.aas
                    .describe_scalable_targets()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_ids(resource_id)
                    .send(),
            )
            .unwrap();
        out.scalable_targets().first().cloned()
    }

    fn policies(&self, resource_id: &str) -> Vec<ScalingPolicy> {
        let out = self
            .s
            .block_on(
                self.aas
                    .describe_scaling_policies()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(resource_id)
                    .send(),
            )
            .unwrap();
        let mut v: Vec<ScalingPolicy> = out
            .scaling_policies()
            .iter()
            .filter(|p| p.resource_id() == resource_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.policy_name().cmp(b.policy_name()));
        v
    }

    fn alarm(&self, name: &str) -> aws_sdk_cloudwatch::types::MetricAlarm {
        let out = self
            .s
            .block_on(self.cw.describe_alarms().alarm_names(name).send())
            .unwrap();
        out.metric_alarms()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("alarm {name} exists"))
    }
}

/// The layer's teardown discovery; no id of `section` may be another stack's.
fn find(s: &Session, section: Option<&common::sections::Scaling>) -> scale_up::teardown::Found {
    let mismatches = common::owner::Mismatches::default();
    let found = s
        .block_on(scale_up::teardown::find(&s.ctx, section, &mismatches))
        .unwrap();
    mismatches
        .into_result(&s.ctx)
        .expect("the document's ids are ours");
    found
}

/// The change lines of a `-v` run's stderr (`+ kind name`, `~ ...`, `- ...`).
fn change_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("scale-up: ").map(|(_, rest)| rest))
        .filter(|rest| {
            ["+ ", "~ ", "- ", "-/+ "]
                .iter()
                .any(|m| rest.starts_with(m))
        })
        .map(str::to_owned)
        .collect()
}

fn changed(log: &str) -> bool {
    !change_lines(log).is_empty()
}

fn counts(em: &Emulator, stack: &str) -> (usize, usize, usize) {
    let inv = em.inventory(REGION, stack, "dev").counts();
    let n = |k: &str| inv.get(k).copied().unwrap_or(0);
    (n("scalable_target"), n("scaling_policy"), n("alarm"))
}

#[test]
fn three_services_scale_converge_update_in_place_shrink_and_tear_down() {
    let em = Emulator::shared();
    let stack = unique_stack("scl");
    let doc = platform(em, &stack);
    let sdk = Sdk::new(em.session(&stack, "dev", REGION));
    let cluster = doc["cluster"]["name"].as_str().unwrap().to_owned();

    // First run: three targets, six policies, six alarms.
    let run = em
        .tool("scale-up")
        .args(["-v"])
        .stdin(doc.to_string())
        .succeeds();
    let (out, log) = (run.json(), run.stderr());
    assert_eq!(
        log.matches("scale-up: + scalable target").count(),
        3,
        "{log}"
    );
    assert_eq!(
        log.matches("scale-up: + scaling policy").count(),
        6,
        "{log}"
    );
    assert_eq!(
        log.matches("scale-up: + cloudwatch alarm").count(),
        6,
        "{log}"
    );
    assert_eq!(counts(em, &stack), (3, 6, 6));
    // Every other key is untouched.
    for key in [
        "network", "cluster", "services", "spec", "stack", "env", "region",
    ] {
        assert_eq!(out[key], doc[key], "{key}");
    }

    // What the emulator holds, read through the SDK.
    let rid = format!("service/{cluster}/{stack}--api--dev");
    let target = sdk.target(&rid).expect("the api's target");
    assert_eq!((target.min_capacity(), target.max_capacity()), (2, 10));
    assert_eq!(
        target.scalable_dimension(),
        &ScalableDimension::EcsServiceDesiredCount
    );
    let policies = sdk.policies(&rid);
    let names: Vec<&str> = policies.iter().map(|p| p.policy_name()).collect();
    assert_eq!(
        names,
        [
            format!("{stack}--api-cpu--dev"),
            format!("{stack}--api-memory--dev")
        ]
    );
    for (p, metric, value) in [
        (
            &policies[0],
            MetricType::EcsServiceAverageCpuUtilization,
            70.0,
        ),
        (
            &policies[1],
            MetricType::EcsServiceAverageMemoryUtilization,
            80.0,
        ),
    ] {
        assert_eq!(p.policy_type(), &PolicyType::TargetTrackingScaling);
        let cfg = p.target_tracking_scaling_policy_configuration().unwrap();
        assert_eq!(cfg.target_value(), value);
        assert_eq!(
            cfg.predefined_metric_specification()
                .unwrap()
                .predefined_metric_type(),
            &metric
        );
        assert_eq!(
            (cfg.scale_in_cooldown(), cfg.scale_out_cooldown()),
            (Some(300), Some(60))
        );
    }
    let alarm = sdk.alarm(&format!("{stack}--api-cpu-high--dev"));
    assert_eq!(alarm.namespace(), Some("AWS/ECS"));
    assert_eq!(alarm.metric_name(), Some("CPUUtilization"));
    assert_eq!(alarm.threshold(), Some(85.0));
    assert_eq!(
        (alarm.period(), alarm.evaluation_periods()),
        (Some(60), Some(2))
    );
    assert_eq!(
        alarm.comparison_operator().map(|c| c.as_str()),
        Some("GreaterThanThreshold")
    );
    assert_eq!(alarm.statistic().map(|s| s.as_str()), Some("Average"));
    assert_eq!(alarm.alarm_actions(), [TOPIC]);
    let mut dims: Vec<(&str, &str)> = alarm
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    dims.sort();
    let service_name = format!("{stack}--api--dev");
    assert_eq!(
        dims,
        [
            ("ClusterName", cluster.as_str()),
            ("ServiceName", service_name.as_str())
        ]
    );
    assert_eq!(
        sdk.alarm(&format!("{stack}--api-memory-high--dev"))
            .threshold(),
        Some(90.0)
    );

    // The document.
    let api = &out["scaling"]["api"];
    assert_eq!(api["resource_id"], rid);
    assert_eq!(
        (api["min"].clone(), api["max"].clone()),
        (json!(2), json!(10))
    );
    assert_eq!(
        api["policies"]["cpu"]["name"],
        format!("{stack}--api-cpu--dev")
    );
    assert_eq!(
        api["policies"]["memory"]["arn"].as_str(),
        Some(policies[1].policy_arn())
    );
    assert_eq!(
        api["alarms"],
        json!([
            format!("{stack}--api-cpu-high--dev"),
            format!("{stack}--api-memory-high--dev")
        ])
    );
    assert_eq!(out["scaling"].as_object().unwrap().len(), 3);

    // A re-run changes nothing.
    let run = em
        .tool("scale-up")
        .args(["-v"])
        .stdin(out.to_string())
        .succeeds();
    let (again, log) = (run.json(), run.stderr());
    assert!(!changed(&log), "{log}");
    assert_eq!(again, out);
    assert_eq!(counts(em, &stack), (3, 6, 6));

    // A new max: the same target, updated in place; no new policy.
    let mut bigger = again.clone();
    bigger["spec"]["services"]["api"]["scaling"]["max"] = json!(12);
    let run = em
        .tool("scale-up")
        .args(["-v"])
        .stdin(bigger.to_string())
        .succeeds();
    let (after, log) = (run.json(), run.stderr());
    // Exactly one change: the target's max, in place.
    assert_eq!(
        change_lines(&log),
        [format!("~ scalable target {rid} (max: 10 -> 12)")],
        "{log}"
    );
    let updated = sdk.target(&rid).unwrap();
    assert_eq!(updated.max_capacity(), 12);
    assert_eq!(updated.scalable_target_arn(), target.scalable_target_arn());
    assert_eq!(after["scaling"]["api"]["max"], 12);
    assert_eq!(
        after["scaling"]["api"]["policies"],
        out["scaling"]["api"]["policies"]
    );
    assert_eq!(sdk.policies(&rid), policies);
    assert_eq!(counts(em, &stack), (3, 6, 6));

    // The worker loses `scaling`: its target, policies and alarms go.
    let mut fewer = after.clone();
    fewer["spec"]["services"]["worker"]
        .as_object_mut()
        .unwrap()
        .remove("scaling");
    let run = em
        .tool("scale-up")
        .args(["-v"])
        .stdin(fewer.to_string())
        .succeeds();
    let (shrunk, log) = (run.json(), run.stderr());
    assert_eq!(
        log.matches("scale-up: - scalable target").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("scale-up: - scaling policy").count(),
        2,
        "{log}"
    );
    assert_eq!(
        log.matches("scale-up: - cloudwatch alarm").count(),
        2,
        "{log}"
    );
    assert_eq!(change_lines(&log).len(), 5, "{log}");
    assert!(shrunk["scaling"].get("worker").is_none());
    let worker = format!("service/{cluster}/{stack}--worker--dev");
    assert!(sdk.target(&worker).is_none());
    assert!(sdk.policies(&worker).is_empty());
    assert_eq!(counts(em, &stack), (2, 4, 4));

    // Teardown through the library: policies, then targets, then alarms.
    let section: common::sections::Scaling =
        serde_json::from_value(shrunk["scaling"].clone()).unwrap();
    let found = find(&sdk.s, Some(&section));
    let plan = found.plan(&sdk.s.ctx);
    let kinds: Vec<&str> = plan.iter().map(|c| c.kind.as_str()).collect();
    let mut expected = vec!["scaling policy"; 4];
    expected.extend(["scalable target"; 2]);
    expected.extend(["cloudwatch alarm"; 4]);
    assert_eq!(kinds, expected);
    let left = common::plan::Leftovers::default();
    sdk.s
        .block_on(Box::new(found).destroy(&sdk.s.ctx, &left, Default::default()));
    left.into_result().expect("the scaling layer went away");
    assert!(find(&sdk.s, Some(&section)).is_empty(&sdk.s.ctx));
    assert_eq!(counts(em, &stack), (0, 0, 0));

    // Scaled again, then the teardown binary by --stack/--env alone: it plans
    // scaling first, and leaves nothing of the stack.
    em.up("scale-up", &fewer);
    assert_eq!(counts(em, &stack), (2, 4, 4));
    let plan = em
        .tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev", "--dry-run"])
        .succeeds()
        .json();
    let tools: Vec<&str> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tool"].as_str().unwrap())
        .collect();
    assert_eq!(&tools[..10], ["scale-up"; 10], "{tools:?}");
    assert!(!tools[10..].contains(&"scale-up"), "{tools:?}");
    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
    let inv = em.inventory(REGION, &stack, "dev");
    assert!(inv.is_empty(), "{inv:?}");
}

#[test]
fn throttling_and_server_errors_are_retried_without_duplicates() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("sclf");
    let doc = platform(em, &stack);
    // Application Auto Scaling (JSON) and CloudWatch (CBOR) answers alike.
    lane.set_faults(json!({"seed": 3, "throttle": 0.25, "server_error": 0.05}));
    let out = lane
        .tool("scale-up")
        .env("AWS_RETRY_MODE", "standard")
        .stdin(doc.to_string())
        .run();
    let state = lane.fault_state();
    lane.set_faults(json!({}));
    assert_eq!(out.status(), Some(0), "{}", out.stderr());
    assert!(
        state["injected"]["throttle"].as_u64().unwrap() > 3,
        "{state}"
    );
    assert_eq!(counts(em, &stack), (3, 6, 6));

    // The same faults on the layer's teardown.
    let sdk = Sdk::new(lane.session(&stack, "dev", REGION));
    let found = find(&sdk.s, None);
    lane.set_faults(json!({"seed": 4, "throttle": 0.25, "server_error": 0.05}));
    let left = common::plan::Leftovers::default();
    sdk.s
        .block_on(Box::new(found).destroy(&sdk.s.ctx, &left, Default::default()));
    lane.set_faults(json!({}));
    left.into_result().expect("the scaling layer went away");
    assert_eq!(counts(em, &stack), (0, 0, 0));
}

/// Every mutating call of a lane is the stack's lock (taken and released):
/// a run that refuses changes nothing else.
fn only_the_lock(state: &Value, stack: &str) {
    let log = state["mutation_log"].as_array().unwrap();
    let lock = format!("/fargate-pipes/locks/{stack}/dev/");
    for m in log {
        let m = m.as_str().unwrap();
        assert!(
            (m.starts_with("logs CreateLogGroup") || m.starts_with("logs DeleteLogGroup"))
                && m.contains(&lock),
            "a mutating call other than the lock's: {m} ({log:?})"
        );
    }
}

/// `(action, kind, name)` of a document's plan entries.
fn entries(doc: &Value) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = doc["plan"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            (s("action"), s("kind"), s("name"))
        })
        .collect();
    v.sort();
    v
}

/// `--plan` on a fresh layer lists every create and changes nothing; the
/// apply then makes exactly those changes; `--plan` afterwards is empty; a
/// no-op re-run makes no mutating call (and is counted).
#[test]
fn plan_then_apply_then_an_empty_plan_and_a_no_op_rerun() {
    let em = Emulator::shared();
    let stack = unique_stack("sclp");
    let doc = platform(em, &stack);
    let lane = em.lane();

    let planned = lane
        .tool("scale-up")
        .arg("--plan")
        .stdin(doc.to_string())
        .succeeds()
        .json();
    let state = lane.fault_state();
    assert_eq!(state["mutation_log"], json!([]), "{state}");
    let plan = entries(&planned);
    assert_eq!(plan.len(), 15, "{plan:?}");
    assert!(plan.iter().all(|(a, _, _)| a == "create"), "{plan:?}");
    assert_eq!(counts(em, &stack), (0, 0, 0));
    assert!(planned["scaling"]["api"]["policies"]["cpu"]["arn"]
        .as_str()
        .unwrap()
        .starts_with("planned:"));

    // The apply's change lines are the plan's entries.
    let run = lane
        .tool("scale-up")
        .arg("-v")
        .stdin(doc.to_string())
        .succeeds();
    let out = run.json();
    let mut applied: Vec<(String, String, String)> = change_lines(&run.stderr())
        .iter()
        .map(|l| {
            let (mark, rest) = l.split_once(' ').unwrap();
            let action = match mark {
                "+" => "create",
                "~" => "update",
                "-" => "delete",
                _ => "replace",
            };
            let (kind, name) = rest.rsplit_once(' ').unwrap();
            (action.to_owned(), kind.to_owned(), name.to_owned())
        })
        .collect();
    applied.sort();
    assert_eq!(applied, plan);
    assert_eq!(counts(em, &stack), (3, 6, 6));

    let again = lane
        .tool("scale-up")
        .arg("--plan")
        .stdin(out.to_string())
        .succeeds()
        .json();
    assert_eq!(entries(&again), vec![], "{}", again["plan"]);

    // A no-op re-run: no mutating call but the lock's.
    lane.set_faults(json!({}));
    let run = lane
        .tool("scale-up")
        .arg("-v")
        .stdin(out.to_string())
        .succeeds();
    assert!(!changed(&run.stderr()), "{}", run.stderr());
    let state = lane.fault_state();
    only_the_lock(&state, &stack);
    eprintln!("scale-up no-op re-run: {} calls", state["calls"]);
    assert!(state["calls"].as_u64().unwrap() <= 25, "{state}");

    // An absent spec.services prunes nothing.
    let mut absent = out.clone();
    absent["spec"].as_object_mut().unwrap().remove("services");
    let run = lane
        .tool("scale-up")
        .arg("-v")
        .stdin(absent.to_string())
        .succeeds();
    assert_eq!(
        run.json()["scaling"],
        out["scaling"],
        "kept, so still in the document"
    );
    assert!(
        run.stderr().contains("nothing was pruned")
            || run.stderr().contains("no scaling was pruned"),
        "{}",
        run.stderr()
    );
    assert_eq!(counts(em, &stack), (3, 6, 6));
    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
}

/// Issue 12, items 1 and 2, replayed: a document naming another stack's
/// scalable target, cluster or ECS service changes nothing of it; the run
/// stops naming it, with no mutating call but the lock's.
#[test]
fn documents_naming_another_stacks_scaling_change_nothing_of_it() {
    let em = Emulator::shared();
    let victim = unique_stack("sclv");
    let vdoc = em.up("scale-up", &platform(em, &victim));
    let target = vdoc["scaling"]["api"]["resource_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attacker = unique_stack("scla");

    // teardown of another stack whose .scaling names the victim's target.
    let lane = em.lane();
    let doc = json!({"version": 1, "stack": attacker, "env": "dev", "region": REGION,
                     "scaling": {"x": {"resource_id": target, "min": 0, "max": 0}}});
    let err = lane
        .tool("teardown")
        .stdin(doc.to_string())
        .fails()
        .code(10);
    assert!(err.contains(&target) && err.contains(&victim), "{err}");
    only_the_lock(&lane.fault_state(), &attacker);
    assert_eq!(counts(em, &victim), (3, 6, 6));

    // scale-up of the attacker's own platform, its document pointing at the
    // victim's cluster and ECS service.
    let own = platform(em, &attacker);
    let mut doc = own.clone();
    doc["cluster"]["name"] = vdoc["cluster"]["name"].clone();
    doc["services"]["api"]["service_name"] = vdoc["services"]["api"]["service_name"].clone();
    let lane = em.lane();
    let err = lane
        .tool("scale-up")
        .stdin(doc.to_string())
        .fails()
        .code(10);
    let vcluster = vdoc["cluster"]["name"].as_str().unwrap();
    assert!(err.contains(vcluster), "{err}");
    only_the_lock(&lane.fault_state(), &attacker);
    assert_eq!(counts(em, &victim), (3, 6, 6));
    assert_eq!(counts(em, &attacker), (0, 0, 0));

    for stack in [&victim, &attacker] {
        em.tool("teardown")
            .args(["-n", "--stack", stack, "--env", "dev"])
            .succeeds();
    }
}
