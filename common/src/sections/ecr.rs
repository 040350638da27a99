//! `.ecr`, written by ecr-up: one repository per service, for the layers that
//! push and pull images (svc-up reads `url` for its task definitions).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `.ecr`, written by ecr-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ecr {
    /// Service name (not the repository name) to its repository, so
    /// `jq .ecr.repositories.api.url` finds the api's images.
    #[serde(default)]
    pub repositories: BTreeMap<String, EcrRepository>,
}

/// One ECR repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EcrRepository {
    /// `{stack}-{service}-{env}`.
    pub name: String,
    pub arn: String,
    /// The repository URI AWS returns: `<registry>.dkr.ecr.<region>.amazonaws.com/<name>`.
    pub url: String,
}
