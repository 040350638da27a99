//! Unit tests of the desired state: names from the stack and env (never the
//! document), bounds per env, one request policy per target group.

use std::collections::BTreeMap;

use common::sections::{AlbGreenTargetGroup, AlbTargetGroup, ServiceOut};
use serde_json::{json, Value};

use super::*;

fn services(v: Value) -> ServicesSpec {
    common::spec::read("spec.services", &v).unwrap()
}

fn ctx() -> Context {
    Context::offline("scale-up", "a", "dev", "us-east-1")
}

const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a--alb--dev/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a--tg-api--dev/73e2d6bc24d8a067";
const GREEN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a--tg-api-green--dev/0123456789abcdef";

/// `.services` naming a foreign ECS service, and `.alb` with the api's groups.
fn upstream(green: bool) -> (Services, Alb) {
    let services: Services = [(
        "api".to_owned(),
        ServiceOut {
            service_name: "checkout".into(),
            ..ServiceOut::default()
        },
    )]
    .into_iter()
    .collect();
    let alb = Alb {
        arn: LB.into(),
        target_groups: BTreeMap::from([(
            "api".to_owned(),
            AlbTargetGroup {
                arn: TG.into(),
                port: 80,
                green: green.then(|| AlbGreenTargetGroup {
                    arn: GREEN.into(),
                    name: "g".into(),
                }),
                ..AlbTargetGroup::default()
            },
        )]),
        ..Alb::default()
    };
    (services, alb)
}

#[test]
fn only_scaling_is_read_and_sizes_follow_the_env() {
    let s = services(json!({
        "api": {"image": "x",
                "scaling": {"min": 2, "max": 10, "cpu": 70,
                            "sizes": {"prod": {"min": 3, "max": 20}}}},
        "job": {"image": "y"}
    }));
    let dev = read(&s, "dev");
    assert_eq!(dev.len(), 1);
    assert_eq!((dev[0].min, dev[0].max), (2, 10));
    let prod = read(&s, "prod");
    assert_eq!((prod[0].min, prod[0].max), (3, 20));
}

#[test]
fn names_come_from_the_stack_and_env_never_from_the_document() {
    let (deployed, alb) = upstream(false);
    let checked = read(
        &services(
            json!({"api": {"scaling": {"min": 2, "max": 10, "cpu": 70, "requests": 500,
            "alarms": {"memory": 90, "actions": ["arn:aws:sns:us-east-1:1:ops"]}}}}),
        ),
        "dev",
    );
    let want = build(&ctx(), &checked, Some(&deployed), Some(&alb)).unwrap();
    assert_eq!(want.cluster, "a--cluster--dev");
    let api = &want.services[0];
    // `.services.api.service_name` says "checkout": ignored.
    assert_eq!(api.ecs_service, "a--api--dev");
    assert_eq!(api.resource_id, "service/a--cluster--dev/a--api--dev");
    assert_eq!((api.scale_in_cooldown, api.scale_out_cooldown), (300, 60));
    let keys: Vec<&str> = api.policies.iter().map(|p| p.key).collect();
    assert_eq!(keys, ["cpu", "requests"]);
    assert_eq!(api.policies[0].name, "a--api-cpu--dev");
    assert_eq!(
        api.policies[1].label.as_deref(),
        Some("app/a--alb--dev/50dc6c495c0c9188/targetgroup/a--tg-api--dev/73e2d6bc24d8a067")
    );
    assert_eq!(api.alarms.len(), 1);
    assert_eq!(api.alarms[0].metric, AlarmMetric::Memory);
    assert_eq!(
        (api.alarms[0].period, api.alarms[0].evaluation_periods),
        (60, 2)
    );
}

#[test]
fn a_blue_green_service_gets_a_request_policy_per_target_group() {
    let (deployed, alb) = upstream(true);
    let checked = read(
        &services(json!({"api": {"scaling": {"min": 1, "max": 4, "requests": 100}}})),
        "dev",
    );
    let want = build(&ctx(), &checked, Some(&deployed), Some(&alb)).unwrap();
    let policies = &want.services[0].policies;
    let keys: Vec<&str> = policies.iter().map(|p| p.key).collect();
    assert_eq!(keys, ["requests", "requests-green"]);
    assert!(policies[1]
        .label
        .as_deref()
        .unwrap()
        .ends_with("a--tg-api-green--dev/0123456789abcdef"));
    assert!(policies.iter().all(|p| p.target == 100.0));
}

#[test]
fn planned_load_balancer_ids_give_no_label_yet() {
    let (deployed, mut alb) = upstream(false);
    alb.arn = common::plan::planned("load balancer", "a--alb--dev");
    let checked = read(
        &services(json!({"api": {"scaling": {"min": 1, "max": 4, "requests": 100}}})),
        "dev",
    );
    let want = build(&ctx(), &checked, Some(&deployed), Some(&alb)).unwrap();
    assert_eq!(want.services[0].policies[0].label, None);
}

#[test]
fn missing_upstream_is_named() {
    let (deployed, _) = upstream(false);
    let checked = read(
        &services(json!({"web": {"scaling": {"min": 1, "max": 2, "cpu": 50}},
                         "api": {"scaling": {"min": 1, "max": 2, "requests": 100}}})),
        "dev",
    );
    let e = build(&ctx(), &checked, Some(&deployed), None).unwrap_err();
    assert_eq!(e.exit_code(), 5, "{e}");
    assert!(e.to_string().contains("no target group"), "{e}");
    let e = build(&ctx(), &checked[1..], Some(&deployed), None).unwrap_err();
    assert_eq!(e.exit_code(), 6, "{e}");
    assert!(
        e.to_string().contains("services.web") && e.to_string().contains("svc-up"),
        "{e}"
    );
}
