//! Unit tests of the pure plan: one per row of docs/converge/scale-up.md, the
//! ownership refusals (issue 12) and pruning only from a stated spec.

use aws_sdk_applicationautoscaling::primitives::DateTime;
use aws_sdk_applicationautoscaling::types::{ScalableTarget, ScalingPolicy};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic};

use super::*;
use crate::desired::{WantAlarm, WantPolicy};
use crate::discover::{dimension, namespace, Tags};

fn ctx() -> Context {
    Context::offline("scale-up", "a", "dev", "us-east-1")
}

const RID: &str = "service/a--cluster--dev/a--api--dev";

fn want() -> Desired {
    let c = ctx();
    let policy = |key: &'static str, tracked, target| WantPolicy {
        key,
        name: format!("a--api-{key}--dev"),
        tracked,
        target,
        label: None,
    };
    Desired {
        cluster: "a--cluster--dev".into(),
        services: vec![WantService {
            service: "api".into(),
            ecs_service: "a--api--dev".into(),
            resource_id: RID.into(),
            min: 2,
            max: 10,
            scale_in_cooldown: 300,
            scale_out_cooldown: 60,
            policies: vec![
                policy("cpu", Tracked::Cpu, 70.0),
                policy("memory", Tracked::Memory, 80.0),
            ],
            alarms: vec![WantAlarm {
                metric: AlarmMetric::Cpu,
                name: alarm_name(&c.stack, &c.env, "api", AlarmMetric::Cpu),
                threshold: 85.0,
                period: 60,
                evaluation_periods: 2,
                actions: vec!["arn:aws:sns:us-east-1:1:ops".into()],
            }],
            planned: false,
        }],
    }
}

fn tags(stack: &str, env: &str, component: &str) -> Tags {
    Context::offline("scale-up", stack, env, "us-east-1").tags(component)
}

fn target(rid: &str, (min, max): (i32, i32), tags: Tags) -> FoundTarget {
    let target = ScalableTarget::builder()
        .service_namespace(namespace())
        .resource_id(rid)
        .scalable_dimension(dimension())
        .min_capacity(min)
        .max_capacity(max)
        .role_arn("arn:aws:iam::1:role/r")
        .creation_time(DateTime::from_secs(0))
        .scalable_target_arn(format!(
            "arn:aws:application-autoscaling:us-east-1:1:scalable-target/{rid}"
        ))
        .build()
        .unwrap();
    FoundTarget { target, tags }
}

fn policy(rid: &str, p: &WantPolicy, (cool_in, cool_out): (i32, i32)) -> ScalingPolicy {
    ScalingPolicy::builder()
        .policy_arn(format!("arn:policy/{}", p.name))
        .policy_name(&p.name)
        .service_namespace(namespace())
        .resource_id(rid)
        .scalable_dimension(dimension())
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(configuration(p, cool_in, cool_out).unwrap())
        .creation_time(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn alarm(want: &Desired, a: &WantAlarm, tags: Tags) -> FoundAlarm {
    let s = &want.services[0];
    let shape = alarm_shape(&ctx(), &want.cluster, s, a);
    let alarm = MetricAlarm::builder()
        .alarm_name(&a.name)
        .alarm_arn(format!("arn:alarm:{}", a.name))
        .alarm_description(shape.description)
        .namespace("AWS/ECS")
        .metric_name(shape.metric_name)
        .set_dimensions(Some(
            shape
                .dimensions
                .iter()
                .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                .collect(),
        ))
        .statistic(Statistic::Average)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .threshold(a.threshold)
        .period(a.period)
        .evaluation_periods(a.evaluation_periods)
        .set_alarm_actions(Some(a.actions.clone()))
        .actions_enabled(true)
        .build();
    FoundAlarm { alarm, tags }
}

/// What AWS holds when the last run made exactly `want`.
fn up_to_date(want: &Desired) -> Actual {
    let s = &want.services[0];
    Actual {
        cluster: Some(tags("a", "dev", "cluster")),
        services: [(s.ecs_service.clone(), tags("a", "dev", "api"))].into(),
        targets: vec![target(RID, (s.min, s.max), tags("a", "dev", "api-scaling"))],
        policies: s
            .policies
            .iter()
            .map(|p| policy(RID, p, (300, 60)))
            .collect(),
        alarms: vec![alarm(want, &s.alarms[0], tags("a", "dev", "api-cpu-high"))],
    }
}

fn lines(p: &Plan) -> Vec<String> {
    p.changes().iter().map(Change::line).collect()
}

fn refused(r: Result<Plan>) -> String {
    let e = r.expect_err("refused");
    assert_eq!(e.exit_code(), 10, "{e}");
    e.to_string()
}

#[test]
fn a_fresh_stack_is_all_creates_tagged_at_creation() {
    let want = want();
    let have = Actual {
        cluster: Some(tags("a", "dev", "cluster")),
        services: [("a--api--dev".to_owned(), tags("a", "dev", "api"))].into(),
        ..Actual::default()
    };
    let p = plan(&ctx(), &want, &have, Prune::Yes).unwrap();
    assert_eq!(
        lines(&p),
        [
            format!("+ scalable target {RID}"),
            "+ cloudwatch alarm a--api-cpu-high--dev".to_owned(),
            "+ scaling policy a--api-cpu--dev".to_owned(),
            "+ scaling policy a--api-memory--dev".to_owned(),
        ]
    );
    let tagged: Vec<Option<&str>> = p
        .ops
        .iter()
        .filter_map(|o| match o {
            Op::RegisterTarget { tag, .. } | Op::PutAlarm { tag, .. } => Some(tag.as_deref()),
            _ => None,
        })
        .collect();
    assert_eq!(tagged, [Some("api-scaling"), Some("api-cpu-high")]);
}

#[test]
fn an_up_to_date_stack_plans_nothing_and_keeps_the_policy_arns() {
    let want = want();
    let p = plan(&ctx(), &want, &up_to_date(&want), Prune::Yes).unwrap();
    assert!(p.ops.is_empty(), "{:?}", lines(&p));
    let out = &p.out["api"];
    assert_eq!(
        out.policies["cpu"].1.as_deref(),
        Some("arn:policy/a--api-cpu--dev")
    );
    assert_eq!(out.alarms, ["a--api-cpu-high--dev"]);
}

#[test]
fn bounds_are_updated_in_place_field_by_field() {
    let mut want = want();
    let have = up_to_date(&want);
    want.services[0].max = 12;
    let p = plan(&ctx(), &want, &have, Prune::Yes).unwrap();
    assert_eq!(
        lines(&p),
        [format!("~ scalable target {RID} (max: 10 -> 12)")]
    );
    assert!(matches!(
        &p.ops[0],
        Op::RegisterTarget {
            tag: None,
            min: 2,
            max: 12,
            ..
        }
    ));
    want.services[0].min = 1;
    let p = plan(&ctx(), &want, &have, Prune::Yes).unwrap();
    assert_eq!(
        lines(&p),
        [format!(
            "~ scalable target {RID} (max: 10 -> 12, min: 2 -> 1)"
        )]
    );
}

#[test]
fn every_policy_field_is_compared() {
    let base = want();
    let have = up_to_date(&base);
    type Edit = Box<dyn Fn(&mut WantService)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("target_value", Box::new(|s| s.policies[0].target = 60.0)),
        ("scale_in_cooldown", Box::new(|s| s.scale_in_cooldown = 120)),
        (
            "scale_out_cooldown",
            Box::new(|s| s.scale_out_cooldown = 30),
        ),
        (
            "metric",
            Box::new(|s| s.policies[0].tracked = Tracked::Memory),
        ),
        (
            "resource_label",
            Box::new(|s| s.policies[0].label = Some("app/x/1/targetgroup/y/2".into())),
        ),
    ];
    for (field, change) in cases {
        let mut want = base.clone();
        change(&mut want.services[0]);
        let p = plan(&ctx(), &want, &have, Prune::Yes).unwrap();
        let changes = p.changes();
        assert!(!changes.is_empty(), "{field}");
        for c in &changes {
            assert_eq!(
                (c.kind.as_str(), c.action),
                (POLICY, Action::Update),
                "{field}"
            );
            assert!(c.changes.contains_key(field), "{field}: {:?}", lines(&p));
        }
    }
}

#[test]
fn a_policy_with_scale_in_disabled_or_another_type_is_put_again() {
    let want = want();
    let mut have = up_to_date(&want);
    let p0 = &want.services[0].policies[0];
    let mut cfg = configuration(p0, 300, 60).unwrap();
    cfg.disable_scale_in = Some(true);
    have.policies[0].target_tracking_scaling_policy_configuration = Some(cfg);
    have.policies[1].policy_type = PolicyType::StepScaling;
    let p = plan(&ctx(), &want, &have, Prune::Yes).unwrap();
    let l = lines(&p);
    assert_eq!(l.len(), 2, "{l:?}");
    assert!(l[0].contains("disable_scale_in: true -> false"), "{l:?}");
    assert!(
        l[1].contains("policy_type: StepScaling -> TargetTrackingScaling"),
        "{l:?}"
    );
}

#[test]
fn every_alarm_field_is_compared() {
    let base = want();
    let have = up_to_date(&base);
    type Edit = Box<dyn Fn(&mut WantAlarm)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("threshold", Box::new(|a| a.threshold = 95.0)),
        ("period", Box::new(|a| a.period = 300)),
        ("evaluation_periods", Box::new(|a| a.evaluation_periods = 5)),
        ("actions", Box::new(|a| a.actions = vec![])),
    ];
    for (field, change) in cases {
        let mut want = base.clone();
        change(&mut want.services[0].alarms[0]);
        let p = plan(&ctx(), &want, &have, Prune::Yes).unwrap();
        let changes = p.changes();
        assert_eq!(changes.len(), 1, "{field}");
        assert_eq!(
            (changes[0].kind.as_str(), changes[0].action),
            (ALARM, Action::Update)
        );
        assert!(
            changes[0].changes.contains_key(field),
            "{field}: {:?}",
            lines(&p)
        );
    }
    // Drift made in the console: the dimension and the statistic.
    let mut have = up_to_date(&base);
    have.alarms[0].alarm.dimensions = Some(vec![]);
    have.alarms[0].alarm.statistic = Some(Statistic::Maximum);
    have.alarms[0].alarm.actions_enabled = Some(false);
    let p = plan(&ctx(), &base, &have, Prune::Yes).unwrap();
    let c = &p.changes()[0];
    for f in ["dimensions", "statistic", "actions_enabled"] {
        assert!(c.changes.contains_key(f), "{f}: {c:?}");
    }
}

#[test]
fn a_target_tagged_for_another_stack_or_untagged_is_refused() {
    let want = want();
    for (t, whose) in [
        (tags("payments", "prod", "api-scaling"), "payments/prod"),
        (vec![], "no fargate-pipes tags"),
        (tags("a", "dev", "web-scaling"), "web-scaling"),
    ] {
        let mut have = up_to_date(&want);
        have.targets[0].tags = t;
        let e = refused(plan(&ctx(), &want, &have, Prune::Yes));
        assert!(e.contains(RID) && e.contains(whose), "{e}");
    }
}

#[test]
fn a_foreign_cluster_or_ecs_service_is_refused() {
    let want = want();
    let mut have = up_to_date(&want);
    have.cluster = Some(tags("payments", "prod", "cluster"));
    let e = refused(plan(&ctx(), &want, &have, Prune::Yes));
    assert!(
        e.contains("ecs cluster") && e.contains("payments/prod"),
        "{e}"
    );
    let mut have = up_to_date(&want);
    have.services
        .insert("a--api--dev".into(), tags("a", "prod", "api"));
    let e = refused(plan(&ctx(), &want, &have, Prune::Yes));
    assert!(e.contains("ecs service") && e.contains("a/prod"), "{e}");
}

#[test]
fn an_alarm_of_our_name_tagged_elsewhere_is_refused() {
    let want = want();
    let mut have = up_to_date(&want);
    have.alarms[0].tags = tags("b", "dev", "api-cpu-high");
    let e = refused(plan(&ctx(), &want, &have, Prune::Yes));
    assert!(
        e.contains("a--api-cpu-high--dev") && e.contains("b/dev"),
        "{e}"
    );
}

#[test]
fn a_scaled_service_missing_from_aws_needs_svc_up_unless_planned() {
    let mut want = want();
    let mut have = up_to_date(&want);
    have.services.clear();
    let e = plan(&ctx(), &want, &have, Prune::Yes).unwrap_err();
    assert_eq!(e.exit_code(), 6, "{e}");
    want.services[0].planned = true;
    let p = plan(&ctx(), &want, &Actual::default(), Prune::No).unwrap();
    assert_eq!(p.changes().len(), 4);
    assert!(p.changes().iter().all(|c| c.action == Action::Create));
}

#[test]
fn a_service_that_lost_scaling_is_pruned_only_from_a_stated_spec() {
    let full = want();
    let have = up_to_date(&full);
    let none = Desired {
        cluster: full.cluster.clone(),
        services: vec![],
    };
    let p = plan(&ctx(), &none, &have, Prune::Yes).unwrap();
    assert_eq!(
        lines(&p),
        [
            "- scaling policy a--api-cpu--dev".to_owned(),
            "- scaling policy a--api-memory--dev".to_owned(),
            format!("- scalable target {RID}"),
            "- cloudwatch alarm a--api-cpu-high--dev".to_owned(),
        ]
    );
    let p = plan(&ctx(), &none, &have, Prune::No).unwrap();
    assert!(p.ops.is_empty(), "{:?}", lines(&p));
}

#[test]
fn a_dropped_policy_or_alarm_is_pruned_only_from_a_stated_spec() {
    let full = want();
    let have = up_to_date(&full);
    let mut fewer = full.clone();
    fewer.services[0].policies.truncate(1);
    fewer.services[0].alarms.clear();
    let p = plan(&ctx(), &fewer, &have, Prune::Yes).unwrap();
    assert_eq!(
        lines(&p),
        [
            "- scaling policy a--api-memory--dev",
            "- cloudwatch alarm a--api-cpu-high--dev"
        ]
    );
    let p = plan(&ctx(), &fewer, &have, Prune::No).unwrap();
    assert!(p.ops.is_empty(), "{:?}", lines(&p));
}

#[test]
fn pruning_leaves_what_is_not_ours_alone() {
    let full = want();
    let mut have = up_to_date(&full);
    // Untagged: someone else's target on our cluster, and an alarm of our
    // name's shape that is not tagged ours.
    have.targets[0].tags = vec![];
    have.alarms[0].tags = tags("b", "dev", "api-cpu-high");
    let none = Desired {
        cluster: full.cluster.clone(),
        services: vec![],
    };
    let p = plan(&ctx(), &none, &have, Prune::Yes).unwrap();
    assert!(p.ops.is_empty(), "{:?}", lines(&p));
    // Ours, but tagged as another component: refused, not deleted.
    have.targets[0].tags = tags("a", "dev", "web-scaling");
    refused(plan(&ctx(), &none, &have, Prune::Yes));
}

#[test]
fn alarm_names_are_recognised_only_in_our_shape() {
    let ctx = ctx();
    assert_eq!(
        parse_alarm_name(&ctx, "a--fraud-detector-memory-high--dev"),
        Some(("fraud-detector".to_owned(), AlarmMetric::Memory))
    );
    for other in [
        "a--api-cpu-high--prod",
        "ab--api-cpu-high--dev",
        "a--api-latency-high--dev",
        "a--cpu-high--dev",
    ] {
        assert_eq!(parse_alarm_name(&ctx, other), None, "{other}");
    }
}
