//! ecr-up's desired state: which services get a repository, and how. The
//! types and rules of `spec.ecr` are `common::spec::ecr`'s, checked with the
//! whole spec before any call. The lifecycle policy is built here, so its shape
//! is tested without AWS.

use serde_json::{json, Value};

use common::spec::ServicesSpec;
use common::Result;

pub use common::spec::ecr::{EcrSpec, Encryption, Settings, DEFAULT_KEEP_IMAGES, MAX_KEEP_IMAGES};

/// The spec resolved: which services get a repository, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Service names, sorted, without duplicates.
    pub services: Vec<String>,
    pub settings: Settings,
}

/// The repositories: `spec.ecr.repositories`, or every service of
/// `spec.services` that brings no image of its own.
pub fn desired(ecr: &EcrSpec, services: &ServicesSpec) -> Result<Desired> {
    let mut names: Vec<String> = match &ecr.repositories {
        Some(list) => list.clone(),
        None => services
            .iter()
            .filter(|(_, service)| service.image.is_none())
            .map(|(name, _)| name.clone())
            .collect(),
    };
    names.sort();
    names.dedup();
    Ok(Desired {
        services: names,
        settings: ecr.settings()?,
    })
}

/// The lifecycle policy: expire everything but the newest `keep` images, tagged or not.
pub fn lifecycle_policy(keep: u32) -> Value {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the last {keep} images"),
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": keep
            },
            "action": {"type": "expire"}
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: Value) -> EcrSpec {
        common::spec::read("spec.ecr", &json).unwrap()
    }

    fn services(json: Value) -> ServicesSpec {
        common::spec::read("spec.services", &json).unwrap()
    }

    #[test]
    fn defaults_are_secure_and_come_from_the_services() {
        let plan = desired(
            &spec(json!({})),
            &services(json!({"worker": {}, "api": {"cpu": 256}, "nginx": {"image": "nginx:1"}})),
        )
        .unwrap();
        assert_eq!(plan.services, ["api", "worker"]);
        assert_eq!(
            plan.settings,
            Settings {
                keep_images: 10,
                immutable_tags: true,
                scan_on_push: true,
                encryption: Encryption::Aes256,
                kms_key: None,
            }
        );
    }

    #[test]
    fn an_explicit_list_wins_and_is_deduplicated() {
        let p = desired(
            &spec(json!({"repositories": ["b", "a", "b"]})),
            &services(json!({"c": {}})),
        )
        .unwrap();
        assert_eq!(p.services, ["a", "b"]);
        assert!(desired(&spec(json!({})), &ServicesSpec::new())
            .unwrap()
            .services
            .is_empty());
    }

    #[test]
    fn the_lifecycle_policy_keeps_the_last_n_images() {
        let p = lifecycle_policy(7);
        let rule = &p["rules"][0];
        assert_eq!(p["rules"].as_array().unwrap().len(), 1);
        assert_eq!(rule["rulePriority"], 1);
        assert_eq!(rule["description"], "keep the last 7 images");
        assert_eq!(rule["selection"]["tagStatus"], "any");
        assert_eq!(rule["selection"]["countType"], "imageCountMoreThan");
        assert_eq!(rule["selection"]["countNumber"], 7);
        assert_eq!(rule["action"]["type"], "expire");
    }
}
