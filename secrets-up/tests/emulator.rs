//! secrets-up against the emulator: what it creates, that a re-run changes
//! nothing, that a value reaches Secrets Manager and nowhere else (not even at
//! -vvv), that a value is stored only when it is new, `--plan`, pruning, that
//! what is not ours is refused with no change, and that the layer's teardown
//! schedules the deletion of this stack's secrets only, after which a bring-up
//! restores them. What the emulator holds is read through the SDK.

use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;
use serde_json::{json, Value};

use common::layer::{Layer, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Change, Leftovers};
use common::Document;
use testkit::{counts, unique_stack, Emulator, Run};

const FILE_VALUE: &str = "s3cr3t-VALUE-42-do-not-print";
const ENV_VALUE: &str = "s3cr3t-ENV-43-do-not-print";

/// secrets-up from its flags alone (`-n`, `-v`), which must succeed.
fn from_flags(em: &Emulator, args: &[&str]) -> Run {
    em.tool("secrets-up")
        .args(["-n", "-v"])
        .args(args)
        .succeeds()
}

fn spec_doc(stack: &str, secrets: Value) -> String {
    json!({"version": 1, "stack": stack, "env": "dev", "spec": {"secrets": secrets}}).to_string()
}

async fn client(em: &Emulator) -> Client {
    Client::new(&em.sdk("us-east-1").await)
}

async fn current_value(sm: &Client, name: &str) -> Option<String> {
    sm.get_secret_value()
        .secret_id(name)
        .send()
        .await
        .ok()
        .and_then(|v| v.secret_string().map(str::to_owned))
}

async fn versions(sm: &Client, name: &str) -> usize {
    sm.list_secret_version_ids()
        .secret_id(name)
        .send()
        .await
        .unwrap()
        .versions()
        .len()
}

/// The change lines of a -v run.
fn change_lines(stderr: &str) -> Vec<String> {
    let mut lines = testkit::change_lines("secrets-up", stderr);
    lines.sort();
    lines
}

fn plan_lines(doc: &Value) -> Vec<String> {
    let mut lines: Vec<String> = doc["plan"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| serde_json::from_value::<Change>(c.clone()).unwrap().line())
        .collect();
    lines.sort();
    lines
}

fn foreign_mutations(state: &Value) -> Vec<String> {
    state["mutation_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .filter(|m| !m.contains("/fargate-pipes/locks/"))
        .collect()
}

/// Tears the layer down as teardown does; the deletes it planned.
async fn teardown(em: &Emulator, stack: &str, doc: &str, force: bool) -> Vec<String> {
    let ctx = em.context(stack, "dev", "us-east-1").await;
    let doc = Document::parse(doc).unwrap();
    let m = Mismatches::default();
    let found = secrets_up::teardown::LAYER
        .discover(&ctx, &doc, &m)
        .await
        .unwrap();
    m.into_result(&ctx).unwrap();
    // Sorted: discovery reads the secrets concurrently, so their order varies.
    let mut planned: Vec<String> = found.plan(&ctx).iter().map(Change::line).collect();
    planned.sort();
    let left = Leftovers::default();
    let opts = TeardownOptions {
        force_delete_secrets: force,
    };
    found.destroy(&ctx, &left, opts).await;
    left.into_result().unwrap();
    planned
}

fn empty_doc(stack: &str) -> String {
    json!({"version": 1, "stack": stack, "env": "dev"}).to_string()
}

#[tokio::test]
async fn two_secrets_without_values_then_a_rerun_changes_nothing() {
    let em = Emulator::shared();
    let stack = unique_stack("sec");
    let args = [
        "--stack",
        &stack,
        "--env",
        "dev",
        "--secret",
        "db-credentials",
        "--secret",
        "api-keys",
    ];
    let first = from_flags(em, &args);
    assert_eq!(
        change_lines(&first.stderr()),
        [
            format!("+ secret {stack}--api-keys--dev"),
            format!("+ secret {stack}--db-credentials--dev")
        ]
    );
    let first = first.json();
    let inv = em.inventory("us-east-1", &stack, "dev");
    assert_eq!(inv.counts(), counts(&[("secret", 2)]));
    let section = first["secrets"].as_object().unwrap();
    for (short, s) in section {
        let fields: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "name",
                "arn",
                "kms_key",
                "has_value",
                "json_keys",
                "recovery_window_days"
            ],
            "metadata only, no value"
        );
        assert_eq!(s["name"], format!("{stack}--{short}--dev"));
        assert!(s["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:secretsmanager:us-east-1:"));
        assert_eq!(s["has_value"], false);
    }
    let second = from_flags(em, &args);
    assert_eq!(
        second.json()["secrets"],
        first["secrets"],
        "same names and ARNs"
    );
    let log = second.stderr();
    assert!(
        change_lines(&log).is_empty(),
        "a re-run changes nothing:\n{log}"
    );
    assert!(log.contains("2 unchanged"), "{log}");
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), inv);
    teardown(em, &stack, &empty_doc(&stack), true).await;
}

#[tokio::test]
async fn values_reach_secrets_manager_and_nothing_else() {
    let em = Emulator::shared();
    let stack = unique_stack("val");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), FILE_VALUE).unwrap();
    let doc = spec_doc(
        &stack,
        json!({"db-credentials": {"description": "the database"}, "api-keys": {"recovery_window_days": 10}}),
    );
    let path = file.path().display().to_string();
    let run = em
        .tool("secrets-up")
        .arg("-vvv")
        .args(["--value-file", &format!("db-credentials={path}")])
        .args(["--value-env", "api-keys=FP_TEST_API_KEYS"])
        .env("FP_TEST_API_KEYS", ENV_VALUE)
        .stdin(doc)
        .succeeds();
    let (stdout, stderr) = (run.stdout(), run.stderr());
    // The logs really were on at -vvv (ours and the SDK's), so their silence means something.
    assert!(stderr.contains("+ secret"), "{stderr}");
    // The SDK's orchestrator, at each call's transmit phase (no module paths are printed).
    assert!(stderr.contains("entering 'transmit' phase"), "{stderr}");
    for value in [FILE_VALUE, ENV_VALUE] {
        assert!(!stdout.contains(value), "the value is in the document");
        assert!(!stderr.contains(value), "the value is on stderr");
    }
    assert!(
        !stdout.contains(&path),
        "the value file's path is not recorded"
    );
    assert!(
        !stdout.contains("FP_TEST_API_KEYS"),
        "nor the variable's name"
    );
    let doc = run.json();
    assert_eq!(doc["secrets"]["db-credentials"]["has_value"], true);
    assert_eq!(doc["secrets"]["api-keys"]["has_value"], true);
    assert_eq!(doc["secrets"]["api-keys"]["recovery_window_days"], 10);

    let sm = client(em).await;
    let db = format!("{stack}--db-credentials--dev");
    let api = format!("{stack}--api-keys--dev");
    assert_eq!(current_value(&sm, &db).await.as_deref(), Some(FILE_VALUE));
    assert_eq!(current_value(&sm, &api).await.as_deref(), Some(ENV_VALUE));
    let described = sm.describe_secret().secret_id(&db).send().await.unwrap();
    assert_eq!(described.description(), Some("the database"));

    // Again at -vvv with the same values: compared in memory, nothing stored,
    // and the comparison shows nowhere either.
    let run = em
        .tool("secrets-up")
        .arg("-vvv")
        .args(["--value-file", &format!("db-credentials={path}")])
        .args(["--value-env", "api-keys=FP_TEST_API_KEYS"])
        .env("FP_TEST_API_KEYS", ENV_VALUE)
        .stdin(doc.to_string())
        .succeeds();
    assert!(change_lines(&run.stderr()).is_empty(), "{}", run.stderr());
    for value in [FILE_VALUE, ENV_VALUE] {
        assert!(!run.stdout().contains(value) && !run.stderr().contains(value));
    }
    assert_eq!(versions(&sm, &db).await, 1);
    teardown(em, &stack, &empty_doc(&stack), true).await;
}

#[tokio::test]
async fn a_value_is_stored_only_when_it_is_new_and_kept_when_none_is_given() {
    let em = Emulator::shared();
    let stack = unique_stack("ovr");
    let sm = client(em).await;
    let name = format!("{stack}--db-credentials--dev");
    let file = tempfile::NamedTempFile::new().unwrap();
    let value_arg = format!("db-credentials={}", file.path().display());
    let base = [
        "--stack",
        &stack,
        "--env",
        "dev",
        "--secret",
        "db-credentials",
    ];
    let with_file = [&base[..], &["--value-file", &value_arg]].concat();

    from_flags(em, &base);
    std::fs::write(file.path(), "first-value").unwrap();
    let set = from_flags(em, &with_file);
    assert_eq!(
        change_lines(&set.stderr()),
        [format!("~ secret {name} (value: (none) -> (given))")]
    );
    assert_eq!(set.json()["secrets"]["db-credentials"]["has_value"], true);
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("first-value")
    );

    // The same value again: nothing stored, no new version.
    let same = from_flags(em, &with_file);
    assert!(change_lines(&same.stderr()).is_empty(), "{}", same.stderr());
    assert_eq!(versions(&sm, &name).await, 1);

    // A run without a value keeps the secret's.
    let without = from_flags(em, &base);
    assert!(change_lines(&without.stderr()).is_empty());
    assert_eq!(
        without.json()["secrets"]["db-credentials"]["has_value"],
        true
    );
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("first-value")
    );

    // A changed value, passed again: stored once.
    std::fs::write(file.path(), "second-value").unwrap();
    let changed = from_flags(em, &with_file);
    assert_eq!(
        change_lines(&changed.stderr()),
        [format!("~ secret {name} (value: (current) -> (given))")]
    );
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("second-value")
    );
    assert!(change_lines(&from_flags(em, &with_file).stderr()).is_empty());
    assert_eq!(
        versions(&sm, &name).await,
        2,
        "first-value and second-value only"
    );
    teardown(em, &stack, &empty_doc(&stack), true).await;
}

#[tokio::test]
async fn a_value_typed_at_the_prompt_is_stored_and_never_echoed() {
    let em = Emulator::shared();
    let stack = unique_stack("tty");
    const TYPED: &str = "typed-s3cr3t-55";
    let bin = testkit::tool_path("secrets-up");
    // `script` gives the tool a terminal; what it echoes is script's stdout.
    let command = format!(
        "{} -n --stack {stack} --env dev --value-prompt db --secret other",
        bin.display()
    );
    let (status, shown) = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("AWS_ENDPOINT_URL", &em.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("FP_RETRY_BUDGET_SECS", "20")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        // Type only once the prompt is up (echo is off by then).
        let start = std::time::Instant::now();
        while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("(not shown): ") {
            assert!(start.elapsed().as_secs() < 60, "no prompt");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        writeln!(stdin, "{TYPED}").unwrap();
        let status = child.wait().unwrap();
        drop(stdin);
        reader.join().unwrap();
        let shown = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        (status, shown)
    })
    .await
    .unwrap();
    assert!(status.success(), "{shown}");
    assert!(shown.contains("value of secret db (not shown)"), "{shown}");
    assert!(
        !shown.contains(TYPED),
        "the terminal echoed the value: {shown}"
    );
    let sm = client(em).await;
    assert_eq!(
        current_value(&sm, &format!("{stack}--db--dev"))
            .await
            .as_deref(),
        Some(TYPED)
    );
    teardown(em, &stack, &empty_doc(&stack), true).await;
}

#[tokio::test]
async fn each_changed_setting_gives_exactly_its_one_update() {
    let em = Emulator::shared();
    let stack = unique_stack("secupd");
    let name = format!("{stack}--db--dev");
    em.tool("secrets-up")
        .stdin(spec_doc(&stack, json!({"db": {}})))
        .succeeds();
    let lane = em.lane();
    let run = |secrets: Value, extra: &[&str]| {
        lane.set_faults(json!({}));
        let log = lane
            .tool("secrets-up")
            .arg("-v")
            .args(extra)
            .stdin(spec_doc(&stack, secrets))
            .succeeds()
            .stderr();
        (change_lines(&log), foreign_mutations(&lane.fault_state()))
    };
    let (lines, calls) = run(json!({"db": {"description": "rotated monthly"}}), &[]);
    assert_eq!(
        lines,
        [format!("~ secret {name} (description: db of {stack}/dev (fargate-pipes secrets-up) -> rotated monthly)")]
    );
    assert_eq!(calls, [format!("secretsmanager UpdateSecret {name}")]);

    let (lines, calls) = run(
        json!({"db": {"description": "rotated monthly"}}),
        &["--tag", "team=data"],
    );
    assert_eq!(
        lines,
        [format!(
            "~ secret {name} (tags: {{\"team\":null}} -> {{\"team\":\"data\"}})"
        )]
    );
    assert_eq!(calls, [format!("secretsmanager TagResource {name}")]);

    // Nothing changed: nothing done. Then back to the default description.
    let (lines, calls) = run(
        json!({"db": {"description": "rotated monthly"}}),
        &["--tag", "team=data"],
    );
    assert!(lines.is_empty() && calls.is_empty(), "{lines:?} {calls:?}");
    let (lines, _) = run(json!({"db": {}}), &["--tag", "team=data"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("-> db of"), "{lines:?}");
    teardown(em, &stack, &empty_doc(&stack), true).await;
}

#[tokio::test]
async fn plan_lists_every_create_changes_nothing_and_the_apply_makes_exactly_it() {
    let em = Emulator::shared();
    let stack = unique_stack("secplan");
    let doc = spec_doc(&stack, json!({"db": {}, "api": {}}));
    let lane = em.lane();
    let planned = lane
        .tool("secrets-up")
        .arg("--plan")
        .stdin(&doc)
        .succeeds()
        .json();
    assert!(lane.fault_state()["mutation_log"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
    let lines = plan_lines(&planned);
    assert_eq!(
        lines,
        [
            format!("+ secret {stack}--api--dev"),
            format!("+ secret {stack}--db--dev")
        ]
    );
    assert!(planned["secrets"]["db"]["arn"]
        .as_str()
        .unwrap()
        .starts_with("planned:"));

    let applied = em.tool("secrets-up").arg("-v").stdin(&doc).succeeds();
    assert_eq!(change_lines(&applied.stderr()), lines);
    let again = em
        .tool("secrets-up")
        .arg("--plan")
        .stdin(applied.json().to_string())
        .succeeds()
        .json();
    assert!(plan_lines(&again).is_empty(), "{again}");

    // A prune, planned then applied.
    let fewer = spec_doc(&stack, json!({"db": {}}));
    let lane = em.lane();
    let planned = lane
        .tool("secrets-up")
        .arg("--plan")
        .stdin(&fewer)
        .succeeds()
        .json();
    assert!(lane.fault_state()["mutation_log"]
        .as_array()
        .unwrap()
        .is_empty());
    let lines = plan_lines(&planned);
    assert_eq!(
        lines,
        [format!(
            "- secret {stack}--api--dev (recovery_window_days: null -> 7)"
        )]
    );
    let applied = em.tool("secrets-up").arg("-v").stdin(&fewer).succeeds();
    assert_eq!(change_lines(&applied.stderr()), lines);
    teardown(em, &stack, &empty_doc(&stack), true).await;
}

#[tokio::test]
async fn an_explicit_spec_prunes_and_an_absent_or_empty_one_does_not() {
    let em = Emulator::shared();
    let stack = unique_stack("prune");
    let sm = client(em).await;
    let first = em
        .tool("secrets-up")
        .stdin(spec_doc(
            &stack,
            json!({"db": {}, "old": {"recovery_window_days": 21}}),
        ))
        .succeeds()
        .json();
    let old = format!("{stack}--old--dev");

    // Absent, empty, or only flags: nothing deleted, and the run says so.
    for doc in [
        json!({"version": 1, "stack": stack, "env": "dev", "secrets": first["secrets"]}),
        json!({"version": 1, "stack": stack, "env": "dev", "spec": {"secrets": {}}}),
    ] {
        for extra in [&[][..], &["--secret", "db"][..]] {
            let lane = em.lane();
            let log = lane
                .tool("secrets-up")
                .args(extra)
                .stdin(doc.to_string())
                .succeeds()
                .stderr();
            assert!(change_lines(&log).is_empty(), "{log}");
            assert!(
                log.contains("warning: nothing pruned") && log.contains(&old),
                "{log}"
            );
            assert!(foreign_mutations(&lane.fault_state()).is_empty());
        }
    }
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("secret", 2)])
    );

    // Explicit: `old` goes, with the window it was made with.
    let mut fewer = first.clone();
    fewer["spec"]["secrets"] = json!({"db": {}});
    let log = em
        .tool("secrets-up")
        .arg("-v")
        .stdin(fewer.to_string())
        .succeeds()
        .stderr();
    assert_eq!(
        change_lines(&log),
        [format!("- secret {old} (recovery_window_days: null -> 21)")]
    );
    let d = sm.describe_secret().secret_id(&old).send().await.unwrap();
    let at = d.deleted_date().expect("scheduled").secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(((at - now) as f64 / 86_400.0).round() as i64, 21);
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("secret", 1)])
    );

    // Named again within the window: restored, same ARN.
    let log = em
        .tool("secrets-up")
        .arg("-v")
        .stdin(first.to_string())
        .succeeds()
        .stderr();
    assert_eq!(
        change_lines(&log),
        [format!(
            "~ secret {old} (scheduled_for_deletion: true -> false)"
        )]
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("secret", 2)])
    );
    teardown(em, &stack, &empty_doc(&stack), true).await;
}

#[tokio::test]
async fn a_secret_of_that_name_not_ours_is_refused_and_left_alone() {
    let em = Emulator::shared();
    let stack = unique_stack("own");
    let sm = client(em).await;
    let name = format!("{stack}--db-credentials--dev");
    sm.create_secret()
        .name(&name)
        .secret_string("someone-elses")
        .tags(Tag::builder().key("team").value("other").build())
        .send()
        .await
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "ours").unwrap();
    let lane = em.lane();
    let err = lane
        .tool("secrets-up")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .args([
            "--value-file",
            &format!("db-credentials={}", file.path().display()),
        ])
        .fails()
        .code(10);
    assert!(
        err.contains(&name) && err.contains("no fargate-pipes tags"),
        "{err}"
    );
    assert!(foreign_mutations(&lane.fault_state()).is_empty());
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("someone-elses")
    );
    sm.delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn documents_naming_another_stacks_or_envs_secrets_are_refused() {
    let em = Emulator::shared();
    let stack = unique_stack("atk");
    let victim = unique_stack("vic");
    let dev = em
        .tool("secrets-up")
        .stdin(spec_doc(&stack, json!({"db": {}})))
        .succeeds()
        .json();
    let theirs = em
        .tool("secrets-up")
        .stdin(spec_doc(&victim, json!({"db": {}})))
        .succeeds()
        .json();

    let mut prod = dev.clone();
    prod["env"] = json!("prod");
    let lane = em.lane();
    let err = lane
        .tool("secrets-up")
        .stdin(prod.to_string())
        .fails()
        .code(10);
    assert!(
        err.contains("belong elsewhere") && err.contains(&format!("{stack}/dev")),
        "{err}"
    );
    assert!(foreign_mutations(&lane.fault_state()).is_empty());
    assert!(em.inventory("us-east-1", &stack, "prod").is_empty());

    let mut forged = dev.clone();
    forged["secrets"]["db"]["arn"] = theirs["secrets"]["db"]["arn"].clone();
    let lane = em.lane();
    let err = lane
        .tool("secrets-up")
        .stdin(forged.to_string())
        .fails()
        .code(10);
    assert!(err.contains(&format!("{victim}/dev")), "{err}");
    assert!(foreign_mutations(&lane.fault_state()).is_empty());

    // Teardown through the layer: refused before any delete.
    let ctx = em.context(&stack, "prod", "us-east-1").await;
    let m = Mismatches::default();
    secrets_up::teardown::LAYER
        .discover(&ctx, &Document::parse(&prod.to_string()).unwrap(), &m)
        .await
        .unwrap();
    assert_eq!(m.into_result(&ctx).unwrap_err().exit_code(), 10);

    teardown(em, &stack, &empty_doc(&stack), true).await;
    teardown(em, &victim, &empty_doc(&victim), true).await;
}

#[tokio::test]
async fn teardown_schedules_deletion_of_this_stack_only_and_bring_up_restores() {
    let em = Emulator::shared();
    let stack = unique_stack("tdn");
    // Another stack whose name starts with this one's (ListSecrets' tag filters
    // match prefixes), and this stack's other env: neither may be touched.
    let longer = format!("{stack}b");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), FILE_VALUE).unwrap();
    let spec = json!({"db-credentials": {"recovery_window_days": 12}, "api-keys": {}});
    let value = format!("db-credentials={}", file.path().display());
    let first = em
        .tool("secrets-up")
        .args(["--value-file", &value])
        .stdin(spec_doc(&stack, spec.clone()))
        .succeeds()
        .json();
    from_flags(
        em,
        &["--stack", &longer, "--env", "dev", "--secret", "api-keys"],
    );
    from_flags(
        em,
        &["--stack", &stack, "--env", "prod", "--secret", "api-keys"],
    );

    let planned = teardown(em, &stack, &first.to_string(), false).await;
    assert_eq!(
        planned,
        [
            format!("- secret {stack}--api-keys--dev"),
            format!("- secret {stack}--db-credentials--dev")
        ]
    );
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
    assert_eq!(
        em.inventory("us-east-1", &longer, "dev").counts(),
        counts(&[("secret", 1)])
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "prod").counts(),
        counts(&[("secret", 1)])
    );

    // Scheduled with each secret's own window.
    let sm = client(em).await;
    let days_left =
        |d: &aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput| {
            let at = d.deleted_date().expect("scheduled for deletion").secs();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            ((at - now) as f64 / 86_400.0).round() as i64
        };
    let db = first["secrets"]["db-credentials"]["arn"].as_str().unwrap();
    let api = first["secrets"]["api-keys"]["arn"].as_str().unwrap();
    assert_eq!(
        days_left(&sm.describe_secret().secret_id(db).send().await.unwrap()),
        12
    );
    assert_eq!(
        days_left(&sm.describe_secret().secret_id(api).send().await.unwrap()),
        7
    );
    // A second teardown finds nothing left to do.
    assert!(teardown(em, &stack, &empty_doc(&stack), false)
        .await
        .is_empty());

    // Brought up again within the window: restored, same ARNs, value intact.
    let back = em
        .tool("secrets-up")
        .arg("-v")
        .stdin(spec_doc(&stack, spec))
        .succeeds();
    let lines = change_lines(&back.stderr());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("scheduled_for_deletion: true -> false")),
        "{lines:?}"
    );
    assert_eq!(back.json()["secrets"], first["secrets"]);
    assert_eq!(
        current_value(&sm, &format!("{stack}--db-credentials--dev"))
            .await
            .as_deref(),
        Some(FILE_VALUE)
    );

    // Forced, by tag alone: gone at once.
    teardown(em, &stack, &empty_doc(&stack), true).await;
    for arn in [db, api] {
        let gone = sm.describe_secret().secret_id(arn).send().await;
        assert!(gone.is_err(), "{arn} still exists");
    }
    assert_eq!(
        em.inventory("us-east-1", &longer, "dev").counts(),
        counts(&[("secret", 1)])
    );
    teardown(em, &longer, &empty_doc(&longer), true).await;
    let ctx = em.context(&stack, "prod", "us-east-1").await;
    let m = Mismatches::default();
    let found = secrets_up::teardown::LAYER
        .discover(&ctx, &Document::parse(&empty_doc(&stack)).unwrap(), &m)
        .await
        .unwrap();
    found
        .destroy(
            &ctx,
            &Leftovers::default(),
            TeardownOptions {
                force_delete_secrets: true,
            },
        )
        .await;
}

#[tokio::test]
async fn a_forced_teardown_purges_secrets_an_earlier_teardown_scheduled() {
    let em = Emulator::shared();
    let stack = unique_stack("pur");
    let first = from_flags(
        em,
        &["--stack", &stack, "--env", "dev", "--secret", "api-keys"],
    )
    .json();
    let arn = first["secrets"]["api-keys"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    teardown(em, &stack, &empty_doc(&stack), false).await;
    let planned = teardown(em, &stack, &empty_doc(&stack), true).await;
    assert!(
        planned.is_empty(),
        "scheduled secrets are no plan entry: {planned:?}"
    );
    let sm = client(em).await;
    let err = sm
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    // And the name is free: a new bring-up creates a new secret.
    let fresh = from_flags(
        em,
        &["--stack", &stack, "--env", "dev", "--secret", "api-keys"],
    );
    assert_eq!(
        change_lines(&fresh.stderr()),
        [format!("+ secret {stack}--api-keys--dev")]
    );
    assert_ne!(fresh.json()["secrets"]["api-keys"]["arn"], arn.as_str());
    teardown(em, &stack, &empty_doc(&stack), true).await;
}
