//! `spec.secrets`, and the checked list of secrets it resolves to.
//!
//! Everything is checked here, before the first AWS call: names, KMS keys,
//! recovery windows, and the values themselves. A value is read once, from its
//! file or environment variable, into a [`SecretValue`], which prints as
//! `<redacted>` and cannot be serialized; the spec written back to the document
//! holds only the path or the variable's name. No error message here quotes a
//! value: a file is named by its path, a variable by its name.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use common::sections::DEFAULT_RECOVERY_WINDOW_DAYS;
use common::{naming, Error, Result};

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
    /// Days a deleted secret stays recoverable (7 to 30; default 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_window_days: Option<u32>,
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
const MAX_VALUE_BYTES: u64 = 65_536;
const MAX_DESCRIPTION: usize = 2048;
const RECOVERY_WINDOW: std::ops::RangeInclusive<u32> = 7..=30;
/// Short names end up in `{stack}-{short}-{env}`; this keeps names readable.
const MAX_SHORT_NAME: usize = 64;

/// A secret's value. It never leaves the process except in the one AWS call that
/// stores it: `Debug` and `Display` print `<redacted>`, and it has no `Serialize`.
pub struct SecretValue(String);

impl SecretValue {
    /// The value itself, for the AWS call that stores it and nothing else.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One secret as it should be, checked.
#[derive(Debug)]
pub struct Wanted {
    pub short: String,
    pub description: Option<String>,
    pub kms_key: Option<String>,
    pub recovery_window_days: u8,
    /// The value to store, if the spec gives one.
    pub value: Option<SecretValue>,
    pub json_keys: Vec<String>,
}

/// Checks the whole spec and reads every value; the first problem is the error.
pub fn resolve(spec: &SecretsSpec) -> Result<Vec<Wanted>> {
    spec.iter()
        .map(|(short, s)| resolve_one(short, s))
        .collect()
}

fn resolve_one(short: &str, s: &SecretSpec) -> Result<Wanted> {
    check_short_name(short)?;
    let window = s
        .recovery_window_days
        .unwrap_or(u32::from(DEFAULT_RECOVERY_WINDOW_DAYS));
    if !RECOVERY_WINDOW.contains(&window) {
        return Err(Error::spec(format!(
            "secret '{short}': recovery_window_days {window} is outside 7..=30 (Secrets Manager's limits)"
        )));
    }
    if let Some(d) = &s.description {
        if d.chars().count() > MAX_DESCRIPTION {
            return Err(Error::spec(format!(
                "secret '{short}': the description is longer than {MAX_DESCRIPTION} characters"
            )));
        }
    }
    if let Some(k) = &s.kms_key {
        if k.is_empty() || k.len() > 2048 || k.chars().any(char::is_whitespace) {
            return Err(Error::spec(format!(
                "secret '{short}': kms_key must be a key ARN, key id or alias (e.g. alias/my-key)"
            )));
        }
    }
    let json_keys = s.json_keys.clone().unwrap_or_default();
    if json_keys.iter().any(String::is_empty) {
        return Err(Error::spec(format!(
            "secret '{short}': json_keys holds an empty key name"
        )));
    }
    let value = read_value(short, s)?;
    if let Some(v) = &value {
        check_json_keys(short, v, &json_keys)?;
    }
    Ok(Wanted {
        short: short.to_owned(),
        description: s.description.clone(),
        kms_key: s.kms_key.clone(),
        recovery_window_days: window as u8,
        value,
        json_keys,
    })
}

/// Lowercase letters, digits and single hyphens, starting with a letter: the same
/// shape as stack and env names, so `{stack}-{short}-{env}` stays unambiguous.
pub fn check_short_name(short: &str) -> Result<()> {
    naming::check_label("secret name", short, MAX_SHORT_NAME)
}

fn read_value(short: &str, s: &SecretSpec) -> Result<Option<SecretValue>> {
    match (&s.value_file, &s.value_env) {
        (Some(_), Some(_)) => Err(Error::spec(format!(
            "secret '{short}': give value_file or value_env, not both"
        ))),
        (Some(path), None) => read_file(short, path).map(Some),
        (None, Some(var)) => read_env(short, var).map(Some),
        (None, None) => Ok(None),
    }
}

fn read_file(short: &str, path: &Path) -> Result<SecretValue> {
    let shown = path.display();
    let cannot = |why: String| {
        Error::spec(format!(
            "secret '{short}': cannot read the value file {shown}: {why}"
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    // Bounded, so a device or a huge file is refused instead of read into memory.
    let mut bytes = Vec::new();
    file.take(MAX_VALUE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| cannot("it is not UTF-8 text (binary secrets are not supported)".into()))?;
    checked_value(short, &format!("the value file {shown}"), text)
}

fn read_env(short: &str, var: &str) -> Result<SecretValue> {
    if !is_env_name(var) {
        // Not echoed: a value typed where the variable's name belongs must not be printed.
        return Err(Error::spec(format!(
            "secret '{short}': value_env must name an environment variable (letters, digits, '_'), not hold a value"
        )));
    }
    let text = match std::env::var(var) {
        Ok(v) => v,
        Err(std::env::VarError::NotPresent) => {
            return Err(Error::spec(format!(
                "secret '{short}': the environment variable {var} (value_env) is not set"
            )))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Error::spec(format!(
                "secret '{short}': the environment variable {var} is not UTF-8 text"
            )))
        }
    };
    checked_value(short, &format!("the environment variable {var}"), text)
}

fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn checked_value(short: &str, source: &str, text: String) -> Result<SecretValue> {
    if text.is_empty() {
        return Err(Error::spec(format!("secret '{short}': {source} is empty")));
    }
    if text.len() as u64 > MAX_VALUE_BYTES {
        return Err(Error::spec(format!(
            "secret '{short}': {source} holds more than {MAX_VALUE_BYTES} bytes, Secrets Manager's limit"
        )));
    }
    Ok(SecretValue(text))
}

/// A value declared to hold JSON keys must be a JSON object with those keys, or the
/// tasks referencing `<arn>:<key>::` would fail at start. The error names the
/// missing key, never the value (serde's messages give positions, not content).
fn check_json_keys(short: &str, value: &SecretValue, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let parsed: serde_json::Value = serde_json::from_str(value.expose()).map_err(|e| {
        Error::spec(format!(
            "secret '{short}': json_keys is set but the value is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Some(object) = parsed.as_object() else {
        return Err(Error::spec(format!(
            "secret '{short}': json_keys is set but the value is not a JSON object"
        )));
    };
    match keys.iter().find(|k| !object.contains_key(k.as_str())) {
        Some(missing) => Err(Error::spec(format!(
            "secret '{short}': the value has no key \"{missing}\" (listed in json_keys)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> SecretsSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_and_windows() {
        let w = resolve(&spec(r#"{"db-credentials":{}}"#)).unwrap();
        assert_eq!(w[0].recovery_window_days, 7);
        assert!(w[0].value.is_none());
        for bad in [0, 6, 31] {
            let s = spec(&format!(r#"{{"db":{{"recovery_window_days":{bad}}}}}"#));
            let e = resolve(&s).unwrap_err().to_string();
            assert!(e.contains("7..=30"), "{e}");
        }
        assert!(resolve(&spec(r#"{"db":{"recovery_window_days":30}}"#)).is_ok());
    }

    #[test]
    fn names_are_checked() {
        for bad in ["DB", "db_creds", "-db", "db-", "a--b", ""] {
            let s: SecretsSpec = [(bad.to_owned(), SecretSpec::default())].into();
            assert!(resolve(&s).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<SecretsSpec>(r#"{"db":{"valu_file":"x"}}"#).is_err());
    }

    #[test]
    fn values_never_show_up_in_debug_or_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        std::fs::write(&path, "{\"password\":\"hunter2-secret\"}").unwrap();
        let s: SecretsSpec = [(
            "db".to_owned(),
            SecretSpec {
                value_file: Some(path.clone()),
                json_keys: Some(vec!["password".into()]),
                ..SecretSpec::default()
            },
        )]
        .into();
        let w = resolve(&s).unwrap();
        let shown = format!("{w:?} {}", w[0].value.as_ref().unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            w[0].value.as_ref().unwrap().expose(),
            "{\"password\":\"hunter2-secret\"}"
        );

        let mut missing_key = s.clone();
        missing_key.get_mut("db").unwrap().json_keys = Some(vec!["username".into()]);
        let e = resolve(&missing_key).unwrap_err().to_string();
        assert!(e.contains("username") && !e.contains("hunter2"), "{e}");

        std::fs::write(&path, "not json hunter2").unwrap();
        let e = resolve(&s).unwrap_err().to_string();
        assert!(e.contains("not JSON") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn bad_sources() {
        let e = resolve(&spec(r#"{"db":{"value_file":"/nonexistent/pw"}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/pw"), "{e}");
        let e = resolve(&spec(r#"{"db":{"value_file":"/x","value_env":"Y"}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not both"), "{e}");
        let e = resolve(&spec(r#"{"db":{"value_env":"p@ssw0rd!"}}"#))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("p@ssw0rd"), "{e}");
        let e = resolve(&spec(r#"{"db":{"value_env":"FP_SURELY_UNSET_VAR_1"}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("FP_SURELY_UNSET_VAR_1") && e.contains("not set"),
            "{e}"
        );
    }

    #[test]
    fn empty_and_oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let s: SecretsSpec = [(
            "db".to_owned(),
            SecretSpec {
                value_file: Some(path.clone()),
                ..SecretSpec::default()
            },
        )]
        .into();
        std::fs::write(&path, "").unwrap();
        assert!(resolve(&s).unwrap_err().to_string().contains("empty"));
        std::fs::write(&path, vec![b'a'; 65_537]).unwrap();
        assert!(resolve(&s).unwrap_err().to_string().contains("65536"));
    }
}
