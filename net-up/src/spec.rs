//! net-up's part of `spec.network` that needs AWS: the AZ names. The section's
//! types, its checks and the subnet layout are `common::spec::network`'s, checked
//! with the whole spec before any call; the names are checked against the
//! region's AZs after the first (read-only) one.

use common::error::shown;
use common::{Error, Result};

pub use common::spec::network::{
    Azs, EndpointKind, NatMode, NetworkSpec, Shape, DEFAULT_AZS, DEFAULT_CIDR, ENDPOINTS, MAX_AZS,
};

/// Resolves the AZ names against the region's available AZs (first N, or the named ones).
pub fn az_names(shape: &Shape, region: &str, available: &[String]) -> Result<Vec<String>> {
    match &shape.azs {
        Azs::Count(n) => {
            if *n as usize > available.len() {
                return Err(Error::spec(format!(
                    "spec.network.azs: impossible AZ count {n}: {region} has {} available AZs",
                    available.len()
                )));
            }
            Ok(available[..*n as usize].to_vec())
        }
        Azs::Names(names) => {
            if let Some(name) = names.iter().find(|n| !available.contains(n)) {
                return Err(Error::spec(format!(
                    "spec.network.azs: AZ '{}' is not available in {region} (available: {})",
                    shown(name),
                    available.join(", ")
                )));
            }
            Ok(names.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(azs: Azs) -> Shape {
        NetworkSpec {
            azs: Some(azs),
            ..NetworkSpec::default()
        }
        .shape()
        .unwrap()
    }

    #[test]
    fn az_names_are_checked_against_the_region() {
        let avail: Vec<String> = ["us-east-1a", "us-east-1b"].map(String::from).to_vec();
        assert!(az_names(&shape(Azs::Count(3)), "us-east-1", &avail).is_err());
        let named = shape(Azs::Names(vec!["us-east-1b".into()]));
        assert_eq!(
            az_names(&named, "us-east-1", &avail).unwrap(),
            ["us-east-1b"]
        );
        let wrong = shape(Azs::Names(vec!["eu-west-1a".into()]));
        let e = az_names(&wrong, "us-east-1", &avail)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("spec.network.azs: AZ 'eu-west-1a'"), "{e}");
    }
}
