//! Issue 16's spec fields end to end against the emulator: one stack whose
//! services use every new field (command and entrypoint, writable paths, a
//! sidecar with dependsOn and its own secret, arm64, an env override of each
//! kind, a reference of each kind), brought up by the real tools, read back
//! from ECS; a re-run changes nothing; a changed override registers one new
//! revision. And the refusals: a bad reference, a reference to a service
//! that does not list the caller, and an override with an invalid value each
//! stop the tool with exit 5 before any mutating call.

use serde_json::{json, Value};
use testkit::{unique_stack, Emulator};

/// The services of the test stack. `web` is routed and references everything;
/// `orders` is reachable from `web` through Cloud Map.
fn services() -> Value {
    json!({
        "web": {
            "image": "nginxinc/nginx-unprivileged:1.27-alpine",
            "port": 8080,
            "route": {"default": true},
            "entrypoint": ["/docker-entrypoint.sh"],
            "command": ["nginx", "-g", "daemon off;", "-e", "/tmp/${env}.log"],
            "writable_paths": ["/tmp", "/var/cache/nginx"],
            "cpu_architecture": "arm64",
            "log_retention_days": 7,
            "environment": {
                "LOG_LEVEL": "debug",
                "DROPPED": "in prod",
                "ORDERS_URL": "${service.orders.url}",
                "ORDERS_ADDRESS": "${service.orders.address}",
                "ORDERS_HOST": "${service.orders.host}",
                "PUBLIC_URL": "${alb.url}/shop",
                "LB_NAME": "${alb.dns_name}",
                "DB_ARN": "${secret.db.arn}",
                "CLUSTER": "${cluster.name}",
                "CLUSTER_ARN": "${cluster.arn}",
                "WHERE": "${stack}/${env}/${region}",
                "LITERAL": "$${not.a.reference}"
            },
            "depends_on": {"agent": "healthy"},
            "sidecars": {
                "agent": {
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", "while true; do sleep 3600 & wait $!; done"],
                    "essential": false,
                    "environment": {"TARGET": "${service.orders.address}"},
                    "secrets": {"DB": {"secret": "db"}},
                    "health_check": {"command": ["true"]},
                    "writable_paths": ["/tmp"]
                },
                "init": {
                    "image": "busybox:1.36",
                    "command": ["true"],
                    "essential": false
                }
            },
            "envs": {
                "prod": {
                    "cpu": 512, "memory": 1024, "desired_count": 2,
                    "image": "nginxinc/nginx-unprivileged:1.27",
                    "log_retention_days": 30,
                    "environment": {"LOG_LEVEL": "warn", "DROPPED": null},
                    "cpu_architecture": "x86_64",
                    "scaling": {"min": 2, "max": 4, "cpu": 60}
                },
                "staging": {"environment": {"LOG_LEVEL": "info"}}
            }
        },
        "orders": {
            "image": "alpine:3.20",
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done"],
            "port": 9000,
            "discovery": true,
            "callers": ["web"]
        }
    })
}

fn spec() -> Value {
    json!({
        "secrets": {"db": {"description": "test"}},
        "cluster": {"strategy_by_env": {"dev": [{"provider": "FARGATE", "weight": 1}]}},
        "services": services()
    })
}

/// net-up (flags) | secrets-up | cluster-up | alb-up on `env`, with the spec.
fn upstream(em: &Emulator, stack: &str, env: &str) -> Value {
    let mut doc = em.network(stack, env);
    doc["spec"] = json!({"network": doc["spec"]["network"].clone()});
    for (k, v) in spec().as_object().unwrap() {
        doc["spec"][k] = v.clone();
    }
    let doc = em.up("secrets-up", &doc);
    let doc = em.up("cluster-up", &doc);
    em.up("alb-up", &doc)
}

/// The task definition svc-up registered for `service`, as ECS holds it.
fn task_definition(
    em: &Emulator,
    doc: &Value,
    service: &str,
) -> aws_sdk_ecs::types::TaskDefinition {
    let s = em.session("probe", "dev", "us-east-1");
    let ecs = aws_sdk_ecs::Client::new(s.sdk());
    let arn = doc["services"][service]["task_definition_arn"]
        .as_str()
        .unwrap();
    s.block_on(ecs.describe_task_definition().task_definition(arn).send())
        .unwrap()
        .task_definition()
        .cloned()
        .unwrap()
}

fn env_of(
    c: &aws_sdk_ecs::types::ContainerDefinition,
) -> std::collections::BTreeMap<String, String> {
    c.environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap().to_owned(),
                kv.value().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_new_field_reaches_the_task_definition_and_converges() {
    let em = Emulator::shared();
    let stack = unique_stack("s16");
    let doc = upstream(em, &stack, "dev");
    let doc = em.up("svc-up", &doc);
    let td = task_definition(em, &doc, "web");

    // arm64, and the volumes of every writable path.
    let rp = td.runtime_platform().unwrap();
    assert_eq!(rp.cpu_architecture().unwrap().as_str(), "ARM64");
    let mut volumes: Vec<&str> = td.volumes().iter().filter_map(|v| v.name()).collect();
    volumes.sort();
    assert_eq!(volumes, ["agent_tmp", "web_tmp", "web_var-cache-nginx"]);
    for v in td.volumes() {
        assert!(
            v.host().is_none() && v.efs_volume_configuration().is_none(),
            "ephemeral"
        );
    }

    let names: Vec<&str> = td
        .container_definitions()
        .iter()
        .filter_map(|c| c.name())
        .collect();
    assert_eq!(names, ["web", "agent", "init"]);
    let web = &td.container_definitions()[0];
    assert_eq!(
        web.readonly_root_filesystem(),
        Some(true),
        "the root stays read-only"
    );
    assert_eq!(web.entry_point(), ["/docker-entrypoint.sh"]);
    assert_eq!(
        web.command(),
        ["nginx", "-g", "daemon off;", "-e", "/tmp/dev.log"]
    );
    let mounts: Vec<(&str, &str, Option<bool>)> = web
        .mount_points()
        .iter()
        .map(|m| {
            (
                m.container_path().unwrap(),
                m.source_volume().unwrap(),
                m.read_only(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("/tmp", "web_tmp", Some(false)),
            ("/var/cache/nginx", "web_var-cache-nginx", Some(false))
        ]
    );
    let deps: Vec<(&str, &str)> = web
        .depends_on()
        .iter()
        .map(|d| (d.container_name(), d.condition().as_str()))
        .collect();
    assert_eq!(deps, [("agent", "HEALTHY")]);

    // Every reference kind, resolved from the document's sections.
    let env = env_of(web);
    let ns = format!("dev.{stack}.local");
    let lb = doc["alb"]["dns_name"].as_str().unwrap();
    assert_eq!(env["ORDERS_URL"], format!("http://orders.{ns}:9000"));
    assert_eq!(env["ORDERS_ADDRESS"], format!("orders.{ns}:9000"));
    assert_eq!(env["ORDERS_HOST"], format!("orders.{ns}"));
    assert_eq!(env["PUBLIC_URL"], format!("http://{lb}/shop"));
    assert_eq!(env["LB_NAME"], lb);
    assert_eq!(env["DB_ARN"], doc["secrets"]["db"]["arn"].as_str().unwrap());
    assert_eq!(env["CLUSTER"], doc["cluster"]["name"].as_str().unwrap());
    assert_eq!(env["CLUSTER_ARN"], doc["cluster"]["arn"].as_str().unwrap());
    assert_eq!(env["WHERE"], format!("{stack}/dev/us-east-1"));
    assert_eq!(env["LITERAL"], "${not.a.reference}");
    assert_eq!(
        (env["LOG_LEVEL"].as_str(), env["DROPPED"].as_str()),
        ("debug", "in prod")
    );

    // The sidecar: its own command, env (a reference), secret, health check, mount.
    let agent = &td.container_definitions()[1];
    assert_eq!(agent.essential(), Some(false));
    assert_eq!(env_of(agent)["TARGET"], format!("orders.{ns}:9000"));
    assert_eq!(
        agent.secrets()[0].value_from(),
        doc["secrets"]["db"]["arn"].as_str().unwrap()
    );
    assert!(agent.health_check().is_some());
    assert_eq!(agent.mount_points()[0].container_path(), Some("/tmp"));
    assert_eq!(agent.readonly_root_filesystem(), Some(true));
    let orders = task_definition(em, &doc, "orders");
    assert_eq!(orders.container_definitions()[0].command()[0], "sh");
    assert_eq!(
        orders
            .runtime_platform()
            .unwrap()
            .cpu_architecture()
            .unwrap()
            .as_str(),
        "X86_64"
    );

    // A re-run changes nothing but the lock.
    let lane = em.lane();
    lane.tool("svc-up").stdin(doc.to_string()).succeeds();
    let changed: Vec<String> = lane
        .mutations()
        .into_iter()
        .filter(|m| !m.contains("/fargate-pipes/locks/"))
        .collect();
    assert!(changed.is_empty(), "a re-run changed {changed:?}");

    // A changed override: the staging-like edit of LOG_LEVEL in dev is one new revision.
    let mut edited = doc.clone();
    edited["spec"]["services"]["web"]["envs"]["dev"] =
        json!({"environment": {"LOG_LEVEL": "trace"}});
    let r = em
        .tool("svc-up")
        .arg("-v")
        .stdin(edited.to_string())
        .succeeds();
    let lines = testkit::change_lines("svc-up", &r.stderr());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("~ task definition") && l.contains("environment")),
        "{lines:?}"
    );
    let td = task_definition(em, &r.json(), "web");
    assert_eq!(env_of(&td.container_definitions()[0])["LOG_LEVEL"], "trace");
}

#[test]
fn each_env_resolves_its_overrides() {
    let em = Emulator::shared();
    let stack = unique_stack("s16p");
    // prod: sizes, image, retention, environment (merged, one removed), arch,
    // scaling; all through the real tools, read back from AWS.
    let doc = upstream(em, &stack, "prod");
    let doc = em.up("svc-up", &doc);
    let td = task_definition(em, &doc, "web");
    assert_eq!((td.cpu(), td.memory()), (Some("512"), Some("1024")));
    assert_eq!(
        td.runtime_platform()
            .unwrap()
            .cpu_architecture()
            .unwrap()
            .as_str(),
        "X86_64"
    );
    let web = &td.container_definitions()[0];
    assert_eq!(web.image(), Some("nginxinc/nginx-unprivileged:1.27"));
    let env = env_of(web);
    assert_eq!(env["LOG_LEVEL"], "warn");
    assert!(!env.contains_key("DROPPED"));
    assert_eq!(env["ORDERS_HOST"], format!("orders.prod.{stack}.local"));
    let s = em.session("probe", "prod", "us-east-1");
    let logs = aws_sdk_cloudwatchlogs::Client::new(s.sdk());
    let group = doc["services"]["web"]["log_group"].as_str().unwrap();
    let out = s
        .block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(group)
                .send(),
        )
        .unwrap();
    assert_eq!(out.log_groups()[0].retention_in_days(), Some(30));
    let doc = em.up("scale-up", &doc);
    assert_eq!(
        (
            doc["scaling"]["web"]["min"].as_i64(),
            doc["scaling"]["web"]["max"].as_i64()
        ),
        (Some(2), Some(4))
    );
}

/// A spec that fails validation stops the first tool of the pipe: exit 5, the
/// message at the path, no mutating call (not even the lock's).
fn refused(em: &Emulator, services: Value, needle: &str) {
    let lane = em.lane();
    let doc = json!({
        "version": 1, "stack": unique_stack("s16x"), "env": "dev", "region": "us-east-1",
        "spec": {"secrets": {"db": {}}, "services": services}
    });
    for tool in ["net-up", "svc-up"] {
        let line = lane.tool(tool).stdin(doc.to_string()).fails().code(5);
        assert!(line.contains(needle), "{tool}: {line}");
    }
    assert_eq!(lane.mutations(), Vec::<String>::new());
}

#[test]
fn bad_references_and_overrides_change_nothing() {
    let em = Emulator::shared();
    let with = |web_env: Value, orders: Value| json!({"web": {"image": "nginx", "environment": web_env}, "orders": orders});
    let orders = json!({"image": "nginx", "port": 9000, "discovery": true, "callers": ["web"]});
    refused(
        em,
        with(json!({"U": "${service.orders.port}"}), orders.clone()),
        "spec.services.web.environment.U: unknown reference ${service.orders.port}",
    );
    refused(
        em,
        with(json!({"U": "${alb.url"}), orders.clone()),
        "never closed",
    );
    refused(
        em,
        with(json!({"U": "${service.ordres.url}"}), orders.clone()),
        "did you mean orders?",
    );
    refused(
        em,
        with(
            json!({"U": "${service.orders.url}"}),
            json!({"image": "nginx", "port": 9000, "discovery": true}),
        ),
        "spec.services.web.environment.U: 'orders' does not list 'web' in its callers",
    );
    refused(
        em,
        with(
            json!({"U": "${service.orders.url}"}),
            json!({"image": "nginx", "port": 9000, "callers": ["web"]}),
        ),
        "has no Cloud Map name",
    );
    refused(
        em,
        with(json!({"U": "${secret.nope.arn}"}), orders.clone()),
        "secret 'nope' is neither in spec.secrets nor in .secrets",
    );
    // Overrides: an invalid value in an env this run is not for.
    refused(
        em,
        json!({"web": {"image": "nginx", "envs": {"prod": {"log_retention_days": 8}}}}),
        "spec.services.web.envs.prod.log_retention_days: 8 is not a CloudWatch retention",
    );
    refused(
        em,
        json!({"web": {"image": "nginx", "envs": {"prod": {"cpu": 256, "memory": 4096}}}}),
        "spec.services.web.envs.prod.memory: Fargate does not run cpu 256 with memory 4096",
    );
    refused(
        em,
        json!({"web": {"image": "nginx", "envs": {"prod": {"cpu": "big"}}}}),
        "spec.services.web.envs.prod.cpu: expected a number",
    );
    refused(
        em,
        json!({"web": {"image": "nginx", "envs": {"prod": {"imgae": "x"}}}}),
        "spec.services.web.envs.prod.imgae: unknown key; did you mean image?",
    );
    // An override that makes a reference unreachable in one env.
    refused(
        em,
        with(
            json!({"U": "${service.orders.url}"}),
            json!({"image": "nginx", "port": 9000, "discovery": true, "callers": ["web"],
                   "envs": {"staging": {"callers": []}}}),
        ),
        "(in env staging, with its overrides)",
    );
    // Containers.
    refused(
        em,
        json!({"web": {"image": "nginx", "writable_paths": ["var/cache"]}}),
        "spec.services.web.writable_paths[0]: 'var/cache' is not an absolute path",
    );
    refused(
        em,
        json!({"web": {"image": "nginx", "depends_on": {"agent": "healthy"},
            "sidecars": {"agent": {"image": "busybox"}}}}),
        "spec.services.web.depends_on.agent: HEALTHY needs a health check on 'agent'",
    );
    refused(
        em,
        json!({"web": {"image": "nginx", "port": 80, "sidecars": {"proxy": {"image": "envoy", "port": 80}}}}),
        "spec.services.web.sidecars.proxy.port: 80 is already spec.services.web.port",
    );
    refused(
        em,
        json!({"web": {"image": "nginx", "cpu_architecture": "arm"}}),
        "spec.services.web.cpu_architecture: unknown value \"arm\"",
    );
}

#[test]
fn arm64_on_spot_is_refused() {
    let em = Emulator::shared();
    let lane = em.lane();
    let doc = json!({
        "version": 1, "stack": unique_stack("s16a"), "env": "prod", "region": "us-east-1",
        "spec": {
            "cluster": {"strategy_by_env": {"dev": [{"provider": "FARGATE_SPOT", "weight": 1}]}},
            "services": {"web": {"image": "nginx", "cpu_architecture": "arm64"}}
        }
    });
    let line = lane.tool("net-up").stdin(doc.to_string()).fails().code(5);
    assert!(
        line.contains("Fargate Spot runs no arm64 task, and env dev uses FARGATE_SPOT"),
        "{line}"
    );
    assert!(lane.mutations().is_empty());
    // Overridden to x86_64 in the Spot env, it is accepted.
    let mut ok = doc.clone();
    ok["spec"]["services"]["web"]["envs"] = json!({"dev": {"cpu_architecture": "x86_64"}});
    lane.tool("net-up")
        .arg("--plan")
        .stdin(ok.to_string())
        .succeeds();
}
