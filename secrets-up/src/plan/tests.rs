//! One test per row of docs/converge/secrets-up.md: the plan alone, no AWS.

use super::*;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab";

fn ctx() -> Context {
    Context::offline("secrets-up", "shop", "dev", "us-east-1")
}

fn wanted(short: &str) -> Wanted {
    Wanted {
        short: short.into(),
        description: format!("{short} of shop/dev (fargate-pipes secrets-up)"),
        kms_key: None,
        recovery_window_days: 7,
        json_keys: vec![],
    }
}

fn desired(wanted: Vec<Wanted>, prune: bool) -> Desired {
    Desired {
        wanted,
        prune,
        windows: BTreeMap::new(),
    }
}

/// The secret as secrets-up makes it for `wanted(short)`, with a value.
fn found(short: &str) -> Found {
    Found {
        name: format!("shop--{short}--dev"),
        arn: format!("arn:aws:secretsmanager:us-east-1:1:secret:shop--{short}--dev-AbCdEf"),
        description: Some(wanted(short).description),
        kms_key: None,
        tags: ctx().tags(short).into_iter().collect(),
        scheduled: false,
        has_value: true,
        current: Current::NotRead,
    }
}

fn actual(found: Vec<Found>) -> Actual {
    Actual {
        secrets: found.into_iter().map(|f| (f.name.clone(), f)).collect(),
    }
}

fn no_values() -> BTreeMap<String, SecretValue> {
    BTreeMap::new()
}

fn value(v: &str) -> BTreeMap<String, SecretValue> {
    [("db".to_owned(), SecretValue::new(v.to_owned()))].into()
}

/// The plan for `db` as `want` against `have`, given `values`.
fn one(want: Wanted, have: Found, values: &BTreeMap<String, SecretValue>) -> Vec<Planned> {
    plan(
        &ctx(),
        &desired(vec![want], false),
        values,
        &actual(vec![have]),
    )
    .unwrap()
}

/// The single update's fixes and its line.
fn update(p: &[Planned]) -> (Vec<Fix>, String) {
    assert_eq!(p.len(), 1, "{p:?}");
    let Op::Update { fixes, .. } = &p[0].op else {
        panic!("{p:?}")
    };
    (fixes.clone(), p[0].change.line())
}

#[test]
fn a_missing_secret_is_created_with_the_value_given_or_without() {
    for (values, with_value) in [(value("v"), true), (no_values(), false)] {
        let p = plan(
            &ctx(),
            &desired(vec![wanted("db")], false),
            &values,
            &Actual::default(),
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].change.line(), "+ secret shop--db--dev");
        let Op::Create(c) = &p[0].op else {
            panic!("{p:?}")
        };
        assert_eq!(c.with_value, with_value);
        assert_eq!(c.description, wanted("db").description);
        assert!(c
            .tags
            .contains(&("fargate-pipes:component".into(), "db".into())));
    }
}

#[test]
fn a_converged_secret_gives_no_change_and_recovery_window_and_json_keys_are_not_aws_settings() {
    let w = Wanted {
        recovery_window_days: 30,
        json_keys: vec!["password".into()],
        ..wanted("db")
    };
    assert!(one(w, found("db"), &no_values()).is_empty());
}

#[test]
fn a_secret_scheduled_for_deletion_is_restored() {
    let f = Found {
        scheduled: true,
        ..found("db")
    };
    let (fixes, line) = update(&one(wanted("db"), f, &no_values()));
    assert_eq!(fixes, [Fix::Restore]);
    assert_eq!(
        line,
        "~ secret shop--db--dev (scheduled_for_deletion: true -> false)"
    );
}

#[test]
fn the_description_is_updated_to_the_spec_or_ours() {
    let f = Found {
        description: Some("set by hand".into()),
        ..found("db")
    };
    let (fixes, line) = update(&one(wanted("db"), f, &no_values()));
    assert_eq!(fixes, [Fix::Description(wanted("db").description)]);
    assert!(
        line.contains("description: set by hand -> db of shop/dev"),
        "{line}"
    );
}

#[test]
fn the_kms_key_is_compared_in_any_form_and_reset_to_the_managed_key() {
    let with_key = |k: &str| Wanted {
        kms_key: Some(k.into()),
        ..wanted("db")
    };
    let encrypted = Found {
        kms_key: Some(KEY.into()),
        ..found("db")
    };
    for same in [KEY, "1234abcd-12ab"] {
        assert!(
            one(with_key(same), encrypted.clone_found(), &no_values()).is_empty(),
            "{same}"
        );
    }
    let alias = Found {
        kms_key: Some("arn:aws:kms:us-east-1:111122223333:alias/app".into()),
        ..found("db")
    };
    assert!(one(with_key("alias/app"), alias, &no_values()).is_empty());
    // Another key, a key where there was none, none where there was one.
    let (fixes, _) = update(&one(
        with_key("alias/other"),
        encrypted.clone_found(),
        &no_values(),
    ));
    assert_eq!(fixes, [Fix::KmsKey(Some("alias/other".into()))]);
    let (fixes, _) = update(&one(with_key(KEY), found("db"), &no_values()));
    assert_eq!(fixes, [Fix::KmsKey(Some(KEY.into()))]);
    let (fixes, line) = update(&one(wanted("db"), encrypted, &no_values()));
    assert_eq!(fixes, [Fix::KmsKey(None)]);
    assert!(line.contains(&format!("kms_key: {KEY} -> null")), "{line}");
    // The managed key reported by its alias is no key of ours.
    let managed = Found {
        kms_key: Some(AWS_MANAGED_KEY.into()),
        ..found("db")
    };
    assert!(one(wanted("db"), managed, &no_values()).is_empty());
}

#[test]
fn missing_tags_are_put_back() {
    let mut f = found("db");
    f.tags.remove("Name");
    let (fixes, line) = update(&one(wanted("db"), f, &no_values()));
    assert_eq!(
        fixes,
        [Fix::Tags(
            [("Name".to_owned(), "shop--db--dev".to_owned())].into()
        )]
    );
    assert!(line.contains("tags:"), "{line}");
}

#[test]
fn a_value_given_is_stored_only_when_it_differs() {
    // No value yet: set.
    let empty = Found {
        has_value: false,
        ..found("db")
    };
    let (fixes, line) = update(&one(wanted("db"), empty, &value("new")));
    assert_eq!(fixes, [Fix::Value]);
    assert_eq!(line, "~ secret shop--db--dev (value: (none) -> (given))");
    // The same value again: nothing.
    let same = Found {
        current: Current::Value(SecretValue::new("new".into())),
        ..found("db")
    };
    assert!(one(wanted("db"), same, &value("new")).is_empty());
    // Another value: replaced, and the line says so without either value.
    let other = Found {
        current: Current::Value(SecretValue::new("old-hunter2".into())),
        ..found("db")
    };
    let p = one(wanted("db"), other, &value("new-hunter3"));
    let (fixes, line) = update(&p);
    assert_eq!(fixes, [Fix::Value]);
    assert_eq!(line, "~ secret shop--db--dev (value: (current) -> (given))");
    let all = format!("{p:?} {}", serde_json::to_string(&p[0].change).unwrap());
    assert!(!all.contains("hunter"), "{all}");
    // Unreadable: stored, since it cannot be compared.
    let unreadable = Found {
        current: Current::Unreadable,
        ..found("db")
    };
    assert_eq!(
        update(&one(wanted("db"), unreadable, &value("v"))).0,
        [Fix::Value]
    );
}

#[test]
fn without_a_value_the_secrets_value_is_kept() {
    let f = Found {
        current: Current::NotRead,
        ..found("db")
    };
    assert!(one(wanted("db"), f, &no_values()).is_empty());
}

#[test]
fn a_secret_that_is_not_ours_is_refused() {
    for tags in [
        common::naming::tags("other", "dev", "db", &Default::default()),
        common::naming::tags("shop", "prod", "db", &Default::default()),
        common::naming::tags("shop", "dev", "api", &Default::default()),
        vec![],
    ] {
        let f = Found {
            tags: tags.into_iter().collect(),
            ..found("db")
        };
        let e = plan(
            &ctx(),
            &desired(vec![wanted("db")], true),
            &value("v"),
            &actual(vec![f]),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 10, "{e}");
        assert!(e.to_string().contains("shop--db--dev"), "{e}");
    }
}

#[test]
fn two_secrets_tagged_as_one_are_refused_naming_both() {
    let copy = Found {
        name: "db-copy".into(),
        arn: "arn:copy".into(),
        ..found("db")
    };
    let e = plan(
        &ctx(),
        &desired(vec![wanted("db")], false),
        &no_values(),
        &actual(vec![found("db"), copy]),
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 10);
    assert!(e.to_string().contains("db-copy and shop--db--dev"), "{e}");
}

#[test]
fn an_explicit_spec_prunes_what_it_no_longer_names_with_its_window() {
    let mut d = desired(vec![wanted("db")], true);
    d.windows.insert("old".into(), 21);
    let gone_before = Found {
        scheduled: true,
        ..found("older")
    };
    let foreign = Found {
        tags: common::naming::tags("other", "dev", "x", &Default::default())
            .into_iter()
            .collect(),
        ..found("x")
    };
    let a = actual(vec![
        found("db"),
        found("old"),
        found("api"),
        gone_before,
        foreign,
    ]);
    let p = plan(&ctx(), &d, &no_values(), &a).unwrap();
    let lines: Vec<String> = p.iter().map(|p| p.change.line()).collect();
    assert_eq!(
        lines,
        [
            "- secret shop--api--dev (recovery_window_days: null -> 7)",
            "- secret shop--old--dev (recovery_window_days: null -> 21)"
        ]
    );
    assert!(matches!(p[1].op, Op::Delete { window: 21, .. }));
}

#[test]
fn an_absent_or_empty_spec_prunes_nothing() {
    let d = desired(vec![], false);
    let a = actual(vec![found("db"), found("api")]);
    assert!(plan(&ctx(), &d, &no_values(), &a).unwrap().is_empty());
    assert_eq!(unwanted(&ctx(), &d, &a).len(), 2, "reported, not deleted");
}

trait CloneFound {
    fn clone_found(&self) -> Found;
}

impl CloneFound for Found {
    fn clone_found(&self) -> Found {
        Found {
            name: self.name.clone(),
            arn: self.arn.clone(),
            description: self.description.clone(),
            kms_key: self.kms_key.clone(),
            tags: self.tags.clone(),
            scheduled: self.scheduled,
            has_value: self.has_value,
            current: Current::NotRead,
        }
    }
}
