//! secrets-up's desired state: each secret of `spec.secrets` with its
//! defaults applied. The section's types and rules are
//! `common::spec::secrets`'s, checked with the whole spec before any call;
//! values are not part of it (see `values`).

use common::{Context, Result};

pub use common::spec::secrets::{SecretSpec, SecretsSpec};

/// One secret as it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub short: String,
    /// The spec's description, or ours.
    pub description: String,
    /// A customer-managed key; `None` is the AWS managed key `aws/secretsmanager`.
    pub kms_key: Option<String>,
    pub recovery_window_days: u8,
    pub json_keys: Vec<String>,
}

/// Every secret of the spec, checked, in name order.
pub fn resolve(ctx: &Context, spec: &SecretsSpec) -> Result<Vec<Wanted>> {
    spec.iter()
        .map(|(short, s)| {
            common::spec::secrets::check_one(short, s)?;
            Ok(Wanted {
                short: short.clone(),
                description: s
                    .description
                    .clone()
                    .unwrap_or_else(|| default_description(ctx, short)),
                kms_key: s.kms_key.clone(),
                // Checked: 7 to 30.
                recovery_window_days: s.recovery_window_days() as u8,
                json_keys: s.json_keys.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// The description of a secret whose spec gives none.
pub fn default_description(ctx: &Context, short: &str) -> String {
    format!(
        "{short} of {}/{} (fargate-pipes secrets-up)",
        ctx.stack, ctx.env
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> SecretsSpec {
        common::spec::read("spec.secrets", &json).unwrap()
    }

    #[test]
    fn defaults_apply_and_the_spec_wins() {
        let ctx = Context::offline("secrets-up", "shop", "dev", "us-east-1");
        let w = resolve(
            &ctx,
            &spec(serde_json::json!({
                "db": {},
                "api": {"description": "keys", "kms_key": "alias/k", "recovery_window_days": 12,
                        "json_keys": ["token"]}
            })),
        )
        .unwrap();
        assert_eq!(
            w,
            [
                Wanted {
                    short: "api".into(),
                    description: "keys".into(),
                    kms_key: Some("alias/k".into()),
                    recovery_window_days: 12,
                    json_keys: vec!["token".into()],
                },
                Wanted {
                    short: "db".into(),
                    description: "db of shop/dev (fargate-pipes secrets-up)".into(),
                    kms_key: None,
                    recovery_window_days: 7,
                    json_keys: vec![],
                },
            ]
        );
        let bad = spec(serde_json::json!({"db": {"recovery_window_days": 3}}));
        assert_eq!(resolve(&ctx, &bad).unwrap_err().exit_code(), 5);
    }
}
