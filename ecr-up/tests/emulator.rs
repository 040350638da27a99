//! ecr-up against the emulator: what it creates (read back through the SDK,
//! not through the tool's own output), that a re-run changes nothing, that
//! each changed setting gives exactly its one update, `--plan`, that a
//! repository of a dropped service is kept, that encryption replaces only an
//! empty repository, that what is not ours is refused with no change, and
//! that `ecr_up::teardown::LAYER` removes this stack's repositories and
//! nobody else's.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{EncryptionType, ImageTagMutability, Repository};
use serde_json::{json, Value};

use common::layer::{Layer, TeardownOptions};
use common::owner::Mismatches;
use common::plan::Leftovers;
use common::sections::{Ecr, EcrRepository};
use common::Document;
use testkit::{counts, unique_stack, Emulator, Session, Tool};

/// ecr-up, always with -v so every applied change is a line on stderr.
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

/// The applied (or planned) change lines of a -v run: `~ ecr repository ...`.
fn change_lines(stderr: &str) -> Vec<String> {
    let mut lines = testkit::change_lines("ecr-up", stderr);
    lines.sort();
    lines
}

/// The plan entries a `--plan` run wrote, as change lines.
fn plan_lines(doc: &Value) -> Vec<String> {
    let mut lines: Vec<String> = doc["plan"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    serde_json::from_value::<common::plan::Change>(c.clone())
                        .unwrap()
                        .line()
                })
                .collect()
        })
        .unwrap_or_default();
    lines.sort();
    lines
}

/// The mutating calls of a lane that are not the stack lock's.
fn foreign_mutations(state: &Value) -> Vec<String> {
    state["mutation_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .filter(|m| !m.contains("/fargate-pipes/locks/"))
        .collect()
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

    /// A repository made by hand, outside ecr-up, with the given tags.
    fn create(&self, name: &str, tags: &[(&str, &str)]) {
        let tags = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_ecr::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
                    .unwrap()
            })
            .collect();
        self.block_on(
            self.ecr()
                .create_repository()
                .repository_name(name)
                .set_tags(Some(tags))
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreateRepository {name}: {e:?}"));
    }

    /// Pushes a (manifest-only) image, so the repository is not empty.
    fn push(&self, name: &str) {
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                       "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000001"},
            "layers": []
        });
        self.block_on(
            self.ecr()
                .put_image()
                .repository_name(name)
                .image_manifest(manifest.to_string())
                .image_tag("v1")
                .send(),
        )
        .unwrap_or_else(|e| panic!("PutImage {name}: {e:?}"));
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

    /// Removes a stack's repositories through the layer, as teardown does;
    /// asserts nothing is left over. The deletes it made, as lines.
    fn teardown(&self, stack: &str, env: &str, doc: &str) -> Vec<String> {
        let ctx = self.context(stack, env);
        let doc = Document::parse(doc).unwrap();
        let left = Leftovers::default();
        let lines = self.block_on(async {
            let m = Mismatches::default();
            let found = ecr_up::teardown::LAYER
                .discover(&ctx, &doc, &m)
                .await
                .unwrap();
            m.into_result(&ctx).unwrap();
            let lines: Vec<String> = found.plan(&ctx).iter().map(|c| c.line()).collect();
            found.destroy(&ctx, &left, TeardownOptions::default()).await;
            lines
        });
        left.into_result().unwrap();
        lines
    }
}

fn keep(policy: &Value) -> &Value {
    &policy["rules"][0]["selection"]["countNumber"]
}

fn scan_on_push(repo: &Repository) -> bool {
    repo.image_scanning_configuration().unwrap().scan_on_push()
}

fn empty_doc(stack: &str) -> String {
    json!({"version": 1, "stack": stack, "env": "dev"}).to_string()
}

#[test]
fn three_services_get_three_secure_repositories_and_a_rerun_changes_nothing() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecr");
    let run = ecr_up(em).stdin(three_services(&stack)).succeeds();
    let (first, log) = (run.json(), run.stderr());
    assert_eq!(
        change_lines(&log),
        ["api", "scheduler", "worker"].map(|s| format!("+ ecr repository {stack}/dev/{s}"))
    );

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
        assert!(out
            .url
            .ends_with(&format!(".dkr.ecr.us-east-1.amazonaws.com/{name}")));
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

    // Again, from the enriched document as a pipeline would hand it on.
    let run = ecr_up(em).stdin(first.to_string()).succeeds();
    let (second, log) = (run.json(), run.stderr());
    assert!(
        change_lines(&log).is_empty(),
        "nothing changes on the second run:\n{log}"
    );
    assert!(log.contains("3 unchanged"), "{log}");
    assert_eq!(second["ecr"], first["ecr"]);
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), inv);

    let deleted = aws.teardown(&stack, "dev", &first.to_string());
    assert_eq!(deleted.len(), 3, "{deleted:?}");
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn each_changed_setting_gives_exactly_its_one_update() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrupd");
    let base = [
        "-n",
        "--stack",
        &stack,
        "--env",
        "dev",
        "--repository",
        "api",
    ];
    let first = ecr_up(em).args(base).succeeds().json();
    let name = format!("{stack}/dev/api");
    let lane = em.lane();
    let run = |extra: &[&str]| {
        lane.set_faults(json!({}));
        let log = lane
            .tool("ecr-up")
            .arg("-v")
            .args(base)
            .args(extra)
            .succeeds()
            .stderr();
        (change_lines(&log), foreign_mutations(&lane.fault_state()))
    };

    let (lines, calls) = run(&["--keep-images", "5"]);
    assert_eq!(
        lines,
        [format!("~ ecr repository {name} (keep_images: 10 -> 5)")]
    );
    assert_eq!(calls, [format!("ecr PutLifecyclePolicy {name}")]);
    assert_eq!(keep(&aws.policy(&name)), 5);

    let (lines, calls) = run(&["--keep-images", "5", "--no-scan"]);
    assert_eq!(
        lines,
        [format!(
            "~ ecr repository {name} (scan_on_push: true -> false)"
        )]
    );
    assert_eq!(calls, [format!("ecr PutImageScanningConfiguration {name}")]);
    assert!(!scan_on_push(&aws.repository(&name)));

    let (lines, calls) = run(&["--keep-images", "5", "--no-scan", "--mutable-tags"]);
    assert_eq!(
        lines,
        [format!(
            "~ ecr repository {name} (image_tag_mutability: IMMUTABLE -> MUTABLE)"
        )]
    );
    assert_eq!(calls, [format!("ecr PutImageTagMutability {name}")]);
    assert_eq!(
        aws.repository(&name).image_tag_mutability(),
        Some(&ImageTagMutability::Mutable)
    );

    let (lines, calls) = run(&[
        "--keep-images",
        "5",
        "--no-scan",
        "--mutable-tags",
        "--tag",
        "team=data",
    ]);
    assert_eq!(
        lines,
        [format!(
            "~ ecr repository {name} (tags: {{\"team\":null}} -> {{\"team\":\"data\"}})"
        )]
    );
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].starts_with("ecr TagResource"), "{calls:?}");
    assert_eq!(aws.tags(&name)["team"], "data");

    // The changed spec again: nothing.
    let (lines, calls) = run(&[
        "--keep-images",
        "5",
        "--no-scan",
        "--mutable-tags",
        "--tag",
        "team=data",
    ]);
    assert!(lines.is_empty() && calls.is_empty(), "{lines:?} {calls:?}");

    // All back to the defaults: one update of three fields, three calls.
    let (lines, calls) = run(&[]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    for field in [
        "keep_images: 5 -> 10",
        "scan_on_push: false -> true",
        "image_tag_mutability",
    ] {
        assert!(lines[0].contains(field), "{field}: {lines:?}");
    }
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(
        first["ecr"]["repositories"]["api"]["arn"],
        aws.repository(&name).repository_arn().unwrap()
    );
    aws.teardown(&stack, "dev", &empty_doc(&stack));
}

#[test]
fn plan_lists_every_create_changes_nothing_and_the_apply_makes_exactly_it() {
    let em = Emulator::shared();
    let stack = unique_stack("ecrplan");
    let lane = em.lane();
    let planned = lane
        .tool("ecr-up")
        .arg("--plan")
        .stdin(three_services(&stack))
        .succeeds()
        .json();
    assert!(foreign_mutations(&lane.fault_state()).is_empty());
    assert!(
        lane.fault_state()["mutation_log"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a plan takes no lock either"
    );
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
    let lines = plan_lines(&planned);
    assert_eq!(
        lines,
        ["api", "scheduler", "worker"].map(|s| format!("+ ecr repository {stack}/dev/{s}"))
    );
    assert!(planned["ecr"]["repositories"]["api"]["arn"]
        .as_str()
        .unwrap()
        .starts_with("planned:"));

    // Applied from the spec: the changes made are the plan's.
    let applied = ecr_up(em).stdin(three_services(&stack)).succeeds();
    assert_eq!(change_lines(&applied.stderr()), lines);

    // Up to date: an empty plan. A changed setting: its one update, planned.
    let again = em
        .tool("ecr-up")
        .arg("--plan")
        .stdin(applied.json().to_string())
        .succeeds()
        .json();
    assert!(plan_lines(&again).is_empty(), "{again}");
    let changed = doc(
        &stack,
        json!({"services": {"api": {}, "worker": {}, "scheduler": {}}, "ecr": {"keep_images": 3}}),
    );
    let lane = em.lane();
    let planned = lane
        .tool("ecr-up")
        .arg("--plan")
        .stdin(&changed)
        .succeeds()
        .json();
    assert!(lane.fault_state()["mutation_log"]
        .as_array()
        .unwrap()
        .is_empty());
    let lines = plan_lines(&planned);
    assert_eq!(lines.len(), 3);
    assert!(
        lines.iter().all(|l| l.ends_with("(keep_images: 10 -> 3)")),
        "{lines:?}"
    );
    let applied = ecr_up(em).stdin(&changed).succeeds();
    assert_eq!(change_lines(&applied.stderr()), lines);
    Aws::new(em).teardown(&stack, "dev", &empty_doc(&stack));
}

#[test]
fn the_repository_of_a_dropped_service_is_kept() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrkeep");
    let first = ecr_up(em).stdin(three_services(&stack)).succeeds().json();
    let mut fewer = first.clone();
    fewer["spec"]["services"] = json!({"api": {}, "worker": {}});
    let lane = em.lane();
    let run = lane
        .tool("ecr-up")
        .arg("-v")
        .stdin(fewer.to_string())
        .succeeds();
    let log = run.stderr();
    assert!(change_lines(&log).is_empty(), "{log}");
    assert!(foreign_mutations(&lane.fault_state()).is_empty());
    assert!(
        log.contains(&format!("kept ecr repository {stack}/dev/scheduler")),
        "{log}"
    );
    assert!(aws.exists(&format!("{stack}/dev/scheduler")));
    let out = run.json();
    let services: Vec<&String> = out["ecr"]["repositories"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(services, ["api", "worker"]);
    assert_eq!(
        aws.teardown(&stack, "dev", &out.to_string()).len(),
        3,
        "teardown finds it by tag"
    );
}

#[test]
fn encryption_replaces_an_empty_repository_and_is_refused_for_one_with_images() {
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
    let (api, worker) = (format!("{stack}/dev/api"), format!("{stack}/dev/worker"));
    aws.push(&worker);
    let before = em.inventory("us-east-1", &stack, "dev");

    // worker holds an image: refused, and nothing else changes either.
    let lane = em.lane();
    let err = lane
        .tool("ecr-up")
        .args(base)
        .args(["--encryption", "kms", "--keep-images", "3", "--no-scan"])
        .fails()
        .code(5);
    assert!(
        err.contains("cannot change") && err.contains(&worker),
        "{err}"
    );
    assert!(foreign_mutations(&lane.fault_state()).is_empty());
    assert_eq!(keep(&aws.policy(&api)), 10);
    assert!(scan_on_push(&aws.repository(&api)));
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), before);

    // Only the empty one: replaced, with the new encryption and every setting.
    let only_api = [
        "-n",
        "--stack",
        &stack,
        "--env",
        "dev",
        "--repository",
        "api",
    ];
    let old_arn = aws.repository(&api).repository_arn().unwrap().to_owned();
    let log = ecr_up(em)
        .args(only_api)
        .args(["--encryption", "kms"])
        .succeeds()
        .stderr();
    assert_eq!(
        change_lines(&log),
        [format!(
            "-/+ ecr repository {api} (encryption: AES256 -> KMS)"
        )]
    );
    let repo = aws.repository(&api);
    assert_eq!(
        repo.encryption_configuration().unwrap().encryption_type(),
        &EncryptionType::Kms
    );
    assert_eq!(aws.tags(&api)["fargate-pipes:component"], "api");
    assert_eq!(keep(&aws.policy(&api)), 10);
    assert!(
        repo.repository_arn().is_some_and(|a| a == old_arn),
        "same name, same ARN shape"
    );
    let log = ecr_up(em)
        .args(only_api)
        .args(["--encryption", "kms"])
        .succeeds()
        .stderr();
    assert!(
        change_lines(&log).is_empty(),
        "the managed key is kept: {log}"
    );
    aws.teardown(&stack, "dev", &empty_doc(&stack));
}

#[test]
fn a_repository_with_our_name_but_not_our_tags_is_refused_untouched() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecrown");
    let name = format!("{stack}/dev/api");
    // Untagged, then tagged as another stack's, then as another service of ours.
    for tags in [
        vec![],
        vec![
            ("fargate-pipes:stack", "other"),
            ("fargate-pipes:env", "dev"),
            ("fargate-pipes:component", "api"),
        ],
        vec![
            ("fargate-pipes:stack", stack.as_str()),
            ("fargate-pipes:env", "dev"),
            ("fargate-pipes:component", "web"),
        ],
    ] {
        aws.create(&name, &tags);
        let lane = em.lane();
        let err = lane
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
            .code(10);
        assert!(
            err.contains(&name) && err.contains("nothing was changed"),
            "{err}"
        );
        assert!(
            foreign_mutations(&lane.fault_state()).is_empty(),
            "{:?}",
            lane.fault_state()
        );
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
}

#[test]
fn documents_naming_another_stacks_or_envs_repositories_are_refused() {
    let em = Emulator::shared();
    let aws = Aws::new(em);
    let stack = unique_stack("ecratk");
    let victim = unique_stack("ecrvic");
    let dev = ecr_up(em).stdin(three_services(&stack)).succeeds().json();
    let theirs = ecr_up(em).stdin(three_services(&victim)).succeeds().json();

    // The dev document handed to a prod run: its repositories are dev's.
    let mut prod = dev.clone();
    prod["env"] = json!("prod");
    let lane = em.lane();
    let err = lane.tool("ecr-up").stdin(prod.to_string()).fails().code(10);
    assert!(
        err.contains(&format!("{stack}/dev/api")) && err.contains("belong elsewhere"),
        "{err}"
    );
    assert!(
        foreign_mutations(&lane.fault_state()).is_empty(),
        "{:?}",
        lane.fault_state()
    );
    assert!(em.inventory("us-east-1", &stack, "prod").is_empty());

    // A document pointing a repository at another stack's.
    let mut forged = dev.clone();
    forged["ecr"]["repositories"]["api"]["name"] =
        theirs["ecr"]["repositories"]["api"]["name"].clone();
    let lane = em.lane();
    let err = lane
        .tool("ecr-up")
        .stdin(forged.to_string())
        .fails()
        .code(10);
    assert!(err.contains(&format!("{victim}/dev/api")), "{err}");
    assert!(foreign_mutations(&lane.fault_state()).is_empty());

    // And to teardown, through the layer: refused before any delete.
    let prod_doc = Document::parse(&prod.to_string()).unwrap();
    let ctx = aws.context(&stack, "prod");
    let m = Mismatches::default();
    aws.block_on(ecr_up::teardown::LAYER.discover(&ctx, &prod_doc, &m))
        .unwrap();
    let e = m.into_result(&ctx).unwrap_err();
    assert_eq!(e.exit_code(), 10, "{e}");

    aws.teardown(&stack, "dev", &dev.to_string());
    aws.teardown(&victim, "dev", &theirs.to_string());
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
    aws.create(&manual, &[]);

    let deleted = aws.teardown(&stack, "dev", &mine.to_string());
    assert_eq!(
        deleted,
        [
            format!("- ecr repository {stack}/dev/api"),
            format!("- ecr repository {stack}/dev/worker")
        ]
    );
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
    assert_eq!(
        em.inventory("us-east-1", &neighbour, "dev").counts(),
        counts(&[("ecr_repository", 1), ("ecr_lifecycle_policy", 1)])
    );
    assert_eq!(
        em.inventory("us-east-1", &stack, "prod").counts(),
        counts(&[("ecr_repository", 1), ("ecr_lifecycle_policy", 1)])
    );
    assert!(aws.exists(&manual));
    // A second teardown finds nothing.
    assert!(aws.teardown(&stack, "dev", &mine.to_string()).is_empty());

    aws.teardown(&neighbour, "dev", &empty_doc(&neighbour));
    aws.teardown(&stack, "prod", &empty_doc(&stack));
    aws.delete(&manual);
}
