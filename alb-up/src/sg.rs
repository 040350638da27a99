//! The ALB security group's rules, compared exactly: every grant AWS holds
//! that the plan does not want is revoked, every wanted one missing is
//! authorized. A grant is (protocol, port range, peer); descriptions are
//! written on authorize and not compared (AWS keeps them per grant, and a
//! changed text opens nothing).
//!
//! A group AWS has just created holds its default egress (all traffic to
//! 0.0.0.0/0), so a new group's diff starts from that, and the plan revokes it.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

/// Who a grant lets in (or out to).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Cidr(String),
    Cidr6(String),
    Group(String),
    PrefixList(String),
}

/// One grant: protocol (`tcp`, `-1` for all), port range, peer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub peer: Peer,
}

impl Grant {
    pub fn tcp(from: u16, to: u16, cidr: &str) -> Self {
        Grant {
            protocol: "tcp".to_owned(),
            from: i32::from(from),
            to: i32::from(to),
            peer: Peer::Cidr(cidr.to_owned()),
        }
    }

    /// AWS's default egress of a new group.
    pub fn all_out() -> Self {
        Grant {
            protocol: "-1".to_owned(),
            from: -1,
            to: -1,
            peer: Peer::Cidr("0.0.0.0/0".to_owned()),
        }
    }

    /// `tcp 80 0.0.0.0/0`, `tcp 3000-8080 10.0.0.0/16`, `all 0.0.0.0/0`.
    pub fn text(&self) -> String {
        let ports = match (self.protocol.as_str(), self.from, self.to) {
            ("-1", _, _) => "all".to_owned(),
            (p, f, t) if f == t => format!("{p} {f}"),
            (p, f, t) => format!("{p} {f}-{t}"),
        };
        let peer = match &self.peer {
            Peer::Cidr(c) | Peer::Cidr6(c) | Peer::Group(c) | Peer::PrefixList(c) => c,
        };
        format!("{ports} {peer}")
    }

    /// The grant as the one permission that authorizes or revokes it.
    pub fn permission(&self, description: Option<&str>) -> IpPermission {
        let b = IpPermission::builder().ip_protocol(&self.protocol);
        let b = if self.protocol == "-1" {
            b
        } else {
            b.from_port(self.from).to_port(self.to)
        };
        match &self.peer {
            Peer::Cidr(c) => b.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .set_description(description.map(str::to_owned))
                    .build(),
            ),
            Peer::Cidr6(c) => b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
            Peer::Group(g) => b.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build()),
            Peer::PrefixList(p) => {
                b.prefix_list_ids(PrefixListId::builder().prefix_list_id(p).build())
            }
        }
        .build()
    }
}

/// Every grant of a group's permissions (one per peer).
pub fn grants(perms: &[IpPermission]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for p in perms {
        let protocol = match p.ip_protocol().unwrap_or("-1") {
            "-1" | "all" => "-1".to_owned(),
            other => other.to_ascii_lowercase(),
        };
        let (from, to) = if protocol == "-1" {
            (-1, -1)
        } else {
            (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1))
        };
        let grant = |peer: Peer| Grant {
            protocol: protocol.clone(),
            from,
            to,
            peer,
        };
        out.extend(
            p.ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip())
                .map(|c| grant(Peer::Cidr(c.to_owned()))),
        );
        out.extend(
            p.ipv6_ranges()
                .iter()
                .filter_map(|r| r.cidr_ipv6())
                .map(|c| grant(Peer::Cidr6(c.to_owned()))),
        );
        out.extend(
            p.user_id_group_pairs()
                .iter()
                .filter_map(|g| g.group_id())
                .map(|g| grant(Peer::Group(g.to_owned()))),
        );
        out.extend(
            p.prefix_list_ids()
                .iter()
                .filter_map(|l| l.prefix_list_id())
                .map(|l| grant(Peer::PrefixList(l.to_owned()))),
        );
    }
    out
}

/// What to authorize (with each grant's description) and revoke in one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub add: Vec<(Grant, String)>,
    pub remove: Vec<Grant>,
}

impl Diff {
    /// `want`: each wanted grant and its description.
    pub fn new(want: &BTreeMap<Grant, String>, have: &BTreeSet<Grant>) -> Self {
        Diff {
            add: want
                .iter()
                .filter(|(g, _)| !have.contains(*g))
                .map(|(g, d)| (g.clone(), d.clone()))
                .collect(),
            remove: have
                .iter()
                .filter(|g| !want.contains_key(*g))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Grants as the text a change shows.
pub fn texts(grants: &BTreeSet<Grant>) -> Vec<String> {
    grants.iter().map(Grant::text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_read_per_peer_and_diffed_both_ways() {
        let perm = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .build();
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let have = grants(&[perm, all]);
        assert_eq!(have.len(), 3);
        assert!(have.contains(&Grant::all_out()));
        let want: BTreeMap<Grant, String> =
            [(Grant::tcp(80, 80, "0.0.0.0/0"), "HTTP".to_owned())].into();
        let d = Diff::new(&want, &have);
        assert!(d.add.is_empty());
        assert_eq!(
            d.remove.iter().map(Grant::text).collect::<Vec<_>>(),
            ["all 0.0.0.0/0", "tcp 80 10.0.0.0/8"]
        );
        // A revoke names the grant exactly: one peer, its ports.
        let p = Grant::tcp(3000, 8080, "10.0.0.0/16").permission(Some("x"));
        assert_eq!((p.from_port(), p.to_port()), (Some(3000), Some(8080)));
        assert_eq!(grants(&[p]), [Grant::tcp(3000, 8080, "10.0.0.0/16")].into());
        assert_eq!(Grant::all_out().permission(None).from_port(), None);
    }
}
