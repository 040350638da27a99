//! `--wait`: follows each rolling service's deployment by its `rolloutState`
//! until it completes, and fails fast when it cannot.
//!
//! Every `POLL` one DescribeServices per ten services. A service is done when
//! its PRIMARY deployment runs the revision this run deployed and is
//! COMPLETED. It has failed when that deployment is FAILED or the service went
//! back to another revision (the circuit breaker rolled back), or when its
//! tasks keep stopping: a second stopped task, or `FAIL_AFTER` since the first
//! one, without the deployment completing. Stopped tasks are read only when
//! the deployment counts failed tasks (ListTasks, DescribeTasks), and each is
//! named once with its `stoppedReason` and its containers' reasons.
//!
//! Progress goes to stderr: a line when a service's counts or rollout state
//! change (and at least every `common::progress::HEARTBEAT`), and each new
//! service event. A failure is `Error::Deployment` (exit 12) naming every
//! stopped reason and the revision each failed service now runs. Blue/green
//! services are deployed by CodeDeploy and followed there (`codedeploy.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_codedeploy::types::{DeploymentInfo, DeploymentStatus};
use aws_sdk_ecs::types::{DesiredStatus, Service, Task};

use common::progress::HEARTBEAT;
use common::{AwsResultExt, Context, Error, Result};

/// How often the services are read.
const POLL: Duration = Duration::from_secs(3);
/// How long tasks may keep stopping before the deployment counts as failed.
const FAIL_AFTER: Duration = Duration::from_secs(60);

/// One service to follow: its ECS name and the revision this run deployed.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: String,
    pub name: String,
    pub task_definition: String,
    /// A blue/green service's CodeDeploy deployment.
    pub deployment: Option<String>,
}

/// What is known of one service's rollout so far.
#[derive(Debug, Default)]
struct Follow {
    last_line: String,
    said: Option<Instant>,
    events: BTreeSet<String>,
    stopped: BTreeMap<String, String>,
    first_stop: Option<Instant>,
    outcome: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Completed,
    /// Why, and the revision the service runs now.
    Failed(String, String),
}

/// Follows every target until all completed (Ok) or one failed, or `max` ran out.
pub async fn follow(ctx: &Context, cluster: &str, targets: &[Target], max: Duration) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let ecs = aws_sdk_ecs::Client::new(&ctx.sdk);
    let cd = aws_sdk_codedeploy::Client::new(&ctx.sdk);
    let start = Instant::now();
    let mut state: BTreeMap<String, Follow> = targets
        .iter()
        .map(|t| (t.name.clone(), Follow::default()))
        .collect();
    let mut waiting =
        common::progress::waiting(format!("{} deployment(s) to complete", targets.len()));
    loop {
        poll(&ecs, &cd, cluster, targets, &mut state).await?;
        if let Some(err) = failure(targets, &state) {
            return Err(err);
        }
        if state
            .values()
            .all(|f| f.outcome == Some(Outcome::Completed))
        {
            waiting.done();
            return Ok(());
        }
        if start.elapsed() >= max {
            return Err(timed_out(targets, &state, max));
        }
        waiting.tick();
        tokio::time::sleep(POLL).await;
    }
}

/// One round: every unfinished service read, reported and judged.
async fn poll(
    ecs: &aws_sdk_ecs::Client,
    cd: &aws_sdk_codedeploy::Client,
    cluster: &str,
    targets: &[Target],
    state: &mut BTreeMap<String, Follow>,
) -> Result<()> {
    let open: Vec<&Target> = targets
        .iter()
        .filter(|t| state[&t.name].outcome.is_none())
        .collect();
    let deployments = codedeploy_status(cd, &open).await?;
    for chunk in open.chunks(10) {
        let names: Vec<String> = chunk.iter().map(|t| t.name.clone()).collect();
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(names))
            .send()
            .await
            .aws("DescribeServices")?;
        for t in chunk {
            let Some(s) = out
                .services()
                .iter()
                .find(|s| s.service_name() == Some(&t.name))
            else {
                continue;
            };
            let follow = state.get_mut(&t.name).expect("every target is followed");
            match &t.deployment {
                Some(id) => observe_codedeploy(t, s, deployments.get(id), follow),
                None => observe(ecs, cluster, t, s, follow).await?,
            }
        }
    }
    Ok(())
}

/// Reports what changed on one service and decides whether it is over.
async fn observe(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    t: &Target,
    s: &Service,
    f: &mut Follow,
) -> Result<()> {
    report_events(t, s, f);
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    let ours = s
        .deployments()
        .iter()
        .find(|d| d.task_definition() == Some(t.task_definition.as_str()));
    let line = format!(
        "{}: rollout {}, {} of {} running, {} pending",
        t.service,
        primary
            .and_then(|d| d.rollout_state())
            .map_or("unknown", |r| r.as_str()),
        s.running_count(),
        s.desired_count(),
        s.pending_count()
    );
    say(f, line);
    let live = s.task_definition().unwrap_or_default().to_owned();
    let failed = matches!(judge(t, primary, ours, &live, f), Some(Outcome::Failed(..)));
    // A rolled-back deployment may be gone from the list: its tasks say why.
    if failed || ours.is_some_and(|d| d.failed_tasks() > 0) {
        read_stopped(ecs, cluster, t, f).await?;
    }
    f.outcome = judge(t, primary, ours, &live, f);
    Ok(())
}

/// A progress line when it changed, and at least every `HEARTBEAT`.
fn say(f: &mut Follow, line: String) {
    if line != f.last_line || f.said.is_none_or(|at| at.elapsed() >= HEARTBEAT) {
        tracing::info!("{line}");
        f.last_line = line;
        f.said = Some(Instant::now());
    }
}

/// The CodeDeploy deployments of the blue/green targets, by id.
async fn codedeploy_status(
    cd: &aws_sdk_codedeploy::Client,
    open: &[&Target],
) -> Result<BTreeMap<String, DeploymentInfo>> {
    let ids: Vec<String> = open.iter().filter_map(|t| t.deployment.clone()).collect();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(25) {
        let got = cd
            .batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()))
            .send()
            .await
            .aws("BatchGetDeployments")?;
        for d in got.deployments_info() {
            if let Some(id) = d.deployment_id() {
                out.insert(id.to_owned(), d.clone());
            }
        }
    }
    Ok(out)
}

/// A blue/green service: its CodeDeploy deployment's status decides.
fn observe_codedeploy(t: &Target, s: &Service, d: Option<&DeploymentInfo>, f: &mut Follow) {
    report_events(t, s, f);
    let status = d.and_then(DeploymentInfo::status);
    let id = t.deployment.as_deref().unwrap_or_default();
    say(
        f,
        format!(
            "{}: CodeDeploy deployment {id} {}",
            t.service,
            status.map_or("unknown", |s| s.as_str())
        ),
    );
    let live = s.task_definition().unwrap_or_default().to_owned();
    f.outcome = match status {
        Some(DeploymentStatus::Succeeded) => Some(Outcome::Completed),
        Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => {
            let why = d
                .and_then(|d| d.error_information())
                .and_then(|e| e.message())
                .unwrap_or("CodeDeploy stopped it");
            Some(Outcome::Failed(
                format!("CodeDeploy deployment {id}: {why}"),
                live,
            ))
        }
        _ => None,
    };
}

/// Done, failed, or still going.
fn judge(
    t: &Target,
    primary: Option<&aws_sdk_ecs::types::Deployment>,
    ours: Option<&aws_sdk_ecs::types::Deployment>,
    live: &str,
    f: &Follow,
) -> Option<Outcome> {
    use aws_sdk_ecs::types::DeploymentRolloutState as Rollout;
    let primary_ours =
        primary.and_then(|d| d.task_definition()) == Some(t.task_definition.as_str());
    if primary_ours && primary.and_then(|d| d.rollout_state()) == Some(&Rollout::Completed) {
        return Some(Outcome::Completed);
    }
    if ours.and_then(|d| d.rollout_state()) == Some(&Rollout::Failed) {
        let why = ours
            .and_then(|d| d.rollout_state_reason())
            .unwrap_or("the deployment failed");
        return Some(Outcome::Failed(why.to_owned(), live.to_owned()));
    }
    if primary.is_some() && !primary_ours && live != t.task_definition {
        return Some(Outcome::Failed(
            "the service went back to an earlier revision (rolled back)".into(),
            live.to_owned(),
        ));
    }
    let stopping =
        f.stopped.len() >= 2 || f.first_stop.is_some_and(|at| at.elapsed() >= FAIL_AFTER);
    stopping.then(|| {
        Outcome::Failed(
            format!("{} task(s) of the new revision stopped", f.stopped.len()),
            live.to_owned(),
        )
    })
}

/// Each service event since the wait began, once.
fn report_events(t: &Target, s: &Service, f: &mut Follow) {
    let first_look = f.events.is_empty() && f.said.is_none();
    // Newest first: report oldest first.
    for e in s.events().iter().rev() {
        let (Some(id), Some(message)) = (e.id(), e.message()) else {
            continue;
        };
        if f.events.insert(id.to_owned()) && !first_look {
            tracing::info!("{}: {message}", t.service);
        }
    }
}

/// The stopped tasks of the deployed revision, each reported once.
async fn read_stopped(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    t: &Target,
    f: &mut Follow,
) -> Result<()> {
    let arns = ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(&t.name)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .aws(format!("ListTasks {}", t.name))?;
    let new: Vec<String> = arns
        .task_arns()
        .iter()
        .filter(|a| !f.stopped.contains_key(*a))
        .take(100)
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let tasks = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(new))
        .send()
        .await
        .aws(format!("DescribeTasks {}", t.name))?;
    for task in tasks.tasks() {
        if task.task_definition_arn() != Some(t.task_definition.as_str()) {
            continue;
        }
        let why = stopped_reason(task);
        tracing::warn!(
            "{}: task {} stopped: {why}",
            t.service,
            short(task.task_arn())
        );
        f.stopped
            .insert(task.task_arn().unwrap_or_default().to_owned(), why);
        f.first_stop.get_or_insert_with(Instant::now);
    }
    Ok(())
}

/// The task's reason, and each container's reason or exit code.
fn stopped_reason(task: &Task) -> String {
    let mut why = task
        .stopped_reason()
        .unwrap_or("no reason given")
        .to_owned();
    for c in task.containers() {
        let name = c.name().unwrap_or("container");
        match (c.reason(), c.exit_code()) {
            (Some(r), _) => why.push_str(&format!("; {name}: {r}")),
            (None, Some(code)) => why.push_str(&format!("; {name}: exit code {code}")),
            _ => {}
        }
    }
    why
}

fn short(arn: Option<&str>) -> &str {
    arn.unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// The first failed service, as one error naming all of them.
fn failure(targets: &[Target], state: &BTreeMap<String, Follow>) -> Option<Error> {
    let failed: Vec<String> = targets
        .iter()
        .filter_map(|t| match &state[&t.name].outcome {
            Some(Outcome::Failed(why, live)) => Some(describe(t, why, live, &state[&t.name])),
            _ => None,
        })
        .collect();
    (!failed.is_empty()).then(|| Error::Deployment(failed.join(" | ")))
}

fn describe(t: &Target, why: &str, live: &str, f: &Follow) -> String {
    let reasons: BTreeSet<&str> = f.stopped.values().map(String::as_str).collect();
    let reasons = if reasons.is_empty() {
        String::new()
    } else {
        format!(
            "; stopped tasks: {}",
            reasons.into_iter().collect::<Vec<_>>().join("; ")
        )
    };
    format!(
        "{}: deployment of {} failed: {why}{reasons}; the service runs {}",
        t.service,
        revision(&t.task_definition),
        revision(live)
    )
}

/// `family:N` of a task definition ARN.
fn revision(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn timed_out(targets: &[Target], state: &BTreeMap<String, Follow>, max: Duration) -> Error {
    let open: Vec<&str> = targets
        .iter()
        .filter(|t| state[&t.name].outcome.is_none())
        .map(|t| t.service.as_str())
        .collect();
    let stopped: BTreeSet<&str> = state
        .values()
        .flat_map(|f| f.stopped.values().map(String::as_str))
        .collect();
    let why = if stopped.is_empty() {
        "no task stopped".to_owned()
    } else {
        format!(
            "stopped tasks: {}",
            stopped.into_iter().collect::<Vec<_>>().join("; ")
        )
    };
    Error::Timeout {
        what: format!(
            "the deployments of {} to complete ({why}); svc-up --status shows where they are",
            open.join(", ")
        ),
        secs: max.as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState};

    use super::*;

    fn target() -> Target {
        Target {
            service: "api".into(),
            name: "shop--api--dev".into(),
            task_definition: "arn:aws:ecs:us-east-1:1:task-definition/shop--api--dev:3".into(),
            deployment: None,
        }
    }

    fn deployment(td: &str, state: DeploymentRolloutState, status: &str) -> Deployment {
        Deployment::builder()
            .task_definition(td)
            .rollout_state(state)
            .status(status)
            .build()
    }

    const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/shop--api--dev:2";

    #[test]
    fn completed_only_when_the_primary_runs_our_revision() {
        let t = target();
        let done = deployment(
            &t.task_definition,
            DeploymentRolloutState::Completed,
            "PRIMARY",
        );
        let f = Follow::default();
        assert_eq!(
            judge(&t, Some(&done), Some(&done), &t.task_definition, &f),
            Some(Outcome::Completed)
        );
        let going = deployment(
            &t.task_definition,
            DeploymentRolloutState::InProgress,
            "PRIMARY",
        );
        assert_eq!(
            judge(&t, Some(&going), Some(&going), &t.task_definition, &f),
            None
        );
    }

    #[test]
    fn a_rollback_or_a_failed_rollout_is_a_failure_naming_the_live_revision() {
        let t = target();
        let f = Follow::default();
        let failed = deployment(&t.task_definition, DeploymentRolloutState::Failed, "ACTIVE");
        let back = deployment(OLD, DeploymentRolloutState::Completed, "PRIMARY");
        let Some(Outcome::Failed(_, live)) = judge(&t, Some(&back), Some(&failed), OLD, &f) else {
            panic!("a failure");
        };
        assert_eq!(live, OLD);
        assert!(matches!(
            judge(&t, Some(&back), None, OLD, &f),
            Some(Outcome::Failed(why, _)) if why.contains("rolled back")
        ));
    }

    #[test]
    fn tasks_that_keep_stopping_fail_before_the_circuit_breaker() {
        let t = target();
        let going = deployment(
            &t.task_definition,
            DeploymentRolloutState::InProgress,
            "PRIMARY",
        );
        let mut f = Follow::default();
        f.stopped
            .insert("a".into(), "CannotPullContainerError".into());
        f.first_stop = Some(Instant::now());
        assert_eq!(
            judge(&t, Some(&going), Some(&going), &t.task_definition, &f),
            None
        );
        f.stopped
            .insert("b".into(), "CannotPullContainerError".into());
        let e = failure(
            std::slice::from_ref(&t),
            &BTreeMap::from([(
                t.name.clone(),
                Follow {
                    outcome: judge(&t, Some(&going), Some(&going), &t.task_definition, &f),
                    ..f
                },
            )]),
        )
        .expect("a failure");
        assert_eq!(e.exit_code(), 12);
        assert!(e.to_string().contains("CannotPullContainerError"), "{e}");
        assert!(
            e.to_string().contains("the service runs shop--api--dev:3"),
            "{e}"
        );
    }
}
