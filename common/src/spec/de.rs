//! Reads the spec's JSON into its types, refusing what serde_json's own `Value`
//! deserializer lets through, and reporting each problem as data.
//!
//! Two things need a deserializer of our own. serde's derived structs also take a
//! JSON list (so `"network": []` would read as all defaults), and serde_json's
//! errors are text in Rust's words (`expected u32`, `struct SecretRef`). Here an
//! object is the only thing that makes a struct, and every error is a
//! [`Problem`] phrased in JSON's words, which `spec::load` prefixes with the path
//! serde_path_to_error tracks. It reads an already parsed `serde_json::Value`, so
//! it does not parse JSON and knows nothing of the spec's schema.

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer, StrDeserializer};
use serde::de::{self, IntoDeserializer, Unexpected, Visitor};
use serde_json::{Number, Value};

use crate::error::shown;

/// What is wrong with one value of the spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A key the schema does not have; `known` are the keys it has there.
    UnknownKey {
        key: String,
        known: &'static [&'static str],
    },
    /// A string that is none of the values allowed there.
    UnknownValue {
        value: String,
        known: &'static [&'static str],
    },
    /// A value of the wrong JSON type, or a number out of range.
    Expected { expected: String, got: String },
    /// A required key is absent.
    Missing { key: &'static str },
    /// Anything else a type's own deserializer says.
    Other(String),
}

/// A [`Problem`] as serde's error type.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError(pub Problem);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Problem::UnknownKey { key, .. } => write!(f, "unknown key {}", shown(key)),
            Problem::UnknownValue { value, .. } => write!(f, "unknown value \"{}\"", shown(value)),
            Problem::Expected { expected, got } => write!(f, "expected {expected}, got {got}"),
            Problem::Missing { key } => write!(f, "missing key {key}"),
            Problem::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(Problem::Other(msg.to_string()))
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError(Problem::Expected {
            expected: in_json_words(&exp.to_string()),
            got: unexpected(&unexp),
        })
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError(Problem::UnknownKey {
            key: field.to_owned(),
            known: expected,
        })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError(Problem::UnknownValue {
            value: variant.to_owned(),
            known: expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        DeError(Problem::Missing { key: field })
    }
}

fn expected(what: impl Into<String>, got: &Value) -> DeError {
    DeError(Problem::Expected {
        expected: what.into(),
        got: describe(got),
    })
}

/// A JSON value as a message names it: `the string "512"`, `a list`.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {}", shown(&n.to_string())),
        Value::String(s) => format!("the string \"{}\"", shown(s)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// What a type's own visitor saw, in the same words as [`describe`].
fn unexpected(u: &Unexpected<'_>) -> String {
    match u {
        Unexpected::Bool(b) => b.to_string(),
        Unexpected::Unsigned(n) => format!("the number {n}"),
        Unexpected::Signed(n) => format!("the number {n}"),
        Unexpected::Float(n) => format!("the number {n}"),
        Unexpected::Char(c) => format!("the string \"{c}\""),
        Unexpected::Str(s) => format!("the string \"{}\"", shown(s)),
        Unexpected::Unit => "null".to_owned(),
        Unexpected::Seq => "a list".to_owned(),
        Unexpected::Map => "an object".to_owned(),
        other => other.to_string(),
    }
}

/// serde's names for what a visitor expects (`u32`, `struct SecretRef`, `a
/// sequence`), in JSON's words. The spec's own visitors already speak them.
fn in_json_words(exp: &str) -> String {
    let words = match exp {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" | "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a sequence" => "a list",
        "a map" => "an object",
        "a borrowed string" | "a character" | "path string" => "a string",
        s if s.starts_with("struct ") => "an object",
        s => return s.to_owned(),
    };
    words.to_owned()
}

/// Deserializes one JSON value of the spec.
#[derive(Debug, Clone, Copy)]
pub struct SpecDe<'de>(pub &'de Value);

impl<'de> IntoDeserializer<'de, DeError> for SpecDe<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> SpecDe<'de> {
    fn visit_object<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let Value::Object(map) = self.0 else {
            return Err(expected("an object", self.0));
        };
        let entries = map.iter().map(|(k, v)| (k.as_str(), SpecDe(v)));
        let mut access = MapDeserializer::new(entries);
        let out = visitor.visit_map(&mut access)?;
        access.end()?;
        Ok(out)
    }

    fn visit_list<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let Value::Array(items) = self.0 else {
            return Err(expected("a list", self.0));
        };
        let mut access = SeqDeserializer::new(items.iter().map(SpecDe));
        let out = visitor.visit_seq(&mut access)?;
        access.end()?;
        Ok(out)
    }

    /// A whole number within `T`'s range, handed over as i64 or u64.
    fn visit_integer<T, V>(self, visitor: V) -> Result<V::Value, DeError>
    where
        T: TryFrom<i64> + TryFrom<u64> + Bounds,
        V: Visitor<'de>,
    {
        let Value::Number(n) = self.0 else {
            return Err(expected("a number", self.0));
        };
        let out_of_range = || expected(format!("a number from {} to {}", T::MIN, T::MAX), self.0);
        if let Some(i) = n.as_i64() {
            T::try_from(i).map_err(|_| out_of_range())?;
            visitor.visit_i64(i)
        } else if let Some(u) = n.as_u64() {
            T::try_from(u).map_err(|_| out_of_range())?;
            visitor.visit_u64(u)
        } else {
            Err(expected("a whole number", self.0))
        }
    }
}

/// The range of an integer type, for "a number from 0 to 65535".
pub trait Bounds {
    const MIN: i128;
    const MAX: i128;
}

macro_rules! bounds {
    ($($t:ty),*) => {$(
        impl Bounds for $t {
            const MIN: i128 = <$t>::MIN as i128;
            const MAX: i128 = <$t>::MAX as i128;
        }
    )*};
}
bounds!(u8, u16, u32, u64, i8, i16, i32, i64);

macro_rules! integers {
    ($($method:ident: $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.visit_integer::<$t, V>(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for SpecDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(_) => self.visit_list(visitor),
            Value::Object(_) => self.visit_object(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            other => Err(expected("true or false", other)),
        }
    }

    integers!(
        deserialize_u8: u8, deserialize_u16: u16, deserialize_u32: u32, deserialize_u64: u64,
        deserialize_i8: i8, deserialize_i16: i16, deserialize_i32: i32, deserialize_i64: i64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Number(n) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            other => Err(expected("a number", other)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => visitor.visit_borrowed_str(s),
            other => Err(expected("a string", other)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            other => Err(expected("null", other)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_list(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_list(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_list(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_object(visitor)
    }

    /// Only an object makes a struct: a list (`[]`) is not "all defaults".
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.visit_object(visitor)
    }

    /// The spec's enums are plain strings (`"per-az"`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(StrDeserializer::<DeError>::new(s)),
            other => Err(expected(format!("one of {}", variants.join(", ")), other)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: &Number, visitor: V) -> Result<V::Value, DeError> {
    if let Some(u) = n.as_u64() {
        visitor.visit_u64(u)
    } else if let Some(i) = n.as_i64() {
        visitor.visit_i64(i)
    } else {
        visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Small {
        port: Option<u16>,
        name: Option<String>,
        on: Option<bool>,
        tags: BTreeMap<String, String>,
        list: Vec<i64>,
    }

    fn read<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, Problem> {
        T::deserialize(SpecDe(&v)).map_err(|e| e.0)
    }

    fn wrong(expected: &str, got: &str) -> Problem {
        Problem::Expected {
            expected: expected.into(),
            got: got.into(),
        }
    }

    #[test]
    fn objects_make_structs_and_lists_do_not() {
        let s: Small =
            read(json!({"port": 80, "name": "a", "on": true, "tags": {"k": "v"}, "list": [1, -2]}))
                .unwrap();
        assert_eq!((s.port, s.list), (Some(80), vec![1, -2]));
        assert_eq!(read::<Small>(json!({})).unwrap(), Small::default());
        assert_eq!(read::<Small>(json!([])), Err(wrong("an object", "a list")));
        assert_eq!(
            read::<Small>(json!("x")),
            Err(wrong("an object", "the string \"x\""))
        );
    }

    #[test]
    fn types_are_named_in_json_words() {
        let cases = [
            (
                json!({"port": "80"}),
                wrong("a number", "the string \"80\""),
            ),
            (
                json!({"port": 80.5}),
                wrong("a whole number", "the number 80.5"),
            ),
            (
                json!({"port": 70000}),
                wrong("a number from 0 to 65535", "the number 70000"),
            ),
            (
                json!({"port": -1}),
                wrong("a number from 0 to 65535", "the number -1"),
            ),
            (json!({"name": 5}), wrong("a string", "the number 5")),
            (
                json!({"on": "yes"}),
                wrong("true or false", "the string \"yes\""),
            ),
            (json!({"tags": []}), wrong("an object", "a list")),
            (json!({"list": {}}), wrong("a list", "an object")),
            (json!({"list": [null]}), wrong("a number", "null")),
        ];
        for (v, problem) in cases {
            assert_eq!(read::<Small>(v.clone()), Err(problem), "{v}");
        }
    }

    #[test]
    fn unknown_keys_come_with_the_known_ones() {
        let Err(Problem::UnknownKey { key, known }) = read::<Small>(json!({"prot": 1})) else {
            panic!("an unknown key")
        };
        assert_eq!(key, "prot");
        assert!(known.contains(&"port"));
    }

    #[test]
    fn long_values_are_capped_in_the_problem() {
        let long = "x".repeat(100_000);
        let Err(Problem::Expected { got, .. }) = read::<Small>(json!({"port": long})) else {
            panic!("a type error")
        };
        assert!(got.len() < 100, "{got}");
    }
}
