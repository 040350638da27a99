//! JSON text to `serde_json::Value`, refusing an object that has a key twice.
//!
//! serde_json keeps the last of two equal keys, so `{"cpu": 256, ..., "cpu":
//! 4096}` silently builds what the second line says. JSON allows duplicates,
//! but in a document that decides what to build and what to delete, one of the
//! two was a mistake. No crate offers this for a whole `Value`, so this is a
//! small seed that builds the same `Value` serde_json would, with the key path
//! to name in the error. Nesting depth stays bounded by serde_json's own limit.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::shown;

/// Parses one JSON value; a duplicate key is an error naming its path
/// (`duplicate key spec.services.api.cpu at line 4 column 12`).
pub fn parse(text: &str) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Strict { path: "" }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// One value, at `path` (`""` for the whole document).
struct Strict<'p> {
    path: &'p str,
}

impl Strict<'_> {
    fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            shown(key)
        } else {
            format!("{}.{}", self.path, shown(key))
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, items.len());
            match seq.next_element_seed(Strict { path: &path })? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.child(&key);
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {path}")));
            }
            let value = map.next_value_seed(Strict { path: &path })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_serde_json_builds() {
        let text = r#"{"b": [1, -2, 3.5, "x", null, true, {"c": {}}], "a": {"z": 1, "y": [[]]}, "n": 18446744073709551615}"#;
        let strict = parse(text).unwrap();
        let loose: Value = serde_json::from_str(text).unwrap();
        assert_eq!(strict, loose);
        // Key order is kept, as the document passes unknown keys through in order.
        let keys: Vec<&String> = strict.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a", "n"]);
    }

    #[test]
    fn a_duplicate_key_anywhere_is_named_by_its_path() {
        let e = parse(r#"{"version": 1, "version": 1}"#).unwrap_err();
        assert_eq!(e.to_string(), "duplicate key version at line 1 column 24");
        let e = parse("{\"spec\": {\"services\": {\"api\": {\n \"cpu\": 256,\n \"cpu\": 4096}}}}")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "duplicate key spec.services.api.cpu at line 3 column 6");
        let e = parse(r#"{"a": [{"k": 1}, {"k": 1, "k": 2}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("duplicate key a[1].k "), "{e}");
        // The same key in two objects is no duplicate.
        assert!(parse(r#"{"a": {"k": 1}, "b": {"k": 1}}"#).is_ok());
    }

    #[test]
    fn a_huge_duplicate_key_is_capped() {
        let key = "k".repeat(1_000_000);
        let e = parse(&format!(r#"{{"{key}": 1, "{key}": 2}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.len() < 200, "{}", e.len());
    }

    #[test]
    fn still_refuses_what_serde_json_refuses() {
        assert!(parse("{\"a\": 1").is_err());
        assert!(parse("{} {}").is_err());
        assert!(parse(&"[".repeat(10_000)).is_err());
    }
}
