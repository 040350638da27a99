//! The whole spec: message shapes, wrong types, cross-section references,
//! every env, and the reference stacks.

use serde_json::{json, Value};

use super::*;
use crate::Document;

fn doc(v: Value) -> Document {
    let mut root = json!({"version": 1});
    root.as_object_mut()
        .unwrap()
        .extend(v.as_object().unwrap().clone());
    Document::parse(&root.to_string()).unwrap()
}

/// The error `Spec::validate` gives a document with this `spec`.
fn error(spec: Value) -> String {
    error_in(json!({ "spec": spec }))
}

fn error_in(v: Value) -> String {
    let e = Spec::validate(&doc(v)).unwrap_err();
    assert_eq!(e.exit_code(), 5, "{e}");
    e.to_string()
}

fn valid(spec: Value) -> Spec {
    Spec::validate(&doc(json!({ "spec": spec }))).unwrap()
}

#[test]
fn the_message_shapes() {
    assert_eq!(
        error(json!({"servces": {}})),
        "spec.servces: unknown key; did you mean services?"
    );
    assert_eq!(
        error(json!({"services": {"api": {"imgae": "nginx"}}})),
        "spec.services.api.imgae: unknown key; did you mean image?"
    );
    assert_eq!(
        error(json!({"services": {"api": {"cpu": "512"}}})),
        "spec.services.api.cpu: expected a number, got the string \"512\""
    );
    assert_eq!(
        error(json!({"services": {"api": {"secrets": {"DB": "db-credentials"}}}})),
        "spec.services.api.secrets.DB: expected an object, got the string \"db-credentials\""
    );
    assert_eq!(
        error(json!({"services": {"api": {"permissions": [{"actions": "s3:GetObject", "resources": []}]}}})),
        "spec.services.api.permissions[0].actions: expected a list, got the string \"s3:GetObject\""
    );
    assert_eq!(
        error(json!({"network": {"nat": "singel"}})),
        "spec.network.nat: unknown value \"singel\"; did you mean single?"
    );
    assert_eq!(
        error(json!({"services": {"api": {"scaling": {"min": 1}}}})),
        "spec.services.api.scaling.max: missing, and it is required"
    );
}

#[test]
fn no_message_names_a_rust_type() {
    for spec in [
        json!({"services": {"api": {"cpu": "512"}}}),
        json!({"services": {"api": {"secrets": {"DB": 5}}}}),
        json!({"services": {"api": {"stop_timeout": 1.5}}}),
        json!({"services": {"api": {"container_health_check": {"command": ["x"], "retries": 9999999999i64}}}}),
        json!({"network": {"subnet_prefix": 300}}),
        json!({"cluster": {"strategy": [{"provider": 1}]}}),
        json!({"secrets": {"db": {"recovery_window_days": "7"}}}),
        json!({"services": {"api": {"deployment": {"type": "blue-green", "rollback_on_alarms": "yes"}}}}),
    ] {
        let e = error(spec.clone());
        for rust in [
            "u8", "u16", "u32", "i32", "i64", "f64", "struct", "enum", "sequence", "map",
        ] {
            assert!(
                !e.split(|c: char| !c.is_alphanumeric()).any(|w| w == rust),
                "{spec}: {e}"
            );
        }
        assert!(e.contains(": expected "), "{e}");
    }
}

#[test]
fn a_spec_that_is_not_an_object_is_refused() {
    assert_eq!(error(json!([])), "spec: expected an object, got a list");
    assert_eq!(
        error(json!("x")),
        "spec: expected an object, got the string \"x\""
    );
    assert_eq!(
        error(json!(1)),
        "spec: expected an object, got the number 1"
    );
    // Absent and null are the defaults.
    assert_eq!(Spec::validate(&doc(json!({}))).unwrap(), Spec::default());
    assert_eq!(valid(Value::Null), Spec::default());
}

#[test]
fn a_section_of_the_wrong_type_is_refused_not_read_as_defaults() {
    for section in [
        "network",
        "ecr",
        "secrets",
        "cluster",
        "alb",
        "services",
        "discovery",
    ] {
        for (bad, got) in [
            (json!([]), "a list"),
            (json!("x"), "the string \"x\""),
            (json!(true), "true"),
        ] {
            assert_eq!(
                error(json!({ section: bad })),
                format!("spec.{section}: expected an object, got {got}")
            );
        }
        // null reads like an absent section.
        assert_eq!(valid(json!({ section: null })), Spec::default());
    }
    // Deeper too: a list where a service or a route object belongs.
    assert_eq!(
        error(json!({"services": {"api": []}})),
        "spec.services.api: expected an object, got a list"
    );
    assert_eq!(
        error(json!({"services": {"api": {"port": 80, "route": []}}})),
        "spec.services.api.route: expected an object, got a list"
    );
}

#[test]
fn a_misspelt_section_is_refused() {
    assert_eq!(
        error(json!({"servcies": {"api": {}}})),
        "spec.servcies: unknown key; did you mean services?"
    );
    assert!(error(json!({"netwrok": {}})).contains("did you mean network?"));
    let e = error(json!({"zzz": {}}));
    assert!(
        e.starts_with("spec.zzz: unknown key; expected one of network, ecr, secrets"),
        "{e}"
    );
}

#[test]
fn echoed_input_is_capped() {
    let huge = "a".repeat(10 * 1024 * 1024);
    for spec in [
        json!({ huge.clone(): {} }),
        json!({"services": { huge.clone(): {} }}),
        json!({"services": {"api": {"cpu": huge.clone()}}}),
        json!({"network": {"cidr": huge.clone()}}),
        json!({"alb": {"default_service": huge.clone()}}),
        json!({"services": {"api": {"callers": [huge.clone()]}}}),
    ] {
        let e = error(spec);
        assert!(e.len() < 500, "{} chars: {}…", e.len(), &e[..200]);
        assert!(e.contains("aaaa…"), "{e}");
    }
}

#[test]
fn an_invalid_size_in_any_env_fails_every_env() {
    let spec = json!({"services": {"api": {"image": "x", "cpu": 256, "memory": 512,
        "sizes": {"staging": {"cpu": 512, "memory": 1024}, "prod": {"memory": 4096}}}}});
    let e = error(spec);
    assert_eq!(
        e,
        "spec.services.api.sizes.prod.memory: Fargate does not run cpu 256 with memory 4096: \
         with cpu 256 memory must be one of 512, 1024, 2048"
    );
    // The env's cpu with the service's memory: the cpu it set is named.
    assert!(
        error(json!({"services": {"api": {"sizes": {"prod": {"cpu": 1024}}}}})).starts_with(
            "spec.services.api.sizes.prod.cpu: Fargate does not run cpu 1024 with memory 512"
        )
    );
    assert!(
        error(json!({"services": {"api": {"sizes": {"prod": {"cpu": 300}}}}}))
            .starts_with("spec.services.api.sizes.prod.cpu: cpu 300 is not a Fargate size")
    );
    assert!(
        error(json!({"services": {"api": {"sizes": {"prod": {"desired_count": 1001}}}}}))
            .starts_with("spec.services.api.sizes.prod.desired_count: 1001")
    );
    assert!(error(json!({"services": {"api": {"sizes": {"Prod": {}}}}}))
        .starts_with("spec.services.api.sizes.Prod: invalid env"));
    // The service's own size applies to every env not listed.
    assert!(
        error(json!({"services": {"api": {"cpu": 256, "memory": 4096,
        "sizes": {"prod": {"cpu": 1024, "memory": 4096}}}}}))
        .starts_with("spec.services.api.memory: Fargate does not run cpu 256 with memory 4096")
    );
    assert!(error(
        json!({"services": {"api": {"scaling": {"min": 1, "max": 2, "cpu": 50,
        "sizes": {"prod": {"min": 3}}}}}})
    )
    .starts_with("spec.services.api.scaling.sizes.prod: min 3 is above max 2"));
    assert!(error(
        json!({"cluster": {"strategy_by_env": {"prod": [{"provider": "FARGATE", "weight": 0}]}}})
    )
    .starts_with("spec.cluster.strategy_by_env.prod: all weights are zero"));
    // A valid table resolves per env.
    let s = valid(
        json!({"services": {"api": {"sizes": {"prod": {"cpu": 1024, "memory": 2048, "desired_count": 3}}}}}),
    );
    let api = &s.services["api"];
    assert_eq!(
        (api.size("prod").cpu, api.size("prod").desired_count),
        (1024, 3)
    );
    assert_eq!((api.size("dev").cpu, api.size("dev").memory), (256, 512));
}

#[test]
fn references_across_sections() {
    assert!(
        error(json!({"alb": {"default_service": "web"}, "services": {"api": {"port": 1}}}))
            .contains("spec.alb.default_service routes to unknown service 'web'")
    );
    assert_eq!(
        error(json!({"services": {"api": {"port": 80, "callers": ["wrker"]}, "worker": {}}})),
        "spec.services.api.callers[0]: 'wrker' is not a service of spec.services; did you mean worker?"
    );
    let e = error(json!({"services": {"api": {"secrets": {"DB": {"secret": "db"}}}}}));
    assert!(
        e.starts_with("spec.services.api.secrets.DB.secret: secret 'db' is neither in spec.secrets nor in .secrets"),
        "{e}"
    );
    let e = error(json!({"secrets": {"db-credentials": {}},
        "services": {"api": {"secrets": {"DB": {"secret": "db-credential"}}}}}));
    assert!(e.ends_with("did you mean db-credentials?"), "{e}");
    // Declared in the spec, or made by an earlier run (in .secrets): both resolve.
    valid(
        json!({"secrets": {"db": {}}, "services": {"api": {"secrets": {"DB": {"secret": "db"}}}}}),
    );
    Spec::validate(&doc(json!({
        "spec": {"services": {"api": {"secrets": {"DB": {"secret": "db", "key": "any"}}}}},
        "secrets": {"db": {"name": "a-db-dev", "arn": "arn:x"}}
    })))
    .unwrap();
    // A key the secret does not list.
    let e = error(json!({"secrets": {"db": {"json_keys": ["password"]}},
        "services": {"api": {"secrets": {"DB": {"secret": "db", "key": "pasword"}}}}}));
    assert!(
        e.starts_with("spec.services.api.secrets.DB.key: secret 'db' has no key 'pasword'"),
        "{e}"
    );
    // Request-count scaling and blue/green need a route or the ALB's default.
    assert!(error(
        json!({"services": {"api": {"port": 80, "scaling": {"min": 1, "max": 2, "requests": 100}}}})
    )
    .contains("target group"));
    valid(json!({"alb": {"default_service": "api"},
        "services": {"api": {"port": 80, "scaling": {"min": 1, "max": 2, "requests": 100}}}}));
    assert!(
        error(json!({"services": {"api": {"port": 80, "deployment": "blue-green"}}}))
            .contains("needs the service behind the ALB")
    );
}

#[test]
fn the_reference_stacks_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = Document::parse(&text).unwrap();
        let spec = Spec::validate(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!spec.services.is_empty(), "{}", path.display());
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn suggestions_come_only_when_close() {
    assert_eq!(
        one_of("imgae", &["image", "image_tag"]),
        "did you mean image?"
    );
    assert_eq!(one_of("mx", &["min", "max"]), "did you mean max?");
    assert_eq!(one_of("zzz", &["min", "max"]), "expected one of min, max");
    assert_eq!(one_of("x", &[]), "nothing is allowed here");
}

#[test]
fn only_an_explicit_non_empty_section_is_a_statement_that_may_prune() {
    let stated = |spec: Value| super::stated(&doc(json!({"version": 1, "spec": spec})), "services");
    assert!(stated(json!({"services": {"api": {}}})));
    assert!(!stated(json!({"services": {}})));
    assert!(!stated(json!({"services": null})));
    assert!(!stated(json!({})));
    assert!(!super::stated(&doc(json!({"version": 1})), "services"));
}
