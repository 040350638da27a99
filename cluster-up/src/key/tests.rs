//! The log key's rows of docs/converge/cluster-up.md: the plan alone, no AWS.

use super::*;

fn ctx() -> Context {
    Context::offline("cluster-up", "shop", "dev", "us-east-1")
}

fn the_policy() -> Value {
    policy("us-east-1", "123456789012")
}

/// The key as cluster-up makes it: ours, enabled, aliased, converged.
fn key(id: &str) -> FoundKey {
    FoundKey {
        id: id.into(),
        arn: format!("arn:aws:kms:us-east-1:123456789012:key/{id}"),
        state: "Enabled".into(),
        created: 100,
        tags: ctx().tags(COMPONENT).into_iter().collect(),
        policy: Some(the_policy()),
        rotation: Some(true),
    }
}

fn aliased(k: FoundKey) -> Keys {
    Keys {
        aliased: Some(k),
        tagged: vec![],
    }
}

fn update_of(p: &Plan) -> (Vec<Fix>, String) {
    let Some((Op::Update { fixes, .. }, change)) = &p.op else {
        panic!("{p:?}")
    };
    (fixes.clone(), change.line())
}

#[test]
fn no_key_is_a_create_with_policy_and_tags() {
    let p = plan(&ctx(), &Keys::default(), &the_policy()).unwrap();
    assert_eq!(p.key, None);
    let Some((
        Op::Create {
            alias,
            policy,
            tags,
        },
        change,
    )) = &p.op
    else {
        panic!("{p:?}")
    };
    assert_eq!(alias, "alias/shop--logs--dev");
    assert_eq!(policy, &the_policy());
    assert!(tags.contains(&("fargate-pipes:component".into(), "logs".into())));
    assert_eq!(change.line(), "+ kms key alias/shop--logs--dev");
}

#[test]
fn a_converged_key_gives_no_change_and_is_the_key_used() {
    let p = plan(&ctx(), &aliased(key("k1")), &the_policy()).unwrap();
    assert_eq!(p.op, None);
    assert_eq!(p.key, Some(("k1".into(), key("k1").arn)));
}

#[test]
fn a_drifted_key_policy_is_put_back() {
    let k = FoundKey {
        policy: Some(json!({"Statement": []})),
        ..key("k1")
    };
    let (fixes, line) = update_of(&plan(&ctx(), &aliased(k), &the_policy()).unwrap());
    assert_eq!(fixes, [Fix::Policy(the_policy())]);
    assert!(
        line.starts_with("~ kms key alias/shop--logs--dev (key_policy: "),
        "{line}"
    );
}

#[test]
fn rotation_is_turned_on() {
    let k = FoundKey {
        rotation: Some(false),
        ..key("k1")
    };
    let (fixes, line) = update_of(&plan(&ctx(), &aliased(k), &the_policy()).unwrap());
    assert_eq!(fixes, [Fix::Rotation]);
    assert_eq!(
        line,
        "~ kms key alias/shop--logs--dev (rotation: false -> true)"
    );
}

#[test]
fn a_disabled_key_is_enabled_and_one_pending_deletion_restored() {
    let k = FoundKey {
        state: "Disabled".into(),
        ..key("k1")
    };
    let (fixes, _) = update_of(&plan(&ctx(), &aliased(k), &the_policy()).unwrap());
    assert_eq!(fixes, [Fix::Enable]);
    // Pending deletion (teardown removed the alias too): restored, re-aliased,
    // and its policy and rotation put, since neither could be read.
    let k = FoundKey {
        state: "PendingDeletion".into(),
        policy: None,
        rotation: None,
        ..key("k1")
    };
    let keys = Keys {
        aliased: None,
        tagged: vec![k],
    };
    let p = plan(&ctx(), &keys, &the_policy()).unwrap();
    let (fixes, line) = update_of(&p);
    assert_eq!(
        fixes,
        [
            Fix::CancelDeletion,
            Fix::Enable,
            Fix::Alias,
            Fix::Policy(the_policy()),
            Fix::Rotation
        ]
    );
    assert!(line.contains("state: PendingDeletion -> Enabled"), "{line}");
    assert_eq!(p.key.unwrap().0, "k1");
}

#[test]
fn a_key_without_its_alias_is_found_by_tag_and_aliased_again() {
    let keys = Keys {
        aliased: None,
        tagged: vec![key("k1")],
    };
    let (fixes, line) = update_of(&plan(&ctx(), &keys, &the_policy()).unwrap());
    assert_eq!(fixes, [Fix::Alias]);
    assert_eq!(
        line,
        "~ kms key alias/shop--logs--dev (alias: null -> alias/shop--logs--dev)"
    );
}

#[test]
fn missing_tags_are_put_back() {
    let mut k = key("k1");
    k.tags.remove("Name");
    let (fixes, _) = update_of(&plan(&ctx(), &aliased(k), &the_policy()).unwrap());
    assert_eq!(
        fixes,
        [Fix::Tags(
            [("Name".into(), "shop--logs--dev".into())].into()
        )]
    );
}

#[test]
fn an_alias_naming_a_key_that_is_not_ours_is_refused() {
    for tags in [
        common::naming::tags("other", "dev", "logs", &Default::default()),
        common::naming::tags("shop", "dev", "cluster", &Default::default()),
        vec![],
    ] {
        let k = FoundKey {
            tags: tags.into_iter().collect(),
            ..key("k1")
        };
        let e = plan(&ctx(), &aliased(k), &the_policy()).unwrap_err();
        assert_eq!(e.exit_code(), 10, "{e}");
        assert!(e.to_string().contains("alias/shop--logs--dev"), "{e}");
    }
}

#[test]
fn two_live_keys_tagged_as_the_log_key_are_refused_naming_both() {
    let keys = Keys {
        aliased: Some(key("k1")),
        tagged: vec![key("k2")],
    };
    let e = plan(&ctx(), &keys, &the_policy()).unwrap_err();
    assert_eq!(e.exit_code(), 10);
    let text = e.to_string();
    assert!(
        text.contains(&key("k1").arn) && text.contains(&key("k2").arn),
        "{text}"
    );
    // A second one already pending deletion is on its way out: not a claimant.
    let keys = Keys {
        aliased: Some(key("k1")),
        tagged: vec![FoundKey {
            state: "PendingDeletion".into(),
            ..key("k2")
        }],
    };
    assert_eq!(plan(&ctx(), &keys, &the_policy()).unwrap().op, None);
}

#[test]
fn the_policy_follows_region_and_partition() {
    let p = policy("cn-north-1", "111122223333");
    assert_eq!(
        p["Statement"][0]["Principal"]["AWS"],
        "arn:aws-cn:iam::111122223333:root"
    );
    assert_eq!(
        p["Statement"][1]["Principal"]["Service"],
        "logs.cn-north-1.amazonaws.com"
    );
    assert_eq!(
        p["Statement"][1]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"],
        "arn:aws-cn:logs:cn-north-1:111122223333:log-group:*"
    );
}
