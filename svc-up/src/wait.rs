//! `--wait`: bounded waits for the services' steady state, and on failure the
//! reasons ECS gives for the tasks it stopped.

use std::time::Duration;

use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::types::DesiredStatus;

use common::sections::Services;
use common::{AwsResultExt, Context, Error, Result};

/// Waits for steady state; on failure names why the stopped tasks stopped.
pub async fn stable(
    ctx: &Context,
    cluster: &str,
    services: &Services,
    max: Duration,
) -> Result<()> {
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let names: Vec<String> = services.values().map(|s| s.service_name.clone()).collect();
    let mut failed = Vec::new();
    // DescribeServices takes at most 10 services.
    for chunk in names.chunks(10) {
        let r = ecs
            .wait_until_services_stable()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .wait(max)
            .await;
        if r.is_err() {
            failed.extend(chunk.iter().cloned());
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let reasons = stopped_reasons(&ecs, cluster, &failed).await?;
    let why = if reasons.is_empty() {
        String::from("no stopped tasks")
    } else {
        format!("stopped tasks: {}", reasons.join("; "))
    };
    Err(Error::Timeout {
        what: format!(
            "services {} to become stable ({why}); see the ECS console or aws ecs describe-services",
            failed.join(", ")
        ),
        secs: max.as_secs(),
    })
}

/// Why ECS stopped the tasks of the given services (distinct reasons).
async fn stopped_reasons(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    services: &[String],
) -> Result<Vec<String>> {
    let mut reasons = Vec::new();
    for name in services {
        let tasks = ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(name)
            .desired_status(DesiredStatus::Stopped)
            .send()
            .await
            .aws(format!("ListTasks {name}"))?;
        if tasks.task_arns().is_empty() {
            continue;
        }
        let described = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(tasks.task_arns().iter().take(100).cloned().collect()))
            .send()
            .await
            .aws(format!("DescribeTasks {name}"))?;
        for t in described.tasks() {
            if let Some(r) = t.stopped_reason() {
                let r = format!("{name}: {r}");
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
        }
    }
    Ok(reasons)
}
