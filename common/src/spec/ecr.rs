//! `spec.ecr` (ecr-up's input): its types and its rules, the number of images
//! to keep, the encryption settings and the repositories' service names.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use super::within;
use crate::error::shown;
use crate::{naming, Error, Result};

pub const DEFAULT_KEEP_IMAGES: i64 = 10;
/// AWS caps a lifecycle rule's countNumber far higher; a thousand images is
/// already more than any registry bill should carry per service.
pub const MAX_KEEP_IMAGES: i64 = 1000;

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

impl EcrSpec {
    /// Every rule of `spec.ecr`.
    pub fn check(&self) -> Result<()> {
        for (i, name) in self.repositories.iter().flatten().enumerate() {
            naming::check_service_name(name)
                .map_err(|e| within(&format!("spec.ecr.repositories[{i}]"), e))?;
        }
        self.settings().map(drop)
    }

    /// The repositories' settings, checked, with the defaults applied.
    pub fn settings(&self) -> Result<Settings> {
        let keep = self.keep_images.unwrap_or(DEFAULT_KEEP_IMAGES);
        if !(1..=MAX_KEEP_IMAGES).contains(&keep) {
            return Err(Error::spec(format!(
                "spec.ecr.keep_images: keep_images {keep} is out of range (--keep-images): \
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
                    "spec.ecr.kms_key: '{}' needs encryption KMS (--encryption kms); \
                     AES256 takes no key",
                    shown(key)
                )))
            }
        };
        Ok(Settings {
            keep_images: u32::try_from(keep).expect("checked to be 1..=1000"),
            immutable_tags: self.immutable_tags.unwrap_or(true),
            scan_on_push: self.scan_on_push.unwrap_or(true),
            encryption,
            kms_key,
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
            "spec.ecr.kms_key: '{}' is not a KMS key ARN, alias (alias/NAME) or key id",
            shown(key)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> EcrSpec {
        super::super::read("spec.ecr", &serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn defaults_are_secure() {
        assert_eq!(
            spec("{}").settings().unwrap(),
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
    fn keep_images_is_range_checked() {
        for bad in [-1, 0, 1001] {
            let err = spec(&format!(r#"{{"keep_images":{bad}}}"#))
                .check()
                .unwrap_err();
            assert_eq!(err.exit_code(), 5);
            let err = err.to_string();
            assert!(err.starts_with("spec.ecr.keep_images: "), "{err}");
            assert!(err.contains(&bad.to_string()), "{err}");
        }
        for ok in [1, 1000] {
            let s = spec(&format!(r#"{{"keep_images":{ok}}}"#))
                .settings()
                .unwrap();
            assert_eq!(i64::from(s.keep_images), ok);
        }
    }

    #[test]
    fn repository_names_are_service_names() {
        for bad in ["Api", "api_v2", "-api", "api-", ""] {
            let s = EcrSpec {
                repositories: Some(vec!["ok".to_owned(), bad.to_owned()]),
                ..EcrSpec::default()
            };
            let e = s.check().unwrap_err().to_string();
            assert!(
                e.starts_with("spec.ecr.repositories[1]: invalid service name"),
                "{e}"
            );
        }
    }

    #[test]
    fn kms_key_only_with_kms() {
        assert!(spec(r#"{"kms_key":"alias/mine"}"#).check().is_err());
        assert!(spec(r#"{"encryption":"AES256","kms_key":"alias/mine"}"#)
            .check()
            .is_err());
        let s = spec(r#"{"encryption":"KMS","kms_key":"alias/mine"}"#);
        assert_eq!(s.settings().unwrap().kms_key.as_deref(), Some("alias/mine"));
        assert_eq!(
            spec(r#"{"encryption":"KMS"}"#).settings().unwrap().kms_key,
            None
        );
        for bad in ["", "not a key", "arn:aws:s3:::bucket", "alias/"] {
            let s = EcrSpec {
                encryption: Some(Encryption::Kms),
                kms_key: Some(bad.to_owned()),
                ..EcrSpec::default()
            };
            assert!(s.check().is_err(), "{bad}");
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
            assert!(s.check().is_ok(), "{good}");
        }
    }

    #[test]
    fn unknown_fields_and_values_are_refused() {
        let read = |json: &str| {
            super::super::read::<EcrSpec>("spec.ecr", &serde_json::from_str(json).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            read(r#"{"keep":5}"#),
            "spec.ecr.keep: unknown key; did you mean keep_images?"
        );
        assert_eq!(
            read(r#"{"encryption":"DES"}"#),
            "spec.ecr.encryption: unknown value \"DES\"; expected one of AES256, aes256, KMS, kms"
        );
        assert_eq!(
            spec(r#"{"encryption":"kms"}"#).encryption,
            Some(Encryption::Kms)
        );
    }
}
