//! The execution role's rows of docs/converge/cluster-up.md: the plan alone.

use serde_json::json;

use super::*;

const MANAGED: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

fn ctx() -> Context {
    Context::offline("cluster-up", "shop", "dev", "us-east-1")
}

fn secrets() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Action": "secretsmanager:GetSecretValue", "Resource": ["arn:s"]}]})
}

/// The role as cluster-up makes it, with the secrets policy.
fn role() -> FoundRole {
    FoundRole {
        name: "shop--task-execution--dev".into(),
        arn: "arn:aws:iam::1:role/fargate-pipes/shop--task-execution--dev".into(),
        tags: ctx().tags(COMPONENT).into_iter().collect(),
        trust: Some(trust_policy(TRUSTED)),
        managed: vec![MANAGED.into()],
        secrets_policy: Some(secrets()),
    }
}

fn fixes_of(r: FoundRole, policy: Option<&Value>) -> (Vec<Fix>, String) {
    let (op, change) = plan(&ctx(), Some(&r), policy).unwrap().expect("an update");
    let Op::Update { fixes, .. } = op else {
        panic!("{op:?}")
    };
    (fixes, change.line())
}

#[test]
fn no_role_is_a_create_then_its_policies() {
    let (op, change) = plan(&ctx(), None, Some(&secrets())).unwrap().unwrap();
    assert_eq!(change.line(), "+ iam role shop--task-execution--dev");
    let Op::Create {
        name,
        trust,
        tags,
        then,
    } = op
    else {
        panic!()
    };
    assert_eq!(name, "shop--task-execution--dev");
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    assert!(tags.contains(&("fargate-pipes:component".into(), "task-execution".into())));
    assert_eq!(
        then,
        [
            Fix::Attach(MANAGED.into()),
            Fix::PutSecretsPolicy(secrets())
        ]
    );
    let (op, _) = plan(&ctx(), None, None).unwrap().unwrap();
    let Op::Create { then, .. } = op else {
        panic!()
    };
    assert_eq!(then, [Fix::Attach(MANAGED.into())], "no secrets, no policy");
}

#[test]
fn a_converged_role_gives_no_change() {
    assert_eq!(plan(&ctx(), Some(&role()), Some(&secrets())).unwrap(), None);
}

#[test]
fn a_drifted_trust_policy_is_put_back() {
    let r = FoundRole {
        trust: Some(trust_policy("ec2.amazonaws.com")),
        ..role()
    };
    let (fixes, line) = fixes_of(r, Some(&secrets()));
    assert_eq!(fixes, [Fix::Trust(trust_policy(TRUSTED))]);
    assert!(line.contains("trust_policy:"), "{line}");
}

#[test]
fn managed_policies_are_exactly_the_execution_policy() {
    let r = FoundRole {
        managed: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
        ..role()
    };
    let (fixes, _) = fixes_of(r, Some(&secrets()));
    assert_eq!(
        fixes,
        [
            Fix::Attach(MANAGED.into()),
            Fix::Detach("arn:aws:iam::aws:policy/ReadOnlyAccess".into())
        ]
    );
}

#[test]
fn the_secrets_policy_follows_the_secrets() {
    let other = json!({"Statement": []});
    let (fixes, _) = fixes_of(role(), Some(&other));
    assert_eq!(fixes, [Fix::PutSecretsPolicy(other)]);
    let (fixes, line) = fixes_of(role(), None);
    assert_eq!(fixes, [Fix::DeleteSecretsPolicy]);
    assert!(line.contains("-> null"), "{line}");
    let none = FoundRole {
        secrets_policy: None,
        ..role()
    };
    let (fixes, _) = fixes_of(none, Some(&secrets()));
    assert_eq!(fixes, [Fix::PutSecretsPolicy(secrets())]);
}

#[test]
fn missing_tags_are_put_back() {
    let mut r = role();
    r.tags.remove("Name");
    let (fixes, _) = fixes_of(r, Some(&secrets()));
    assert_eq!(
        fixes,
        [Fix::Tags(
            [("Name".into(), "shop--task-execution--dev".into())].into()
        )]
    );
}

#[test]
fn a_role_of_our_name_tagged_as_anything_else_is_refused() {
    for tags in [
        common::naming::tags("shop", "dev", "task-api", &Default::default()),
        common::naming::tags("other", "dev", "task-execution", &Default::default()),
        common::naming::tags("shop", "prod", "task-execution", &Default::default()),
        vec![],
    ] {
        let r = FoundRole {
            tags: tags.into_iter().collect(),
            ..role()
        };
        let e = plan(&ctx(), Some(&r), Some(&secrets())).unwrap_err();
        assert_eq!(e.exit_code(), 10, "{e}");
        assert!(e.to_string().contains("shop--task-execution--dev"), "{e}");
    }
}
