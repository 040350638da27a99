//! `.secrets`, written by secrets-up.
//!
//! The section is the map itself, keyed by the secret's short name
//! (`.secrets["db-credentials"].arn`), so jq paths stay short. It holds names,
//! ARNs and metadata only: a secret's value never enters the document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `.secrets`: short name (`db-credentials`) to what secrets-up made of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secrets(pub BTreeMap<String, SecretOut>);

impl Secrets {
    pub fn get(&self, short: &str) -> Option<&SecretOut> {
        self.0.get(short)
    }

    /// (short name, secret), in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &SecretOut)> {
        self.0.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &SecretOut> {
        self.0.values()
    }

    pub fn insert(&mut self, short: impl Into<String>, secret: SecretOut) {
        self.0.insert(short.into(), secret);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every secret's ARN: what an execution role may read, exactly.
    pub fn arns(&self) -> impl Iterator<Item = &str> {
        self.values().map(|s| s.arn.as_str())
    }

    /// The customer-managed KMS keys the secrets are encrypted with (deduplicated).
    pub fn kms_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.values().filter_map(|s| s.kms_key.as_deref()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

impl FromIterator<(String, SecretOut)> for Secrets {
    fn from_iter<I: IntoIterator<Item = (String, SecretOut)>>(iter: I) -> Self {
        Secrets(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Secrets {
    type Item = (&'a String, &'a SecretOut);
    type IntoIter = std::collections::btree_map::Iter<'a, String, SecretOut>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One secret: `.secrets["db-credentials"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretOut {
    /// The full name, `{stack}-{short}-{env}`.
    pub name: String,
    pub arn: String,
    /// The customer-managed KMS key (ARN or id as Secrets Manager reports it);
    /// `null` means the AWS managed key `aws/secretsmanager`.
    #[serde(default)]
    pub kms_key: Option<String>,
    /// Whether the secret has a current value (set by secrets-up or out of band).
    #[serde(default)]
    pub has_value: bool,
    /// The keys the secret's JSON value holds, as the spec declares them (for svc-up's
    /// `valueFrom: "<arn>:<key>::"` references).
    #[serde(default)]
    pub json_keys: Vec<String>,
    /// Days a deleted secret stays recoverable; teardown deletes with this window.
    #[serde(default = "default_recovery_window")]
    pub recovery_window_days: u8,
}

/// Secrets Manager's minimum, and ours when nothing says otherwise.
pub const DEFAULT_RECOVERY_WINDOW_DAYS: u8 = 7;

fn default_recovery_window() -> u8 {
    DEFAULT_RECOVERY_WINDOW_DAYS
}

impl Default for SecretOut {
    fn default() -> Self {
        SecretOut {
            name: String::new(),
            arn: String::new(),
            kms_key: None,
            has_value: false,
            json_keys: Vec::new(),
            recovery_window_days: DEFAULT_RECOVERY_WINDOW_DAYS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_the_map_itself() {
        let s: Secrets = [(
            "db-credentials".to_owned(),
            SecretOut {
                name: "a-db-credentials-dev".into(),
                arn: "arn:aws:secretsmanager:us-east-1:1:secret:a-db-credentials-dev-AbCdEf".into(),
                ..SecretOut::default()
            },
        )]
        .into_iter()
        .collect();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["db-credentials"]["name"], "a-db-credentials-dev");
        assert!(v["db-credentials"]["kms_key"].is_null());
        let back: Secrets = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        // Older documents without the newer fields still read.
        let old: Secrets = serde_json::from_str(r#"{"x":{"name":"n","arn":"a"}}"#).unwrap();
        assert_eq!(old.get("x").unwrap().recovery_window_days, 7);
    }
}
