//! `spec.ecr`, the flags that override it, and the plan derived from both.
//!
//! Everything here is checked before the first AWS call: service names, the
//! number of images to keep, the encryption settings. The lifecycle policy is
//! built here too, so its shape is tested without AWS.

use std::collections::BTreeMap;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use common::{naming, Error, Result};

pub const DEFAULT_KEEP_IMAGES: i64 = 10;
/// AWS caps a lifecycle rule's countNumber far higher; a thousand images is
/// already more than any registry bill should carry per service.
pub const MAX_KEEP_IMAGES: i64 = 1000;
/// ECR allows 256 characters; service names also name ECS services, log groups
/// and roles in later layers, so keep them short.
pub const MAX_SERVICE_NAME: usize = 64;

/// How images are encrypted at rest. Fixed when the repository is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ValueEnum)]
pub enum Encryption {
    /// S3-managed keys (no KMS cost).
    #[default]
    #[serde(rename = "AES256", alias = "aes256")]
    Aes256,
    /// A KMS key: `kms_key`, or the AWS managed key `aws/ecr` without one.
    #[serde(rename = "KMS", alias = "kms")]
    Kms,
}

impl Encryption {
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::Aes256 => "AES256",
            Encryption::Kms => "KMS",
        }
    }
}

/// `spec.ecr`. Unknown fields are an error: a typo must not build the wrong registry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EcrSpec {
    /// Services to make a repository for; default: every service of
    /// `spec.services` without an `image` of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repositories: Option<Vec<String>>,
    /// Signed on purpose, so `-1` is answered by our range check, not by serde.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_images: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub immutable_tags: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_on_push: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// A KMS key ARN, alias (`alias/...`) or key id; only with `encryption: KMS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// What every repository of the stack is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub keep_images: u32,
    pub immutable_tags: bool,
    pub scan_on_push: bool,
    pub encryption: Encryption,
    pub kms_key: Option<String>,
}

/// The spec resolved: which services get a repository, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Service names, sorted, without duplicates.
    pub services: Vec<String>,
    pub settings: Settings,
}

impl EcrSpec {
    /// Checks the spec without AWS. `services` is `spec.services`, read loosely:
    /// svc-up owns its schema, ecr-up only asks whether a service brings its own image.
    pub fn plan(&self, services: &BTreeMap<String, Map<String, Value>>) -> Result<Plan> {
        let mut names: Vec<String> = match &self.repositories {
            Some(list) => list.clone(),
            None => services
                .iter()
                .filter(|(_, service)| !service.contains_key("image"))
                .map(|(name, _)| name.clone())
                .collect(),
        };
        names.sort();
        names.dedup();
        for name in &names {
            naming::check_label("service name", name, MAX_SERVICE_NAME)?;
        }

        let keep = self.keep_images.unwrap_or(DEFAULT_KEEP_IMAGES);
        if !(1..=MAX_KEEP_IMAGES).contains(&keep) {
            return Err(Error::spec(format!(
                "keep_images {keep} is out of range (spec.ecr.keep_images, --keep-images): \
                 keep 1 to {MAX_KEEP_IMAGES} images"
            )));
        }

        let encryption = self.encryption.unwrap_or_default();
        let kms_key = match (&self.kms_key, encryption) {
            (None, _) => None,
            (Some(key), Encryption::Kms) => {
                check_kms_key(key)?;
                Some(key.clone())
            }
            (Some(key), Encryption::Aes256) => {
                return Err(Error::spec(format!(
                    "spec.ecr.kms_key '{key}' needs encryption KMS (--encryption kms); \
                     AES256 takes no key"
                )))
            }
        };

        Ok(Plan {
            services: names,
            settings: Settings {
                keep_images: u32::try_from(keep).expect("checked to be 1..=1000"),
                immutable_tags: self.immutable_tags.unwrap_or(true),
                scan_on_push: self.scan_on_push.unwrap_or(true),
                encryption,
                kms_key,
            },
        })
    }
}

/// A key ARN (`arn:aws:kms:...:key/...` or `...:alias/...`), an alias
/// (`alias/name`) or a key id. Existence is AWS's to check.
fn check_kms_key(key: &str) -> Result<()> {
    let ok = if let Some(rest) = key.strip_prefix("arn:") {
        rest.contains(":kms:") && (rest.contains(":key/") || rest.contains(":alias/"))
    } else if let Some(alias) = key.strip_prefix("alias/") {
        !alias.is_empty()
            && alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    } else {
        // A key id: a UUID, or `mrk-` and hex for a multi-Region key.
        let id = key.strip_prefix("mrk-").unwrap_or(key);
        !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    };
    if ok {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "spec.ecr.kms_key '{key}' is not a KMS key ARN, alias (alias/NAME) or key id"
        )))
    }
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

    fn spec(json: &str) -> EcrSpec {
        serde_json::from_str(json).unwrap()
    }

    fn services(json: &str) -> BTreeMap<String, Map<String, Value>> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_are_secure_and_come_from_the_services() {
        let plan = spec("{}")
            .plan(&services(
                r#"{"worker":{},"api":{"cpu":256},"nginx":{"image":"nginx:1"}}"#,
            ))
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
        let plan = spec(r#"{"repositories":["b","a","b"]}"#)
            .plan(&services(r#"{"c":{}}"#))
            .unwrap();
        assert_eq!(plan.services, ["a", "b"]);
        assert!(spec("{}")
            .plan(&BTreeMap::new())
            .unwrap()
            .services
            .is_empty());
    }

    #[test]
    fn keep_images_is_range_checked() {
        for bad in [-1, 0, 1001] {
            let err = spec(&format!(r#"{{"keep_images":{bad}}}"#))
                .plan(&BTreeMap::new())
                .unwrap_err();
            assert_eq!(err.exit_code(), 5);
            assert!(err.to_string().contains(&bad.to_string()), "{err}");
        }
        for ok in [1, 1000] {
            let plan = spec(&format!(r#"{{"keep_images":{ok}}}"#))
                .plan(&BTreeMap::new())
                .unwrap();
            assert_eq!(i64::from(plan.settings.keep_images), ok);
        }
    }

    #[test]
    fn service_names_are_checked() {
        for bad in ["Api", "api_v2", "-api", "api-", ""] {
            let s = EcrSpec {
                repositories: Some(vec![bad.to_owned()]),
                ..EcrSpec::default()
            };
            assert!(s.plan(&BTreeMap::new()).is_err(), "{bad}");
        }
        assert!(spec("{}").plan(&services(r#"{"Bad_Name":{}}"#)).is_err());
    }

    #[test]
    fn kms_key_only_with_kms() {
        assert!(spec(r#"{"kms_key":"alias/mine"}"#)
            .plan(&BTreeMap::new())
            .is_err());
        assert!(spec(r#"{"encryption":"AES256","kms_key":"alias/mine"}"#)
            .plan(&BTreeMap::new())
            .is_err());
        let plan = spec(r#"{"encryption":"KMS","kms_key":"alias/mine"}"#)
            .plan(&BTreeMap::new())
            .unwrap();
        assert_eq!(plan.settings.kms_key.as_deref(), Some("alias/mine"));
        let managed = spec(r#"{"encryption":"KMS"}"#)
            .plan(&BTreeMap::new())
            .unwrap();
        assert_eq!(managed.settings.kms_key, None);
        for bad in ["", "not a key", "arn:aws:s3:::bucket", "alias/"] {
            let s = EcrSpec {
                encryption: Some(Encryption::Kms),
                kms_key: Some(bad.to_owned()),
                ..EcrSpec::default()
            };
            assert!(s.plan(&BTreeMap::new()).is_err(), "{bad}");
        }
        for good in [
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:123456789012:alias/ecr",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
        ] {
            let s = EcrSpec {
                encryption: Some(Encryption::Kms),
                kms_key: Some(good.to_owned()),
                ..EcrSpec::default()
            };
            assert!(s.plan(&BTreeMap::new()).is_ok(), "{good}");
        }
    }

    #[test]
    fn unknown_fields_and_values_are_refused() {
        assert!(serde_json::from_str::<EcrSpec>(r#"{"keep":5}"#).is_err());
        assert!(serde_json::from_str::<EcrSpec>(r#"{"encryption":"DES"}"#).is_err());
        assert_eq!(
            spec(r#"{"encryption":"kms"}"#).encryption,
            Some(Encryption::Kms)
        );
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
