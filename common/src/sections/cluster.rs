//! `.cluster`, written by cluster-up: the ECS cluster, its task execution role,
//! the KMS key for logs and the default capacity provider strategy. svc-up reads
//! it for the cluster to run services in, the execution role of every task
//! definition, and the key to encrypt log groups with.

use serde::{Deserialize, Serialize};

/// `.cluster`, written by cluster-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// `{stack}--cluster--{env}`.
    pub name: String,
    pub arn: String,
    pub execution_role_name: String,
    pub execution_role_arn: String,
    /// The key log groups are encrypted with; `null` when `spec.cluster.log_encryption` is off.
    #[serde(default)]
    pub log_kms_key_arn: Option<String>,
    #[serde(default)]
    pub log_kms_key_id: Option<String>,
    pub container_insights: bool,
    /// `FARGATE`, `FARGATE_SPOT`.
    pub capacity_providers: Vec<String>,
    /// What services without a strategy of their own run on.
    pub default_strategy: Vec<StrategyItem>,
}

/// One capacity provider of a strategy: `base` tasks first, the rest by `weight`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyItem {
    pub provider: String,
    #[serde(default)]
    pub base: u32,
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_short_strategies() {
        let c = Cluster {
            name: "a-cluster-dev".into(),
            default_strategy: vec![StrategyItem {
                provider: "FARGATE".into(),
                base: 1,
                weight: 1,
            }],
            ..Cluster::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        assert!(v["log_kms_key_arn"].is_null());
        assert_eq!(serde_json::from_value::<Cluster>(v).unwrap(), c);
        let item: StrategyItem = serde_json::from_str(r#"{"provider":"FARGATE_SPOT"}"#).unwrap();
        assert_eq!((item.base, item.weight), (0, 1));
    }
}
