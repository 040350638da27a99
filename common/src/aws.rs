//! The one place AWS configuration is built.
//!
//! Everything comes from the standard AWS configuration: `AWS_ENDPOINT_URL`
//! (the emulator, or nothing for real AWS), the credential chain, profiles.
//! The region is resolved by us (flag, document, environment, profile) so the SDK
//! never probes the instance metadata service for it.

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTPS client every SDK client shares: hyper 1 and rustls on ring, the one
/// TLS stack the workspace compiles (see the workspace Cargo.toml), with at most
/// `inflight::from_env()` calls in flight per AWS service.
pub fn http_client() -> SharedHttpClient {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    crate::inflight::bounded(https, crate::inflight::from_env())
}

/// A named profile (`AWS_PROFILE`) must exist: otherwise every later error
/// (no region, no credentials) would blame something else.
pub fn check_profile() -> crate::Result<()> {
    let Ok(name) = std::env::var("AWS_PROFILE") else {
        return Ok(());
    };
    if name.is_empty() || name == "default" {
        return Ok(());
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let config = std::env::var("AWS_CONFIG_FILE").unwrap_or(format!("{home}/.aws/config"));
    let creds =
        std::env::var("AWS_SHARED_CREDENTIALS_FILE").unwrap_or(format!("{home}/.aws/credentials"));
    let defines = |path: &str, header: &str| {
        std::fs::read_to_string(path).is_ok_and(|text| text.lines().any(|l| l.trim() == header))
    };
    if defines(&config, &format!("[profile {name}]")) || defines(&creds, &format!("[{name}]")) {
        return Ok(());
    }
    Err(crate::Error::Usage(format!(
        "AWS_PROFILE is '{}', but no such profile is in {config} or {creds}: \
         fix the name (aws configure list-profiles) or unset AWS_PROFILE",
        crate::error::shown(&name)
    )))
}

/// Resolves the region from the environment and the profile file only.
pub async fn region_from_environment() -> Option<String> {
    let chain = RegionProviderChain::first_try(
        aws_config::environment::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::profile::ProfileFileRegionProvider::new());
    chain.region().await.map(|r| r.to_string())
}

/// The shared SDK configuration for a region.
///
/// Retries are adaptive by default (client-side rate limiting when AWS throttles)
/// with more attempts than the SDK's three: a platform makes hundreds of calls and
/// a throttled account answers a share of them with "Rate exceeded". The standard
/// `AWS_RETRY_MODE` and `AWS_MAX_ATTEMPTS` variables override both.
pub async fn sdk_config(region: &str) -> SdkConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let retry = match std::env::var("AWS_RETRY_MODE").as_deref() {
        Ok("standard") => RetryConfig::standard(),
        _ => RetryConfig::adaptive(),
    };
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(Region::new(region.to_owned()))
        .retry_config(
            retry
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
        .load()
        .await
}

/// Checks a region name's shape (`eu-central-1`, `us-gov-west-1`).
pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn region_shapes() {
        for ok in [
            "us-east-1",
            "eu-central-1",
            "us-gov-west-1",
            "ap-southeast-2",
        ] {
            assert!(super::valid_region(ok), "{ok}");
        }
        for bad in ["", "useast1", "US-EAST-1", "us-east-", "us--1"] {
            assert!(!super::valid_region(bad), "{bad}");
        }
    }
}
