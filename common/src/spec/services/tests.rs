//! One service's rules, each env's size, and its references.

use serde_json::{json, Value};

use super::*;
use crate::spec::read;

fn check_services(v: Value) -> Result<()> {
    let services: ServicesSpec = read("spec.services", &v)?;
    let secrets = SecretsSpec::new();
    check(&Known {
        services: &services,
        secrets: &secrets,
        deployed_secrets: &BTreeSet::new(),
        alb: &AlbSpec::default(),
    })
}

fn err(v: Value) -> String {
    check_services(v).unwrap_err().to_string()
}

#[test]
fn the_fargate_table() {
    assert_eq!(fargate_memory(256).unwrap(), [512, 1024, 2048]);
    assert_eq!(fargate_memory(512).unwrap(), [1024, 2048, 3072, 4096]);
    assert_eq!(fargate_memory(8192).unwrap().last(), Some(&61440));
    assert!(fargate_memory(16384).unwrap().contains(&122880));
    assert!(fargate_memory(300).is_none());
    assert!(check_services(json!({"a": {"cpu": 4096, "memory": 30720}})).is_ok());
    assert!(err(json!({"a": {"cpu": 256, "memory": 4096}}))
        .starts_with("spec.services.a.memory: Fargate does not run cpu 256 with memory 4096"));
    assert!(err(json!({"a": {"cpu": -1}})).starts_with("spec.services.a.cpu: cpu -1"));
}

#[test]
fn policies_refuse_wildcards() {
    let p = |a: &str, r: &str| {
        check_permissions(
            "p",
            &[Permission {
                actions: vec![a.into()],
                resources: vec![r.into()],
            }],
        )
    };
    assert!(p("s3:GetObject", "arn:aws:s3:::b/*").is_ok());
    for (a, r) in [
        ("*", "arn:aws:s3:::b"),
        ("s3:*", "arn:aws:s3:::b"),
        ("s3:GetObject", "*"),
    ] {
        let e = p(a, r).unwrap_err().to_string();
        assert!(
            e.starts_with("p[0].") && e.contains("least privilege"),
            "{e}"
        );
    }
    assert!(check_permissions("p", &[]).is_ok());
}

#[test]
fn exec_needs_a_writable_root_filesystem() {
    let s = |v: Value| -> ServiceSpec { read("s", &v).unwrap() };
    assert_eq!(s(json!({})).exec_and_read_only(), (false, true));
    assert_eq!(s(json!({"exec": true})).exec_and_read_only(), (true, false));
    let e = err(json!({"b": {"exec": true, "read_only_root_filesystem": true}}));
    assert!(e.contains("writable root filesystem"), "{e}");
}

#[test]
fn every_field_rule_names_its_path() {
    for (service, needle) in [
        (
            json!({"port": 0}),
            "spec.services.a.port: port 0 is not a port",
        ),
        (json!({"port": 65536}), "spec.services.a.port: port 65536"),
        (
            json!({"environment": {"1X": "v"}}),
            "spec.services.a.environment.1X: '1X' is not an environment variable name",
        ),
        (
            json!({"environment": {"X": {"y": 1}}}),
            "spec.services.a.environment.X: expected a string, number or boolean, got an object",
        ),
        (
            json!({"environment": {"AWS_SECRET_ACCESS_KEY": "x"}}),
            "spec.services.a.environment.AWS_SECRET_ACCESS_KEY: credentials never go in plain environment values",
        ),
        (
            json!({"image": "nginx", "image_tag": "v1"}),
            "spec.services.a: both image and image_tag are set",
        ),
        (
            json!({"image_tag": "-v1"}),
            "spec.services.a.image_tag: invalid image tag '-v1'",
        ),
        (
            json!({"environment": {"X": "1"}, "secrets": {"X": {"secret": "s"}}}),
            "spec.services.a.secrets.X: X is both in environment and in secrets",
        ),
        (
            json!({"container_health_check": {"command": []}}),
            "spec.services.a.container_health_check.command is empty",
        ),
        (
            json!({"container_health_check": {"command": ["x"], "interval": 1}}),
            "spec.services.a.container_health_check.interval: 1 is not between 5 and 300",
        ),
        (
            json!({"stop_timeout": 1}),
            "spec.services.a.stop_timeout: 1 is not between 2 and 120",
        ),
        (
            json!({"discovery": {"ttl": -1}}),
            "spec.services.a.discovery.ttl: -1",
        ),
        (
            json!({"callers": ["a"]}),
            "spec.services.a.callers: callers need a port",
        ),
        (
            json!({"log_retention_days": 10}),
            "spec.services.a.log_retention_days: 10 is not a CloudWatch retention",
        ),
        (
            json!({"desired_count": -1}),
            "spec.services.a.desired_count: -1 is not between 0 and 1000",
        ),
        (
            json!({"deployment": "green-blue"}),
            "spec.services.a.deployment: 'green-blue' is not a deployment type",
        ),
        (
            json!({"scaling": {"min": 2, "max": 1, "cpu": 50}}),
            "spec.services.a.scaling: min 2 is above max 1",
        ),
    ] {
        let e = err(json!({ "a": service }));
        assert!(e.starts_with(needle), "{needle}\n{e}");
    }
    let long = "x".repeat(40);
    assert!(err(json!({ long: {} })).contains("invalid service name"));
    assert!(err(json!({"Api": {}})).starts_with("spec.services.Api: invalid service name 'Api'"));
}

#[test]
fn health_check_commands_get_ecs_form() {
    let h = ContainerHealthCheck {
        command: vec!["curl".into(), "-f".into(), "localhost".into()],
        interval: None,
        timeout: None,
        retries: None,
        start_period: None,
    };
    assert_eq!(
        h.checked("h").unwrap().command,
        ["CMD-SHELL", "curl -f localhost"]
    );
    let exact = ContainerHealthCheck {
        command: vec!["CMD".into(), "true".into()],
        ..h
    };
    assert_eq!(exact.checked("h").unwrap().command, ["CMD", "true"]);
}
