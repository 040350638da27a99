//! Day two against the emulator (issue 14): deploying an image, following the
//! deployment, reading the status.
//!
//! - a new service without an image runs the newest image of its repository;
//! - `--image api=:TAG` deploys a tag, records it in the document, and a re-run
//!   of the stack file (no image) keeps it; a missing tag and a malformed
//!   reference are refused before any change;
//! - `--force-new-deployment` is one UpdateService and nothing else;
//! - `--wait` exits 0 on a completed rollout, and 12 on tasks that keep
//!   stopping (scripts/emulator_ext/ecs_rollouts.py stops the tasks of an
//!   image tagged `fp-fail-*`), naming the reason and the revision left running;
//! - `--status` reports counts, rollout, image and stopped reasons with no
//!   mutating call.

use serde_json::{json, Value};
use testkit::{unique_stack, Emulator, Session};

/// A network, the cluster and one repository per service without an image.
fn platform(em: &Emulator, stack: &str) -> Value {
    let mut doc = em.network(stack, "dev");
    doc["spec"]["services"] = json!({
        "api": {"port": 8080, "cpu": 256, "memory": 512, "desired_count": 2},
        "web": {"port": 3000, "image": "nginx:1.27"}
    });
    let doc = em.up("ecr-up", &doc);
    em.up("cluster-up", &doc)
}

/// Pushes a (manifest-only) image to the service's repository.
fn push(s: &Session, doc: &Value, service: &str, tag: &str) {
    let repo = doc["ecr"]["repositories"][service]["name"]
        .as_str()
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": 7023, "digest": format!("sha256:{:0>64}", tag.len())},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654, "digest": format!("sha256:{:0>64x}", tag.bytes().map(u64::from).sum::<u64>())}]
    });
    let ecr = aws_sdk_ecr::Client::new(s.sdk());
    s.block_on(
        ecr.put_image()
            .repository_name(repo)
            .image_manifest(manifest.to_string())
            .image_tag(tag)
            .send(),
    )
    .unwrap();
}

fn image_of(out: &Value, service: &str) -> String {
    out["services"][service]["image"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn deploy_an_image_keep_it_follow_it_and_read_the_status() {
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("deploy");
    let stack_file = platform(em, &stack);
    let url = stack_file["ecr"]["repositories"]["api"]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    // A new service: the newest image its repository holds.
    push(&s, &stack_file, "api", "v1");
    let first = em
        .tool("svc-up")
        .arg("--wait")
        .stdin(stack_file.to_string())
        .succeeds();
    let first = first.json();
    assert_eq!(image_of(&first, "api"), format!("{url}:v1"));

    // A tag the repository lacks, and a malformed reference: refused first.
    let lane = em.lane();
    let err = lane
        .tool("svc-up")
        .args(["--image", "api=:v9"])
        .stdin(first.to_string())
        .fails()
        .code(5);
    assert!(err.contains("is not in repository"), "{err}");
    let err = lane
        .tool("svc-up")
        .args(["--image", "api=NOT A VALID IMAGE ref!!"])
        .stdin(first.to_string())
        .fails()
        .code(5);
    assert!(
        err.contains("spec.services.api.image: invalid image reference"),
        "{err}"
    );
    assert_eq!(lane.mutations(), Vec::<String>::new());

    // Deploy v2: recorded in the document, followed to completion.
    push(&s, &stack_file, "api", "v2");
    let deployed = lane
        .tool("svc-up")
        .args(["--image", "api=:v2", "--wait"])
        .stdin(first.to_string())
        .succeeds();
    assert!(
        deployed.stderr().contains("rollout COMPLETED"),
        "{}",
        deployed.stderr()
    );
    let deployed = deployed.json();
    assert_eq!(image_of(&deployed, "api"), format!("{url}:v2"));
    assert_eq!(deployed["spec"]["services"]["api"]["image_tag"], "v2");

    // The stack file names no image: a re-run keeps v2 and changes nothing.
    let lane = em.lane();
    let kept = lane
        .tool("svc-up")
        .stdin(stack_file.to_string())
        .succeeds()
        .json();
    assert_eq!(image_of(&kept, "api"), format!("{url}:v2"));
    assert_eq!(lane.mutations(), Vec::<String>::new());

    // A forced deployment: one UpdateService of that service.
    let lane = em.lane();
    lane.tool("svc-up")
        .args(["--force-new-deployment", "api"])
        .stdin(kept.to_string())
        .succeeds();
    let made = lane.mutations();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].starts_with("ecs UpdateService"), "{made:?}");

    // Tasks that cannot pull: exit 12 naming why, and the revision kept.
    let broken = em
        .tool("svc-up")
        .args(["--image", "api=nginx:fp-fail-pull", "--wait"])
        .stdin(kept.to_string())
        .fails()
        .status(12);
    assert!(
        broken.stdout().is_empty(),
        "no document: {}",
        broken.stdout()
    );
    let stderr = broken.stderr();
    assert!(
        stderr.contains("warning: api: task ")
            && stderr.contains("stopped: CannotPullContainerError"),
        "each stopped task is named as it stops: {stderr}"
    );
    let broken = stderr.lines().last().unwrap_or_default().to_owned();
    assert!(
        broken.starts_with("svc-up: api: deployment of "),
        "{broken}"
    );
    assert!(broken.contains("CannotPullContainerError"), "{broken}");
    let live = kept["services"]["api"]["task_definition_arn"]
        .as_str()
        .unwrap();
    let live = live.rsplit('/').next().unwrap();
    assert!(
        broken.contains(&format!("the service runs {live}")),
        "{broken}"
    );

    // The status: reads only, and the stopped reasons are there.
    let lane = em.lane();
    let status = lane
        .tool("svc-up")
        .arg("--status")
        .stdin(kept.to_string())
        .succeeds()
        .json();
    assert_eq!(lane.fault_state()["mutation_log"], json!([]));
    let api = &status["status"]["services"]["api"];
    assert_eq!(api["desired"], 2, "{api}");
    assert_eq!(api["task_definition"], live, "{api}");
    assert_eq!(api["image"], format!("{url}:v2"), "{api}");
    let reasons: Vec<&str> = api["stopped_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["reason"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("CannotPullContainerError")),
        "{api}"
    );
    assert_eq!(status["status"]["services"]["web"]["status"], "active");

    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
}

/// A blue/green service rolls out through CodeDeploy: `--wait` follows the
/// deployment this run made to Succeeded (exit 0), and to Failed with
/// CodeDeploy's error (exit 12) for an image whose tasks never start
/// (scripts/emulator_ext/codedeploy_rollouts.py plays deployments out).
#[test]
fn a_blue_green_deploy_is_followed_through_codedeploy() {
    let em = Emulator::shared();
    let stack = unique_stack("deploybg");
    let mut doc = em.network(&stack, "dev");
    doc["spec"]["services"] = json!({
        "pay": {"port": 8080, "image": "nginx:1.27", "route": {"default": true},
                "deployment": {"type": "blue-green", "traffic": "all-at-once", "termination_wait_minutes": 0}}
    });
    let doc = em.up("cluster-up", &doc);
    let doc = em.up("alb-up", &doc);
    let first = em.up("svc-up", &doc);

    let run = em
        .tool("svc-up")
        .args(["--image", "pay=nginx:1.28", "--wait"])
        .stdin(first.to_string())
        .succeeds();
    assert!(run.stderr().contains("Succeeded"), "{}", run.stderr());
    let deployed = run.json();
    assert!(deployed["services"]["pay"]["codedeploy"]["last_deployment_id"].is_string());

    let broken = em
        .tool("svc-up")
        .args(["--image", "pay=nginx:fp-fail-pull", "--wait"])
        .stdin(deployed.to_string())
        .fails()
        .status(12);
    let last = broken
        .stderr()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(last.contains("pay: deployment of "), "{last}");
    assert!(
        last.contains("ECS_UPDATE_ERROR") || last.contains("cannot reach a steady state"),
        "{last}"
    );

    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
}
