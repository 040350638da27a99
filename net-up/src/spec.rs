//! `spec.network`, the flags that override it, and the plan derived from both.
//!
//! Everything here is checked before the first AWS call that changes anything:
//! CIDRs, AZ count against the subnet layout, endpoint names. The AZ names
//! themselves are checked against the region (a read-only call) in `Plan::new`.

use clap::ValueEnum;
use common::cidr::Ipv4Net;
use serde::{Deserialize, Serialize};

use common::{cidr, Error, Result};

/// How many NAT gateways: none (private subnets reach no internet), one shared, or one per AZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    None,
    #[default]
    Single,
    PerAz,
}

impl NatMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NatMode::None => "none",
            NatMode::Single => "single",
            NatMode::PerAz => "per-az",
        }
    }
}

/// AZs as a count (the region's first N) or as names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Azs {
    Count(u32),
    Names(Vec<String>),
}

impl std::str::FromStr for Azs {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Ok(n) = s.parse::<u32>() {
            return Ok(Azs::Count(n));
        }
        let names: Vec<String> = s
            .split(',')
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(format!("'{s}' is neither a count nor a list of AZ names"));
        }
        Ok(Azs::Names(names))
    }
}

/// The VPC endpoints net-up knows how to make.
pub const ENDPOINTS: &[(&str, EndpointKind)] = &[
    ("ecr.api", EndpointKind::Interface),
    ("ecr.dkr", EndpointKind::Interface),
    ("logs", EndpointKind::Interface),
    ("secretsmanager", EndpointKind::Interface),
    ("s3", EndpointKind::Gateway),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    Interface,
    Gateway,
}

pub const DEFAULT_CIDR: &str = "10.0.0.0/16";
pub const DEFAULT_AZS: u32 = 2;
/// AWS regions have at most six AZs.
pub const MAX_AZS: u32 = 6;

/// `spec.network`. Unknown fields are an error: a typo must not build the wrong network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azs: Option<Azs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat: Option<NatMode>,
    /// Prefix length of every subnet; default: the VPC's plus 4 (a /16 gives /20s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_prefix: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_subnet_cidrs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_subnet_cidrs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<String>>,
}

/// What the spec resolves to, before AZ names are known.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub vpc: Ipv4Net,
    pub azs: Azs,
    pub nat: NatMode,
    pub public: Vec<Ipv4Net>,
    pub private: Vec<Ipv4Net>,
    pub endpoints: Vec<String>,
}

impl NetworkSpec {
    /// Checks the spec without AWS: CIDRs, counts, layout, endpoints.
    pub fn shape(&self) -> Result<Shape> {
        let vpc = cidr::parse_vpc(self.cidr.as_deref().unwrap_or(DEFAULT_CIDR))?;
        let azs = self.azs.clone().unwrap_or(Azs::Count(DEFAULT_AZS));
        let n = match &azs {
            Azs::Count(n) => *n,
            Azs::Names(names) => {
                let mut sorted = names.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != names.len() {
                    return Err(Error::spec("spec.network.azs: an AZ is listed twice"));
                }
                names.len() as u32
            }
        };
        if n == 0 || n > MAX_AZS {
            return Err(Error::spec(format!(
                "impossible AZ count {n}: a network spans 1 to {MAX_AZS} AZs"
            )));
        }
        let public = self.subnets("public", vpc, n, 0, self.public_subnet_cidrs.as_deref())?;
        let private = self.subnets("private", vpc, n, 1, self.private_subnet_cidrs.as_deref())?;
        let all: Vec<Ipv4Net> = public.iter().chain(&private).copied().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                if cidr::overlaps(*a, *b) {
                    return Err(Error::spec(format!("subnets {a} and {b} overlap")));
                }
            }
        }
        let mut endpoints = self.endpoints.clone().unwrap_or_default();
        endpoints.sort();
        endpoints.dedup();
        for e in &endpoints {
            if !ENDPOINTS.iter().any(|(name, _)| name == e) {
                let known: Vec<&str> = ENDPOINTS.iter().map(|(n, _)| *n).collect();
                return Err(Error::spec(format!(
                    "unknown VPC endpoint '{e}': known are {}",
                    known.join(", ")
                )));
            }
        }
        Ok(Shape {
            vpc,
            azs,
            nat: self.nat.unwrap_or_default(),
            public,
            private,
            endpoints,
        })
    }

    /// Subnets of one tier: given, or carved from the VPC. Public subnets take the
    /// first slots, private ones the second half, so adding an AZ later moves nothing.
    fn subnets(
        &self,
        tier: &str,
        vpc: Ipv4Net,
        n: u32,
        half: u32,
        given: Option<&[String]>,
    ) -> Result<Vec<Ipv4Net>> {
        if let Some(given) = given {
            if given.len() != n as usize {
                return Err(Error::spec(format!(
                    "spec.network.{tier}_subnet_cidrs has {} CIDRs for {n} AZs",
                    given.len()
                )));
            }
            return given
                .iter()
                .map(|s| {
                    let net = cidr::parse(&format!("a {tier} subnet"), s)?;
                    if !vpc.contains(&net) {
                        return Err(Error::spec(format!(
                            "{tier} subnet {net} is outside the VPC {vpc}"
                        )));
                    }
                    if net.prefix_len() > 28 {
                        return Err(Error::spec(format!(
                            "{tier} subnet {net} is smaller than AWS's minimum /28"
                        )));
                    }
                    Ok(net)
                })
                .collect();
        }
        let prefix = self.subnet_prefix.unwrap_or((vpc.prefix_len() + 4).min(28));
        if prefix < vpc.prefix_len() || prefix > 28 {
            return Err(Error::spec(format!(
                "subnet prefix /{prefix} does not fit the VPC {vpc} (between /{} and /28)",
                vpc.prefix_len()
            )));
        }
        let slots = cidr::subnet_count(vpc, prefix);
        let per_tier = slots / 2;
        if u64::from(n) > per_tier {
            return Err(Error::spec(format!(
                "impossible AZ count {n}: the VPC {vpc} holds {slots} /{prefix} subnets, room for {per_tier} AZs"
            )));
        }
        Ok((0..n)
            .map(|i| {
                let index = half * per_tier as u32 + i;
                cidr::nth_subnet(vpc, prefix, index).expect("index checked against the slot count")
            })
            .collect())
    }
}

impl Shape {
    /// Resolves the AZ names against the region's available AZs (first N, or the named ones).
    pub fn az_names(&self, region: &str, available: &[String]) -> Result<Vec<String>> {
        match &self.azs {
            Azs::Count(n) => {
                if *n as usize > available.len() {
                    return Err(Error::spec(format!(
                        "impossible AZ count {n}: {region} has {} available AZs",
                        available.len()
                    )));
                }
                Ok(available[..*n as usize].to_vec())
            }
            Azs::Names(names) => {
                for name in names {
                    if !available.contains(name) {
                        return Err(Error::spec(format!(
                            "AZ '{name}' is not available in {region} (available: {})",
                            available.join(", ")
                        )));
                    }
                }
                Ok(names.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> NetworkSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn default_layout_is_stable_when_azs_are_added() {
        let two = spec(r#"{"azs":2}"#).shape().unwrap();
        let three = spec(r#"{"azs":3}"#).shape().unwrap();
        assert_eq!(two.public[0].to_string(), "10.0.0.0/20");
        assert_eq!(two.private[0].to_string(), "10.0.128.0/20");
        assert_eq!(three.public[..2], two.public[..]);
        assert_eq!(three.private[..2], two.private[..]);
    }

    #[test]
    fn explicit_cidrs_are_checked() {
        let ok = spec(
            r#"{"azs":2,"public_subnet_cidrs":["10.0.1.0/24","10.0.2.0/24"],"private_subnet_cidrs":["10.0.11.0/24","10.0.12.0/24"]}"#,
        );
        assert!(ok.shape().is_ok());
        let outside = spec(
            r#"{"azs":1,"public_subnet_cidrs":["10.1.1.0/24"],"private_subnet_cidrs":["10.0.11.0/24"]}"#,
        );
        assert!(outside.shape().unwrap_err().to_string().contains("outside"));
        let overlap = spec(
            r#"{"azs":1,"public_subnet_cidrs":["10.0.0.0/20"],"private_subnet_cidrs":["10.0.1.0/24"]}"#,
        );
        assert!(overlap.shape().unwrap_err().to_string().contains("overlap"));
        let count = spec(r#"{"azs":2,"public_subnet_cidrs":["10.0.1.0/24"]}"#);
        assert!(count.shape().is_err());
    }

    #[test]
    fn impossible_counts_and_unknown_endpoints() {
        assert!(spec(r#"{"azs":0}"#).shape().is_err());
        assert!(spec(r#"{"azs":7}"#).shape().is_err());
        assert!(spec(r#"{"cidr":"10.0.0.0/28","azs":2}"#).shape().is_err());
        assert!(spec(r#"{"endpoints":["ecr.api","dynamodb"]}"#)
            .shape()
            .is_err());
        assert!(serde_json::from_str::<NetworkSpec>(r#"{"nat_gateways":"single"}"#).is_err());
    }

    #[test]
    fn az_names_are_checked_against_the_region() {
        let avail: Vec<String> = ["us-east-1a", "us-east-1b"].map(String::from).to_vec();
        let shape = spec(r#"{"azs":3}"#).shape().unwrap();
        assert!(shape.az_names("us-east-1", &avail).is_err());
        let named = spec(r#"{"azs":["us-east-1b"]}"#).shape().unwrap();
        assert_eq!(named.az_names("us-east-1", &avail).unwrap(), ["us-east-1b"]);
        let wrong = spec(r#"{"azs":["eu-west-1a"]}"#).shape().unwrap();
        assert!(wrong.az_names("us-east-1", &avail).is_err());
    }
}
