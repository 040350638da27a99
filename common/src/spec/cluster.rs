//! `spec.cluster` (cluster-up's input): its types and rules: capacity
//! providers, the default strategy (base on one provider at most, weights not
//! all zero, nothing negative), and the strategy of every env of
//! `strategy_by_env`, whichever env this run is for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_env_keys, one_of};
use crate::error::shown;
use crate::sections::StrategyItem;
use crate::{Error, Result};

/// The capacity providers of a Fargate cluster.
pub const PROVIDERS: &[&str] = &["FARGATE", "FARGATE_SPOT"];

/// ECS's limits on a strategy item.
const MAX_BASE: i64 = 100_000;
const MAX_WEIGHT: i64 = 1_000;

/// One strategy entry as the user writes it. Signed, so a negative number is
/// our clear error rather than a deserializer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyEntry {
    pub provider: String,
    #[serde(default)]
    pub base: i64,
    #[serde(default = "one")]
    pub weight: i64,
}

fn one() -> i64 {
    1
}

impl std::str::FromStr for StrategyEntry {
    type Err = String;

    /// `PROVIDER[:BASE[:WEIGHT]]`, e.g. `FARGATE:1:1` or `FARGATE_SPOT:0:4`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("'{}' is not PROVIDER:BASE:WEIGHT", shown(s));
        let mut parts = s.split(':');
        let provider = parts.next().unwrap_or_default().trim();
        if provider.is_empty() {
            return Err(bad());
        }
        let number = |p: Option<&str>, default: i64| -> std::result::Result<i64, String> {
            match p {
                None | Some("") => Ok(default),
                Some(n) => n
                    .trim()
                    .parse()
                    .map_err(|_| format!("{} ('{}' is not a number)", bad(), shown(n))),
            }
        };
        let base = number(parts.next(), 0)?;
        let weight = number(parts.next(), 1)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(StrategyEntry {
            provider: provider.to_owned(),
            base,
            weight,
        })
    }
}

/// `spec.cluster`. Unknown fields are an error: a typo must not build the wrong cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_insights: Option<bool>,
    /// Default `["FARGATE", "FARGATE_SPOT"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_providers: Option<Vec<String>>,
    /// Default `[{"provider": "FARGATE", "base": 0, "weight": 1}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Vec<StrategyEntry>>,
    /// A strategy per env, overriding `strategy` for that env (Spot in dev).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub strategy_by_env: BTreeMap<String, Vec<StrategyEntry>>,
    /// ECS Exec sessions logged (to the task's log configuration); default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_logging: Option<bool>,
    /// A KMS key for log encryption; default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_encryption: Option<bool>,
}

impl ClusterSpec {
    /// Every rule, for every env's strategy.
    pub fn check(&self) -> Result<()> {
        let providers = self.providers()?;
        check_strategy(
            "spec.cluster.strategy",
            &self.default_strategy(),
            &providers,
        )?;
        check_env_keys("spec.cluster.strategy_by_env", &self.strategy_by_env)?;
        for (env, s) in &self.strategy_by_env {
            let at = format!("spec.cluster.strategy_by_env.{}", shown(env));
            check_strategy(&at, s, &providers)?;
        }
        Ok(())
    }

    /// The capacity providers, checked, with the default.
    pub fn providers(&self) -> Result<Vec<String>> {
        let providers = match &self.capacity_providers {
            Some(p) => p.clone(),
            None => PROVIDERS.iter().map(|p| (*p).to_owned()).collect(),
        };
        for (i, p) in providers.iter().enumerate() {
            known("spec.cluster.capacity_providers", p)?;
            if providers[..i].contains(p) {
                return Err(Error::spec(format!(
                    "spec.cluster.capacity_providers lists {p} twice"
                )));
            }
        }
        Ok(providers)
    }

    /// The strategy `env` runs with, checked.
    pub fn strategy_for(&self, env: &str) -> Result<Vec<StrategyItem>> {
        let providers = self.providers()?;
        match self.strategy_by_env.get(env) {
            Some(s) => check_strategy(
                &format!("spec.cluster.strategy_by_env.{}", shown(env)),
                s,
                &providers,
            ),
            None => check_strategy(
                "spec.cluster.strategy",
                &self.default_strategy(),
                &providers,
            ),
        }
    }

    fn default_strategy(&self) -> Vec<StrategyEntry> {
        self.strategy.clone().unwrap_or_else(|| {
            vec![StrategyEntry {
                provider: "FARGATE".to_owned(),
                base: 0,
                weight: 1,
            }]
        })
    }
}

fn known(what: &str, provider: &str) -> Result<()> {
    if PROVIDERS.contains(&provider) {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "{what}: unknown capacity provider '{}'; {} (a Fargate cluster takes {})",
            shown(provider),
            one_of(provider, PROVIDERS),
            PROVIDERS.join(" and ")
        )))
    }
}

/// One strategy's rules; the items it resolves to.
fn check_strategy(
    what: &str,
    entries: &[StrategyEntry],
    providers: &[String],
) -> Result<Vec<StrategyItem>> {
    if entries.is_empty() {
        return Err(Error::spec(format!(
            "{what} is empty: name at least one provider with a weight, e.g. FARGATE:0:1"
        )));
    }
    let mut items: Vec<StrategyItem> = Vec::with_capacity(entries.len());
    for e in entries {
        items.push(check_entry(what, e, providers, &items)?);
    }
    let with_base: Vec<&str> = items
        .iter()
        .filter(|i| i.base > 0)
        .map(|i| i.provider.as_str())
        .collect();
    if with_base.len() > 1 {
        return Err(Error::spec(format!(
            "{what} sets a base on {}: only one provider of a strategy may have a base",
            with_base.join(" and ")
        )));
    }
    if items.iter().all(|i| i.weight == 0) {
        return Err(Error::spec(format!(
            "{what}: all weights are zero: at least one provider needs a weight above 0"
        )));
    }
    Ok(items)
}

fn check_entry(
    what: &str,
    e: &StrategyEntry,
    providers: &[String],
    before: &[StrategyItem],
) -> Result<StrategyItem> {
    known(what, &e.provider)?;
    if !providers.contains(&e.provider) {
        return Err(Error::spec(format!(
            "{what} uses {} but spec.cluster.capacity_providers does not list it",
            e.provider
        )));
    }
    if before.iter().any(|i| i.provider == e.provider) {
        return Err(Error::spec(format!("{what} lists {} twice", e.provider)));
    }
    if !(0..=MAX_BASE).contains(&e.base) {
        return Err(Error::spec(format!(
            "{what}: base {} of {} is out of range (0 to {MAX_BASE})",
            e.base, e.provider
        )));
    }
    if !(0..=MAX_WEIGHT).contains(&e.weight) {
        return Err(Error::spec(format!(
            "{what}: weight {} of {} is out of range (0 to {MAX_WEIGHT})",
            e.weight, e.provider
        )));
    }
    Ok(StrategyItem {
        provider: e.provider.clone(),
        base: e.base as u32,
        weight: e.weight as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> ClusterSpec {
        super::super::read("spec.cluster", &serde_json::from_str(json).unwrap()).unwrap()
    }

    fn err(json: &str) -> String {
        spec(json).check().unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let s = ClusterSpec::default();
        assert!(s.check().is_ok());
        assert_eq!(s.providers().unwrap(), ["FARGATE", "FARGATE_SPOT"]);
        assert_eq!(
            s.strategy_for("dev").unwrap(),
            [StrategyItem {
                provider: "FARGATE".into(),
                base: 0,
                weight: 1
            }]
        );
    }

    #[test]
    fn seed_001_split_and_per_env_spot() {
        let s = spec(
            r#"{"strategy":[{"provider":"FARGATE","base":1,"weight":1},{"provider":"FARGATE_SPOT","weight":4}],
                "strategy_by_env":{"dev":[{"provider":"FARGATE_SPOT"}]}}"#,
        );
        assert_eq!(s.strategy_for("prod").unwrap().len(), 2);
        assert_eq!(s.strategy_for("prod").unwrap()[0].base, 1);
        let dev = s.strategy_for("dev").unwrap();
        assert_eq!(dev.len(), 1);
        assert_eq!(dev[0].provider, "FARGATE_SPOT");
    }

    #[test]
    fn bad_strategies() {
        assert!(err(r#"{"capacity_providers":["FARGATE_TURBO"]}"#).contains("FARGATE_TURBO"));
        assert!(err(r#"{"strategy":[{"provider":"FARGATE_TURBO"}]}"#).contains("FARGATE_TURBO"));
        assert!(err(
            r#"{"strategy":[{"provider":"FARGATE","base":1},{"provider":"FARGATE_SPOT","base":2}]}"#
        )
        .contains("only one provider"));
        assert!(err(r#"{"strategy":[{"provider":"FARGATE","weight":-1}]}"#).contains("weight -1"));
        assert!(err(r#"{"strategy":[{"provider":"FARGATE","base":-1}]}"#).contains("base -1"));
        assert!(err(
            r#"{"strategy":[{"provider":"FARGATE","weight":0},{"provider":"FARGATE_SPOT","weight":0}]}"#
        )
        .contains("all weights"));
        assert!(err(
            r#"{"capacity_providers":["FARGATE"],"strategy":[{"provider":"FARGATE_SPOT"}]}"#
        )
        .contains("does not list"));
        assert!(err(r#"{"strategy":[]}"#).contains("empty"));
    }

    #[test]
    fn every_env_is_checked_whatever_env_runs() {
        let e = err(r#"{"strategy_by_env":{"prod":[{"provider":"EC2"}]}}"#);
        assert!(e.starts_with("spec.cluster.strategy_by_env.prod: "), "{e}");
        assert!(e.contains("'EC2'"), "{e}");
        let e = err(r#"{"strategy_by_env":{"Prod":[{"provider":"FARGATE"}]}}"#);
        assert!(
            e.starts_with("spec.cluster.strategy_by_env.Prod: invalid env"),
            "{e}"
        );
        let e = err(r#"{"strategy":[{"provider":"FARGATE_SPOTT"}]}"#);
        assert!(e.contains("did you mean FARGATE_SPOT?"), "{e}");
    }

    #[test]
    fn strategy_flags_parse() {
        let e: StrategyEntry = "FARGATE_SPOT:0:4".parse().unwrap();
        assert_eq!(
            (e.provider.as_str(), e.base, e.weight),
            ("FARGATE_SPOT", 0, 4)
        );
        let e: StrategyEntry = "FARGATE".parse().unwrap();
        assert_eq!((e.base, e.weight), (0, 1));
        assert!("FARGATE:x:1".parse::<StrategyEntry>().is_err());
        assert!("FARGATE:1:1:1".parse::<StrategyEntry>().is_err());
        assert!(":1".parse::<StrategyEntry>().is_err());
    }
}
