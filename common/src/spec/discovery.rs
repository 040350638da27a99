//! `spec.discovery` and a service's `discovery` (svc-up's input): the Cloud Map
//! namespace, and whether and how a service is registered in it.

use std::fmt;

use serde::de::{self, value::MapAccessDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::shown;
use crate::{Error, Result};

/// A discovered service's DNS TTL when the spec gives none, in seconds.
pub const DEFAULT_TTL: i64 = 10;

/// `spec.discovery`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverySpec {
    /// The private DNS namespace [default `{env}.{stack}.local`].
    #[serde(default)]
    pub namespace: Option<String>,
}

impl DiscoverySpec {
    /// A namespace, when given, is a DNS name.
    pub fn check(&self) -> Result<()> {
        match &self.namespace {
            Some(ns) => check_namespace(ns),
            None => Ok(()),
        }
    }

    /// The namespace discovered services of this stack and env register in.
    pub fn namespace(&self, stack: &str, env: &str) -> String {
        self.namespace
            .clone()
            .unwrap_or_else(|| format!("{env}.{stack}.local"))
    }
}

/// Dot-separated labels of letters, digits and inner hyphens, as Route 53 takes them.
pub fn check_namespace(ns: &str) -> Result<()> {
    let ok = !ns.is_empty()
        && ns.len() <= 253
        && ns.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "spec.discovery.namespace: '{}' is not a DNS name (e.g. payments-dev.local)",
            shown(ns)
        )))
    }
}

/// `spec.services.<name>.discovery`: `true`, `false`, or `{"ttl": N}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DiscoverySetting {
    On(bool),
    With(DiscoveryOptions),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryOptions {
    #[serde(default)]
    pub ttl: Option<i64>,
}

impl DiscoverySetting {
    /// The DNS TTL when the service is discovered, checked; `at` is the field's path.
    pub fn ttl(&self, at: &str) -> Result<Option<i64>> {
        match self {
            DiscoverySetting::On(false) => Ok(None),
            DiscoverySetting::On(true) => Ok(Some(DEFAULT_TTL)),
            DiscoverySetting::With(o) => {
                let ttl = o.ttl.unwrap_or(DEFAULT_TTL);
                if !(0..=i64::from(i32::MAX)).contains(&ttl) {
                    return Err(Error::spec(format!(
                        "{at}.ttl: {ttl} is not a TTL (0 to {} seconds)",
                        i32::MAX
                    )));
                }
                Ok(Some(ttl))
            }
        }
    }
}

/// Read by hand rather than untagged, so a typo inside the object is named with its path.
impl<'de> Deserialize<'de> for DiscoverySetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SettingVisitor)
    }
}

struct SettingVisitor;

impl<'de> Visitor<'de> for SettingVisitor {
    type Value = DiscoverySetting;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true, false or {\"ttl\": SECONDS}")
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> std::result::Result<Self::Value, E> {
        Ok(DiscoverySetting::On(on))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
        DiscoveryOptions::deserialize(MapAccessDeserializer::new(map)).map(DiscoverySetting::With)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_read_and_resolve() {
        let read = |v| super::super::read::<DiscoverySetting>("d", &v);
        assert_eq!(read(json!(true)).unwrap().ttl("d").unwrap(), Some(10));
        assert_eq!(read(json!(false)).unwrap().ttl("d").unwrap(), None);
        assert_eq!(
            read(json!({"ttl": 30})).unwrap().ttl("d").unwrap(),
            Some(30)
        );
        assert_eq!(
            read(json!({"tll": 30})).unwrap_err().to_string(),
            "d.tll: unknown key; did you mean ttl?"
        );
        assert_eq!(
            read(json!("yes")).unwrap_err().to_string(),
            "d: expected true, false or {\"ttl\": SECONDS}, got the string \"yes\""
        );
        assert!(read(json!({"ttl": -1})).unwrap().ttl("d").is_err());
    }

    #[test]
    fn namespaces_are_dns_names() {
        assert!(check_namespace("payment.local").is_ok());
        for bad in ["", "a..b", "-a.local", "a_b.local", &"a".repeat(64)] {
            let e = check_namespace(bad).unwrap_err().to_string();
            assert!(e.starts_with("spec.discovery.namespace: "), "{e}");
        }
        let d = DiscoverySpec::default();
        assert_eq!(d.namespace("pay", "dev"), "dev.pay.local");
    }
}
