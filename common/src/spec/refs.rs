//! References: `${...}` inside a service's environment values, `command` and
//! `entrypoint` (its sidecars' too) name a value known only once an earlier
//! layer ran, so a spec need not hard-code `orders.shop-dev.local` or the
//! ALB's DNS name. svc-up resolves them when it writes the task definition.
//!
//! | reference | value |
//! | --- | --- |
//! | `${service.NAME.host}` | NAME's Cloud Map name, `NAME.{namespace}` |
//! | `${service.NAME.address}` | `NAME.{namespace}:{port}` |
//! | `${service.NAME.url}` | `http://NAME.{namespace}:{port}` |
//! | `${alb.dns_name}` | `.alb.dns_name` |
//! | `${alb.url}` | `https://` (with a certificate) or `http://` + `.alb.dns_name` |
//! | `${secret.NAME.arn}` | `.secrets.NAME.arn` (the ARN, never the value) |
//! | `${cluster.name}`, `${cluster.arn}` | `.cluster` |
//! | `${stack}`, `${env}`, `${region}` | the document's |
//!
//! `$${` writes a literal `${`. Checked with the spec ([`check`]): an unknown
//! reference, an unknown service, or a service that does not list the caller
//! in its `callers` (so its security group would drop the call), has no
//! `discovery` (no name) or no `port` is refused (exit 5) before any change.

use crate::error::shown;
use crate::{Error, Result};

/// One reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Service { name: String, attr: ServiceAttr },
    AlbDnsName,
    AlbUrl,
    SecretArn(String),
    ClusterName,
    ClusterArn,
    Stack,
    Env,
    Region,
}

/// What a service reference gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAttr {
    Host,
    Address,
    Url,
}

/// A piece of a value: text as written, or a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Ref(Ref),
}

const FORMS: &str = "service.NAME.host|address|url, alb.dns_name, alb.url, \
                     secret.NAME.arn, cluster.name, cluster.arn, stack, env, region";

/// The pieces of `text`; an unclosed or unknown `${...}` is an error saying
/// what is known.
pub fn parse(text: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            // `$${` is a literal `${`.
            literal.push_str(&rest[..i - 1]);
            literal.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        literal.push_str(&rest[..i]);
        let Some(end) = rest[i..].find('}') else {
            return Err(
                "'${' opens a reference that is never closed with '}' (write $${ for a literal ${)"
                    .to_owned(),
            );
        };
        let inner = &rest[i + 2..i + end];
        if !literal.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut literal)));
        }
        out.push(Piece::Ref(one(inner)?));
        rest = &rest[i + end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        out.push(Piece::Text(literal));
    }
    Ok(out)
}

fn one(inner: &str) -> std::result::Result<Ref, String> {
    let parts: Vec<&str> = inner.split('.').collect();
    let r = match parts.as_slice() {
        ["service", name, attr] => Ref::Service {
            name: (*name).to_owned(),
            attr: match *attr {
                "host" => ServiceAttr::Host,
                "address" => ServiceAttr::Address,
                "url" => ServiceAttr::Url,
                _ => return Err(unknown(inner)),
            },
        },
        ["alb", "dns_name"] => Ref::AlbDnsName,
        ["alb", "url"] => Ref::AlbUrl,
        ["secret", name, "arn"] => Ref::SecretArn((*name).to_owned()),
        ["cluster", "name"] => Ref::ClusterName,
        ["cluster", "arn"] => Ref::ClusterArn,
        ["stack"] => Ref::Stack,
        ["env"] => Ref::Env,
        ["region"] => Ref::Region,
        _ => return Err(unknown(inner)),
    };
    Ok(r)
}

fn unknown(inner: &str) -> String {
    format!(
        "unknown reference ${{{}}}: a reference is one of {FORMS}",
        shown(inner)
    )
}

/// The references of `text`, or the error at `at`.
pub fn refs_in(at: &str, text: &str) -> Result<Vec<Ref>> {
    let pieces = parse(text).map_err(|e| Error::spec(format!("{at}: {e}")))?;
    Ok(pieces
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Whether `text` holds a reference (a literal `$${` is none).
pub fn has_refs(text: &str) -> bool {
    parse(text).is_ok_and(|p| p.iter().any(|p| matches!(p, Piece::Ref(_))))
}

/// `text` with each reference replaced by `value(r)`.
pub fn resolve(text: &str, mut value: impl FnMut(&Ref) -> Result<String>) -> Result<String> {
    let pieces = parse(text).map_err(Error::spec)?;
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Ref(r) => out.push_str(&value(&r)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_and_escapes() {
        assert_eq!(
            parse("http://${service.orders.address}/x").unwrap(),
            [
                Piece::Text("http://".into()),
                Piece::Ref(Ref::Service {
                    name: "orders".into(),
                    attr: ServiceAttr::Address
                }),
                Piece::Text("/x".into()),
            ]
        );
        assert_eq!(parse("a$${b}").unwrap(), [Piece::Text("a${b}".into())]);
        assert_eq!(
            parse("$HOME and $").unwrap(),
            [Piece::Text("$HOME and $".into())]
        );
        assert!(!has_refs("$${alb.url}") && has_refs("${alb.url}/api"));
        assert!(parse("${alb.url").unwrap_err().contains("never closed"));
        let e = parse("${alb.dns}").unwrap_err();
        assert!(
            e.starts_with("unknown reference ${alb.dns}: a reference is one of"),
            "{e}"
        );
        assert!(parse("${service.a.port}").is_err());
        assert_eq!(
            resolve("${alb.url}/api", |r| {
                assert_eq!(r, &Ref::AlbUrl);
                Ok("http://lb".into())
            })
            .unwrap(),
            "http://lb/api"
        );
    }
}
