//! Container image references, checked the way a registry reads them, so a typo
//! is a spec error (exit 5) and not a task that cannot pull its image.
//!
//! `[registry/]repository[:tag][@digest]`: the registry is the first part when
//! it has a `.` or `:` or is `localhost`; repository parts are lowercase
//! letters and digits joined by single `.`, `_`, `__` or `-` runs; a tag is
//! 1-128 of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`; a
//! digest is `sha256:` and 64 hex digits.

use crate::{Error, Result};

/// The longest reference Docker accepts.
const MAX: usize = 255;

/// Checks `image` at `at` (a JSON path).
pub fn check(at: &str, image: &str) -> Result<()> {
    parse(image).map(drop).map_err(|why| {
        Error::spec(format!(
            "{at}: invalid image reference '{}': {why} (expected [registry/]repository[:tag][@sha256:digest], e.g. nginx:1.27)",
            crate::error::shown(image)
        ))
    })
}

/// Checks an image tag on its own (`image_tag`, `--image SERVICE=:TAG`).
pub fn check_tag(at: &str, tag: &str) -> Result<()> {
    tag_ok(tag).map_err(|why| {
        Error::spec(format!(
            "{at}: invalid image tag '{}': {why}",
            crate::error::shown(tag)
        ))
    })
}

/// The parts of a reference: repository (with registry) and tag or digest.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

pub fn parse(image: &str) -> std::result::Result<Reference<'_>, String> {
    if image.is_empty() || image.len() > MAX {
        return Err(format!("must be 1 to {MAX} characters"));
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(digest_ok(d)?)),
        None => (image, None),
    };
    // A tag follows the last ':' after the last '/' (a registry port has a '/' after it).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        tag_ok(t)?;
    }
    repository_ok(repository)?;
    Ok(Reference {
        repository,
        tag,
        digest,
    })
}

fn repository_ok(repository: &str) -> std::result::Result<(), String> {
    let mut parts: Vec<&str> = repository.split('/').collect();
    let first = parts[0];
    if parts.len() > 1 && (first.contains(['.', ':']) || first == "localhost") {
        registry_ok(first)?;
        parts.remove(0);
    }
    for part in parts {
        path_part_ok(part)?;
    }
    Ok(())
}

fn registry_ok(registry: &str) -> std::result::Result<(), String> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (registry, None),
    };
    let host_ok = host
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !host_ok {
        return Err(format!("registry '{registry}' is not a host name"));
    }
    match port {
        Some(p) if p.parse::<u16>().is_err() => Err(format!("registry port '{p}' is not a number")),
        _ => Ok(()),
    }
}

/// `[a-z0-9]+` runs joined by one `.`, one or two `_`, or any number of `-`.
fn path_part_ok(part: &str) -> std::result::Result<(), String> {
    let bad = || {
        format!("repository part '{part}' must be lowercase letters and digits, joined by '.', '_' or '-'")
    };
    let starts_ends = part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !starts_ends {
        return Err(bad());
    }
    let chars_ok = part
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    let separators_ok = !part.contains("..")
        && !part.contains("___")
        && !part.contains("._")
        && !part.contains("_.")
        && !part.contains(".-")
        && !part.contains("-.");
    if chars_ok && separators_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

fn tag_ok(tag: &str) -> std::result::Result<(), String> {
    let ok = (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag '{tag}' must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        ))
    }
}

fn digest_ok(digest: &str) -> std::result::Result<&str, String> {
    let hex = digest.strip_prefix("sha256:").unwrap_or("");
    if hex.len() == 64
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        Ok(digest)
    } else {
        Err(format!(
            "digest '{digest}' is not sha256: and 64 lowercase hex digits"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_registries_use_are_accepted() {
        for ok in [
            "nginx",
            "nginx:alpine",
            "library/nginx:1.27.0",
            "public.ecr.aws/nginx/nginx:1.27",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/dev/api:v2",
            "localhost:5000/app",
            "registry.example.com:443/team/app_name__x:2024-01-01",
            "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
        }
    }

    #[test]
    fn malformed_references_are_refused_naming_the_part() {
        for (bad, why) in [
            ("NOT A VALID IMAGE ref!!", "repository part"),
            ("", "1 to 255"),
            ("Nginx:latest", "repository part 'Nginx'"),
            ("nginx:", "tag ''"),
            ("nginx:-x", "tag '-x'"),
            ("nginx@sha256:abc", "digest"),
            ("a//b", "repository part ''"),
            ("exa mple.com/app", "registry"),
            ("host:99999/app", "port"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = check("spec.services.api.image", "NOT A VALID IMAGE ref!!").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("spec.services.api.image: invalid image reference"),
            "{e}"
        );
    }

    #[test]
    fn the_tag_is_split_after_a_registry_port() {
        let r = parse("localhost:5000/app:v1").unwrap();
        assert_eq!((r.repository, r.tag), ("localhost:5000/app", Some("v1")));
        let r = parse("localhost:5000/app").unwrap();
        assert_eq!((r.repository, r.tag), ("localhost:5000/app", None));
    }
}
