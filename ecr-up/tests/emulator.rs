//! ecr-up against the emulator: what it creates (checked through the SDK, not
//! through the tool's own output), that a re-run changes nothing, that changed
//! settings converge in place, that what is not ours is refused, and that
//! `ecr_up::teardown` removes this stack's repositories and nobody else's.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{EncryptionType, ImageTagMutability, Repository};
use serde_json::{json, Value};

use common::plan::Leftovers;
use common::sections::{Ecr, EcrRepository};
use testkit::{counts, unique_stack, Emulator, Session, Tool};

/// ecr-up, always with -v so "created" and "updated" lines show.
fn ecr_up(em: &Emulator) -> Tool {
    em.tool("ecr-up").arg("-v")
}

/// A document for `stack`/dev with the given `spec` object.
fn doc(stack: &str, spec: Value) -> String {
    json!({"version": 1, "stack": stack, "env": "dev", "spec": spec}).to_string()
}

fn three_services(stack: &str) -> String {
    doc(
        stack,
        json!({"services": {"api": {}, "worker": {}, "scheduler": {}}}),
    )
}

/// ECR as the test reads and changes it, through the SDK (not the tool).
struct Aws(Session);

impl std::ops::Deref for Aws {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0
    }
}

impl Aws {
    fn new(em: &Emulator) -> Self {
        Aws(em.session("probe", "dev", "us-east-1"))
    }

    fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(self.sdk())
    }

    fn repository(&self, name: &str) -> Repository {
        let out = self
            .block_on(
                self.ecr()
                    .describe_repositories()
                    .repository_names(name)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("DescribeRepositories {name}: {e:?}"));
        out.repositories()[0].clone()
    }

    fn exists(&self, name: &str) -> bool {
        match self.block_on(
            self.ecr()
                .describe_repositories()
                .repository_names(name)
                .send(),
        ) {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_repository_not_found_exception()) =>
            {
                false
            }
            Err(e) => panic!("DescribeRepositories {name}: {e:?}"),
        }
    }

    /// The lifecycle policy, parsed.
    fn policy(&self, name: &str) -> Value {
        let out = self
            .block_on(
                self.ecr()
                    .get_lifecycle_policy()
                    .repository_name(name)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("GetLifecyclePolicy {name}: {e:?}"));
        serde_json::from_str(out.lifecycle_policy_text().unwrap()).unwrap()
    }

    fn tags(&self, name: &str) -> BTreeMap<String, String> {
        let arn = self.repository(name).repository_arn().unwrap().to_owned();
        let out = self
            .block_on(self.ecr().list_tags_for_resource().resource_arn(arn).send())
            .unwrap();
        out.tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect()
    }

    /// A repository made by hand, outside ecr-up.
    fn create_untagged(&self, name: &str) {
        self.block_on(self.ecr().create_repository().repository_name(name).send())
            .unwrap_or_else(|e| panic!("CreateRepository {name}: {e:?}"));
    }

    fn delete(&self, name: &str) {
        self.block_on(
            self.ecr()
                .delete_repository()
                .repository_name(name)
                .force(true)
                .send(),
        )
        .unwrap_or_else(|e| panic!("DeleteRepository {name}: {e:?}"));
    }

    /// Removes a stack's repositories with the library's teardown; asserts nothing is left over.
    fn teardown(&self, stack: &str, env: &str) {
        let ctx = self.context(stack, env);
        let left = Leftovers::default();
        self.block_on(async {
            let found = ecr_up::teardown::discover(&ctx, None).await.unwrap();
            found.delete_all(&ctx, &left).await;
        });
        left.into_result().unwrap();
    }
}

fn keep(policy: &Value) -> &Value {
    &policy["rules"][0]["selection"]["countNumber"]
}

fn scan_on_push(repo: &Repository) -> bool {
    repo.image_scanning_configuration().unwrap().scan_on_push()
}

#[test]
fn three_services_get_three_secure_repositories_and_a_rerun_changes_nothing() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecr");
    let run = ecr_up(em).stdin(three_services(&stack)).succeeds();
    let (first, log) = (run.json(), run.stderr());
    assert_eq!(log.matches("created ecr repository").count(), 3, "{log}");

    let inv = em.inventory("us-east-1", &stack, "dev");
    assert_eq!(
        inv.counts(),
        counts(&[("ecr_repository", 3), ("ecr_lifecycle_policy", 3)])
    );

    let section: Ecr = serde_json::from_value(first["ecr"].clone()).unwrap();
    let services: Vec<&str> = section.repositories.keys().map(String::as_str).collect();
    assert_eq!(services, ["api", "scheduler", "worker"]);
    for (service, out) in &section.repositories {
        let name = format!("{stack}/dev/{service}");
        let repo = aws.repository(&name);
        assert_eq!(
            out,
            &EcrRepository {
                name: name.clone(),
                arn: repo.repository_arn().unwrap().to_owned(),
                url: repo.repository_uri().unwrap().to_owned(),
            }
        );
        assert!(
            out.url
                .ends_with(&format!(".dkr.ecr.us-east-1.amazonaws.com/{name}")),
            "{}",
            out.url
        );
        // Secure by default: scanned, immutable tags, encrypted.
        assert!(scan_on_push(&repo), "{name}");
        assert_eq!(
            repo.image_tag_mutability(),
            Some(&ImageTagMutability::Immutable)
        );
        assert_eq!(
            repo.encryption_configuration().unwrap().encryption_type(),
            &EncryptionType::Aes256
        );
        assert_eq!(
            aws.policy(&name),
            json!({"rules": [{
                "rulePriority": 1,
                "description": "keep the last 10 images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
                "action": {"type": "expire"}
            }]})
        );
        let tags = aws.tags(&name);
        assert_eq!(tags["fargate-pipes:stack"], stack);
        assert_eq!(tags["fargate-pipes:env"], "dev");
        assert_eq!(tags["fargate-pipes:component"], *service);
    }
    assert_eq!(
        first["ecr"]["repositories"]["api"]["url"],
        section.repositories["api"].url
    );

    // Again, from the enriched document as a pipeline would hand it on.
    let run = ecr_up(em).stdin(first.to_string()).succeeds();
    let (second, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "nothing changes on the second run:\n{log}"
    );
    assert!(log.contains("6 unchanged"), "{log}");
    assert_eq!(second["ecr"], first["ecr"]);
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), inv);

    aws.teardown(&stack, "dev");
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn changed_settings_are_updated_in_place() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrupd");
    let first = ecr_up(em).stdin(three_services(&stack)).succeeds().json();

    let changed = doc(
        &stack,
        json!({
            "services": {"api": {}, "worker": {}, "scheduler": {}},
            "ecr": {"keep_images": 5, "scan_on_push": false}
        }),
    );
    let run = ecr_up(em).arg("--mutable-tags").stdin(&changed).succeeds();
    let (second, log) = (run.json(), run.stderr());
    assert!(!log.contains("created"), "{log}");
    assert_eq!(
        log.matches("updated ecr lifecycle policy").count(),
        3,
        "{log}"
    );
    assert!(log.contains("scan on push off"), "{log}");
    assert!(log.contains("image tags MUTABLE"), "{log}");
    assert_eq!(second["ecr"], first["ecr"], "same repositories, same ARNs");
    assert_eq!(
        second["spec"]["ecr"]["immutable_tags"], false,
        "the flag is recorded"
    );
    for service in ["api", "worker", "scheduler"] {
        let name = format!("{stack}/dev/{service}");
        let policy = aws.policy(&name);
        assert_eq!(keep(&policy), 5, "{name}");
        assert_eq!(policy["rules"][0]["description"], "keep the last 5 images");
        let repo = aws.repository(&name);
        assert!(!scan_on_push(&repo), "{name}");
        assert_eq!(
            repo.image_tag_mutability(),
            Some(&ImageTagMutability::Mutable)
        );
    }
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("ecr_repository", 3), ("ecr_lifecycle_policy", 3)])
    );

    // The changed spec, run again, is already there.
    let log = ecr_up(em)
        .arg("--mutable-tags")
        .stdin(&changed)
        .succeeds()
        .stderr();
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );

    // And back to the defaults.
    let log = ecr_up(em).stdin(three_services(&stack)).succeeds().stderr();
    assert!(log.contains("scan on push on"), "{log}");
    assert!(log.contains("image tags IMMUTABLE"), "{log}");
    assert_eq!(keep(&aws.policy(&format!("{stack}/dev/api"))), 10);

    aws.teardown(&stack, "dev");
}

#[test]
fn a_service_with_its_own_image_gets_no_repository() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrimg");
    let out = ecr_up(em)
        .stdin(doc(
            &stack,
            json!({"services": {"api": {"cpu": 256}, "proxy": {"image": "nginx:1.27"}}}),
        ))
        .succeeds()
        .json();
    let repos = out["ecr"]["repositories"].as_object().unwrap();
    assert_eq!(repos.keys().collect::<Vec<_>>(), ["api"]);
    assert!(!aws.exists(&format!("{stack}/dev/proxy")));
    assert_eq!(
        em.inventory("us-east-1", &stack, "dev").counts(),
        counts(&[("ecr_repository", 1), ("ecr_lifecycle_policy", 1)])
    );
    aws.teardown(&stack, "dev");
}

#[test]
fn kms_encryption_with_the_managed_key_is_kept_on_a_rerun() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrkms");
    let args = [
        "-n",
        "--stack",
        &stack,
        "--env",
        "dev",
        "--repository",
        "api",
        "--encryption",
        "kms",
    ];
    let out = ecr_up(em).args(args).succeeds().json();
    assert_eq!(out["spec"]["ecr"]["encryption"], "KMS");
    let repo = aws.repository(&format!("{stack}/dev/api"));
    let enc = repo.encryption_configuration().unwrap();
    assert_eq!(enc.encryption_type(), &EncryptionType::Kms);
    assert!(enc.kms_key().is_some());
    let log = ecr_up(em).args(args).succeeds().stderr();
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    aws.teardown(&stack, "dev");
}

#[test]
fn encryption_cannot_change_and_nothing_else_changes_either() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrenc");
    let base = [
        "-n",
        "--stack",
        &stack,
        "--env",
        "dev",
        "--repository",
        "api,worker",
    ];
    ecr_up(em).args(base).succeeds();
    let before = em.inventory("us-east-1", &stack, "dev");

    let err = em
        .tool("ecr-up")
        .args(base)
        .args(["--encryption", "kms", "--keep-images", "3", "--no-scan"])
        .fails()
        .code(5);
    assert!(
        err.contains("cannot change") && err.contains(&format!("{stack}/")),
        "{err}"
    );
    // Refused before any change: the other settings were not applied either.
    for service in ["api", "worker"] {
        let name = format!("{stack}/dev/{service}");
        assert_eq!(keep(&aws.policy(&name)), 10);
        assert!(scan_on_push(&aws.repository(&name)));
    }
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), before);
    aws.teardown(&stack, "dev");
}

#[test]
fn a_repository_with_our_name_but_not_our_tags_is_refused() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrown");
    let name = format!("{stack}/dev/api");
    aws.create_untagged(&name);

    let err = em
        .tool("ecr-up")
        .args([
            "-n",
            "--stack",
            &stack,
            "--env",
            "dev",
            "--repository",
            "api",
        ])
        .fails()
        .code(5);
    assert!(err.contains(&name) && err.contains("not ours"), "{err}");
    // Untouched: still untagged, no lifecycle policy, still mutable.
    assert!(aws.tags(&name).is_empty());
    let policy = aws.block_on(
        aws.ecr()
            .get_lifecycle_policy()
            .repository_name(&name)
            .send(),
    );
    assert!(
        policy.is_err(),
        "no policy was put on someone else's repository"
    );
    aws.delete(&name);
}

#[test]
fn teardown_removes_this_stack_and_env_only() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrdown");
    // A stack whose repository names start like ours, the same stack in another
    // env, and a repository of our name shape made by hand: none of them ours.
    let neighbour = format!("{stack}-b");
    let manual = format!("{stack}/dev/manual");
    let repos = |s: &str, env: &str, list: &str| {
        ecr_up(em)
            .args(["-n", "--stack", s, "--env", env, "--repository", list])
            .succeeds()
            .json()
    };
    let mine = repos(&stack, "dev", "api,worker");
    repos(&neighbour, "dev", "api");
    repos(&stack, "prod", "api");
    aws.create_untagged(&manual);
    assert!(aws.exists(&format!("{neighbour}/dev/api")));

    // The document names the hand-made repository too: tags still decide.
    let mut section: Ecr = serde_json::from_value(mine["ecr"].clone()).unwrap();
    section.repositories.insert(
        "manual".to_owned(),
        EcrRepository {
            name: manual.clone(),
            ..EcrRepository::default()
        },
    );
    let ctx = aws.context(&stack, "dev");
    let found = aws
        .block_on(ecr_up::teardown::discover(&ctx, Some(&section)))
        .unwrap();
    let plan = found.steps(&ctx);
    let names: Vec<&str> = plan.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [format!("{stack}/dev/api"), format!("{stack}/dev/worker")]
    );
    assert!(plan
        .iter()
        .all(|s| s.layer == "ecr" && s.kind == "ecr repository" && s.id.starts_with("arn:")));
    assert!(!found.is_empty());

    let left = Leftovers::default();
    aws.block_on(found.delete_all(&ctx, &left));
    assert!(left.is_empty());
    assert_eq!(ctx.report.count("deleted"), 2);
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());

    // Nobody else's repository went with them.
    assert_eq!(
        em.inventory("us-east-1", &neighbour, "dev").counts(),
        counts(&[("ecr_repository", 1), ("ecr_lifecycle_policy", 1)])
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "prod").counts(),
        counts(&[("ecr_repository", 1), ("ecr_lifecycle_policy", 1)])
    );
    assert!(aws.exists(&manual));

    // A second teardown finds nothing; deleting what is already gone is done, not an error.
    let again = aws
        .block_on(ecr_up::teardown::discover(&ctx, Some(&section)))
        .unwrap();
    assert!(again.is_empty());
    let gone = ecr_up::teardown::Found {
        repositories: vec![ecr_up::teardown::FoundRepository {
            name: format!("{stack}/dev/api"),
            arn: String::new(),
        }],
    };
    let left = Leftovers::default();
    aws.block_on(gone.delete_all(&ctx, &left));
    assert!(left.is_empty(), "NotFound on delete counts as done");

    aws.teardown(&neighbour, "dev");
    aws.teardown(&stack, "prod");
    aws.delete(&manual);
    assert!(em.inventory("us-east-1", &neighbour, "dev").is_empty());
}
