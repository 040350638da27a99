//! secrets-up against the emulator: what it creates, that a re-run changes
//! nothing, that a value reaches Secrets Manager and nowhere else, that existing
//! values are kept unless --overwrite, and that teardown schedules the deletion
//! (with the recovery window) of this stack's secrets only, after which a
//! bring-up restores them.
//!
//! What the emulator holds is read through the SDK, independently of the tool.

use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;
use serde_json::Value;
use testkit::{counts, unique_stack, Emulator, Run};

use common::plan::Leftovers;
use common::sections::Secrets;

const FILE_VALUE: &str = "s3cr3t-VALUE-42-do-not-print";
const ENV_VALUE: &str = "s3cr3t-ENV-43-do-not-print";

/// secrets-up from its flags alone (`-n`), which must succeed.
fn from_flags(em: &Emulator, args: &[&str]) -> Run {
    em.tool("secrets-up").arg("-n").args(args).succeeds()
}

fn spec_doc(stack: &str, secrets: &str) -> String {
    format!(r#"{{"version":1,"stack":"{stack}","env":"dev","spec":{{"secrets":{secrets}}}}}"#)
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

fn secrets_of(doc: &Value) -> Secrets {
    serde_json::from_value(doc["secrets"].clone()).expect(".secrets reads as the typed section")
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
        "-v",
    ];
    let first = from_flags(em, &args);
    let log = first.stderr();
    assert_eq!(log.matches("created secret").count(), 2, "{log}");
    let first = first.json();

    let inv = em.inventory("us-east-1", &stack, "dev");
    assert_eq!(inv.counts(), counts(&[("secret", 2)]));
    let section = first["secrets"].as_object().unwrap();
    assert_eq!(
        section.keys().collect::<Vec<_>>(),
        ["api-keys", "db-credentials"]
    );
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
        assert!(s["kms_key"].is_null());
        assert!(inv.ids["secret"].contains(&s["name"].as_str().unwrap().to_owned()));
    }
    assert_eq!(first["spec"]["secrets"]["api-keys"], serde_json::json!({}));

    let second = from_flags(em, &args);
    assert_eq!(
        second.json()["secrets"],
        first["secrets"],
        "same names and ARNs"
    );
    let log = second.stderr();
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "a re-run changes nothing:\n{log}"
    );
    assert!(log.contains("2 unchanged"), "{log}");
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), inv);
}

#[tokio::test]
async fn values_reach_secrets_manager_and_nothing_else() {
    let em = Emulator::shared();
    let stack = unique_stack("val");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), FILE_VALUE).unwrap();
    let doc = spec_doc(
        &stack,
        &format!(
            r#"{{"db-credentials":{{"value_file":"{}","description":"the database"}},
                "api-keys":{{"value_env":"FP_TEST_API_KEYS","recovery_window_days":10}}}}"#,
            file.path().display()
        ),
    );
    let run = em
        .tool("secrets-up")
        .arg("-vvv")
        .env("FP_TEST_API_KEYS", ENV_VALUE)
        .stdin(doc)
        .succeeds();
    let (stdout, stderr) = (run.stdout(), run.stderr());
    // The logs really were on at -vvv (ours and the SDK's), so their silence means something.
    assert!(stderr.contains("created secret"), "{stderr}");
    // (The SDK's orchestrator says this of every request; module paths are not shown.)
    assert!(stderr.contains("beginning attempt #1"), "{stderr}");
    for value in [FILE_VALUE, ENV_VALUE] {
        assert!(!stdout.contains(value), "the value is in the document");
        assert!(!stderr.contains(value), "the value is on stderr");
    }
    let doc = run.json();
    assert_eq!(doc["secrets"]["db-credentials"]["has_value"], true);
    assert_eq!(doc["secrets"]["api-keys"]["has_value"], true);
    assert_eq!(doc["secrets"]["api-keys"]["recovery_window_days"], 10);
    // The spec keeps where a value comes from, not the value.
    assert_eq!(
        doc["spec"]["secrets"]["api-keys"]["value_env"],
        "FP_TEST_API_KEYS"
    );
    assert_eq!(
        doc["spec"]["secrets"]["db-credentials"]["value_file"],
        file.path().display().to_string()
    );

    let sm = client(em).await;
    let db = format!("{stack}--db-credentials--dev");
    let api = format!("{stack}--api-keys--dev");
    assert_eq!(current_value(&sm, &db).await.as_deref(), Some(FILE_VALUE));
    assert_eq!(current_value(&sm, &api).await.as_deref(), Some(ENV_VALUE));
    let described = sm.describe_secret().secret_id(&db).send().await.unwrap();
    assert_eq!(described.description(), Some("the database"));
}

#[tokio::test]
async fn an_existing_value_is_kept_unless_overwrite() {
    let em = Emulator::shared();
    let stack = unique_stack("ovr");
    let sm = client(em).await;
    let name = format!("{stack}--db-credentials--dev");
    let file = tempfile::NamedTempFile::new().unwrap();
    let value_arg = format!("db-credentials={}", file.path().display());
    let base = ["--stack", &stack, "--env", "dev", "-v"];

    // Created empty, then a value given later is set: nothing is overwritten.
    let empty = from_flags(em, &[&base[..], &["--secret", "db-credentials"]].concat());
    assert_eq!(
        empty.json()["secrets"]["db-credentials"]["has_value"],
        false
    );
    std::fs::write(file.path(), "first-value").unwrap();
    let with_file = [&base[..], &["--value-file", &value_arg]].concat();
    let set = from_flags(em, &with_file);
    assert!(set.stderr().contains("value set"), "{}", set.stderr());
    let set = set.json();
    assert_eq!(set["secrets"]["db-credentials"]["has_value"], true);
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("first-value")
    );

    // A changed file without --overwrite: the value in Secrets Manager stays.
    std::fs::write(file.path(), "second-value").unwrap();
    let kept = from_flags(em, &with_file);
    assert!(!kept.stderr().contains("updated"), "{}", kept.stderr());
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("first-value")
    );
    assert_eq!(kept.json()["secrets"], set["secrets"]);

    // With --overwrite it changes, once: the same value again is no new version.
    let overwrite = [&with_file[..], &["--overwrite"]].concat();
    let replaced = from_flags(em, &overwrite).stderr();
    assert!(replaced.contains("value replaced"), "{replaced}");
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("second-value")
    );
    let again = from_flags(em, &overwrite).stderr();
    assert!(!again.contains("updated"), "{again}");
    let versions = sm
        .list_secret_version_ids()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        versions.versions().len(),
        2,
        "first-value and second-value only"
    );
}

#[tokio::test]
async fn a_secret_of_that_name_not_tagged_for_the_stack_is_refused_and_left_alone() {
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
    let err = em
        .tool("secrets-up")
        .args(["-n", "--stack", &stack, "--env", "dev", "--overwrite"])
        .args([
            "--value-file",
            &format!("db-credentials={}", file.path().display()),
        ])
        .fails()
        .code(5);
    assert!(err.contains(&name) && err.contains("not tagged"), "{err}");
    assert_eq!(
        current_value(&sm, &name).await.as_deref(),
        Some("someone-elses")
    );
}

#[tokio::test]
async fn teardown_schedules_deletion_of_this_stack_only_and_bring_up_restores() {
    let em = Emulator::shared();
    let stack = unique_stack("tdn");
    // Another stack whose name starts with this one's (ListSecrets' tag filters match
    // prefixes), and this stack's other env: neither may be touched.
    let longer = format!("{stack}b");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), FILE_VALUE).unwrap();
    let spec = format!(
        r#"{{"db-credentials":{{"value_file":"{}","recovery_window_days":12}},"api-keys":{{}}}}"#,
        file.path().display()
    );
    let first = em
        .tool("secrets-up")
        .stdin(spec_doc(&stack, &spec))
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
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("secret", 2)])
    );

    let ctx = em.context(&stack, "dev", "us-east-1").await;
    let section = secrets_of(&first);
    let found = secrets_up::teardown::discover(&ctx, Some(&section))
        .await
        .unwrap();
    let plan = found.steps(&ctx);
    assert_eq!(plan.len(), 2, "{plan:?}");
    assert!(plan
        .iter()
        .all(|s| s.layer == "secrets" && s.kind == "secret"));
    let mut planned: Vec<&str> = plan.iter().map(|s| s.id.as_str()).collect();
    planned.sort_unstable();
    let mut arns: Vec<&str> = section.arns().collect();
    arns.sort_unstable();
    assert_eq!(planned, arns);

    let left = Leftovers::default();
    found.delete_all(&ctx, &left, false).await;
    assert!(left.is_empty());
    assert_eq!(ctx.report.count("deleted"), 2);
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
    assert_eq!(
        em.inventory("us-east-1", &longer, "dev").counts(),
        counts(&[("secret", 1)])
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "prod").counts(),
        counts(&[("secret", 1)])
    );

    // Scheduled with each secret's own window (the emulator reports the deletion date).
    let sm = client(em).await;
    let db = section.get("db-credentials").unwrap();
    let days_left =
        |d: &aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput| {
            let at = d.deleted_date().expect("scheduled for deletion").secs();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            ((at - now) as f64 / 86_400.0).round() as i64
        };
    let described = sm
        .describe_secret()
        .secret_id(&db.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(days_left(&described), 12);
    let api = section.get("api-keys").unwrap();
    let described = sm
        .describe_secret()
        .secret_id(&api.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(days_left(&described), 7);

    // A second teardown finds nothing left to do (by tag alone, without the document).
    let again = secrets_up::teardown::discover(&ctx, None).await.unwrap();
    assert!(again.is_empty());

    // Brought up again within the window: restored, same ARNs, value intact.
    let back = em
        .tool("secrets-up")
        .arg("-v")
        .stdin(spec_doc(&stack, &spec))
        .succeeds();
    let log = back.stderr();
    assert_eq!(log.matches("restored").count(), 2, "{log}");
    assert!(!log.contains("created"), "{log}");
    assert_eq!(back.json()["secrets"], first["secrets"]);
    assert_eq!(
        current_value(&sm, &db.name).await.as_deref(),
        Some(FILE_VALUE)
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("secret", 2)])
    );

    // Forced, by tag alone: gone at once, the scheduled-and-restored ones included.
    let ctx = em.context(&stack, "dev", "us-east-1").await;
    let found = secrets_up::teardown::discover(&ctx, None).await.unwrap();
    let left = Leftovers::default();
    found.delete_all(&ctx, &left, true).await;
    assert!(left.is_empty());
    for s in section.values() {
        let gone = sm.describe_secret().secret_id(&s.arn).send().await;
        assert!(gone.is_err(), "{} still exists", s.name);
    }
    assert_eq!(
        em.inventory("us-east-1", &longer, "dev").counts(),
        counts(&[("secret", 1)])
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "prod").counts(),
        counts(&[("secret", 1)])
    );
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
    let ctx = em.context(&stack, "dev", "us-east-1").await;

    let left = Leftovers::default();
    let found = secrets_up::teardown::discover(&ctx, None).await.unwrap();
    found.delete_all(&ctx, &left, false).await;
    let found = secrets_up::teardown::discover(&ctx, None).await.unwrap();
    assert!(found.is_empty() && found.steps(&ctx).is_empty());
    found.delete_all(&ctx, &left, true).await;
    assert!(left.is_empty());

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
        &[
            "--stack", &stack, "--env", "dev", "--secret", "api-keys", "-v",
        ],
    );
    assert!(
        fresh.stderr().contains("created secret"),
        "{}",
        fresh.stderr()
    );
    assert_ne!(fresh.json()["secrets"]["api-keys"]["arn"], arn.as_str());
}
