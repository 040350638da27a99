//! secrets-up's part of `spec.secrets`: the values. The section's types and
//! rules are `common::spec::secrets`'s, checked with the whole spec before any
//! call; only this tool reads a value, once, from its file or environment
//! variable, into a [`SecretValue`], which prints as `<redacted>` and cannot be
//! serialized. The spec written back to the document holds only the path or the
//! variable's name. No error message here quotes a value: a file is named by its
//! path, a variable by its name.

use std::fmt;
use std::io::Read;
use std::path::Path;

use common::error::shown;
use common::{Error, Result};

pub use common::spec::secrets::{check_short_name, SecretSpec, SecretsSpec};

/// Secrets Manager's limit on a value.
const MAX_VALUE_BYTES: u64 = 65_536;

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

/// Checks the whole section and reads every value; the first problem is the error.
pub fn resolve(spec: &SecretsSpec) -> Result<Vec<Wanted>> {
    spec.iter()
        .map(|(short, s)| resolve_one(short, s))
        .collect()
}

fn resolve_one(short: &str, s: &SecretSpec) -> Result<Wanted> {
    common::spec::secrets::check_one(short, s)?;
    let json_keys = s.json_keys.clone().unwrap_or_default();
    let value = read_value(short, s)?;
    if let Some(v) = &value {
        check_json_keys(short, v, &json_keys)?;
    }
    Ok(Wanted {
        short: short.to_owned(),
        description: s.description.clone(),
        kms_key: s.kms_key.clone(),
        // Checked: 7 to 30.
        recovery_window_days: s.recovery_window_days() as u8,
        value,
        json_keys,
    })
}

/// The value from its source; `check_one` made sure there is at most one.
fn read_value(short: &str, s: &SecretSpec) -> Result<Option<SecretValue>> {
    match (&s.value_file, &s.value_env) {
        (Some(path), _) => read_file(short, path).map(Some),
        (None, Some(var)) => read_env(short, var).map(Some),
        (None, None) => Ok(None),
    }
}

fn read_file(short: &str, path: &Path) -> Result<SecretValue> {
    let path_shown = shown(&path.display().to_string());
    let cannot = |why: String| {
        Error::spec(format!(
            "secret '{short}': cannot read the value file {path_shown}: {why}"
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
    checked_value(short, &format!("the value file {path_shown}"), text)
}

fn read_env(short: &str, var: &str) -> Result<SecretValue> {
    // `check_one` made sure `var` is a variable's name, not a value typed there.
    let text = match std::env::var(var) {
        Ok(v) => v,
        Err(std::env::VarError::NotPresent) => {
            return Err(Error::spec(format!(
                "secret '{}': the environment variable {var} (value_env) is not set",
                shown(short)
            )))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Error::spec(format!(
                "secret '{}': the environment variable {var} is not UTF-8 text",
                shown(short)
            )))
        }
    };
    checked_value(short, &format!("the environment variable {var}"), text)
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
