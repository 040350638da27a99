//! `spec.secrets` (secrets-up's input): its types and the rules that need no
//! value: names, recovery windows, descriptions, KMS keys, where a value comes
//! from. Reading the values themselves is secrets-up's alone, so no other tool
//! ever opens a secret's file or variable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::within;
use crate::error::shown;
use crate::sections::DEFAULT_RECOVERY_WINDOW_DAYS;
use crate::{naming, Error, Result};

/// `spec.secrets`: short name (`db-credentials`) to its settings.
pub type SecretsSpec = BTreeMap<String, SecretSpec>;

/// One entry of `spec.secrets`. Unknown fields are an error: a misspelt
/// `value_file` must not silently create an empty secret.
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
    /// A file holding the value (used as is, trailing newline included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_file: Option<PathBuf>,
    /// The name of an environment variable holding the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_env: Option<String>,
    /// The keys of the secret's JSON value, recorded for svc-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_keys: Option<Vec<String>>,
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
    check_source(&at, short, s)
}

/// At most one source, and `value_env` a variable's name.
fn check_source(at: &str, short: &str, s: &SecretSpec) -> Result<()> {
    if s.value_file.is_some() && s.value_env.is_some() {
        return Err(Error::spec(format!(
            "{at}: secret '{}': give value_file or value_env, not both",
            shown(short)
        )));
    }
    match &s.value_env {
        // Not echoed: a value typed where the variable's name belongs must not be printed.
        Some(var) if !is_env_name(var) => Err(Error::spec(format!(
            "{at}.value_env: must name an environment variable (letters, digits, '_'), not hold a value"
        ))),
        _ => Ok(()),
    }
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
            &serde_json::json!({"db": {"valu_file": "x"}}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "spec.secrets.db.valu_file: unknown key; did you mean value_file?"
        );
    }

    #[test]
    fn sources_are_checked_without_reading_or_echoing_them() {
        let e = err(r#"{"db":{"value_file":"/x","value_env":"Y"}}"#);
        assert!(e.contains("not both"), "{e}");
        let e = err(r#"{"db":{"value_env":"p@ssw0rd!"}}"#);
        assert!(
            e.starts_with("spec.secrets.db.value_env: ") && !e.contains("p@ssw0rd"),
            "{e}"
        );
        // A file that does not exist is secrets-up's to find: only it reads values.
        assert!(check(&spec(r#"{"db":{"value_file":"/nonexistent/pw"}}"#)).is_ok());
        assert!(err(r#"{"db":{"json_keys":["a",""]}}"#).contains("empty key"));
        assert!(err(r#"{"db":{"kms_key":"my key"}}"#).starts_with("spec.secrets.db.kms_key"));
    }
}
