//! Which Availability Zones the network spans: AZs where Fargate runs tasks.
//!
//! AZ names (`us-east-1a`) are mapped to physical zones per account; AZ IDs
//! (`use1-az6`) name the same physical zone everywhere, and AWS documents
//! Fargate's gaps by AZ ID. So the region's AZs are read with their IDs
//! (DescribeAvailabilityZones) and checked against [`FARGATE`]: a count picks
//! the region's first N AZs (by name) where Fargate runs; an explicit list that
//! names one where it does not is refused (exit 5), since services placed there
//! would never start.

use common::error::shown;
use common::spec::network::{Azs, Shape};
use common::{Error, Result};

/// An AZ of the region: its account-specific name and its ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub id: String,
}

/// Where Fargate is offered in a region, by AZ ID.
#[derive(Debug, Clone, Copy)]
pub enum Offered {
    /// Only these AZ IDs.
    Only(&'static [&'static str]),
    /// Every AZ ID but these.
    Except(&'static [&'static str]),
}

/// The regions where Fargate (Linux) is not offered in every AZ. From AWS's
/// "Supported Regions for Amazon ECS on AWS Fargate" table, which lists the
/// supported AZ IDs where there is a restriction: us-west-1 (usw1-az1 and
/// usw1-az3), ap-northeast-1 (apne1-az1, apne1-az2, apne1-az4) and cn-north-1
/// (cnn1-az1, cnn1-az2). us-east-1's use1-az3 is the region's constrained
/// legacy zone, where newer capacity (Fargate among it) is not offered. A
/// region not listed runs Fargate in every AZ. Update this table when AWS's
/// changes; docs/converge/net-up.md repeats it.
pub const FARGATE: &[(&str, Offered)] = &[
    ("us-east-1", Offered::Except(&["use1-az3"])),
    ("us-west-1", Offered::Only(&["usw1-az1", "usw1-az3"])),
    (
        "ap-northeast-1",
        Offered::Only(&["apne1-az1", "apne1-az2", "apne1-az4"]),
    ),
    ("cn-north-1", Offered::Only(&["cnn1-az1", "cnn1-az2"])),
];

/// Whether Fargate runs tasks in the AZ with this ID.
pub fn fargate_offered(region: &str, zone_id: &str) -> bool {
    match FARGATE.iter().find(|(r, _)| *r == region) {
        None => true,
        Some((_, Offered::Only(ids))) => ids.contains(&zone_id),
        Some((_, Offered::Except(ids))) => !ids.contains(&zone_id),
    }
}

/// The AZs of the network: the first N of the region's available AZs (by
/// name) where Fargate runs, or the named ones, each checked.
pub fn select(shape: &Shape, region: &str, available: &[Zone]) -> Result<Vec<Zone>> {
    let mut sorted = available.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let usable: Vec<Zone> = sorted
        .iter()
        .filter(|z| fargate_offered(region, &z.id))
        .cloned()
        .collect();
    match &shape.azs {
        Azs::Count(n) => {
            let n = *n as usize;
            if n > usable.len() {
                return Err(Error::spec(format!(
                    "spec.network.azs: impossible AZ count {n}: {region} has {} available AZs where Fargate runs ({})",
                    usable.len(),
                    names(&usable)
                )));
            }
            Ok(usable[..n].to_vec())
        }
        Azs::Names(wanted) => wanted.iter().map(|w| named(w, region, &sorted)).collect(),
    }
}

fn named(wanted: &str, region: &str, sorted: &[Zone]) -> Result<Zone> {
    let Some(zone) = sorted.iter().find(|z| z.name == wanted) else {
        return Err(Error::spec(format!(
            "spec.network.azs: AZ '{}' is not available in {region} (available: {})",
            shown(wanted),
            names(sorted)
        )));
    };
    if !fargate_offered(region, &zone.id) {
        let usable: Vec<Zone> = sorted
            .iter()
            .filter(|z| fargate_offered(region, &z.id))
            .cloned()
            .collect();
        return Err(Error::spec(format!(
            "spec.network.azs: AZ '{}' ({}) is one where Fargate does not run tasks; pick others of {region}: {}",
            zone.name,
            zone.id,
            names(&usable)
        )));
    }
    Ok(zone.clone())
}

fn names(zones: &[Zone]) -> String {
    zones
        .iter()
        .map(|z| z.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::spec::NetworkSpec;

    fn shape(azs: Azs) -> Shape {
        NetworkSpec {
            azs: Some(azs),
            ..NetworkSpec::default()
        }
        .shape()
        .unwrap()
    }

    /// us-east-1 as the emulator (and many accounts) map it: 1e is use1-az3.
    fn us_east_1() -> Vec<Zone> {
        [
            ("us-east-1a", "use1-az6"),
            ("us-east-1b", "use1-az1"),
            ("us-east-1e", "use1-az3"),
            ("us-east-1c", "use1-az2"),
            ("us-east-1d", "use1-az4"),
            ("us-east-1f", "use1-az5"),
        ]
        .map(|(n, i)| Zone {
            name: n.into(),
            id: i.into(),
        })
        .to_vec()
    }

    #[test]
    fn a_count_skips_azs_without_fargate() {
        let picked = select(&shape(Azs::Count(5)), "us-east-1", &us_east_1()).unwrap();
        let names: Vec<&str> = picked.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "us-east-1a",
                "us-east-1b",
                "us-east-1c",
                "us-east-1d",
                "us-east-1f"
            ]
        );
        let e = select(&shape(Azs::Count(6)), "us-east-1", &us_east_1())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("spec.network.azs: impossible AZ count 6: us-east-1 has 5 available AZs where Fargate runs"),
            "{e}"
        );
    }

    #[test]
    fn a_named_az_without_fargate_is_refused() {
        let e = select(
            &shape(Azs::Names(vec!["us-east-1a".into(), "us-east-1e".into()])),
            "us-east-1",
            &us_east_1(),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(
            e.to_string()
                .starts_with("spec.network.azs: AZ 'us-east-1e' (use1-az3) is one where Fargate does not run tasks"),
            "{e}"
        );
        let e = select(
            &shape(Azs::Names(vec!["eu-west-1a".into()])),
            "us-east-1",
            &us_east_1(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("spec.network.azs: AZ 'eu-west-1a' is not available"),
            "{e}"
        );
    }

    #[test]
    fn restricted_regions_allow_only_their_listed_ids() {
        assert!(fargate_offered("us-west-1", "usw1-az3"));
        assert!(!fargate_offered("us-west-1", "usw1-az2"));
        assert!(!fargate_offered("ap-northeast-1", "apne1-az3"));
        assert!(fargate_offered("eu-central-1", "euc1-az1"), "unlisted: all");
    }
}
