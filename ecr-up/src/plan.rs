//! The plan: a pure function of the desired repositories and what discovery
//! found, so every rule of `docs/converge/ecr-up.md` is a unit test.
//!
//! Per wanted service: no repository is a create; one that is not this
//! stack's, env's and service's (by its tags) is refused; one whose encryption
//! differs is replaced when empty and refused when it holds images (encryption
//! is fixed at creation); otherwise scan on push, tag mutability, the lifecycle
//! policy and the tags are compared and each drifted one is one fix of a
//! single update. Repositories of services the spec no longer wants are kept:
//! images outlive a service, and teardown removes them.

use common::plan::{Action, Change};
use common::tagset::{self, Tags};
use common::{Context, Error, Result};

use crate::discover::{Actual, Repo};
use crate::spec::{lifecycle_policy, Desired, Encryption, Settings};

pub const KIND: &str = "ecr repository";
pub const TOOL: &str = "ecr-up";

/// One repository to create: everything is set in the create call.
#[derive(Debug, Clone, PartialEq)]
pub struct Create {
    pub service: String,
    pub name: String,
    pub settings: Settings,
    pub tags: Vec<(String, String)>,
}

/// One drifted setting of an existing repository.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    ScanOnPush(bool),
    ImmutableTags(bool),
    KeepImages(u32),
    Tags(Tags),
}

/// What the plan does to one repository.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create(Create),
    Update {
        name: String,
        arn: String,
        fixes: Vec<Fix>,
    },
    /// Delete the (empty) repository and create it again.
    Replace {
        old_arn: String,
        create: Create,
    },
}

/// An op and the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub op: Op,
    pub change: Change,
}

/// The changes that bring the wanted repositories to the spec; refused (exit
/// 10) when one is not ours, and (exit 5) when one's encryption cannot change.
pub fn plan(ctx: &Context, desired: &Desired, actual: &Actual) -> Result<Vec<Planned>> {
    let mut planned = Vec::new();
    for service in &desired.services {
        let name = ctx.path(service);
        let Some(repo) = actual.repos.get(&name) else {
            planned.push(create(ctx, desired, service));
            continue;
        };
        let pairs = repo.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        ctx.check_owned(KIND, &name, pairs, service)?;
        let key = actual.wanted_key_arn.as_deref();
        if !encryption_matches(&desired.settings, key, repo) {
            planned.push(replace(ctx, desired, service, repo)?);
        } else if let Some(p) = update(ctx, &desired.settings, service, repo) {
            planned.push(p);
        }
    }
    Ok(planned)
}

/// The names of this stack's and env's repositories the spec no longer wants:
/// kept, and said so.
pub fn kept<'a>(ctx: &Context, desired: &Desired, actual: &'a Actual) -> Vec<&'a str> {
    let prefix = ctx.path("");
    actual
        .repos
        .values()
        .filter(|r| r.name.starts_with(&prefix) && ctx.owns(pairs(&r.tags)))
        .filter(|r| !desired.services.iter().any(|s| ctx.path(s) == r.name))
        .map(|r| r.name.as_str())
        .collect()
}

fn pairs(tags: &Tags) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn to_create(ctx: &Context, desired: &Desired, service: &str) -> Create {
    Create {
        service: service.to_owned(),
        name: ctx.path(service),
        settings: desired.settings.clone(),
        tags: ctx.tags(service),
    }
}

fn create(ctx: &Context, desired: &Desired, service: &str) -> Planned {
    let c = to_create(ctx, desired, service);
    Planned {
        change: Change::new(TOOL, Action::Create, KIND, &c.name),
        op: Op::Create(c),
    }
}

/// Encryption cannot change: an empty repository is replaced, one with images refused.
fn replace(ctx: &Context, desired: &Desired, service: &str, repo: &Repo) -> Result<Planned> {
    let s = &desired.settings;
    let want = describe_encryption(s.encryption.as_str(), s.kms_key.as_deref());
    let have = describe_encryption(&repo.encryption, repo.kms_key.as_deref());
    if repo.empty != Some(true) {
        return Err(Error::spec(format!(
            "spec.ecr.encryption: ECR repository {} is encrypted with {have}, not {want}, and holds images: \
             encryption cannot change after creation; keep the old setting, or delete its images \
             (an empty repository is replaced) or the repository (teardown) first",
            repo.name
        )));
    }
    let change = Change::new(TOOL, Action::Replace, KIND, &repo.name)
        .id(&repo.arn)
        .field("encryption", have, want);
    Ok(Planned {
        op: Op::Replace {
            old_arn: repo.arn.clone(),
            create: to_create(ctx, desired, service),
        },
        change,
    })
}

fn describe_encryption(kind: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("{kind} ({k})"),
        None => kind.to_owned(),
    }
}

/// Whether the repository is encrypted as the spec says. A key the spec names
/// is compared by ARN (resolved from an alias by discovery), or by id against
/// the ARN's end; without a key the spec means the AWS managed key, whose ARN
/// is not known before AWS makes it, so any key of type KMS is taken.
pub fn encryption_matches(s: &Settings, resolved: Option<&str>, repo: &Repo) -> bool {
    if repo.encryption != s.encryption.as_str() {
        return false;
    }
    match (s.encryption, s.kms_key.as_deref(), repo.kms_key.as_deref()) {
        (Encryption::Aes256, _, _) | (Encryption::Kms, None, _) => true,
        (Encryption::Kms, Some(_), None) => false,
        (Encryption::Kms, Some(want), Some(have)) => match resolved {
            Some(arn) => arn == have,
            None if want.starts_with("arn:") => want == have,
            None => have.ends_with(&format!(":key/{want}")),
        },
    }
}

/// The drifted settings of a repository of ours, as one update; `None` when
/// nothing drifted.
fn update(ctx: &Context, s: &Settings, service: &str, repo: &Repo) -> Option<Planned> {
    let mut fixes = Vec::new();
    let mut change = Change::new(TOOL, Action::Update, KIND, &repo.name).id(&repo.arn);
    if repo.scan_on_push != s.scan_on_push {
        fixes.push(Fix::ScanOnPush(s.scan_on_push));
        change = change.field("scan_on_push", repo.scan_on_push, s.scan_on_push);
    }
    let want_mutability = if s.immutable_tags {
        "IMMUTABLE"
    } else {
        "MUTABLE"
    };
    if repo.mutability != want_mutability {
        fixes.push(Fix::ImmutableTags(s.immutable_tags));
        change = change.field("image_tag_mutability", &repo.mutability, want_mutability);
    }
    let want_policy = lifecycle_policy(s.keep_images);
    if repo.lifecycle.as_ref() != Some(&want_policy) {
        fixes.push(Fix::KeepImages(s.keep_images));
        change = change.field(
            "keep_images",
            kept_images(repo, s.keep_images),
            s.keep_images,
        );
    }
    let missing = tagset::missing(&ctx.tags(service), &repo.tags);
    if !missing.is_empty() {
        let (from, to) = tagset::field(&missing, &repo.tags);
        change = change.field("tags", from, to);
        fixes.push(Fix::Tags(missing));
    }
    (!fixes.is_empty()).then(|| Planned {
        op: Op::Update {
            name: repo.name.clone(),
            arn: repo.arn.clone(),
            fixes,
        },
        change,
    })
}

/// What the repository's policy keeps, as the plan shows it: the count of a
/// single rule like ours, else the policy itself (`null` for none), so a
/// policy edited by hand shows what differs.
fn kept_images(repo: &Repo, keep: u32) -> serde_json::Value {
    let Some(policy) = &repo.lifecycle else {
        return serde_json::Value::Null;
    };
    let rules = policy["rules"].as_array().map_or(0, Vec::len);
    match &policy["rules"][0]["selection"]["countNumber"] {
        n @ serde_json::Value::Number(_) if rules == 1 && n.as_u64() != Some(keep.into()) => {
            n.clone()
        }
        _ => policy.clone(),
    }
}

#[cfg(test)]
mod tests;
