//! cluster-up's desired state for one env. The types and rules of `spec.cluster` (every
//! env's strategy included) are `common::spec::cluster`'s, checked with the
//! whole spec before any call.

use common::sections::StrategyItem;
use common::Result;

pub use common::spec::cluster::{ClusterSpec, StrategyEntry, PROVIDERS};

/// What the spec resolves to for one env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub container_insights: bool,
    pub capacity_providers: Vec<String>,
    pub strategy: Vec<StrategyItem>,
    pub exec_logging: bool,
    pub log_encryption: bool,
}

/// The spec resolved for `env`: its strategy, and the defaults applied.
pub fn desired(spec: &ClusterSpec, env: &str) -> Result<Desired> {
    Ok(Desired {
        container_insights: spec.container_insights.unwrap_or(true),
        capacity_providers: spec.providers()?,
        strategy: spec.strategy_for(env)?,
        exec_logging: spec.exec_logging.unwrap_or(true),
        log_encryption: spec.log_encryption.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let p = desired(&ClusterSpec::default(), "dev").unwrap();
        assert!(p.container_insights && p.exec_logging && p.log_encryption);
        assert_eq!(p.capacity_providers, ["FARGATE", "FARGATE_SPOT"]);
        assert_eq!(
            p.strategy,
            [StrategyItem {
                provider: "FARGATE".into(),
                base: 0,
                weight: 1
            }]
        );
    }

    #[test]
    fn the_env_picks_its_strategy() {
        let s: ClusterSpec = common::spec::read(
            "spec.cluster",
            &serde_json::json!({"container_insights": false,
                "strategy_by_env": {"dev": [{"provider": "FARGATE_SPOT"}]}}),
        )
        .unwrap();
        assert_eq!(
            desired(&s, "dev").unwrap().strategy[0].provider,
            "FARGATE_SPOT"
        );
        assert_eq!(desired(&s, "prod").unwrap().strategy[0].provider, "FARGATE");
        assert!(!desired(&s, "prod").unwrap().container_insights);
    }
}
