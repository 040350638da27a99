//! The cluster's rows of docs/converge/cluster-up.md: the plan alone.

use super::*;

const KEY: &str = "arn:aws:kms:us-east-1:1:key/k1";

fn ctx() -> Context {
    Context::offline("cluster-up", "shop", "dev", "us-east-1")
}

fn item(provider: &str, base: u32, weight: u32) -> StrategyItem {
    StrategyItem {
        provider: provider.into(),
        base,
        weight,
    }
}

fn want() -> Want {
    Want {
        name: "shop--cluster--dev".into(),
        insights: true,
        exec_logging: true,
        exec_key: Some(KEY.into()),
        providers: vec!["FARGATE".into(), "FARGATE_SPOT".into()],
        strategy: vec![item("FARGATE", 1, 1), item("FARGATE_SPOT", 0, 4)],
        tags: ctx().tags(COMPONENT),
    }
}

/// The cluster as cluster-up makes it for `want()`.
fn found() -> FoundCluster {
    FoundCluster {
        name: "shop--cluster--dev".into(),
        arn: "arn:aws:ecs:us-east-1:1:cluster/shop--cluster--dev".into(),
        tags: ctx().tags(COMPONENT).into_iter().collect(),
        insights: "enabled".into(),
        exec_logging: "DEFAULT".into(),
        exec_key: Some(KEY.into()),
        providers: vec!["FARGATE".into(), "FARGATE_SPOT".into()],
        strategy: vec![("FARGATE".into(), 1, 1), ("FARGATE_SPOT".into(), 0, 4)],
    }
}

fn update(w: &Want, c: FoundCluster) -> (Vec<Fix>, String) {
    let (op, change) = plan(w, Some(&c), &ctx()).unwrap().expect("an update");
    let Op::Update { fixes, .. } = op else {
        panic!("{op:?}")
    };
    (fixes, change.line())
}

#[test]
fn no_cluster_is_a_create() {
    let (op, change) = plan(&want(), None, &ctx()).unwrap().unwrap();
    assert_eq!(op, Op::Create);
    assert_eq!(change.line(), "+ ecs cluster shop--cluster--dev");
}

#[test]
fn a_converged_cluster_gives_no_change() {
    assert_eq!(plan(&want(), Some(&found()), &ctx()).unwrap(), None);
    // The strategy's order does not matter.
    let mut w = want();
    w.strategy.reverse();
    w.providers.reverse();
    assert_eq!(plan(&w, Some(&found()), &ctx()).unwrap(), None);
}

#[test]
fn container_insights_is_updated_and_enhanced_counts_as_on() {
    let off = Want {
        insights: false,
        ..want()
    };
    let (fixes, line) = update(&off, found());
    assert_eq!(
        fixes,
        [Fix::Update {
            insights: true,
            exec: false
        }]
    );
    assert_eq!(
        line.split(" (").nth(1).unwrap(),
        "container_insights: enabled -> disabled)"
    );
    let enhanced = FoundCluster {
        insights: "enhanced".into(),
        ..found()
    };
    assert_eq!(plan(&want(), Some(&enhanced), &ctx()).unwrap(), None);
}

#[test]
fn exec_logging_and_its_key_are_one_exec_update() {
    let quiet = Want {
        exec_logging: false,
        ..want()
    };
    let (fixes, line) = update(&quiet, found());
    assert_eq!(
        fixes,
        [Fix::Update {
            insights: false,
            exec: true
        }]
    );
    assert!(line.contains("exec_logging: DEFAULT -> NONE"), "{line}");
    let no_key = Want {
        exec_key: None,
        ..want()
    };
    let (fixes, line) = update(&no_key, found());
    assert_eq!(
        fixes,
        [Fix::Update {
            insights: false,
            exec: true
        }]
    );
    assert!(
        line.contains(&format!("exec_kms_key: {KEY} -> null")),
        "{line}"
    );
    let both = Want {
        insights: false,
        exec_logging: false,
        ..want()
    };
    let (fixes, _) = update(&both, found());
    assert_eq!(
        fixes,
        [Fix::Update {
            insights: true,
            exec: true
        }],
        "one UpdateCluster"
    );
}

#[test]
fn providers_and_strategy_are_one_capacity_provider_update() {
    let spot = Want {
        strategy: vec![item("FARGATE_SPOT", 0, 1)],
        ..want()
    };
    let (fixes, line) = update(&spot, found());
    assert_eq!(fixes, [Fix::CapacityProviders]);
    assert_eq!(
        line,
        "~ ecs cluster shop--cluster--dev (default_strategy: FARGATE:1:1,FARGATE_SPOT:0:4 -> FARGATE_SPOT:0:1)"
    );
    let only_fargate = Want {
        providers: vec!["FARGATE".into()],
        strategy: vec![item("FARGATE", 0, 1)],
        ..want()
    };
    let (fixes, line) = update(&only_fargate, found());
    assert_eq!(fixes, [Fix::CapacityProviders]);
    assert!(
        line.contains("capacity_providers:") && line.contains("default_strategy:"),
        "{line}"
    );
}

#[test]
fn missing_tags_are_put_back() {
    let mut c = found();
    c.tags.remove("Name");
    let (fixes, _) = update(&want(), c);
    assert_eq!(
        fixes,
        [Fix::Tags(
            [("Name".into(), "shop--cluster--dev".into())].into()
        )]
    );
}

#[test]
fn a_cluster_of_our_name_that_is_not_ours_is_refused() {
    for tags in [
        common::naming::tags("other", "dev", "cluster", &Default::default()),
        common::naming::tags("shop", "prod", "cluster", &Default::default()),
        vec![],
    ] {
        let c = FoundCluster {
            tags: tags.into_iter().collect(),
            ..found()
        };
        let e = plan(&want(), Some(&c), &ctx()).unwrap_err();
        assert_eq!(e.exit_code(), 10, "{e}");
    }
}
