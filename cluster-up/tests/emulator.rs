//! cluster-up against the emulator: what it creates (read back through the SDK),
//! that a re-run creates nothing, that changes converge in place, that the
//! region follows the document, that teardown leaves nothing, and that a stack
//! brought up again gets its log key back.

use serde_json::{json, Value};

use common::layer::{Layer, Owned};
use common::plan::Leftovers;
use common::sections::Cluster;
use testkit::{counts, unique_stack, Emulator, Session, Tool};

const MANAGED: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

fn cluster_up(em: &Emulator) -> Tool {
    em.tool("cluster-up")
}

/// The SDK on the emulator, for reading back (and changing by hand) what the tool made.
fn probe(em: &Emulator, region: &str) -> Session {
    em.session("probe", "dev", region)
}

/// Tears the layer down through the library, as the teardown tool does, and
/// checks what the plan listed.
fn teardown(em: &Emulator, stack: &str, region: &str, doc: &Value, kinds: &[&str]) {
    let s = em.session(stack, "dev", region);
    let ctx = &s.ctx;
    s.block_on(async {
        let section: Option<Cluster> = doc
            .get("cluster")
            .map(|c| serde_json::from_value(c.clone()).unwrap());
        let found = cluster_up::teardown::discover(ctx, section.as_ref())
            .await
            .unwrap();
        let planned: Vec<String> = Owned::plan(&found, ctx)
            .into_iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(planned, kinds, "the plan");
        let left = Leftovers::default();
        found.delete_all(ctx, &left).await;
        left.into_result().unwrap();
        let again = cluster_up::teardown::discover(ctx, section.as_ref())
            .await
            .unwrap();
        assert!(again.is_empty(), "nothing left to find: {again:?}");
    });
    // The secrets the tests make stand for secrets-up's: not this layer's.
    let left = em.inventory(region, stack, "dev");
    let layer: Vec<String> = left
        .counts()
        .into_keys()
        .filter(|k| k != "secret")
        .collect();
    assert!(layer.is_empty(), "{left:?}");
}

struct Described {
    providers: Vec<String>,
    strategy: Vec<(String, i32, i32)>,
    insights: String,
    exec_key: Option<String>,
    exec_logging: Option<String>,
    arn: String,
}

fn describe_cluster(em: &Emulator, region: &str, name: &str) -> Described {
    use aws_sdk_ecs::types::ClusterField;
    let s = probe(em, region);
    s.block_on(async {
        let ecs = aws_sdk_ecs::Client::new(s.sdk());
        let out = ecs
            .describe_clusters()
            .clusters(name)
            .include(ClusterField::Settings)
            .include(ClusterField::Configurations)
            .send()
            .await
            .unwrap();
        let c = &out.clusters()[0];
        let mut providers = c.capacity_providers().to_vec();
        providers.sort();
        let mut strategy: Vec<_> = c
            .default_capacity_provider_strategy()
            .iter()
            .map(|s| (s.capacity_provider().to_owned(), s.base(), s.weight()))
            .collect();
        strategy.sort();
        let exec = c
            .configuration()
            .and_then(|c| c.execute_command_configuration());
        Described {
            providers,
            strategy,
            insights: c
                .settings()
                .iter()
                .find(|s| s.name().map(|n| n.as_str()) == Some("containerInsights"))
                .and_then(|s| s.value())
                .unwrap_or_default()
                .to_owned(),
            exec_key: exec.and_then(|e| e.kms_key_id()).map(str::to_owned),
            exec_logging: exec
                .and_then(|e| e.logging())
                .map(|l| l.as_str().to_owned()),
            arn: c.cluster_arn().unwrap_or_default().to_owned(),
        }
    })
}

/// The role's managed policies and its inline `secrets` policy (parsed), if any.
fn role_policies(em: &Emulator, role: &str) -> (Vec<String>, Option<Value>, Value) {
    let s = probe(em, "us-east-1");
    s.block_on(async {
        let iam = aws_sdk_iam::Client::new(s.sdk());
        let attached = iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .unwrap();
        let managed = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        let inline = match iam
            .get_role_policy()
            .role_name(role)
            .policy_name("secrets")
            .send()
            .await
        {
            Ok(p) => Some(common::iam::parse_policy(p.policy_document()).unwrap()),
            Err(e) => {
                let e = e.into_service_error();
                assert!(e.is_no_such_entity_exception(), "{e}");
                None
            }
        };
        let got = iam.get_role().role_name(role).send().await.unwrap();
        let trust = common::iam::parse_policy(
            got.role()
                .unwrap()
                .assume_role_policy_document()
                .unwrap_or_default(),
        )
        .unwrap();
        (managed, inline, trust)
    })
}

/// The key's policy (parsed) and whether rotation is on.
fn key_policy(em: &Emulator, region: &str, key_id: &str) -> (Value, bool) {
    let s = probe(em, region);
    s.block_on(async {
        let kms = aws_sdk_kms::Client::new(s.sdk());
        let policy = kms
            .get_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .send()
            .await
            .unwrap();
        let rotation = kms
            .get_key_rotation_status()
            .key_id(key_id)
            .send()
            .await
            .unwrap();
        (
            serde_json::from_str(policy.policy().unwrap()).unwrap(),
            rotation.key_rotation_enabled(),
        )
    })
}

/// Two secrets tagged as secrets-up tags them (the execution role is granted
/// only secrets whose tags say this stack and env), the second encrypted with a
/// key of its own. Returns their ARNs and that key's ARN and id.
fn two_secrets(em: &Emulator, stack: &str) -> (String, String, String, String) {
    let s = probe(em, "us-east-1");
    s.block_on(async {
        let kms = aws_sdk_kms::Client::new(s.sdk());
        let key = kms
            .create_key()
            .description("test: a secret's own key")
            .send()
            .await
            .unwrap();
        let key = key.key_metadata().unwrap();
        let sm = aws_sdk_secretsmanager::Client::new(s.sdk());
        let db = sm
            .create_secret()
            .name(format!("{stack}--db-credentials--dev"))
            .set_tags(Some(secret_tags(stack, "db-credentials")))
            .secret_string("{\"password\":\"x\"}")
            .send()
            .await
            .unwrap();
        let api = sm
            .create_secret()
            .name(format!("{stack}--api-key--dev"))
            .set_tags(Some(secret_tags(stack, "api-key")))
            .secret_string("y")
            .kms_key_id(key.key_id())
            .send()
            .await
            .unwrap();
        (
            db.arn().unwrap().to_owned(),
            api.arn().unwrap().to_owned(),
            key.arn().unwrap().to_owned(),
            key.key_id().to_owned(),
        )
    })
}

fn secret_tags(stack: &str, short: &str) -> Vec<aws_sdk_secretsmanager::types::Tag> {
    use common::naming::{TAG_COMPONENT, TAG_ENV, TAG_STACK};
    [(TAG_STACK, stack), (TAG_ENV, "dev"), (TAG_COMPONENT, short)]
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

fn secret(name: &str, arn: &str, kms_key: Option<&str>) -> Value {
    json!({"name": name, "arn": arn, "kms_key": kms_key, "has_value": true, "json_keys": []})
}

#[test]
fn the_whole_layer_converges_reruns_quietly_updates_in_place_and_comes_back_after_teardown() {
    let em = Emulator::shared();
    let stack = unique_stack("cl");
    let (db_arn, api_arn, secret_key_arn, secret_key_id) = two_secrets(em, &stack);
    let doc = json!({
        "version": 1, "stack": stack, "env": "dev", "region": "us-east-1",
        "spec": {"cluster": {"strategy": [
            {"provider": "FARGATE", "base": 1, "weight": 1},
            {"provider": "FARGATE_SPOT", "weight": 4}
        ]}},
        "secrets": {
            "db-credentials": secret(&format!("{stack}--db-credentials--dev"), &db_arn, None),
            // Named by id, as Secrets Manager may report it: the policy needs the ARN.
            "api-key": secret(&format!("{stack}--api-key--dev"), &api_arn, Some(&secret_key_id)),
        },
        "custom": {"keep": true}
    })
    .to_string();

    let run = cluster_up(em).arg("-v").stdin(&doc).succeeds();
    let (first, log) = (run.json(), run.stderr());
    assert!(log.contains("created"), "{log}");
    assert_eq!(first["custom"]["keep"], true, "unknown keys pass through");
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert_eq!(
        inv.counts(),
        counts(&[
            ("ecs_cluster", 1),
            ("iam_role", 1),
            ("kms_key", 1),
            ("secret", 2)
        ])
    );

    // The output section, complete.
    let c = &first["cluster"];
    assert_eq!(c["name"], format!("{stack}--cluster--dev"));
    assert_eq!(
        c["arn"].as_str(),
        inv.ids["ecs_cluster"].first().map(String::as_str)
    );
    assert_eq!(
        c["execution_role_name"],
        format!("{stack}--task-execution--dev")
    );
    assert_eq!(
        c["execution_role_arn"].as_str(),
        inv.ids["iam_role"].first().map(String::as_str)
    );
    assert!(c["execution_role_arn"]
        .as_str()
        .unwrap()
        .contains(":role/fargate-pipes/"));
    assert_eq!(
        c["log_kms_key_id"].as_str(),
        inv.ids["kms_key"].first().map(String::as_str)
    );
    let key_arn = c["log_kms_key_arn"].as_str().unwrap().to_owned();
    assert!(key_arn.ends_with(c["log_kms_key_id"].as_str().unwrap()));
    assert_eq!(c["container_insights"], true);
    assert_eq!(c["capacity_providers"], json!(["FARGATE", "FARGATE_SPOT"]));
    assert_eq!(
        c["default_strategy"],
        json!([
            {"provider": "FARGATE", "base": 1, "weight": 1},
            {"provider": "FARGATE_SPOT", "base": 0, "weight": 4}
        ])
    );

    // The cluster, read back.
    let d = describe_cluster(em, "us-east-1", c["name"].as_str().unwrap());
    assert_eq!(d.providers, ["FARGATE", "FARGATE_SPOT"]);
    assert_eq!(
        d.strategy,
        [
            ("FARGATE".to_owned(), 1, 1),
            ("FARGATE_SPOT".to_owned(), 0, 4)
        ]
    );
    assert_eq!(d.insights, "enabled");
    assert_eq!(d.exec_key.as_deref(), Some(key_arn.as_str()));
    assert_eq!(d.exec_logging.as_deref(), Some("DEFAULT"));

    // The role: the managed policy, exactly the two secrets, exactly their key.
    let (managed, inline, trust) = role_policies(em, c["execution_role_name"].as_str().unwrap());
    assert_eq!(managed, [MANAGED]);
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    let inline = inline.expect("an inline secrets policy");
    let statements = inline["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{inline}");
    assert_eq!(statements[0]["Action"], "secretsmanager:GetSecretValue");
    let mut want = vec![db_arn.clone(), api_arn.clone()];
    want.sort();
    assert_eq!(statements[0]["Resource"], json!(want));
    assert_eq!(statements[1]["Action"], "kms:Decrypt");
    assert_eq!(statements[1]["Resource"], json!([secret_key_arn]));
    assert_eq!(
        statements[1]["Condition"]["StringEquals"]["kms:ViaService"],
        "secretsmanager.us-east-1.amazonaws.com"
    );
    assert!(!inline.to_string().contains('*'), "no wildcards: {inline}");

    // The key: CloudWatch Logs of this region may use it; rotation is on.
    let (policy, rotation) = key_policy(em, "us-east-1", c["log_kms_key_id"].as_str().unwrap());
    assert!(rotation);
    let text = policy.to_string();
    assert!(text.contains("logs.us-east-1.amazonaws.com"), "{text}");
    assert!(
        text.contains("arn:aws:logs:us-east-1:123456789012:log-group:*"),
        "{text}"
    );
    assert!(text.contains("arn:aws:iam::123456789012:root"), "{text}");

    // A second run changes nothing.
    let run = cluster_up(em).arg("-v").stdin(&doc).succeeds();
    let (second, log) = (run.json(), run.stderr());
    assert!(!log.contains("created"), "nothing created:\n{log}");
    assert!(!log.contains("updated"), "nothing updated:\n{log}");
    assert!(log.contains("unchanged"), "{log}");
    assert_eq!(second["cluster"], first["cluster"]);
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), inv);

    // A new strategy, and Container Insights off: updated in place.
    let run = cluster_up(em)
        .args(["-v", "--strategy", "FARGATE:2:1,FARGATE_SPOT:0:3"])
        .arg("--no-container-insights")
        .stdin(second.to_string())
        .succeeds();
    let (third, log) = (run.json(), run.stderr());
    assert!(!log.contains("created"), "{log}");
    assert!(log.contains("updated"), "{log}");
    assert_eq!(third["cluster"]["arn"], first["cluster"]["arn"]);
    assert_eq!(
        third["spec"]["cluster"]["container_insights"], false,
        "flags are recorded"
    );
    let d = describe_cluster(em, "us-east-1", c["name"].as_str().unwrap());
    assert_eq!(
        d.strategy,
        [
            ("FARGATE".to_owned(), 2, 1),
            ("FARGATE_SPOT".to_owned(), 0, 3)
        ]
    );
    assert_eq!(d.insights, "disabled");
    assert_eq!(d.arn, first["cluster"]["arn"].as_str().unwrap());
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), inv);

    // Teardown leaves nothing; the key waits out its deletion window.
    teardown(
        em,
        &stack,
        "us-east-1",
        &third,
        &["ecs cluster", "iam role", "kms key"],
    );

    // Up again: the same key, restored rather than a second one.
    let run = cluster_up(em).arg("-v").stdin(&doc).succeeds();
    let (again, log) = (run.json(), run.stderr());
    assert!(
        log.contains("state: PendingDeletion -> Enabled)"),
        "the key comes back: {log}"
    );
    assert_eq!(
        again["cluster"]["log_kms_key_arn"],
        first["cluster"]["log_kms_key_arn"]
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[
            ("ecs_cluster", 1),
            ("iam_role", 1),
            ("kms_key", 1),
            ("secret", 2)
        ])
    );
    teardown(
        em,
        &stack,
        "us-east-1",
        &again,
        &["ecs cluster", "iam role", "kms key"],
    );
}

#[test]
fn strategy_by_env_picks_the_envs_strategy_and_the_secrets_policy_follows_the_document() {
    let em = Emulator::shared();
    let stack = unique_stack("env");
    let (db_arn, _, _, _) = two_secrets(em, &stack);
    let mut doc = json!({
        "version": 1, "stack": stack, "env": "dev", "region": "us-east-1",
        "spec": {"cluster": {
            "strategy": [{"provider": "FARGATE", "base": 1, "weight": 1}],
            "strategy_by_env": {"dev": [{"provider": "FARGATE_SPOT", "weight": 1}]},
            "log_encryption": false
        }},
        "secrets": {"db-credentials": secret("db", &db_arn, None)}
    });
    let out = cluster_up(em).stdin(doc.to_string()).succeeds().json();
    let c = &out["cluster"];
    assert_eq!(
        c["default_strategy"],
        json!([{"provider": "FARGATE_SPOT", "base": 0, "weight": 1}])
    );
    assert!(c["log_kms_key_arn"].is_null());
    let d = describe_cluster(em, "us-east-1", c["name"].as_str().unwrap());
    assert_eq!(d.strategy, [("FARGATE_SPOT".to_owned(), 0, 1)]);
    assert_eq!(d.exec_key, None, "no log key, no exec encryption key");
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("ecs_cluster", 1), ("iam_role", 1), ("secret", 2)])
    );
    let role = c["execution_role_name"].as_str().unwrap();
    let (_, inline, _) = role_policies(em, role);
    assert_eq!(inline.unwrap()["Statement"][0]["Resource"], json!([db_arn]));

    // Drift made by hand: another trust, the managed policy detached, another
    // one attached.
    let s = probe(em, "us-east-1");
    s.block_on(async {
        let iam = aws_sdk_iam::Client::new(s.sdk());
        iam.update_assume_role_policy()
            .role_name(role)
            .policy_document(common::iam::trust_policy("ec2.amazonaws.com").to_string())
            .send()
            .await
            .unwrap();
        iam.detach_role_policy()
            .role_name(role)
            .policy_arn(MANAGED)
            .send()
            .await
            .unwrap();
        iam.attach_role_policy()
            .role_name(role)
            .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
            .send()
            .await
            .unwrap();
    });

    // The secrets gone from the document: the role may read none; the drift is undone.
    doc.as_object_mut().unwrap().remove("secrets");
    let run = cluster_up(em).arg("-v").stdin(doc.to_string()).succeeds();
    let (out, log) = (run.json(), run.stderr());
    assert!(!log.contains("created"), "{log}");
    let lines: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("cluster-up: ").map(|(_, c)| c))
        .filter(|c| c.starts_with(['+', '~', '-', '!']))
        .collect();
    assert_eq!(lines.len(), 1, "one change, the role's: {log}");
    assert!(
        lines[0].starts_with(&format!("~ iam role {role} (")),
        "{log}"
    );
    for field in ["managed_policies:", "secrets_policy:", "trust_policy:"] {
        assert!(lines[0].contains(field), "{field}: {log}");
    }
    let (managed, inline, trust) = role_policies(em, role);
    assert_eq!(inline, None);
    assert_eq!(managed, [MANAGED]);
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    let log = cluster_up(em)
        .arg("-v")
        .stdin(doc.to_string())
        .succeeds()
        .stderr();
    assert!(!log.contains("updated"), "converged: {log}");

    teardown(em, &stack, "us-east-1", &out, &["ecs cluster", "iam role"]);
}

#[test]
fn the_region_follows_the_document_and_a_key_without_its_alias_is_found_by_tag() {
    let em = Emulator::shared();
    let stack = unique_stack("euw");
    let args = [
        "-n",
        "--stack",
        &stack,
        "--env",
        "dev",
        "--region",
        "eu-west-1",
        "-v",
    ];
    let first = cluster_up(em).args(args).succeeds().json();
    let c = &first["cluster"];
    assert!(c["arn"].as_str().unwrap().contains(":eu-west-1:"), "{c}");
    let key_id = c["log_kms_key_id"].as_str().unwrap().to_owned();
    let (policy, _) = key_policy(em, "eu-west-1", &key_id);
    let text = policy.to_string();
    assert!(text.contains("logs.eu-west-1.amazonaws.com"), "{text}");
    assert!(!text.contains("us-east-1"), "no other region: {text}");
    assert!(
        text.contains("arn:aws:logs:eu-west-1:123456789012:log-group:*"),
        "{text}"
    );
    assert_eq!(
        em.inventory("eu-west-1", &stack, "dev").counts(),
        counts(&[("ecs_cluster", 1), ("iam_role", 1), ("kms_key", 1)])
    );

    // A run killed between CreateKey and CreateAlias leaves a key without its
    // alias: the next run finds it by its tags instead of making a second.
    let s = probe(em, "eu-west-1");
    s.block_on(async {
        let kms = aws_sdk_kms::Client::new(s.sdk());
        kms.delete_alias()
            .alias_name(format!("alias/{stack}--logs--dev"))
            .send()
            .await
            .unwrap();
    });
    let run = cluster_up(em).args(args).succeeds();
    let (second, log) = (run.json(), run.stderr());
    assert!(!log.contains("created"), "{log}");
    assert!(
        log.contains(&format!(
            "~ kms key alias/{stack}--logs--dev (alias: null -> alias/{stack}--logs--dev)"
        )),
        "the alias is put back on the key found by tag: {log}"
    );
    assert_eq!(second["cluster"]["log_kms_key_id"], key_id.as_str());
    assert_eq!(
        em.inventory("eu-west-1", &stack, "dev").counts()["kms_key"],
        1
    );
    teardown(
        em,
        &stack,
        "eu-west-1",
        &second,
        &["ecs cluster", "iam role", "kms key"],
    );
}

/// Issue 12 item 6: a role of the execution role's name that is tagged as
/// another component (a service's task role), as another stack, or not at all
/// is never adopted or rewritten: refused (exit 10), and the only mutating
/// calls are the lock's.
#[test]
fn a_role_of_the_same_name_that_is_not_ours_is_refused() {
    use common::naming::{TAG_COMPONENT, TAG_ENV, TAG_STACK};
    let em = Emulator::shared();
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("untagged", &[]),
        ("a task role", &[(TAG_ENV, "dev"), (TAG_COMPONENT, "api")]),
        (
            "another stack",
            &[(TAG_ENV, "dev"), (TAG_COMPONENT, "task-execution")],
        ),
    ];
    for (i, (case, tags)) in cases.into_iter().enumerate() {
        let stack = unique_stack(&format!("own{i}"));
        let name = format!("{stack}--task-execution--dev");
        let owner = if case == "another stack" {
            format!("{stack}x")
        } else {
            stack.clone()
        };
        let s = probe(em, "us-east-1");
        s.block_on(async {
            let iam = aws_sdk_iam::Client::new(s.sdk());
            let mut tagged: Vec<aws_sdk_iam::types::Tag> = tags
                .iter()
                .map(|(k, v)| {
                    aws_sdk_iam::types::Tag::builder()
                        .key(*k)
                        .value(*v)
                        .build()
                        .unwrap()
                })
                .collect();
            if !tags.is_empty() {
                tagged.push(
                    aws_sdk_iam::types::Tag::builder()
                        .key(TAG_STACK)
                        .value(&owner)
                        .build()
                        .unwrap(),
                );
            }
            iam.create_role()
                .role_name(&name)
                .assume_role_policy_document(
                    common::iam::trust_policy("ecs-tasks.amazonaws.com").to_string(),
                )
                .set_tags(Some(tagged))
                .send()
                .await
                .unwrap();
        });
        let lane = em.lane();
        let err = lane
            .tool("cluster-up")
            .args(["-n", "--stack", &stack, "--env", "dev"])
            .fails()
            .code(10);
        assert!(err.contains(&name), "{case}: {err}");
        let mutations = foreign_mutations(&lane.fault_state());
        assert!(
            mutations.is_empty(),
            "{case}: nothing but the lock: {mutations:?}"
        );
        assert!(
            !em.inventory("us-east-1", &stack, "dev")
                .counts()
                .contains_key("ecs_cluster"),
            "{case}: nothing made"
        );
        s.block_on(async {
            let iam = aws_sdk_iam::Client::new(s.sdk());
            let role = iam.get_role().role_name(&name).send().await.unwrap();
            let kept: Vec<(&str, &str)> = role
                .role()
                .unwrap()
                .tags()
                .iter()
                .map(|t| (t.key(), t.value()))
                .collect();
            assert_eq!(
                kept.len(),
                tags.len() + usize::from(!tags.is_empty()),
                "{case}: tags untouched"
            );
            common::iam::delete_role(&iam, &name).await.unwrap();
        });
    }
}

/// The mutating calls of a lane other than the stack lock's log group.
fn foreign_mutations(state: &Value) -> Vec<String> {
    state["mutation_log"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m.to_string())
        .filter(|m| !m.contains("/fargate-pipes/locks/"))
        .collect()
}

/// Issue 12: a dev document given as prod, and documents whose `.cluster`
/// names another stack's execution role or log key, or whose `.secrets` names
/// another stack's secret, are refused (exit 10) before any change: the only
/// mutating calls are the lock's. Teardown, through the layer, refuses the
/// prod document too.
#[test]
fn documents_naming_another_stacks_or_envs_resources_are_refused() {
    let em = Emulator::shared();
    let stack = unique_stack("clatk");
    let victim = unique_stack("clvic");
    let up = |s: &str| {
        cluster_up(em)
            .args(["-n", "--stack", s, "--env", "dev"])
            .succeeds()
            .json()
    };
    let (dev, theirs) = (up(&stack), up(&victim));
    let refused = |doc: &Value, tool: &str| {
        let lane = em.lane();
        let err = lane.tool(tool).stdin(doc.to_string()).fails().code(10);
        let mutations = foreign_mutations(&lane.fault_state());
        assert!(mutations.is_empty(), "{tool}: only the lock: {mutations:?}");
        err
    };

    let mut prod = dev.clone();
    prod["env"] = json!("prod");
    let err = refused(&prod, "cluster-up");
    assert!(err.contains(&format!("{stack}/dev")), "{err}");
    assert!(em.inventory("us-east-1", &stack, "prod").is_empty());
    // Teardown's view of the layer: the document's ids are dev's, not prod's.
    let s = em.session(&stack, "prod", "us-east-1");
    let doc = common::Document::parse(&prod.to_string()).unwrap();
    let mismatches = common::owner::Mismatches::default();
    let found = s
        .block_on(cluster_up::teardown::LAYER.discover(&s.ctx, &doc, &mismatches))
        .unwrap();
    assert!(
        found.is_empty(&s.ctx),
        "nothing of prod's: {:?}",
        found.plan(&s.ctx)
    );
    let err = mismatches.into_result(&s.ctx).unwrap_err();
    assert_eq!(err.exit_code(), 10);
    assert!(err.to_string().contains(&format!("{stack}/dev")), "{err}");

    for field in ["execution_role_name", "log_kms_key_arn", "arn"] {
        let mut forged = dev.clone();
        forged["cluster"][field] = theirs["cluster"][field].clone();
        let err = refused(&forged, "cluster-up");
        assert!(err.contains(&format!("{victim}/dev")), "{field}: {err}");
    }

    // A secret of the victim's, tagged as secrets-up tags it.
    let s = probe(em, "us-east-1");
    let arn = s.block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(s.sdk());
        let out = sm
            .create_secret()
            .name(format!("{victim}--db--dev"))
            .set_tags(Some(secret_tags(&victim, "db")))
            .send()
            .await
            .unwrap();
        out.arn().unwrap().to_owned()
    });
    let mut forged = dev.clone();
    forged["secrets"] = json!({"db": secret(&format!("{stack}--db--dev"), &arn, None)});
    let err = refused(&forged, "cluster-up");
    assert!(err.contains(&format!("{victim}/dev")), "{err}");
    let (_, inline, _) = role_policies(em, dev["cluster"]["execution_role_name"].as_str().unwrap());
    assert_eq!(inline, None, "the role was not granted the victim's secret");

    s.block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(s.sdk());
        sm.delete_secret()
            .secret_id(&arn)
            .force_delete_without_recovery(true)
            .send()
            .await
            .unwrap();
    });
    let layer = ["ecs cluster", "iam role", "kms key"];
    teardown(em, &stack, "us-east-1", &dev, &layer);
    teardown(em, &victim, "us-east-1", &theirs, &layer);
}

/// The change lines of a run (`-v` puts the time of day first).
fn change_lines(stderr: &str) -> Vec<String> {
    let mut lines = testkit::change_lines("cluster-up", stderr);
    lines.sort();
    lines
}

/// The plan entries of a `--plan` run, as change lines.
fn plan_lines(doc: &Value) -> Vec<String> {
    let mut lines: Vec<String> = doc["plan"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["tool"] == "cluster-up")
        .map(|c| {
            serde_json::from_value::<common::plan::Change>(c.clone())
                .unwrap()
                .line()
        })
        .collect();
    lines.sort();
    lines
}

/// `--plan` on a fresh stack, downstream of secrets-up's own plan (its ARNs
/// are placeholders): every create listed, no call that changes anything (no
/// lock either); the apply then makes exactly the plan's changes; on the
/// stack brought up, the plan is empty.
#[test]
fn plan_lists_every_create_changes_nothing_and_the_apply_makes_exactly_it() {
    let em = Emulator::shared();
    let stack = unique_stack("clplan");
    let lane = em.lane();
    let run = lane
        .shell(&format!(
            "secrets-up --plan -n --stack {stack} --env dev --secret db | cluster-up --plan"
        ))
        .succeeds();
    let planned = run.json();
    assert!(
        lane.fault_state()["mutation_log"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a plan changes nothing and takes no lock"
    );
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
    let lines = plan_lines(&planned);
    assert_eq!(
        lines,
        [
            format!("+ ecs cluster {stack}--cluster--dev"),
            format!("+ iam role {stack}--task-execution--dev"),
            format!("+ kms key alias/{stack}--logs--dev"),
        ]
    );
    let c = &planned["cluster"];
    for id in ["arn", "execution_role_arn", "log_kms_key_arn"] {
        assert!(c[id].as_str().unwrap().starts_with("planned:"), "{id}: {c}");
    }

    // Applied on a fresh document (no secrets): the changes made are the plan's.
    let fresh = json!({"version": 1, "stack": stack, "env": "dev"}).to_string();
    let lane = em.lane();
    let plan_only = lane
        .tool("cluster-up")
        .arg("--plan")
        .stdin(&fresh)
        .succeeds()
        .json();
    let applied = cluster_up(em).arg("-v").stdin(&fresh).succeeds();
    assert_eq!(change_lines(&applied.stderr()), plan_lines(&plan_only));
    let up = applied.json();

    let again = cluster_up(em)
        .arg("--plan")
        .stdin(up.to_string())
        .succeeds()
        .json();
    assert!(plan_lines(&again).is_empty(), "{again}");
    assert_eq!(again["cluster"], up["cluster"]);
    teardown(
        em,
        &stack,
        "us-east-1",
        &up,
        &["ecs cluster", "iam role", "kms key"],
    );
}
