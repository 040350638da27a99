//! One test per row of docs/converge/ecr-up.md: the plan alone, no AWS.

use serde_json::json;

use super::*;
use crate::spec::Settings;

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn ctx() -> Context {
    Context::offline("ecr-up", "shop", "dev", "us-east-1")
}

fn settings() -> Settings {
    Settings {
        keep_images: 10,
        immutable_tags: true,
        scan_on_push: true,
        encryption: Encryption::Aes256,
        kms_key: None,
    }
}

fn desired(settings: Settings) -> Desired {
    Desired {
        services: vec!["api".to_owned()],
        settings,
    }
}

/// The api repository as ecr-up would have made it with `settings()`.
fn converged() -> Repo {
    let c = ctx();
    Repo {
        name: "shop/dev/api".into(),
        arn: "arn:aws:ecr:us-east-1:123456789012:repository/shop/dev/api".into(),
        uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/dev/api".into(),
        tags: c.tags("api").into_iter().collect(),
        scan_on_push: true,
        mutability: "IMMUTABLE".into(),
        encryption: "AES256".into(),
        kms_key: None,
        lifecycle: Some(lifecycle_policy(10)),
        empty: None,
    }
}

fn actual(repo: Repo) -> Actual {
    Actual {
        repos: [(repo.name.clone(), repo)].into(),
        wanted_key_arn: None,
    }
}

fn planned(settings: Settings, repo: Repo) -> Result<Vec<Planned>> {
    plan(&ctx(), &desired(settings), &actual(repo))
}

/// The one update's fields, as `field: from -> to`.
fn update_fields(p: &[Planned]) -> Vec<String> {
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].change.action, Action::Update);
    assert!(matches!(p[0].op, Op::Update { .. }));
    p[0].change
        .changes
        .iter()
        .map(|(k, c)| format!("{k}: {} -> {}", c.from, c.to))
        .collect()
}

#[test]
fn a_missing_repository_is_created_with_every_setting() {
    let p = plan(&ctx(), &desired(settings()), &Actual::default()).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].change.line(), "+ ecr repository shop/dev/api");
    let Op::Create(c) = &p[0].op else {
        panic!("{p:?}")
    };
    assert_eq!(c.settings, settings());
    assert!(c
        .tags
        .contains(&("fargate-pipes:component".to_owned(), "api".to_owned())));
}

#[test]
fn a_converged_repository_gives_no_change() {
    assert!(planned(settings(), converged()).unwrap().is_empty());
}

#[test]
fn scan_on_push_is_updated_in_place() {
    let s = Settings {
        scan_on_push: false,
        ..settings()
    };
    let p = planned(s, converged()).unwrap();
    assert_eq!(update_fields(&p), ["scan_on_push: true -> false"]);
    let Op::Update { fixes, .. } = &p[0].op else {
        unreachable!()
    };
    assert_eq!(fixes, &[Fix::ScanOnPush(false)]);
}

#[test]
fn tag_mutability_is_updated_in_place_and_exclusions_count_as_drift() {
    let s = Settings {
        immutable_tags: false,
        ..settings()
    };
    let p = planned(s, converged()).unwrap();
    assert_eq!(
        update_fields(&p),
        ["image_tag_mutability: \"IMMUTABLE\" -> \"MUTABLE\""]
    );
    let excluded = Repo {
        mutability: "IMMUTABLE_WITH_EXCLUSION".into(),
        ..converged()
    };
    let p = planned(settings(), excluded).unwrap();
    let Op::Update { fixes, .. } = &p[0].op else {
        panic!("{p:?}")
    };
    assert_eq!(fixes, &[Fix::ImmutableTags(true)]);
}

#[test]
fn keep_images_rewrites_the_lifecycle_policy() {
    let s = Settings {
        keep_images: 5,
        ..settings()
    };
    let p = planned(s, converged()).unwrap();
    assert_eq!(update_fields(&p), ["keep_images: 10 -> 5"]);
    // No policy at all, or one that is not ours (hand-edited, not JSON): put back.
    for lifecycle in [
        None,
        Some(serde_json::Value::Null),
        Some(json!({"rules": []})),
    ] {
        let repo = Repo {
            lifecycle,
            ..converged()
        };
        let p = planned(settings(), repo).unwrap();
        let Op::Update { fixes, .. } = &p[0].op else {
            panic!("{p:?}")
        };
        assert_eq!(fixes, &[Fix::KeepImages(10)]);
    }
}

#[test]
fn missing_or_changed_tags_are_put_back_and_extra_ones_left() {
    let mut repo = converged();
    repo.tags.remove("Name");
    repo.tags.insert("cost-centre".into(), "42".into());
    let mut c = ctx();
    c.user_tags.insert("team".into(), "platform".into());
    let p = plan(&c, &desired(settings()), &actual(repo)).unwrap();
    assert_eq!(
        update_fields(&p),
        [r#"tags: {"Name":null,"team":null} -> {"Name":"shop--api--dev","team":"platform"}"#]
    );
}

#[test]
fn several_drifted_settings_are_one_update() {
    let s = Settings {
        keep_images: 3,
        scan_on_push: false,
        immutable_tags: false,
        ..settings()
    };
    let p = planned(s, converged()).unwrap();
    assert_eq!(update_fields(&p).len(), 3);
    assert_eq!(p[0].change.id.as_deref(), Some(converged().arn.as_str()));
}

#[test]
fn a_repository_that_is_not_ours_is_refused() {
    for (stack, env, component) in [
        ("other", "dev", "api"),
        ("shop", "prod", "api"),
        ("shop", "dev", "worker"),
    ] {
        let repo = Repo {
            tags: common::naming::tags(stack, env, component, &Default::default())
                .into_iter()
                .collect(),
            ..converged()
        };
        let e = planned(settings(), repo).unwrap_err();
        assert_eq!(e.exit_code(), 10, "{e}");
        assert!(e.to_string().contains("shop/dev/api"), "{e}");
    }
    let untagged = Repo {
        tags: Tags::new(),
        ..converged()
    };
    assert_eq!(planned(settings(), untagged).unwrap_err().exit_code(), 10);
}

#[test]
fn another_encryption_replaces_an_empty_repository() {
    let s = Settings {
        encryption: Encryption::Kms,
        ..settings()
    };
    let empty = Repo {
        empty: Some(true),
        ..converged()
    };
    let p = planned(s.clone(), empty).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0].change.line(),
        "-/+ ecr repository shop/dev/api (encryption: AES256 -> KMS)"
    );
    let Op::Replace { create, old_arn } = &p[0].op else {
        panic!("{p:?}")
    };
    assert_eq!(create.settings, s);
    assert_eq!(old_arn, &converged().arn);
}

#[test]
fn another_encryption_is_refused_while_the_repository_holds_images() {
    let s = Settings {
        encryption: Encryption::Kms,
        ..settings()
    };
    for empty in [Some(false), None] {
        let repo = Repo {
            empty,
            ..converged()
        };
        let e = planned(s.clone(), repo).unwrap_err();
        assert_eq!(e.exit_code(), 5);
        let text = e.to_string();
        assert!(
            text.starts_with("spec.ecr.encryption: ") && text.contains("cannot change"),
            "{text}"
        );
    }
}

#[test]
fn kms_keys_are_compared_by_arn_id_or_resolved_alias() {
    let kms = Repo {
        encryption: "KMS".into(),
        kms_key: Some(KEY.into()),
        ..converged()
    };
    let with_key = |key: &str| Settings {
        encryption: Encryption::Kms,
        kms_key: Some(key.to_owned()),
        ..settings()
    };
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    for key in [KEY, id] {
        assert!(encryption_matches(&with_key(key), None, &kms), "{key}");
    }
    let other = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab";
    assert!(!encryption_matches(&with_key(other), None, &kms));
    assert!(!encryption_matches(&with_key("ffff"), None, &kms));
    // An alias is compared through the ARN discovery resolved it to.
    assert!(encryption_matches(&with_key("alias/ecr"), Some(KEY), &kms));
    assert!(!encryption_matches(
        &with_key("alias/ecr"),
        Some(other),
        &kms
    ));
    // KMS_DSSE is not KMS.
    let dsse = Repo {
        encryption: "KMS_DSSE".into(),
        ..kms.clone()
    };
    assert!(!encryption_matches(&with_key(KEY), None, &dsse));
}

#[test]
fn kms_without_a_key_takes_any_key_the_managed_one_is_not_known_in_advance() {
    let kms = Repo {
        encryption: "KMS".into(),
        kms_key: Some(KEY.into()),
        ..converged()
    };
    let s = Settings {
        encryption: Encryption::Kms,
        ..settings()
    };
    assert!(planned(s, kms).unwrap().is_empty());
}

#[test]
fn a_repository_whose_service_left_the_spec_is_kept() {
    let worker = Repo {
        name: "shop/dev/worker".into(),
        tags: ctx().tags("worker").into_iter().collect(),
        ..converged()
    };
    let mut a = actual(converged());
    a.repos.insert(worker.name.clone(), worker);
    // A repository of another stack found by a document hint is not "kept" news.
    let foreign = Repo {
        name: "other/dev/api".into(),
        tags: common::naming::tags("other", "dev", "api", &Default::default())
            .into_iter()
            .collect(),
        ..converged()
    };
    a.repos.insert(foreign.name.clone(), foreign);
    let p = plan(&ctx(), &desired(settings()), &a).unwrap();
    assert!(p.is_empty(), "nothing is deleted: {p:?}");
    assert_eq!(kept(&ctx(), &desired(settings()), &a), ["shop/dev/worker"]);
}
