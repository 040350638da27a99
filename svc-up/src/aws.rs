//! The AWS clients of the layer, and a bounded retry that decides on the SDK's
//! own error (its modelled `is_*()` variants) before it becomes ours.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::time::Instant;

use common::error::aws_error;
use common::{retry, Context, Error, Result};

/// Every client the layer uses, built once per run from the shared configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sd: aws_sdk_servicediscovery::Client,
    pub cd: aws_sdk_codedeploy::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(ctx: &Context) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(&ctx.sdk),
            ecr: aws_sdk_ecr::Client::new(&ctx.sdk),
            ec2: aws_sdk_ec2::Client::new(&ctx.sdk),
            iam: aws_sdk_iam::Client::new(&ctx.sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&ctx.sdk),
            sd: aws_sdk_servicediscovery::Client::new(&ctx.sdk),
            cd: aws_sdk_codedeploy::Client::new(&ctx.sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&ctx.sdk),
            sts: aws_sdk_sts::Client::new(&ctx.sdk),
        }
    }
}

/// A builder's `build()` error: only a bug of ours can cause one.
pub fn built<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::Io(format!("internal: cannot build a request: {e}")))
}

/// How long a service may refuse what another just made: a new IAM role, a
/// new KMS key's grant to CloudWatch Logs.
pub fn propagation(budget: Duration) -> retry::Policy {
    retry::Policy {
        budget: budget.min(retry::Policy::consistency().budget),
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(5),
    }
}

/// The fewest attempts a retried call gets, however slow each was.
const MIN_ATTEMPTS: u32 = 4;

/// Runs `op` until it succeeds or fails with an error `retry_if` does not
/// accept (nor the SDK calls transient), for at most the policy's budget (and
/// at least `MIN_ATTEMPTS` attempts); the last error becomes ours, named `what`.
pub async fn retry_sdk<T, E, F, Fut>(
    what: &str,
    policy: retry::Policy,
    retry_if: impl Fn(&SdkError<E, HttpResponse>) -> bool,
    mut op: F,
) -> Result<T>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
{
    let start = Instant::now();
    let mut delay = policy.first_delay;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e)
                if retry_if(&e)
                    && (attempt < MIN_ATTEMPTS || start.elapsed() + delay < policy.budget) =>
            {
                tracing::debug!(
                    "{what}: attempt {attempt} refused ({}); retrying in {delay:?}",
                    e.code().unwrap_or("?")
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(policy.max_delay);
                attempt += 1;
            }
            Err(e) => return Err(aws_error(what, e)),
        }
    }
}

/// The error's code and message, for the answers the SDK does not model.
pub fn code_and_message<E: ProvideErrorMetadata>(e: &E) -> (&str, String) {
    (
        e.code().unwrap_or_default(),
        e.message().unwrap_or_default().to_ascii_lowercase(),
    )
}
