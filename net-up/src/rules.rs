//! Security group rules, compared grant by grant: AWS groups several peers
//! under one permission, and revokes exactly what it is sent, so each grant
//! (protocol, ports, one peer) is compared and revoked on its own.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

/// One protocol and port range to one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    /// A CIDR, an IPv6 CIDR, a group id or a prefix list id.
    pub peer: String,
    /// The permission that names exactly this grant (to revoke it).
    pub permission: IpPermission,
}

impl Grant {
    /// `tcp 443 from 10.0.0.0/16`, for plans.
    pub fn shown(&self) -> String {
        let ports = match (self.protocol.as_str(), self.from, self.to) {
            ("-1", _, _) => "all".to_owned(),
            (_, f, t) if f == t => f.to_string(),
            (_, f, t) => format!("{f}-{t}"),
        };
        let proto = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        format!("{proto} {ports} {}", self.peer)
    }

    fn same(&self, other: &Grant) -> bool {
        self.protocol == other.protocol
            && self.from == other.from
            && self.to == other.to
            && self.peer == other.peer
    }
}

/// The grants of a group's permissions.
pub fn grants(perms: &[IpPermission]) -> Vec<Grant> {
    let mut out = Vec::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1").to_owned();
        let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
        let base = || {
            IpPermission::builder()
                .ip_protocol(&protocol)
                .set_from_port(p.from_port())
                .set_to_port(p.to_port())
        };
        let mut add = |peer: &str, permission: IpPermission| {
            out.push(Grant {
                protocol: protocol.clone(),
                from,
                to,
                peer: peer.to_owned(),
                permission,
            });
        };
        for r in p.ip_ranges() {
            let cidr = r.cidr_ip().unwrap_or_default();
            add(
                cidr,
                base()
                    .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                    .build(),
            );
        }
        for r in p.ipv6_ranges() {
            let cidr = r.cidr_ipv6().unwrap_or_default();
            add(
                cidr,
                base()
                    .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
                    .build(),
            );
        }
        for g in p.user_id_group_pairs() {
            let id = g.group_id().unwrap_or_default();
            add(
                id,
                base()
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
                    .build(),
            );
        }
        for l in p.prefix_list_ids() {
            let id = l.prefix_list_id().unwrap_or_default();
            add(
                id,
                base()
                    .prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
                    .build(),
            );
        }
    }
    out
}

/// TCP on one port from a CIDR.
pub fn tcp_from(port: i32, cidr: &str, description: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .description(description)
                .build(),
        )
        .build()
}

/// What to authorize and revoke to make `have` exactly `want`.
pub fn diff(
    have: &[IpPermission],
    want: &[IpPermission],
) -> (Vec<IpPermission>, Vec<IpPermission>) {
    let have = grants(have);
    let want_grants = grants(want);
    let add = want_grants
        .iter()
        .filter(|w| !have.iter().any(|h| h.same(w)))
        .map(|w| {
            want.iter()
                .find(|p| grants(std::slice::from_ref(p)).iter().any(|g| g.same(w)))
                .cloned()
                .unwrap_or_else(|| w.permission.clone())
        })
        .collect();
    let revoke = have
        .iter()
        .filter(|h| !want_grants.iter().any(|w| w.same(h)))
        .map(|h| h.permission.clone())
        .collect();
    (add, revoke)
}

/// The grants as plans show them, sorted.
pub fn shown(perms: &[IpPermission]) -> Vec<String> {
    let mut v: Vec<String> = grants(perms).iter().map(Grant::shown).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_compared_one_peer_at_a_time() {
        let want = vec![tcp_from(443, "10.0.0.0/16", "HTTPS from the VPC")];
        let have = vec![IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/16").build())
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()];
        let (add, revoke) = diff(&have, &want);
        assert!(add.is_empty());
        assert_eq!(shown(&revoke), ["tcp 443 0.0.0.0/0"]);
        let (add, revoke) = diff(&[], &want);
        assert_eq!(shown(&add), ["tcp 443 10.0.0.0/16"]);
        assert!(revoke.is_empty());
    }
}
