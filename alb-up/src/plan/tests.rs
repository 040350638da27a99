//! Unit tests of the pure plan (no AWS): a fresh stack is all creates, target
//! groups converge field by field, a removed service's group is pruned only
//! from a stated spec, and nothing not tagged ours is changed (issue 12).

use aws_sdk_elasticloadbalancingv2::types::{Matcher, TargetGroup};
use serde_json::{json, Value};

use super::*;
use crate::desired::{self, DEREGISTRATION_DELAY};
use crate::discover::FoundTg;
use crate::names;
use common::plan::Action as ChangeAction;
use common::sections::Network;

fn ctx() -> Context {
    Context::offline("alb-up", "a", "dev", "us-east-1")
}

fn network() -> Network {
    Network {
        vpc_id: "vpc-1".into(),
        cidr: "10.0.0.0/16".into(),
        public_subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
        private_subnet_ids: vec!["subnet-c".into(), "subnet-d".into()],
        ..Network::default()
    }
}

fn want_of(services: Value) -> Desired {
    let services = common::spec::read("spec.services", &services).unwrap();
    let routing = common::spec::alb::plan(&Default::default(), &services, false).unwrap();
    desired::build(&ctx(), &routing, &network(), None)
}

fn two_services() -> Desired {
    want_of(json!({
        "api": {"image": "x", "port": 8080, "route": {"paths": ["/api/*"]}},
        "web": {"image": "y", "port": 3000, "route": {"default": true}}
    }))
}

/// A target group as the last run left it, tagged for `(stack, env)`.
fn found_tg(w: &WantTg, (stack, env): (&str, &str)) -> FoundTg {
    let h = &w.health;
    let tg = TargetGroup::builder()
        .target_group_arn(format!(
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{}/1",
            w.name
        ))
        .target_group_name(&w.name)
        .vpc_id(&w.vpc_id)
        .port(i32::from(w.port))
        .health_check_path(&h.path)
        .health_check_interval_seconds(h.interval)
        .health_check_timeout_seconds(h.timeout)
        .healthy_threshold_count(h.healthy)
        .unhealthy_threshold_count(h.unhealthy)
        .matcher(Matcher::builder().http_code(&h.matcher).build())
        .build();
    let owner = Context::offline("alb-up", stack, env, "us-east-1");
    FoundTg {
        tg,
        tags: names::tags(&owner, &w.component),
        attributes: BTreeMap::from([(
            DEREGISTRATION_DELAY.to_owned(),
            w.deregistration_delay.to_string(),
        )]),
    }
}

fn with_tgs(want: &Desired) -> Actual {
    Actual {
        tgs: want.tgs.iter().map(|w| found_tg(w, ("a", "dev"))).collect(),
        ..Actual::default()
    }
}

fn tg_ops(want: &Desired, have: &Actual, prune: Prune) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    target_groups::plan(&ctx(), want, have, prune, &mut ops)?;
    Ok(ops)
}

fn lines(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .flat_map(|o| o.changes(&ctx()))
        .map(|c| c.line())
        .collect()
}

fn refused(r: Result<impl std::fmt::Debug>) -> String {
    let e = r.expect_err("refused");
    assert_eq!(e.exit_code(), 10, "{e}");
    e.to_string()
}

#[test]
fn a_fresh_stack_is_all_creates_in_dependency_order() {
    let want = two_services();
    let p = plan(&ctx(), &want, &Actual::default(), Prune::Yes).unwrap();
    let changes = p.changes(&ctx());
    assert!(
        changes.iter().all(|c| c.action == ChangeAction::Create),
        "{changes:?}"
    );
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            TARGET_GROUP,
            TARGET_GROUP,
            SECURITY_GROUP,
            LOAD_BALANCER,
            LISTENER,
            RULE
        ],
        "{changes:?}"
    );
    assert!(matches!(p.out.lb, Ref::New(_)));
    let api = &want.tgs[0].name;
    assert!(matches!(&p.out.target_groups["api"].arn, Ref::New(k) if k.name == *api));
}

#[test]
fn target_groups_that_match_plan_nothing() {
    let want = two_services();
    let ops = tg_ops(&want, &with_tgs(&want), Prune::Yes).unwrap();
    assert!(ops.is_empty(), "{:?}", lines(&ops));
}

#[test]
fn every_target_group_field_is_compared_and_updated_in_place() {
    let want = two_services();
    type Drift = fn(&mut FoundTg);
    let cases: [(&str, Drift); 7] = [
        ("health_check.path", |t| {
            t.tg.health_check_path = Some("/old".into())
        }),
        ("health_check.interval", |t| {
            t.tg.health_check_interval_seconds = Some(99)
        }),
        ("health_check.timeout", |t| {
            t.tg.health_check_timeout_seconds = Some(29)
        }),
        ("health_check.healthy", |t| {
            t.tg.healthy_threshold_count = Some(9)
        }),
        ("health_check.unhealthy", |t| {
            t.tg.unhealthy_threshold_count = Some(9)
        }),
        ("health_check.matcher", |t| {
            t.tg.matcher = Some(Matcher::builder().http_code("302").build())
        }),
        ("deregistration_delay", |t| {
            t.attributes
                .insert(DEREGISTRATION_DELAY.into(), "300".into());
        }),
    ];
    for (field, drift) in cases {
        let mut have = with_tgs(&want);
        drift(&mut have.tgs[0]);
        let ops = tg_ops(&want, &have, Prune::Yes).unwrap();
        assert_eq!(ops.len(), 1, "{field}: {:?}", lines(&ops));
        let Op::UpdateTargetGroup {
            change,
            health,
            deregistration_delay,
            ..
        } = &ops[0]
        else {
            panic!("{field}: {ops:?}");
        };
        assert_eq!(change.changes.keys().collect::<Vec<_>>(), [field]);
        assert_eq!(
            *deregistration_delay,
            field == "deregistration_delay",
            "{field}"
        );
        assert_eq!(*health, field != "deregistration_delay", "{field}");
    }
}

#[test]
fn a_group_in_another_vpc_stops_the_run() {
    let want = two_services();
    let mut have = with_tgs(&want);
    have.tgs[0].tg.vpc_id = Some("vpc-other".into());
    let e = tg_ops(&want, &have, Prune::Yes).unwrap_err();
    assert_eq!(e.exit_code(), 5, "{e}");
    assert!(e.to_string().contains("vpc-other"), "{e}");
}

#[test]
fn a_removed_services_group_is_pruned_only_from_a_stated_spec() {
    let before = two_services();
    let have = with_tgs(&before);
    let after = want_of(json!({"web": {"image": "y", "port": 3000, "route": {"default": true}}}));
    let ops = tg_ops(&after, &have, Prune::Yes).unwrap();
    assert_eq!(
        lines(&ops),
        [format!("- target group {}", before.tgs[0].name)]
    );
    let ops = tg_ops(&after, &have, Prune::No).unwrap();
    assert!(ops.is_empty(), "{:?}", lines(&ops));
}

#[test]
fn a_group_of_our_name_tagged_for_another_stack_is_refused() {
    let want = two_services();
    let mut have = with_tgs(&want);
    have.tgs[0] = found_tg(&want.tgs[0], ("payments", "prod"));
    let e = refused(tg_ops(&want, &have, Prune::Yes));
    assert!(
        e.contains(&want.tgs[0].name) && e.contains("payments/prod"),
        "{e}"
    );
    // Untagged: not ours either.
    have.tgs[0].tags.clear();
    refused(tg_ops(&want, &have, Prune::Yes));
}

#[test]
fn a_foreign_group_is_never_pruned() {
    let before = two_services();
    let mut have = with_tgs(&before);
    have.tgs[0] = found_tg(&before.tgs[0], ("a", "prod"));
    let after = want_of(json!({"web": {"image": "y", "port": 3000, "route": {"default": true}}}));
    let ops = tg_ops(&after, &have, Prune::Yes).unwrap();
    assert!(ops.is_empty(), "{:?}", lines(&ops));
}

#[test]
fn two_groups_claiming_one_identity_are_refused_naming_both() {
    let want = two_services();
    let mut have = with_tgs(&want);
    let mut twin = have.tgs[0].clone();
    twin.tg.target_group_arn = Some("arn:twin".into());
    twin.tg.target_group_name = Some(format!("{}-x", want.tgs[0].name));
    have.tgs.push(twin);
    let e = refused(tg_ops(&want, &have, Prune::Yes));
    assert!(
        e.contains("arn:twin") && e.contains(&format!("targetgroup/{}/1", want.tgs[0].name)),
        "{e}"
    );
}

#[test]
fn a_blue_green_service_gets_a_green_twin() {
    let want = want_of(json!({
        "pay": {"image": "x", "port": 8080, "route": {"paths": ["/pay/*"]},
                "deployment": {"type": "blue-green"}}
    }));
    let p = plan(&ctx(), &want, &Actual::default(), Prune::Yes).unwrap();
    let components: Vec<&str> = want.tgs.iter().map(|t| t.component.as_str()).collect();
    assert_eq!(components, ["tg-pay", "tg-pay-green"]);
    let names: Vec<String> = p.changes(&ctx()).iter().map(|c| c.name.clone()).collect();
    for t in &want.tgs {
        assert!(names.contains(&t.name), "{names:?}");
    }
    assert!(p.out.target_groups["pay"].green.is_some());
}

fn blue_green_with(alb: common::spec::AlbSpec) -> Desired {
    let services = common::spec::read(
        "spec.services",
        &json!({"pay": {"image": "x", "port": 8080, "route": {"default": true},
                        "deployment": {"type": "blue-green"}}}),
    )
    .unwrap();
    let routing = common::spec::alb::plan(&alb, &services, false).unwrap();
    desired::build(&ctx(), &routing, &network(), None)
}

#[test]
fn with_a_certificate_http_redirects_and_every_other_listener_is_https() {
    let want = blue_green_with(common::spec::AlbSpec {
        certificate_arn: Some("arn:aws:acm:us-east-1:1:certificate/x".into()),
        ..Default::default()
    });
    let p = plan(&ctx(), &want, &Actual::default(), Prune::Yes).unwrap();
    let listeners: Vec<&WantListener> = p
        .ops
        .iter()
        .filter_map(|o| match o {
            Op::CreateListener { want, .. } => Some(want),
            _ => None,
        })
        .collect();
    assert_eq!(listeners.len(), 3, "{listeners:?}");
    for l in listeners {
        if l.port == 80 {
            assert_eq!(
                (l.tls.as_ref(), &l.action),
                (None, &Forward::RedirectToHttps)
            );
        } else {
            let tls = l.tls.as_ref().expect("HTTPS");
            assert_eq!(
                tls.certificate, "arn:aws:acm:us-east-1:1:certificate/x",
                "{l:?}"
            );
        }
    }
}

#[test]
fn test_listeners_are_reachable_only_from_the_vpc_unless_the_spec_names_cidrs() {
    let want = blue_green_with(Default::default());
    assert_eq!(want.test_ingress, ["10.0.0.0/16"]);
    assert_eq!(want.ingress, ["0.0.0.0/0"]);
    let want = blue_green_with(common::spec::AlbSpec {
        test_ingress_cidrs: Some(vec!["192.0.2.0/24".into()]),
        ..Default::default()
    });
    assert_eq!(want.test_ingress, ["192.0.2.0/24"]);
}
