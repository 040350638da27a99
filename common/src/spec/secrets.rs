//! `spec.secrets` (secrets-up's input): its types and the rules that need no
//! value: names, recovery windows, descriptions, KMS keys.
//!
//! A secret's value never comes from the document: a document is input anyone
//! in the pipe may have written, and a path or variable name in it would let
//! it make secrets-up read any file or variable into a secret. Values come from
//! the person running secrets-up, through its flags (`--value-file`,
//! `--value-env`, `--value-prompt`). The former `value_file` and `value_env`
//! fields are refused with a message saying so.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::within;
use crate::error::shown;
use crate::sections::DEFAULT_RECOVERY_WINDOW_DAYS;
use crate::{naming, Error, Result};

/// `spec.secrets`: short name (`db-credentials`) to its settings.
pub type SecretsSpec = BTreeMap<String, SecretSpec>;

/// One entry of `spec.secrets`. Unknown fields are an error: a misspelt
/// `json_keys` must not silently drop the keys' check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A customer-managed KMS key: key ARN, key id, alias name or alias ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Days a deleted secret stays recoverable (7 to 30; default 7). Signed, so
    /// `-1` is answered by the range check in the same words as `31`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_window_days: Option<i64>,
    /// Retired: refused when present (see [`Retired`]); never written back.
    #[serde(skip_serializing, deserialize_with = "retired_value_file")]
    pub value_file: Option<Retired>,
    /// Retired: refused when present (see [`Retired`]); never written back.
    #[serde(skip_serializing, deserialize_with = "retired_value_env")]
    pub value_env: Option<Retired>,
    /// The keys of the secret's JSON value, recorded for svc-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_keys: Option<Vec<String>>,
}

/// A field a secret's spec no longer takes: reading one is the error that says
/// where values come from now. `null` reads as absent, like any field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {}

fn retired<'de, D: Deserializer<'de>>(d: D, flag: &str) -> Result<Option<Retired>, D::Error> {
    match Option::<serde::de::IgnoredAny>::deserialize(d)? {
        None => Ok(None),
        Some(_) => Err(serde::de::Error::custom(format!(
            "a secret's value no longer comes from the document: pass it to secrets-up with \
             {flag} NAME=..., --value-env NAME=VAR or --value-prompt NAME, and remove this field"
        ))),
    }
}

fn retired_value_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Retired>, D::Error> {
    retired(d, "--value-file")
}

fn retired_value_env<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Retired>, D::Error> {
    retired(d, "--value-env")
}

/// Secrets Manager's limits.
pub const MAX_DESCRIPTION: usize = 2048;
pub const RECOVERY_WINDOW: std::ops::RangeInclusive<i64> = 7..=30;
/// Short names end up in `{stack}-{short}-{env}`; this keeps names readable.
pub const MAX_SHORT_NAME: usize = 64;

/// Every rule of `spec.secrets` that needs no value.
pub fn check(secrets: &SecretsSpec) -> Result<()> {
    secrets
        .iter()
        .try_for_each(|(short, s)| check_one(short, s))
}

/// One secret's rules. Messages name the secret and the field, never a value.
pub fn check_one(short: &str, s: &SecretSpec) -> Result<()> {
    let at = format!("spec.secrets.{}", shown(short));
    check_short_name(short).map_err(|e| within(&at, e))?;
    let window = s.recovery_window_days();
    if !RECOVERY_WINDOW.contains(&window) {
        return Err(Error::spec(format!(
            "{at}.recovery_window_days: secret '{}': recovery_window_days {window} is outside 7..=30 (Secrets Manager's limits)",
            shown(short)
        )));
    }
    if s.description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(Error::spec(format!(
            "{at}.description: longer than {MAX_DESCRIPTION} characters"
        )));
    }
    if let Some(k) = &s.kms_key {
        if k.is_empty() || k.len() > 2048 || k.chars().any(char::is_whitespace) {
            return Err(Error::spec(format!(
                "{at}.kms_key: must be a key ARN, key id or alias (e.g. alias/my-key)"
            )));
        }
    }
    if s.json_keys.iter().flatten().any(String::is_empty) {
        return Err(Error::spec(format!(
            "{at}.json_keys: holds an empty key name"
        )));
    }
    Ok(())
}

impl SecretSpec {
    /// The recovery window with its default.
    pub fn recovery_window_days(&self) -> i64 {
        self.recovery_window_days
            .unwrap_or(i64::from(DEFAULT_RECOVERY_WINDOW_DAYS))
    }
}

/// Lowercase letters, digits and single hyphens, starting with a letter: the same
/// shape as stack and env names, so `{stack}-{short}-{env}` stays unambiguous.
pub fn check_short_name(short: &str) -> Result<()> {
    naming::check_label("secret name", short, MAX_SHORT_NAME)
}

/// An environment variable's name: letters, digits and `_`, not first a digit.
pub fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> SecretsSpec {
        super::super::read("spec.secrets", &serde_json::from_str(json).unwrap()).unwrap()
    }

    fn err(json: &str) -> String {
        check(&spec(json)).unwrap_err().to_string()
    }

    #[test]
    fn windows() {
        assert!(check(&spec(r#"{"db-credentials":{}}"#)).is_ok());
        for bad in [-1, 0, 6, 31] {
            let e = err(&format!(r#"{{"db":{{"recovery_window_days":{bad}}}}}"#));
            assert!(
                e.starts_with("spec.secrets.db.recovery_window_days: ") && e.contains("7..=30"),
                "{e}"
            );
        }
        assert!(check(&spec(r#"{"db":{"recovery_window_days":30}}"#)).is_ok());
    }

    #[test]
    fn names_are_checked() {
        for bad in ["DB", "db_creds", "-db", "db-", "a--b", ""] {
            let s: SecretsSpec = [(bad.to_owned(), SecretSpec::default())].into();
            let e = check(&s).unwrap_err().to_string();
            assert!(e.contains("invalid secret name"), "{bad}: {e}");
        }
        let e = super::super::read::<SecretsSpec>(
            "spec.secrets",
            &serde_json::json!({"db": {"json_key": ["x"]}}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "spec.secrets.db.json_key: unknown key; did you mean json_keys?"
        );
    }

    #[test]
    fn values_are_never_read_from_the_document() {
        for (field, flag) in [("value_file", "--value-file"), ("value_env", "--value-env")] {
            for value in [
                serde_json::json!("/run/secrets/db"),
                serde_json::json!("DB_PASSWORD"),
                serde_json::json!(3),
            ] {
                let e = super::super::read::<SecretsSpec>(
                    "spec.secrets",
                    &serde_json::json!({"db": {field: value}}),
                )
                .unwrap_err()
                .to_string();
                assert!(
                    e.starts_with(&format!("spec.secrets.db.{field}: a secret's value no longer comes from the document")),
                    "{e}"
                );
                assert!(e.contains(flag) && !e.contains("/run/secrets"), "{e}");
            }
            // `null` reads as absent, like every field.
            let s: SecretsSpec =
                super::super::read("spec.secrets", &serde_json::json!({"db": {field: null}}))
                    .unwrap();
            assert_eq!(s["db"], SecretSpec::default());
        }
        assert!(err(r#"{"db":{"json_keys":["a",""]}}"#).contains("empty key"));
        assert!(err(r#"{"db":{"kms_key":"my key"}}"#).starts_with("spec.secrets.db.kms_key"));
    }
}
