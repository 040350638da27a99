//! CIDR parsing and subnet carving, on top of `ipnet`.

pub use ipnet::Ipv4Net;

use crate::error::{shown, Error, Result};

/// Parses an IPv4 CIDR; the address must be the network address.
pub fn parse(what: &str, s: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = s.parse().map_err(|_| {
        Error::spec(format!(
            "invalid CIDR '{}' for {what}: expected a.b.c.d/n",
            shown(s)
        ))
    })?;
    if net.network() != net.addr() {
        return Err(Error::spec(format!(
            "invalid CIDR '{s}' for {what}: host bits are set (did you mean {}?)",
            net.trunc()
        )));
    }
    Ok(net)
}

/// A VPC CIDR: AWS takes /16 to /28.
pub fn parse_vpc(s: &str) -> Result<Ipv4Net> {
    let net = parse("the VPC", s)?;
    if !(16..=28).contains(&net.prefix_len()) {
        return Err(Error::spec(format!(
            "invalid VPC CIDR '{s}': AWS allows prefixes /16 to /28"
        )));
    }
    Ok(net)
}

/// The `index`-th subnet of `prefix` inside `parent`, if there is one.
pub fn nth_subnet(parent: Ipv4Net, prefix: u8, index: u32) -> Option<Ipv4Net> {
    parent.subnets(prefix).ok()?.nth(index as usize)
}

/// How many subnets of `prefix` fit into `parent`.
pub fn subnet_count(parent: Ipv4Net, prefix: u8) -> u64 {
    if prefix < parent.prefix_len() || prefix > 32 {
        return 0;
    }
    1u64 << (prefix - parent.prefix_len())
}

/// Two CIDRs overlap.
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert!(parse_vpc("10.0.0.0/16").is_ok());
        assert!(parse_vpc("10.0.0.0/8").is_err());
        assert!(parse_vpc("10.0.0.1/16")
            .unwrap_err()
            .to_string()
            .contains("10.0.0.0/16"));
        assert!(parse_vpc("10.0.0.0/33").is_err());
        assert!(parse_vpc("banana").is_err());
        assert!(parse_vpc("300.0.0.0/16").is_err());
    }

    #[test]
    fn carves() {
        let vpc = parse_vpc("10.0.0.0/16").unwrap();
        assert_eq!(nth_subnet(vpc, 20, 0).unwrap().to_string(), "10.0.0.0/20");
        assert_eq!(nth_subnet(vpc, 20, 8).unwrap().to_string(), "10.0.128.0/20");
        assert_eq!(subnet_count(vpc, 20), 16);
        assert!(nth_subnet(vpc, 20, 16).is_none());
        assert!(overlaps(
            parse("a", "10.0.0.0/20").unwrap(),
            parse("b", "10.0.1.0/24").unwrap()
        ));
    }
}
