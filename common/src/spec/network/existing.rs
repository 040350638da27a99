//! `spec.network.existing`: a VPC the stack runs in but does not own
//! ("bring your own VPC"). net-up adopts it as it is: it reads the VPC, its
//! subnets, route tables and endpoints, checks that tasks can get out, and
//! writes `.network`; it never creates, tags or changes any of them.
//!
//! The rule for the other `spec.network` fields: those that only shape a VPC
//! net-up creates (`cidr`, `nat`, `subnet_prefix`, the subnet CIDRs, flow
//! logs) are refused next to `existing`, so a spec never reads as if it
//! changed a VPC it cannot change. `azs` stays: it is the number (or the
//! names) of AZs the private subnets must span.

use serde::{Deserialize, Serialize};

use super::{az_count, Azs, NetworkSpec, DEFAULT_AZS};
use crate::error::shown;
use crate::{Error, Result};

/// `spec.network.existing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Existing {
    pub vpc_id: String,
    /// Where an internet-facing load balancer goes; may be empty without one.
    #[serde(default)]
    pub public_subnets: Vec<String>,
    /// Where the tasks (and an internal load balancer) run.
    pub private_subnets: Vec<String>,
}

/// The fields that shape only a VPC net-up creates, by their JSON name.
fn creating_fields(n: &NetworkSpec) -> Vec<&'static str> {
    let stated = [
        ("cidr", n.cidr.is_some()),
        ("nat", n.nat.is_some()),
        ("subnet_prefix", n.subnet_prefix.is_some()),
        ("public_subnet_cidrs", n.public_subnet_cidrs.is_some()),
        ("private_subnet_cidrs", n.private_subnet_cidrs.is_some()),
        ("flow_logs", n.flow_logs.is_some()),
        (
            "flow_logs_retention_days",
            n.flow_logs_retention_days.is_some(),
        ),
        // Endpoints in an adopted VPC are the VPC owner's to make: net-up
        // checks that the ones the tasks need are there.
        (
            "endpoints",
            n.endpoints.as_ref().is_some_and(|e| !e.is_empty()),
        ),
    ];
    stated
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f)
        .collect()
}

/// Checks `existing` without AWS: no field that would shape a created VPC,
/// ids shaped like AWS's, enough private subnets for the AZs, none twice.
pub fn check(n: &NetworkSpec, e: &Existing) -> Result<()> {
    if let Some(field) = creating_fields(n).first() {
        return Err(Error::spec(format!(
            "spec.network.{field}: applies only to a VPC net-up creates, not to spec.network.existing \
             (an adopted VPC is used as it is); remove {field}"
        )));
    }
    if !is_id(&e.vpc_id, "vpc-") {
        return Err(Error::spec(format!(
            "spec.network.existing.vpc_id: '{}' is not a VPC id (vpc- and 8 or 17 hex digits)",
            shown(&e.vpc_id)
        )));
    }
    let tiers = [
        ("public_subnets", &e.public_subnets),
        ("private_subnets", &e.private_subnets),
    ];
    let mut seen: Vec<&str> = Vec::new();
    for (tier, ids) in tiers {
        for (i, id) in ids.iter().enumerate() {
            let at = format!("spec.network.existing.{tier}[{i}]");
            if !is_id(id, "subnet-") {
                return Err(Error::spec(format!(
                    "{at}: '{}' is not a subnet id (subnet- and 8 or 17 hex digits)",
                    shown(id)
                )));
            }
            if seen.contains(&id.as_str()) {
                return Err(Error::spec(format!(
                    "{at}: subnet {id} is listed twice; a subnet is public or private, once"
                )));
            }
            seen.push(id);
        }
    }
    let azs = required_azs(n)?;
    if e.private_subnets.len() < azs as usize {
        return Err(Error::spec(format!(
            "spec.network.existing.private_subnets: {} subnets cannot span the {azs} AZs spec.network.azs asks for; \
             list one private subnet per AZ at least",
            e.private_subnets.len()
        )));
    }
    Ok(())
}

/// How many distinct AZs the private subnets must span.
pub fn required_azs(n: &NetworkSpec) -> Result<u32> {
    az_count(n.azs.as_ref().unwrap_or(&Azs::Count(DEFAULT_AZS)))
}

/// `vpc-`/`subnet-` and 8 or 17 lowercase hex digits, as AWS makes them.
fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> NetworkSpec {
        crate::spec::read("spec.network", &json).unwrap()
    }

    fn err(json: serde_json::Value) -> String {
        spec(json).shape().unwrap_err().to_string()
    }

    const VPC: &str = "vpc-0123456789abcdef0";
    const A: &str = "subnet-0123456789abcdef1";
    const B: &str = "subnet-0123456789abcdef2";
    const C: &str = "subnet-aaaaaaaa";

    #[test]
    fn a_well_formed_existing_vpc_is_accepted() {
        let n = spec(serde_json::json!({"azs": 2,
            "existing": {"vpc_id": VPC, "public_subnets": [C], "private_subnets": [A, B]}}));
        assert!(n.shape().is_ok());
        assert_eq!(n.existing.unwrap().private_subnets, [A, B]);
    }

    #[test]
    fn ids_must_look_like_aws_ids() {
        let e =
            err(serde_json::json!({"existing": {"vpc_id": "vpc-xyz", "private_subnets": [A, B]}}));
        assert_eq!(
            e,
            "spec.network.existing.vpc_id: 'vpc-xyz' is not a VPC id (vpc- and 8 or 17 hex digits)"
        );
        let e = err(
            serde_json::json!({"existing": {"vpc_id": VPC, "private_subnets": [A, "sg-01234567"]}}),
        );
        assert!(
            e.starts_with(
                "spec.network.existing.private_subnets[1]: 'sg-01234567' is not a subnet id"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_subnet_twice_or_too_few_for_the_azs_is_refused() {
        let e = err(serde_json::json!({"existing": {"vpc_id": VPC,
            "public_subnets": [A], "private_subnets": [A, B]}}));
        assert!(
            e.starts_with("spec.network.existing.private_subnets[0]: subnet ")
                && e.contains("twice"),
            "{e}"
        );
        let e = err(
            serde_json::json!({"azs": 3, "existing": {"vpc_id": VPC, "private_subnets": [A, B]}}),
        );
        assert!(
            e.starts_with("spec.network.existing.private_subnets: 2 subnets cannot span the 3 AZs"),
            "{e}"
        );
    }

    #[test]
    fn fields_of_a_created_vpc_are_refused_beside_existing() {
        for (field, value) in [
            ("cidr", serde_json::json!("10.1.0.0/16")),
            ("nat", serde_json::json!("none")),
            ("flow_logs", serde_json::json!(false)),
            ("endpoints", serde_json::json!(["s3"])),
        ] {
            let mut json =
                serde_json::json!({"existing": {"vpc_id": VPC, "private_subnets": [A, B]}});
            json[field] = value;
            let e = err(json);
            assert!(
                e.starts_with(&format!(
                    "spec.network.{field}: applies only to a VPC net-up creates"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let e = crate::spec::read::<NetworkSpec>(
            "spec.network",
            &serde_json::json!({"existing": {"vpc": VPC, "private_subnets": [A]}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("spec.network.existing"), "{e}");
        assert!(e.contains("vpc"), "{e}");
    }
}
