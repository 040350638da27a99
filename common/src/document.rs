//! The JSON document that flows through the pipe.
//!
//! A tool reads what it needs, writes only its own section, and passes every
//! other key through untouched, unknown keys included: the document is kept as
//! a JSON object and typed views are taken of single sections on demand.
//! `docs/document.md` describes every field.

use std::collections::BTreeMap;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{Map, Value};

use crate::error::{one_line, shown, Error, Result};
use crate::spec::describe;

/// The document format version this build reads and writes. Adding fields is not
/// a breaking change; removing or changing the meaning of one bumps this number.
pub const VERSION: u64 = 1;

#[derive(Debug, Clone)]
pub struct Document {
    root: Map<String, Value>,
}

impl Default for Document {
    fn default() -> Self {
        Self::new()
    }
}

impl Document {
    /// A new, empty document (what a tool starts from with no stdin).
    pub fn new() -> Self {
        let mut root = Map::new();
        root.insert("version".into(), VERSION.into());
        Self { root }
    }

    /// Parses and checks the document: a JSON object of a version we read.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(Error::Document(
                "stdin is empty: expected the JSON document from the previous tool \
                 (did it fail?), or pass --no-input to start from flags"
                    .into(),
            ));
        }
        let value = crate::json::parse(text)
            .map_err(|e| Error::Document(format!("stdin is not a valid JSON document: {e}")))?;
        let Value::Object(root) = value else {
            return Err(Error::Document(
                "the document on stdin must be a JSON object".into(),
            ));
        };
        check_version(&root)?;
        check_fields(&root)?;
        Ok(Self { root })
    }

    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.root).expect("a JSON map serializes");
        s.push('\n');
        s
    }

    /// A top-level value, as it is.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.root.get(key)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.root.get(key).and_then(Value::as_str)
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.root.insert(key.into(), value.into());
    }

    /// The document's `tags` object (user tags for every resource).
    pub fn tags(&self) -> Result<BTreeMap<String, String>> {
        match self.root.get("tags") {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                Error::spec(format!(
                    "tags: must map names to strings: {}",
                    one_line(&e.to_string())
                ))
            }),
        }
    }

    /// Writes `spec.<key>` (flags override the spec, and the result is recorded).
    /// The spec itself is read whole, with `common::spec::Spec::load`.
    pub fn set_spec<T: Serialize>(&mut self, key: &str, value: &T) {
        let spec = self
            .root
            .entry("spec")
            .or_insert_with(|| Value::Object(Map::new()));
        if !spec.is_object() {
            *spec = Value::Object(Map::new());
        }
        let value = serde_json::to_value(value).expect("spec sections serialize");
        spec.as_object_mut()
            .expect("spec is an object")
            .insert(key.into(), value);
    }

    /// A layer's output section, if present.
    pub fn layer<T: DeserializeOwned>(&self, section: &'static str) -> Result<Option<T>> {
        match self.root.get(section) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                Error::Document(format!(
                    ".{section} is malformed: {}",
                    one_line(&e.to_string())
                ))
            }),
        }
    }

    /// A layer this tool builds on; its absence is the "missing upstream layer" error.
    pub fn require<T: DeserializeOwned>(
        &self,
        section: &'static str,
        tool: &'static str,
    ) -> Result<T> {
        self.layer(section)?.ok_or_else(|| Error::MissingLayer {
            section: section.to_owned(),
            tool,
        })
    }

    pub fn set_layer<T: Serialize>(&mut self, section: &str, value: &T) {
        let value = serde_json::to_value(value).expect("layer sections serialize");
        self.root.insert(section.into(), value);
    }

    pub fn remove(&mut self, section: &str) -> Option<Value> {
        self.root.remove(section)
    }

    pub fn contains(&self, section: &str) -> bool {
        self.root.get(section).is_some_and(|v| !v.is_null())
    }
}

fn check_version(root: &Map<String, Value>) -> Result<()> {
    match root.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => Ok(()),
        Some(Value::Number(n)) => Err(Error::Version(format!(
            "document version {} is not supported: this build reads version {VERSION}",
            shown(&n.to_string())
        ))),
        Some(other) => Err(Error::Document(format!(
            "the document's \"version\" must be the number {VERSION}, got {}",
            describe(other)
        ))),
        None => Err(Error::Version(format!(
            "the document has no \"version\": add \"version\": {VERSION}"
        ))),
    }
}

/// The top-level fields every tool reads. Of another type they used to be
/// ignored (a region from the environment instead of `"region": 123`), so the
/// document is refused instead. `null` reads like an absent field.
fn check_fields(root: &Map<String, Value>) -> Result<()> {
    for key in ["stack", "env", "region"] {
        if let Some(v) = root.get(key).filter(|v| !v.is_null() && !v.is_string()) {
            return Err(Error::Document(format!(
                "the document's \"{key}\" must be a string, got {}",
                describe(v)
            )));
        }
    }
    match root.get("tags") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(tags)) => match tags.iter().find(|(_, v)| !v.is_string()) {
            Some((k, v)) => Err(Error::Document(format!(
                "the document's \"tags.{}\" must be a string, got {}",
                shown(k),
                describe(v)
            ))),
            None => Ok(()),
        },
        Some(other) => Err(Error::Document(format!(
            "the document's \"tags\" must be an object of strings, got {}",
            describe(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_pass_through_in_order() {
        let doc =
            Document::parse(r#"{"version":1,"zzz":{"a":1},"stack":"x","custom":[1,2]}"#).unwrap();
        let out: Value = serde_json::from_str(&doc.to_json_pretty()).unwrap();
        assert_eq!(out["zzz"]["a"], 1);
        assert_eq!(out["custom"], serde_json::json!([1, 2]));
        let keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["version", "zzz", "stack", "custom"]);
    }

    #[test]
    fn rejects_bad_documents_with_distinct_errors() {
        assert!(matches!(Document::parse(""), Err(Error::Document(_))));
        assert!(matches!(
            Document::parse("{\"version\":1"),
            Err(Error::Document(_))
        ));
        assert!(matches!(Document::parse("[1]"), Err(Error::Document(_))));
        assert!(matches!(
            Document::parse("{\"version\":2}"),
            Err(Error::Version(_))
        ));
        // A version of another JSON type is a malformed document, not a version.
        assert!(matches!(
            Document::parse("{\"version\":\"1\"}"),
            Err(Error::Document(_))
        ));
        assert!(matches!(Document::parse("{}"), Err(Error::Version(_))));
    }

    #[test]
    fn missing_layer_names_the_tool() {
        let doc = Document::new();
        let err = doc.require::<Value>("network", "net-up").unwrap_err();
        assert_eq!(err.exit_code(), 6);
        assert!(err.to_string().contains("run net-up first"));
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e =
            Document::parse(r#"{"version":1,"spec":{"network":{"nat":"none","nat":"per-az"}}}"#)
                .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(
            e.to_string().contains("duplicate key spec.network.nat"),
            "{e}"
        );
    }

    #[test]
    fn top_level_fields_of_the_wrong_type_are_refused() {
        for (field, value, got) in [
            ("stack", "5", "the number 5"),
            ("env", "[\"dev\"]", "a list"),
            ("region", "123", "the number 123"),
            ("tags", "[]", "a list"),
            ("tags", "{\"team\": 1}", "the number 1"),
            ("version", "\"1\"", "the string \"1\""),
        ] {
            let text = format!(r#"{{"version":1,"{field}":{value}}}"#);
            let text = text.replacen(r#""version":1,"version""#, r#""version""#, 1);
            let e = Document::parse(&text).unwrap_err();
            assert_eq!(e.exit_code(), 3, "{text}: {e}");
            assert!(e.to_string().contains(got), "{text}: {e}");
        }
        let ok = r#"{"version":1,"stack":null,"env":"dev","region":"eu-west-1","tags":{"a":"b"}}"#;
        assert!(Document::parse(ok).is_ok());
    }

    #[test]
    fn a_huge_version_is_not_echoed_whole() {
        let text = format!(r#"{{"version":"{}"}}"#, "9".repeat(1_000_000));
        let e = Document::parse(&text).unwrap_err().to_string();
        assert!(e.len() < 200, "{}", e.len());
    }
}
