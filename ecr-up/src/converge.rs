//! One function per concern of a repository: find it by name, check it is ours
//! and encrypted as asked, create it or fix its drift (scan on push, tag
//! mutability), and keep its lifecycle policy. `converge` is the graph:
//! repositories are independent, so they are converged concurrently.
//!
//! ECR repositories cannot be filtered by tag, but their names are unique per
//! registry and region: a repository is found by its name and then proven ours
//! by its tags, never adopted on the name alone.

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository, Tag,
};
use aws_sdk_ecr::Client;
use serde_json::Value;

use common::naming::TAG_COMPONENT;
use common::sections::{Ecr, EcrRepository};
use common::{retry, try_join_all, AwsResultExt, Context, Error, Result};

use crate::spec::{lifecycle_policy, Encryption, Plan, Settings};

const KIND: &str = "ecr repository";
const POLICY: &str = "ecr lifecycle policy";

/// Brings every planned repository to its settings and describes them.
pub async fn converge(ecr: &Client, ctx: &Context, plan: &Plan) -> Result<Ecr> {
    // Read-only first: every existing repository is checked (ours? encrypted as
    // asked?) before any is changed, so a refused spec changes nothing at all.
    let existing = try_join_all(
        plan.services
            .iter()
            .map(|service| inspect(ecr, ctx, service, &plan.settings)),
    )
    .await?;
    let repositories = try_join_all(
        plan.services
            .iter()
            .zip(existing)
            .map(|(service, found)| ensure_repository(ecr, ctx, service, &plan.settings, found)),
    )
    .await?;
    Ok(Ecr {
        repositories: plan.services.iter().cloned().zip(repositories).collect(),
    })
}

/// The service's repository, if it exists, once its tags and encryption allow adopting it.
async fn inspect(
    ecr: &Client,
    ctx: &Context,
    service: &str,
    settings: &Settings,
) -> Result<Option<Repository>> {
    let name = ctx.path(service);
    let Some(repo) = find_repository(ecr, &name).await? else {
        return Ok(None);
    };
    check_owner(ecr, ctx, service, &repo).await?;
    check_encryption(&name, &repo, settings)?;
    Ok(Some(repo))
}

async fn ensure_repository(
    ecr: &Client,
    ctx: &Context,
    service: &str,
    settings: &Settings,
    found: Option<Repository>,
) -> Result<EcrRepository> {
    let name = ctx.path(service);
    let (repo, created) = match found {
        Some(repo) => (repo, false),
        None => match create_repository(ecr, ctx, service, settings).await {
            Ok(repo) => (repo, true),
            // Another run created it between our look and our create: adopt it
            // on the same terms as any other existing repository.
            Err(e) if e.aws_code() == Some("RepositoryAlreadyExistsException") => {
                let repo = inspect(ecr, ctx, service, settings).await?.ok_or(e)?;
                (repo, false)
            }
            Err(e) => return Err(e),
        },
    };
    let arn = repo.repository_arn().unwrap_or_default().to_owned();
    if created {
        ctx.report.created(KIND, &name, &arn);
    } else {
        ctx.report.adopted(KIND, &name, &arn);
        ensure_scan_on_push(ecr, ctx, &repo, settings.scan_on_push).await?;
        ensure_tag_mutability(ecr, ctx, &repo, settings.immutable_tags).await?;
    }
    ensure_lifecycle_policy(ecr, ctx, &name, settings.keep_images, created).await?;
    Ok(EcrRepository {
        name,
        arn,
        url: repo.repository_uri().unwrap_or_default().to_owned(),
    })
}

/// A repository by name; `None` when there is none.
async fn find_repository(ecr: &Client, name: &str) -> Result<Option<Repository>> {
    match ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .aws(format!("DescribeRepositories {name}"))
    {
        Ok(out) => Ok(out
            .repositories()
            .iter()
            .find(|r| r.repository_name() == Some(name))
            .cloned()),
        Err(e) if e.aws_code() == Some("RepositoryNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Refuses a repository that carries our name but not our tags: it belongs to
/// someone else (or to another stack whose name and service happen to join the same way).
async fn check_owner(ecr: &Client, ctx: &Context, service: &str, repo: &Repository) -> Result<()> {
    let name = repo.repository_name().unwrap_or_default();
    let arn = repo.repository_arn().unwrap_or_default();
    let out = ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .aws(format!("ListTagsForResource {name}"))?;
    let pairs = || out.tags().iter().map(|t| (t.key(), t.value()));
    let component = common::naming::component_of(pairs());
    if ctx.owns(pairs()) && component == Some(service) {
        return Ok(());
    }
    Err(Error::spec(format!(
        "ECR repository {name} exists but is not tagged as {}/{} {TAG_COMPONENT}={service}: \
         it is not ours to change; delete or rename it, or pick another stack or service name",
        ctx.stack, ctx.env
    )))
}

/// Encryption is fixed at creation: a different setting cannot be converged, only refused.
fn check_encryption(name: &str, repo: &Repository, settings: &Settings) -> Result<()> {
    let (have, have_key) = match repo.encryption_configuration() {
        Some(e) => (e.encryption_type().as_str(), e.kms_key()),
        None => (Encryption::Aes256.as_str(), None),
    };
    let want = settings.encryption.as_str();
    let fix = "encryption cannot change after creation: keep the old setting, \
               or remove the repository (and its images) with teardown first";
    if have != want {
        return Err(Error::spec(format!(
            "ECR repository {name} is encrypted with {have}, not {want}: {fix}"
        )));
    }
    if let (Some(want_key), Some(have_key)) = (settings.kms_key.as_deref(), have_key) {
        if !same_key(want_key, have_key) {
            return Err(Error::spec(format!(
                "ECR repository {name} is encrypted with KMS key {have_key}, not {want_key}: {fix}"
            )));
        }
    }
    Ok(())
}

/// Whether the key AWS reports (a key ARN) is the one the spec names. An alias
/// cannot be resolved without KMS, so it is taken on trust rather than refused.
fn same_key(wanted: &str, have_arn: &str) -> bool {
    if wanted.starts_with("alias/") || wanted.contains(":alias/") {
        return true;
    }
    if wanted.starts_with("arn:") {
        return wanted == have_arn;
    }
    have_arn.ends_with(&format!(":key/{wanted}")) || have_arn == wanted
}

/// Creates the repository with everything in one call: tags, scan on push, tag
/// mutability and encryption (the last cannot be set later).
async fn create_repository(
    ecr: &Client,
    ctx: &Context,
    service: &str,
    settings: &Settings,
) -> Result<Repository> {
    let name = ctx.path(service);
    let tags: Vec<Tag> = ctx
        .tags(service)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect();
    let encryption = EncryptionConfiguration::builder()
        .encryption_type(match settings.encryption {
            Encryption::Aes256 => EncryptionType::Aes256,
            Encryption::Kms => EncryptionType::Kms,
        })
        .set_kms_key(settings.kms_key.clone())
        .build()
        .expect("the encryption type is set");
    let out = ecr
        .create_repository()
        .repository_name(&name)
        .set_tags(Some(tags))
        .image_scanning_configuration(scanning(settings.scan_on_push))
        .image_tag_mutability(mutability(settings.immutable_tags))
        .encryption_configuration(encryption)
        .send()
        .await
        .aws(format!("CreateRepository {name}"))?;
    out.repository().cloned().ok_or_else(|| {
        Error::Aws(common::error::AwsError {
            op: format!("CreateRepository {name}"),
            code: None,
            message: "the answer holds no repository".to_owned(),
            request_id: None,
            transient: false,
        })
    })
}

fn scanning(on: bool) -> ImageScanningConfiguration {
    ImageScanningConfiguration::builder()
        .scan_on_push(on)
        .build()
}

fn mutability(immutable: bool) -> ImageTagMutability {
    if immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}

async fn ensure_scan_on_push(
    ecr: &Client,
    ctx: &Context,
    repo: &Repository,
    want: bool,
) -> Result<()> {
    let have = repo
        .image_scanning_configuration()
        .is_some_and(ImageScanningConfiguration::scan_on_push);
    if have == want {
        return Ok(());
    }
    let name = repo.repository_name().unwrap_or_default();
    let call = ecr
        .put_image_scanning_configuration()
        .repository_name(name)
        .image_scanning_configuration(scanning(want));
    call.send()
        .await
        .aws(format!("PutImageScanningConfiguration {name}"))?;
    ctx.report.updated(
        KIND,
        name,
        if want {
            "scan on push on"
        } else {
            "scan on push off"
        },
    );
    Ok(())
}

/// `IMMUTABLE` or `MUTABLE`; exclusion filters added by hand count as drift.
async fn ensure_tag_mutability(
    ecr: &Client,
    ctx: &Context,
    repo: &Repository,
    immutable: bool,
) -> Result<()> {
    let want = mutability(immutable);
    if repo.image_tag_mutability() == Some(&want) {
        return Ok(());
    }
    let name = repo.repository_name().unwrap_or_default();
    ecr.put_image_tag_mutability()
        .repository_name(name)
        .image_tag_mutability(want.clone())
        .send()
        .await
        .aws(format!("PutImageTagMutability {name}"))?;
    ctx.report
        .updated(KIND, name, &format!("image tags {}", want.as_str()));
    Ok(())
}

/// Puts the policy when it is missing or says something else. The comparison is
/// of parsed JSON: AWS may hand the text back re-spaced or with keys reordered.
async fn ensure_lifecycle_policy(
    ecr: &Client,
    ctx: &Context,
    name: &str,
    keep: u32,
    fresh: bool,
) -> Result<()> {
    let want = lifecycle_policy(keep);
    let what = format!("keep the last {keep} images");
    let have: Option<Value> = if fresh {
        None
    } else {
        match ecr
            .get_lifecycle_policy()
            .repository_name(name)
            .send()
            .await
            .aws(format!("GetLifecyclePolicy {name}"))
        {
            // Text that is not JSON is a policy to replace, not an error.
            Ok(out) => Some(
                out.lifecycle_policy_text()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or(Value::Null),
            ),
            Err(e) if e.aws_code() == Some("LifecyclePolicyNotFoundException") => None,
            Err(e) => return Err(e),
        }
    };
    if have.as_ref() == Some(&want) {
        ctx.report.adopted(POLICY, name, &what);
        return Ok(());
    }
    let text = want.to_string();
    // A repository created a moment ago may not be visible to every endpoint yet.
    retry::after_create(&format!("PutLifecyclePolicy {name}"), || async {
        ecr.put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(&text)
            .send()
            .await
            .map(|_| ())
            .aws(format!("PutLifecyclePolicy {name}"))
    })
    .await?;
    match have {
        None => ctx.report.created(POLICY, name, &what),
        Some(_) => ctx.report.updated(POLICY, name, &what),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(kind: EncryptionType, key: Option<&str>) -> Repository {
        Repository::builder()
            .repository_name("a-api-dev")
            .encryption_configuration(
                EncryptionConfiguration::builder()
                    .encryption_type(kind)
                    .set_kms_key(key.map(str::to_owned))
                    .build()
                    .unwrap(),
            )
            .build()
    }

    fn settings(encryption: Encryption, kms_key: Option<&str>) -> Settings {
        Settings {
            keep_images: 10,
            immutable_tags: true,
            scan_on_push: true,
            encryption,
            kms_key: kms_key.map(str::to_owned),
        }
    }

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn encryption_changes_are_refused_with_the_reason() {
        let aes = repo(EncryptionType::Aes256, None);
        assert!(check_encryption("a-api-dev", &aes, &settings(Encryption::Aes256, None)).is_ok());
        let err =
            check_encryption("a-api-dev", &aes, &settings(Encryption::Kms, None)).unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("cannot change"), "{err}");
        let no_config = Repository::builder().repository_name("a-api-dev").build();
        assert!(
            check_encryption("a-api-dev", &no_config, &settings(Encryption::Aes256, None)).is_ok()
        );
    }

    #[test]
    fn kms_keys_are_compared_where_they_can_be() {
        let kms = repo(EncryptionType::Kms, Some(KEY));
        for ok in [
            None,
            Some(KEY),
            Some("1234abcd-12ab-34cd-56ef-1234567890ab"),
            Some("alias/anything"),
        ] {
            assert!(
                check_encryption("a-api-dev", &kms, &settings(Encryption::Kms, ok)).is_ok(),
                "{ok:?}"
            );
        }
        let other = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab";
        assert!(
            check_encryption("a-api-dev", &kms, &settings(Encryption::Kms, Some(other))).is_err()
        );
        let dsse = repo(EncryptionType::KmsDsse, Some(KEY));
        assert!(check_encryption("a-api-dev", &dsse, &settings(Encryption::Kms, None)).is_err());
    }
}
