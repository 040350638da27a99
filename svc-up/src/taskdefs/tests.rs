//! Every row of the task definition table in docs/converge/svc-up.md: each
//! field the spec sets, changed alone, registers one new revision whose change
//! names exactly that field.

use super::*;
use crate::testing::{ctx, service};
use common::spec::services::ContainerHealthCheck;

const EXECUTION: &str = "arn:aws:iam::123456789012:role/shop--task-execution--dev";
const ROLE: &str = "arn:aws:iam::123456789012:role/shop--task-api--dev";

fn want_of(s: &Planned) -> Want {
    want(&ctx(), s, EXECUTION, ROLE, "/ecs/shop/dev/api").unwrap()
}

/// The latest revision as ECS holds it when it was registered from `s`.
fn have_of(s: &Planned) -> Have {
    let w = want_of(s);
    Have {
        arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/shop--api--dev:3".into(),
        family: w.family.clone(),
        shape: shape(&w.definition),
        tags: ctx().tags("api"),
    }
}

fn fields(base: &Planned, changed: &Planned) -> Vec<String> {
    let ctx = ctx();
    let op = plan(&ctx, &want_of(changed), Some(&have_of(base)))
        .unwrap()
        .expect("a new revision");
    assert!(matches!(op, Op::Register { have: Some(_), .. }));
    op.change(&ctx).changes.keys().cloned().collect()
}

#[test]
fn a_first_revision_is_a_create_and_its_arn_a_placeholder() {
    let ctx = ctx();
    let s = service("api");
    let op = plan(&ctx, &want_of(&s), None).unwrap().unwrap();
    assert_eq!(op.change(&ctx).line(), "+ task definition shop--api--dev");
    assert!(common::plan::is_planned(&want_of(&s).arn(None)));
    let Op::Register { want, .. } = op else {
        panic!()
    };
    assert_eq!(
        names::component(&want.tags),
        Some("api"),
        "tagged at registration"
    );
}

#[test]
fn an_unchanged_service_keeps_its_revision() {
    let ctx = ctx();
    let s = service("api");
    assert_eq!(plan(&ctx, &want_of(&s), Some(&have_of(&s))).unwrap(), None);
    assert_eq!(want_of(&s).arn(Some(&have_of(&s))), have_of(&s).arn);
}

#[test]
fn each_field_registers_one_revision_naming_it() {
    let base = service("api");
    let health = ContainerHealthCheck {
        command: vec!["CMD".into(), "true".into()],
        interval: None,
        timeout: None,
        retries: None,
        start_period: None,
    };
    for (field, changed) in [
        (
            "image",
            Planned {
                image: "nginx:1.27".into(),
                ..base.clone()
            },
        ),
        (
            "cpu",
            Planned {
                cpu: 512,
                ..base.clone()
            },
        ),
        (
            "memory",
            Planned {
                memory: 1024,
                ..base.clone()
            },
        ),
        (
            "ports",
            Planned {
                port: Some(9000),
                ..base.clone()
            },
        ),
        (
            "environment",
            Planned {
                environment: vec![("MODE".into(), "fast".into())],
                ..base.clone()
            },
        ),
        (
            "secrets",
            Planned {
                secrets: vec![(
                    "DB".into(),
                    "arn:aws:secretsmanager:us-east-1:1:secret:db".into(),
                )],
                ..base.clone()
            },
        ),
        (
            "health_check",
            Planned {
                health_check: Some(health.clone()),
                ..base.clone()
            },
        ),
        (
            "stop_timeout",
            Planned {
                stop_timeout: Some(30),
                ..base.clone()
            },
        ),
        (
            "read_only_root_filesystem",
            Planned {
                read_only: false,
                ..base.clone()
            },
        ),
    ] {
        assert_eq!(fields(&base, &changed), [field], "{field}");
    }
    // Both ways: a field the spec drops is removed from the next revision.
    let with_env = Planned {
        environment: vec![("MODE".into(), "fast".into())],
        ..base.clone()
    };
    assert_eq!(fields(&with_env, &base), ["environment"]);
}

#[test]
fn roles_and_the_log_group_are_compared_too() {
    let ctx = ctx();
    let s = service("api");
    let other_role = want(
        &ctx,
        &s,
        EXECUTION,
        "arn:aws:iam::1:role/x",
        "/ecs/shop/dev/api",
    )
    .unwrap();
    let op = plan(&ctx, &other_role, Some(&have_of(&s)))
        .unwrap()
        .unwrap();
    assert_eq!(
        op.change(&ctx).changes.keys().collect::<Vec<_>>(),
        ["task_role"]
    );
    let other_exec = want(&ctx, &s, "arn:aws:iam::1:role/y", ROLE, "/ecs/shop/dev/api").unwrap();
    let op = plan(&ctx, &other_exec, Some(&have_of(&s)))
        .unwrap()
        .unwrap();
    assert_eq!(
        op.change(&ctx).changes.keys().collect::<Vec<_>>(),
        ["execution_role"]
    );
    let other_logs = want(&ctx, &s, EXECUTION, ROLE, "/ecs/shop/dev/other").unwrap();
    let op = plan(&ctx, &other_logs, Some(&have_of(&s)))
        .unwrap()
        .unwrap();
    assert_eq!(
        op.change(&ctx).changes.keys().collect::<Vec<_>>(),
        ["log_options"]
    );
}

#[test]
fn a_new_role_means_a_new_revision() {
    let ctx = ctx();
    let s = service("api");
    let placeholder = common::plan::planned("iam role", "shop--task-api--dev");
    let w = want(&ctx, &s, EXECUTION, &placeholder, "/ecs/shop/dev/api").unwrap();
    assert!(plan(&ctx, &w, Some(&have_of(&s))).unwrap().is_some());
}

#[test]
fn a_family_whose_latest_revision_is_not_ours_is_refused() {
    let ctx = ctx();
    let s = service("api");
    for tags in [
        Context::offline("x", "shop", "prod", "us-east-1").tags("api"),
        ctx.tags("web"),
        vec![],
    ] {
        let have = Have {
            tags,
            ..have_of(&s)
        };
        assert_eq!(
            plan(&ctx, &want_of(&s), Some(&have))
                .unwrap_err()
                .exit_code(),
            10
        );
    }
}

#[test]
fn only_revisions_tagged_for_their_service_are_pruned() {
    let ctx = ctx();
    let rev = |family: &str, n: u32, tags: Tags, active: bool| Revision {
        arn: format!("arn:aws:ecs:us-east-1:1:task-definition/{family}:{n}"),
        family: family.into(),
        active,
        tags,
    };
    let stale = [
        rev("shop--old--dev", 1, ctx.tags("old"), false),
        rev("shop--old--dev", 2, ctx.tags("old"), true),
        // Someone else's revision in a family named like ours.
        rev(
            "shop--old--dev",
            3,
            Context::offline("x", "shop-x", "dev", "us-east-1").tags("old"),
            true,
        ),
        rev("shop--old--dev", 4, vec![], true),
        rev("shop--old--dev", 5, ctx.tags("api"), true),
    ];
    let ops = prune(&ctx, &stale);
    let lines: Vec<String> = ops.iter().map(|o| o.change(&ctx).line()).collect();
    assert_eq!(
        lines,
        [
            "- task definition shop--old--dev:1",
            "- task definition shop--old--dev:2"
        ]
    );
    assert!(ops.iter().all(|o| o.phase() == Phase::Prune));
}

#[test]
fn shapes_apply_ecs_defaults() {
    let s = Planned {
        health_check: Some(ContainerHealthCheck {
            command: vec!["CMD".into(), "true".into()],
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        }),
        ..service("api")
    };
    let sh = shape(&want_of(&s).definition);
    assert_eq!(sh["health_check"]["interval"], 30);
    assert_eq!(sh["essential"], true);
    assert_eq!(sh["ports"], json!([8080]));
    assert_eq!(
        revision_name("arn:aws:ecs:r:1:task-definition/shop--api--dev:7"),
        "shop--api--dev:7"
    );
}

#[test]
fn each_container_field_of_issue_16_registers_one_revision_naming_it() {
    use crate::spec::SidecarPlan;
    let base = service("api");
    let side = SidecarPlan {
        name: "agent".into(),
        image: "busybox:1.36".into(),
        essential: false,
        read_only: true,
        ..SidecarPlan::default()
    };
    let with_side = Planned {
        sidecars: vec![side.clone()],
        ..base.clone()
    };
    for (field, from, changed) in [
        (
            "command",
            &base,
            Planned {
                command: Some(vec!["sleep".into(), "1".into()]),
                ..base.clone()
            },
        ),
        (
            "entrypoint",
            &base,
            Planned {
                entrypoint: Some(vec!["/init".into()]),
                ..base.clone()
            },
        ),
        (
            "cpu_architecture",
            &base,
            Planned {
                arm64: true,
                ..base.clone()
            },
        ),
        ("sidecars", &base, with_side.clone()),
        (
            "depends_on",
            &with_side,
            Planned {
                depends_on: vec![("agent".into(), "START".into())],
                ..with_side.clone()
            },
        ),
        (
            "sidecars",
            &with_side,
            Planned {
                sidecars: vec![SidecarPlan {
                    command: Some(vec!["true".into()]),
                    ..side.clone()
                }],
                ..with_side.clone()
            },
        ),
    ] {
        assert_eq!(fields(from, &changed), [field], "{field}");
    }
    // A writable path is a volume and a read-write mount point, the root stays read-only.
    let writable = Planned {
        writable_paths: vec!["/tmp".into()],
        ..base.clone()
    };
    assert_eq!(fields(&base, &writable), ["mount_points", "volumes"]);
    let w = want_of(&writable);
    let c = &w.definition.container_definitions()[0];
    assert_eq!(c.readonly_root_filesystem(), Some(true));
    assert_eq!(c.mount_points()[0].source_volume(), Some("api_tmp"));
    assert_eq!(w.definition.volumes()[0].name(), Some("api_tmp"));
    // Dropping a sidecar is a new revision too; an unchanged one is none.
    assert_eq!(fields(&with_side, &base), ["sidecars"]);
    let ctx = ctx();
    assert_eq!(
        plan(&ctx, &want_of(&with_side), Some(&have_of(&with_side))).unwrap(),
        None
    );
}

#[test]
fn a_revision_from_before_runtime_platforms_is_x86_64_and_not_replaced() {
    let s = service("api");
    let mut old = want_of(&s).definition;
    old.runtime_platform = None;
    assert_eq!(shape(&old), shape(&want_of(&s).definition));
}
