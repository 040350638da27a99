//! A resource's tags as a plan compares them: the tags it should carry (ours
//! and the user's, `Context::tags`) against the tags AWS returned.
//!
//! Only missing and changed tags are put back. Tags a resource carries beyond
//! the wanted ones are left alone: nothing records which of them an earlier
//! run set, and others (cost allocation, an organisation's tag policies, AWS's
//! own `aws:` tags) are not ours to remove.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Tags by key.
pub type Tags = BTreeMap<String, String>;

/// Tags by key, from (key, value) pairs.
pub fn collect<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tags {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The wanted tags that `have` lacks or carries with another value.
pub fn missing(want: &[(String, String)], have: &Tags) -> Tags {
    want.iter()
        .filter(|(k, v)| have.get(k) != Some(v))
        .cloned()
        .collect()
}

/// A plan's `tags` field for putting `missing` on a resource that has `have`:
/// `from` holds the old values of exactly those keys (`null` where absent).
pub fn field(missing: &Tags, have: &Tags) -> (Value, Value) {
    let from: Map<String, Value> = missing
        .keys()
        .map(|k| {
            let old = have
                .get(k)
                .map_or(Value::Null, |v| Value::String(v.clone()));
            (k.clone(), old)
        })
        .collect();
    let to: Map<String, Value> = missing
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    (Value::Object(from), Value::Object(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_missing_and_changed_tags_are_put_back() {
        let want = pairs(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let have = collect([("a", "1"), ("b", "x"), ("extra", "kept")]);
        let m = missing(&want, &have);
        assert_eq!(m, collect([("b", "2"), ("c", "3")]));
        let (from, to) = field(&m, &have);
        assert_eq!(from, serde_json::json!({"b": "x", "c": null}));
        assert_eq!(to, serde_json::json!({"b": "2", "c": "3"}));
        assert!(missing(&want, &collect([("a", "1"), ("b", "2"), ("c", "3")])).is_empty());
    }
}
