//! `--status`: what each service runs and how it is doing, read from ECS and
//! ELB with reads only (the run is read-only: no lock, no mutating call).
//!
//! The services are the spec's, found by their derived names
//! (`{stack}--{service}--{env}`) in the document's cluster, never by ids the
//! document holds. Per service: the desired, running and pending counts, the
//! primary deployment's rollout state and revision, the image that revision
//! runs, the latest events, the latest stopped tasks with their reasons, and
//! the health of the targets in each of its target groups.
//!
//! The report is JSON on stdout (`status.services.<name>`, documented in
//! docs/document.md); when stderr is a terminal the same report is also a
//! table there.

use std::io::IsTerminal;

use aws_sdk_ecs::types::{DesiredStatus, Service};
use serde_json::{json, Value};

use common::document::Document;
use common::{bounded, AwsResultExt, Context, Result};

use crate::aws::Clients;

/// Events and stopped tasks shown per service.
const LATEST: usize = 5;

/// The status report of `services` in `cluster`.
pub async fn report(ctx: &Context, cluster: &str, services: &[String]) -> Result<Document> {
    let c = Clients::new(ctx);
    let names: Vec<String> = services.iter().map(|s| ctx.name(s)).collect();
    let mut found: Vec<Service> = Vec::new();
    for chunk in names.chunks(10) {
        let out = c
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
            .aws("DescribeServices")?;
        found.extend(out.services().iter().cloned());
    }
    let entries = bounded::try_all(
        bounded::PER_SERVICE,
        services.iter().zip(&names).map(|(service, name)| {
            let s = found
                .iter()
                .find(|s| s.service_name() == Some(name.as_str()));
            entry(&c, cluster, service, name, s)
        }),
    )
    .await?;
    let report: serde_json::Map<String, Value> = services.iter().cloned().zip(entries).collect();
    if std::io::stderr().is_terminal() {
        eprint!("{}", table(&report));
    }
    let mut doc = Document::new();
    doc.set("stack", ctx.stack.as_str());
    doc.set("env", ctx.env.as_str());
    doc.set("region", ctx.region.as_str());
    doc.set("status", json!({ "cluster": cluster, "services": report }));
    Ok(doc)
}

/// One service's entry; `missing` when ECS has no active service of the name.
async fn entry(
    c: &Clients,
    cluster: &str,
    service: &str,
    name: &str,
    s: Option<&Service>,
) -> Result<Value> {
    let Some(s) = s.filter(|s| s.status() == Some("ACTIVE")) else {
        return Ok(json!({"service_name": name, "status": "missing"}));
    };
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    let revision = primary
        .and_then(|d| d.task_definition())
        .or(s.task_definition())
        .unwrap_or_default();
    let (image, stopped, targets) =
        tokio::try_join!(image(c, revision), stopped(c, cluster, name), targets(c, s))?;
    Ok(json!({
        "service_name": name,
        "status": "active",
        "desired": s.desired_count(),
        "running": s.running_count(),
        "pending": s.pending_count(),
        "rollout": primary.and_then(|d| d.rollout_state()).map(|r| r.as_str()),
        "rollout_reason": primary.and_then(|d| d.rollout_state_reason()),
        "deployments": s.deployments().len(),
        "task_definition": revision.rsplit('/').next().unwrap_or_default(),
        "image": image,
        "events": s.events().iter().take(LATEST).map(|e| json!({
            "at": e.created_at().map(|t| t.to_string()),
            "message": e.message(),
        })).collect::<Vec<_>>(),
        "stopped_tasks": stopped,
        "target_health": targets,
        "service": service,
    }))
}

async fn image(c: &Clients, revision: &str) -> Result<Option<String>> {
    if revision.is_empty() {
        return Ok(None);
    }
    let out = c
        .ecs
        .describe_task_definition()
        .task_definition(revision)
        .send()
        .await
        .aws(format!("DescribeTaskDefinition {revision}"))?;
    Ok(out
        .task_definition()
        .and_then(|t| t.container_definitions().first())
        .and_then(|c| c.image())
        .map(str::to_owned))
}

/// The latest stopped tasks, newest first, with their reasons.
async fn stopped(c: &Clients, cluster: &str, name: &str) -> Result<Vec<Value>> {
    let arns = c
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(name)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .aws(format!("ListTasks {name}"))?;
    if arns.task_arns().is_empty() {
        return Ok(Vec::new());
    }
    let tasks = c
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.task_arns().iter().take(100).cloned().collect()))
        .send()
        .await
        .aws(format!("DescribeTasks {name}"))?;
    let mut tasks = tasks.tasks().to_vec();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.stopped_at().map(|s| s.secs())));
    Ok(tasks
        .iter()
        .take(LATEST)
        .map(|t| {
            let containers: Vec<Value> = t
                .containers()
                .iter()
                .map(
                    |c| json!({"name": c.name(), "reason": c.reason(), "exit_code": c.exit_code()}),
                )
                .collect();
            json!({
                "task": t.task_arn().unwrap_or_default().rsplit('/').next(),
                "stopped_at": t.stopped_at().map(|s| s.to_string()),
                "reason": t.stopped_reason(),
                "task_definition": t.task_definition_arn().unwrap_or_default().rsplit('/').next(),
                "containers": containers,
            })
        })
        .collect())
}

/// Target health per target group the service is attached to.
async fn targets(c: &Clients, s: &Service) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for lb in s.load_balancers() {
        let Some(arn) = lb.target_group_arn() else {
            continue;
        };
        let health = c
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .aws(format!("DescribeTargetHealth {arn}"))?;
        let mut states = serde_json::Map::new();
        for d in health.target_health_descriptions() {
            let state = d
                .target_health()
                .and_then(|h| h.state())
                .map_or("unknown", |s| s.as_str());
            let n = states.get(state).and_then(Value::as_u64).unwrap_or(0);
            states.insert(state.to_owned(), json!(n + 1));
        }
        let name = arn.split('/').nth(1).unwrap_or(arn);
        out.insert(name.to_owned(), Value::Object(states));
    }
    Ok(Value::Object(out))
}

/// The report as a table, one line per service.
fn table(report: &serde_json::Map<String, Value>) -> String {
    let mut rows = vec![[
        "SERVICE",
        "ROLLOUT",
        "RUNNING",
        "PENDING",
        "REVISION",
        "TARGETS",
        "LAST STOP",
    ]
    .map(str::to_owned)];
    for (name, e) in report {
        if e["status"] == "missing" {
            rows.push([
                name.clone(),
                "missing".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            continue;
        }
        let text = |k: &str| e[k].as_str().unwrap_or("-").to_owned();
        let healthy: u64 = e["target_health"]
            .as_object()
            .map(|m| m.values().filter_map(|s| s["healthy"].as_u64()).sum())
            .unwrap_or(0);
        let total: u64 = e["target_health"]
            .as_object()
            .map(|m| {
                m.values()
                    .flat_map(|s| s.as_object().into_iter().flat_map(|o| o.values()))
                    .filter_map(Value::as_u64)
                    .sum()
            })
            .unwrap_or(0);
        rows.push([
            name.clone(),
            text("rollout"),
            format!("{}/{}", e["running"], e["desired"]),
            e["pending"].to_string(),
            text("task_definition"),
            format!("{healthy}/{total} healthy"),
            e["stopped_tasks"][0]["reason"]
                .as_str()
                .unwrap_or("-")
                .to_owned(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
