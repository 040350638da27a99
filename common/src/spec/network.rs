//! `spec.network` (net-up's input): its types, and the subnet layout it resolves
//! to, which is also how it is checked: CIDRs, AZ count against the layout,
//! overlaps, endpoint names. The AZ names themselves need the region's list, so
//! net-up checks them (`az_names`) after its first read-only call.

use std::fmt;

use clap::ValueEnum;
use serde::de::{self, value::SeqAccessDeserializer, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::{one_of, within};
use crate::cidr::{self, Ipv4Net};
use crate::error::shown;
use crate::{Error, Result};

pub mod existing;
pub use existing::Existing;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
            return Err(format!(
                "'{}' is neither a count nor a list of AZ names",
                shown(s)
            ));
        }
        Ok(Azs::Names(names))
    }
}

/// Read by hand rather than as an untagged enum, whose only error is "data did
/// not match any variant": a wrong type is named, and a list keeps its path.
impl<'de> Deserialize<'de> for Azs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(AzsVisitor)
    }
}

struct AzsVisitor;

impl<'de> Visitor<'de> for AzsVisitor {
    type Value = Azs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of AZs or a list of AZ names")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Azs, E> {
        // Beyond u32 is as impossible as 7, and `shape` says so.
        Ok(Azs::Count(u32::try_from(n).unwrap_or(u32::MAX)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<Azs, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(n), &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Azs, A::Error> {
        Vec::<String>::deserialize(SeqAccessDeserializer::new(seq)).map(Azs::Names)
    }
}

/// The VPC endpoints net-up knows how to make.
pub const ENDPOINTS: &[(&str, EndpointKind)] = &[
    ("ecr.api", EndpointKind::Interface),
    ("ecr.dkr", EndpointKind::Interface),
    ("logs", EndpointKind::Interface),
    ("secretsmanager", EndpointKind::Interface),
    // ECS Exec's session channel (the SSM agent in the task speaks to it).
    ("ssmmessages", EndpointKind::Interface),
    ("s3", EndpointKind::Gateway),
];

/// What a task in a private subnet needs to reach when there is no NAT gateway:
/// ECR's API and registry to pull, S3 for the image layers, CloudWatch Logs for
/// its log driver.
pub const EGRESS_FREE_BASE: &[&str] = &["ecr.api", "ecr.dkr", "logs", "s3"];

/// How long flow log records are kept by default: a year, the least AWS's
/// Foundational Security Best Practices (CloudWatch.16) accept.
pub const DEFAULT_FLOW_LOG_RETENTION_DAYS: i32 = 365;

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
    /// VPC flow logs to CloudWatch Logs (AWS FSBP EC2.6); default on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_logs: Option<bool>,
    /// How long flow log records are kept: one of CloudWatch Logs' retention periods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_logs_retention_days: Option<i32>,
    /// A VPC the stack adopts instead of one net-up creates (`existing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<Existing>,
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
    /// The flow logs' retention in days, or `None` when flow logs are off.
    pub flow_logs: Option<i32>,
}

impl NetworkSpec {
    /// Checks the spec without AWS: CIDRs, counts, layout, endpoints.
    pub fn shape(&self) -> Result<Shape> {
        if let Some(e) = &self.existing {
            existing::check(self, e)?;
        }
        let vpc = cidr::parse_vpc(self.cidr.as_deref().unwrap_or(DEFAULT_CIDR))
            .map_err(|e| within("spec.network.cidr", e))?;
        let azs = self.azs.clone().unwrap_or(Azs::Count(DEFAULT_AZS));
        let n = az_count(&azs)?;
        let public = self.subnets("public", vpc, n, 0, self.public_subnet_cidrs.as_deref())?;
        let private = self.subnets("private", vpc, n, 1, self.private_subnet_cidrs.as_deref())?;
        let all: Vec<Ipv4Net> = public.iter().chain(&private).copied().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                if cidr::overlaps(*a, *b) {
                    return Err(Error::spec(format!(
                        "spec.network: subnets {a} and {b} overlap"
                    )));
                }
            }
        }
        Ok(Shape {
            vpc,
            azs,
            nat: self.nat.unwrap_or_default(),
            public,
            private,
            endpoints: self.endpoints()?,
            flow_logs: self.flow_logs()?,
        })
    }

    /// The flow logs' retention when they are on; a retention CloudWatch Logs
    /// does not offer is refused even when they are off (it would fail the day
    /// they are turned on).
    fn flow_logs(&self) -> Result<Option<i32>> {
        let days = self
            .flow_logs_retention_days
            .unwrap_or(DEFAULT_FLOW_LOG_RETENTION_DAYS);
        if !super::services::RETENTION_DAYS.contains(&days) {
            let all: Vec<String> = super::services::RETENTION_DAYS
                .iter()
                .map(i32::to_string)
                .collect();
            return Err(Error::spec(format!(
                "spec.network.flow_logs_retention_days: {days} is not a CloudWatch retention (one of {})",
                all.join(", ")
            )));
        }
        Ok(self.flow_logs.unwrap_or(true).then_some(days))
    }

    /// The endpoints asked for, sorted, each one net-up knows.
    fn endpoints(&self) -> Result<Vec<String>> {
        let mut endpoints = self.endpoints.clone().unwrap_or_default();
        endpoints.sort();
        endpoints.dedup();
        let known: Vec<&str> = ENDPOINTS.iter().map(|(n, _)| *n).collect();
        for e in &endpoints {
            if !known.contains(&e.as_str()) {
                return Err(Error::spec(format!(
                    "spec.network.endpoints: unknown VPC endpoint '{}'; {}",
                    shown(e),
                    one_of(e, &known)
                )));
            }
        }
        Ok(endpoints)
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
        match given {
            Some(given) => given_subnets(tier, vpc, n, given),
            None => self.carved_subnets(vpc, n, half),
        }
    }

    fn carved_subnets(&self, vpc: Ipv4Net, n: u32, half: u32) -> Result<Vec<Ipv4Net>> {
        let prefix = self.subnet_prefix.unwrap_or((vpc.prefix_len() + 4).min(28));
        if prefix < vpc.prefix_len() || prefix > 28 {
            return Err(Error::spec(format!(
                "spec.network.subnet_prefix: subnet prefix /{prefix} does not fit the VPC {vpc} (between /{} and /28)",
                vpc.prefix_len()
            )));
        }
        let slots = cidr::subnet_count(vpc, prefix);
        let per_tier = slots / 2;
        if u64::from(n) > per_tier {
            return Err(Error::spec(format!(
                "spec.network.azs: impossible AZ count {n}: the VPC {vpc} holds {slots} /{prefix} subnets, room for {per_tier} AZs"
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

/// The number of AZs, 1 to [`MAX_AZS`], each named at most once.
fn az_count(azs: &Azs) -> Result<u32> {
    let n = match azs {
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
            "spec.network.azs: impossible AZ count {n}: a network spans 1 to {MAX_AZS} AZs"
        )));
    }
    Ok(n)
}

/// A network without NAT gateways gives its tasks no way out, so it must have
/// the VPC endpoints they use: ECR (api and dkr) and S3 to pull images, Logs for
/// the log driver, Secrets Manager when a service reads a secret, and SSM
/// messages when a service allows ECS Exec. Only when the spec runs services:
/// a network alone (or one for services added later) needs none.
pub fn check_egress(spec: &super::Spec) -> Result<()> {
    // An adopted VPC's way out is net-up's to check, through AWS.
    if spec.network.existing.is_some() || spec.network.nat.unwrap_or_default() != NatMode::None {
        return Ok(());
    }
    let needed = needed_endpoints(spec);
    let have = spec.network.endpoints.clone().unwrap_or_default();
    let missing: Vec<&str> = needed
        .into_iter()
        .filter(|n| !have.iter().any(|h| h == n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::spec(format!(
        "spec.network.endpoints: with nat \"none\" the services' tasks have no way out of the VPC; \
         add the endpoints they need: {} (or use nat \"single\")",
        missing.join(", ")
    )))
}

/// The endpoints the spec's services need when their subnets have no way
/// out: none without services.
pub fn needed_endpoints(spec: &super::Spec) -> Vec<&'static str> {
    if spec.services.is_empty() {
        return vec![];
    }
    let mut needed: Vec<&str> = EGRESS_FREE_BASE.to_vec();
    if spec.services.values().any(|s| !s.secrets.is_empty()) {
        needed.push("secretsmanager");
    }
    if spec.services.values().any(|s| s.exec.unwrap_or(false)) {
        needed.push("ssmmessages");
    }
    needed
}

fn given_subnets(tier: &str, vpc: Ipv4Net, n: u32, given: &[String]) -> Result<Vec<Ipv4Net>> {
    let at = format!("spec.network.{tier}_subnet_cidrs");
    if given.len() != n as usize {
        return Err(Error::spec(format!(
            "{at} has {} CIDRs for {n} AZs",
            given.len()
        )));
    }
    given
        .iter()
        .map(|s| {
            let net = cidr::parse(&format!("a {tier} subnet"), s).map_err(|e| within(&at, e))?;
            if !vpc.contains(&net) {
                return Err(Error::spec(format!(
                    "{at}: {tier} subnet {net} is outside the VPC {vpc}"
                )));
            }
            if net.prefix_len() > 28 {
                return Err(Error::spec(format!(
                    "{at}: {tier} subnet {net} is smaller than AWS's minimum /28"
                )));
            }
            Ok(net)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> NetworkSpec {
        super::super::read("spec.network", &serde_json::from_str(json).unwrap()).unwrap()
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
        let e = outside.shape().unwrap_err().to_string();
        assert!(
            e.starts_with("spec.network.public_subnet_cidrs: ") && e.contains("outside"),
            "{e}"
        );
        let overlap = spec(
            r#"{"azs":1,"public_subnet_cidrs":["10.0.0.0/20"],"private_subnet_cidrs":["10.0.1.0/24"]}"#,
        );
        assert!(overlap.shape().unwrap_err().to_string().contains("overlap"));
        let count = spec(r#"{"azs":2,"public_subnet_cidrs":["10.0.1.0/24"]}"#);
        assert!(count.shape().is_err());
    }

    #[test]
    fn impossible_counts_and_unknown_endpoints() {
        for bad in [
            r#"{"azs":0}"#,
            r#"{"azs":7}"#,
            r#"{"cidr":"10.0.0.0/28","azs":2}"#,
        ] {
            let e = spec(bad).shape().unwrap_err().to_string();
            assert!(
                e.starts_with("spec.network.azs: impossible AZ count"),
                "{e}"
            );
        }
        let e = spec(r#"{"endpoints":["ecr.api","logz"]}"#)
            .shape()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "spec.network.endpoints: unknown VPC endpoint 'logz'; did you mean logs?"
        );
        let e = spec(r#"{"cidr":"banana"}"#)
            .shape()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("spec.network.cidr: invalid CIDR 'banana'"),
            "{e}"
        );
    }

    #[test]
    fn azs_read_as_a_count_or_names_and_nothing_else() {
        assert_eq!(spec(r#"{"azs":3}"#).azs, Some(Azs::Count(3)));
        assert_eq!(
            spec(r#"{"azs":["a","b"]}"#).azs,
            Some(Azs::Names(vec!["a".into(), "b".into()]))
        );
        let read = |json: &str| {
            super::super::read::<NetworkSpec>("spec.network", &serde_json::from_str(json).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            read(r#"{"azs":"3"}"#),
            "spec.network.azs: expected a number of AZs or a list of AZ names, got the string \"3\""
        );
        assert_eq!(
            read(r#"{"azs":["a",3]}"#),
            "spec.network.azs[1]: expected a string, got the number 3"
        );
        assert!(read(r#"{"azs":-1}"#).starts_with("spec.network.azs: expected"));
    }

    #[test]
    fn flow_logs_are_on_by_default_with_a_retention_cloudwatch_offers() {
        assert_eq!(spec("{}").shape().unwrap().flow_logs, Some(365));
        assert_eq!(
            spec(r#"{"flow_logs_retention_days":30}"#)
                .shape()
                .unwrap()
                .flow_logs,
            Some(30)
        );
        assert_eq!(
            spec(r#"{"flow_logs":false}"#).shape().unwrap().flow_logs,
            None
        );
        let e = spec(r#"{"flow_logs":false,"flow_logs_retention_days":31}"#)
            .shape()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("spec.network.flow_logs_retention_days: 31 is not"),
            "{e}"
        );
    }

    fn whole(json: serde_json::Value) -> super::super::Spec {
        super::super::read("spec", &json).unwrap()
    }

    #[test]
    fn a_network_without_nat_needs_the_endpoints_its_tasks_use() {
        let svc = serde_json::json!({"api": {"image": "x", "exec": true,
            "secrets": {"P": {"secret": "db"}}}});
        let bare = whole(serde_json::json!({"network": {"nat": "none"}, "services": svc}));
        let e = check_egress(&bare).unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(
            e.to_string().ends_with(
                "add the endpoints they need: ecr.api, ecr.dkr, logs, s3, secretsmanager, ssmmessages (or use nat \"single\")"
            ),
            "{e}"
        );
        let some = whole(serde_json::json!({"network": {"nat": "none",
            "endpoints": ["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager"]}, "services": svc}));
        assert!(check_egress(&some)
            .unwrap_err()
            .to_string()
            .contains("need: ssmmessages ("));
        let plain = serde_json::json!({"api": {"image": "x"}});
        let enough = whole(serde_json::json!({"network": {"nat": "none",
            "endpoints": ["ecr.api", "ecr.dkr", "logs", "s3"]}, "services": plain}));
        assert!(check_egress(&enough).is_ok());
        // A NAT, or no services at all, needs none.
        assert!(check_egress(&whole(
            serde_json::json!({"network": {"nat": "single"}, "services": svc})
        ))
        .is_ok());
        assert!(check_egress(&whole(serde_json::json!({"network": {"nat": "none"}}))).is_ok());
    }
}
