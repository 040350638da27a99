//! At most a fixed number of calls in flight per AWS service, in every tool.
//!
//! AWS throttles per account and service, and the account is shared with
//! everything else: a tool that fires 150 calls at once to one service gets
//! "Rate exceeded" and, under adaptive retry, slows itself down for minutes. The
//! bound sits in the one HTTP client every SDK client shares, so no converge or
//! teardown path can forget it. The service is read from the request's SigV4
//! credential scope (`.../us-east-1/ec2/aws4_request`), which every call has by
//! the time it reaches the connector. `FP_MAX_IN_FLIGHT` changes the bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::Semaphore;

/// Calls in flight per AWS service when `FP_MAX_IN_FLIGHT` is not set: enough to
/// overlap a layer's independent calls, few enough to stay clear of throttling.
pub const DEFAULT: usize = 8;

/// The bound from the environment.
pub fn from_env() -> usize {
    std::env::var("FP_MAX_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT)
}

/// `inner`, letting at most `per_service` calls to one service be in flight.
pub fn bounded(inner: SharedHttpClient, per_service: usize) -> SharedHttpClient {
    SharedHttpClient::new(Bounded {
        inner,
        limits: Arc::new(Limits {
            per_service,
            services: Mutex::default(),
        }),
    })
}

#[derive(Debug)]
struct Limits {
    per_service: usize,
    services: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    fn of(&self, service: &str) -> Arc<Semaphore> {
        let mut all = self.services.lock().expect("limits lock");
        all.entry(service.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_service)))
            .clone()
    }
}

#[derive(Debug)]
struct Bounded {
    inner: SharedHttpClient,
    limits: Arc<Limits>,
}

impl HttpClient for Bounded {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BoundedConnector {
            inner: self.inner.http_connector(settings, components),
            limits: self.limits.clone(),
        })
    }
}

#[derive(Debug)]
struct BoundedConnector {
    inner: SharedHttpConnector,
    limits: Arc<Limits>,
}

impl HttpConnector for BoundedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if crate::interrupt::gate_closed() {
            return HttpConnectorFuture::ready(Err(ConnectorError::user(
                "interrupted: no new AWS calls".into(),
            )));
        }
        let gate = self.limits.of(service_of(&request));
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = gate.acquire_owned().await.expect("an open semaphore");
            inner.call(request).await
        })
    }
}

/// The service of a signed request: `Credential=AKID/date/region/SERVICE/aws4_request`.
fn service_of(request: &HttpRequest) -> &str {
    request
        .headers()
        .get("authorization")
        .and_then(scope_service)
        .unwrap_or("unsigned")
}

fn scope_service(auth: &str) -> Option<&str> {
    let scope = auth.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let mut parts = scope.split('/');
    parts.nth(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_comes_from_the_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/ec2/aws4_request, \
                    SignedHeaders=host, Signature=abc";
        assert_eq!(scope_service(auth), Some("ec2"));
        assert_eq!(scope_service("Bearer x"), None);
    }

    #[tokio::test]
    async fn one_semaphore_per_service() {
        let limits = Limits {
            per_service: 2,
            services: Mutex::default(),
        };
        let ec2 = limits.of("ec2");
        assert!(Arc::ptr_eq(&ec2, &limits.of("ec2")));
        assert!(!Arc::ptr_eq(&ec2, &limits.of("ecs")));
        let _a = ec2.clone().acquire_owned().await.unwrap();
        let _b = ec2.clone().acquire_owned().await.unwrap();
        assert!(ec2.clone().try_acquire_owned().is_err(), "a third waits");
        assert!(limits.of("ecs").try_acquire_owned().is_ok());
    }
}
