//! Our own bounded retries, on top of the SDK's.
//!
//! The SDK retries throttling and 5xx answers itself (adaptive mode, see `aws.rs`).
//! What it cannot know is AWS's eventual consistency and ordering: a resource
//! created a moment ago answers `...NotFound`, a subnet whose ENIs are still being
//! released answers `DependencyViolation`. Those are retried here, with
//! exponential backoff, for a bounded time.

use std::future::Future;
use std::time::Duration;

// tokio's clock: the same as std's at run time, and paused in the unit tests.
use tokio::time::Instant;

use crate::error::{Error, Result};

/// How long and how often to retry.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub budget: Duration,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Policy {
    /// After a create: the new resource may not be visible to every endpoint yet.
    pub fn consistency() -> Self {
        Self {
            budget: scaled(Duration::from_secs(60)),
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }

    /// Deletes: dependents (ENIs, mapped addresses, listeners) can take minutes to let go.
    pub fn dependency() -> Self {
        Self {
            budget: scaled(Duration::from_secs(600)),
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
        }
    }
}

/// `FP_RETRY_BUDGET_SECS` caps every retry budget (tests use it to fail fast).
fn scaled(default: Duration) -> Duration {
    std::env::var("FP_RETRY_BUDGET_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(default, |secs| default.min(Duration::from_secs(secs)))
}

/// AWS's "not visible yet" answers: any `*.NotFound` / `*NotFound*` code.
pub fn is_not_found(e: &Error) -> bool {
    e.aws_code().is_some_and(|c| {
        c.ends_with(".NotFound")
            || c.ends_with("NotFound")
            || c.ends_with("NotFoundException")
            || c == "NoSuchEntity"
            || c == "ResourceNotFoundException"
    })
}

/// AWS's "something still depends on it / it is busy" answers. Not
/// `Gateway.NotAttached`: an internet gateway that is not attached stays so
/// however long one waits (a detach that meets it is done, not blocked).
pub fn is_dependency(e: &Error) -> bool {
    e.aws_code().is_some_and(|c| {
        matches!(
            c,
            "DependencyViolation"
                | "ResourceInUse"
                | "ResourceInUseException"
                | "ResourceInUseFault"
                | "InvalidDependencyViolation"
                | "DeleteConflict"
                | "IncorrectState"
                | "InvalidState"
                | "InvalidStateTransition"
                | "ConcurrentModificationException"
                | "ConcurrentModification"
                | "OperationInProgress"
                | "ResourceNotReady"
                | "InvalidIPAddress.InUse"
        ) || e.to_string().contains("has dependent object")
    })
}

/// Transient failures the SDK gave up on (connection reset, 5xx after its attempts).
pub fn is_transient(e: &Error) -> bool {
    matches!(e, Error::Aws(a) if a.transient)
}

/// Every retried call gets at least this many attempts, however long they took:
/// under heavy throttling one call can spend most of a budget in the SDK's own
/// backoff, and a delete refused twice must still get its third try.
const MIN_ATTEMPTS: u32 = 4;

/// Runs `op` until it succeeds, fails with an error `retry_if` does not accept,
/// or the policy's budget runs out after at least `MIN_ATTEMPTS` attempts (then
/// the last error is returned).
pub async fn retry<T, F, Fut>(
    what: &str,
    policy: Policy,
    retry_if: impl Fn(&Error) -> bool,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let start = Instant::now();
    let mut delay = policy.first_delay;
    let mut attempt = 1u32;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e)
                if (retry_if(&e) || is_transient(&e))
                    && (attempt < MIN_ATTEMPTS || start.elapsed() + delay < policy.budget) =>
            {
                tracing::debug!("{what}: attempt {attempt} failed ({e}); retrying in {delay:?}");
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(policy.max_delay);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A delete that is done when the resource is gone: `NotFound` is success,
/// dependency errors are waited out.
pub async fn delete<F, Fut>(what: &str, op: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    match retry(what, Policy::dependency(), is_dependency, op).await {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// A call right after a create that may not see the new resource yet.
pub async fn after_create<T, F, Fut>(what: &str, op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry(what, Policy::consistency(), is_not_found, op).await
}

/// Up to +25% of the delay, so concurrent retries do not march in step.
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    delay + delay.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

/// The first poll interval of `wait_for`; each next one doubles, up to `every`.
const FIRST_POLL: Duration = Duration::from_millis(250);

/// The pause before poll number `n` (0-based) of a wait that polls at most
/// every `every`: 0.25 s, 0.5 s, 1 s, 2 s, then `every`. A wait that is over
/// in a few seconds (a NAT gateway on a fast day, a scaled test) is seen
/// within a fraction of a second; a long one costs a call per `every`.
fn poll_delay(n: u32, every: Duration) -> Duration {
    FIRST_POLL.saturating_mul(2u32.saturating_pow(n)).min(every)
}

/// Polls `check` until it returns `Some`, for at most `max`: quickly at
/// first, then every `every` (`poll_delay`). For the states no SDK waiter
/// covers.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    max: Duration,
    every: Duration,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    let mut waiting = crate::progress::waiting(what);
    let mut polls = 0;
    loop {
        if let Some(v) = check().await? {
            waiting.done();
            return Ok(v);
        }
        waiting.tick();
        if start.elapsed() >= max {
            return Err(Error::Timeout {
                what: what.to_owned(),
                secs: max.as_secs(),
            });
        }
        tokio::time::sleep(poll_delay(polls, every)).await;
        polls += 1;
    }
}

/// Turns an SDK waiter's failure into ours: running out of time is a timeout
/// (exit 8), anything else (a failure state, an AWS error) an AWS error.
pub fn waiter_error<E: std::fmt::Display>(what: &str, max: Duration, e: E) -> Error {
    let text = e.to_string();
    if text.contains("exceeded") || text.contains("timed out") || text.contains("timeout") {
        Error::Timeout {
            what: what.to_owned(),
            secs: max.as_secs(),
        }
    } else {
        Error::Aws(crate::error::AwsError {
            op: format!("waiting for {what}"),
            code: None,
            message: crate::error::one_line(&text),
            request_id: None,
            transient: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AwsError;
    use std::cell::Cell;

    fn aws(code: &str) -> Error {
        Error::Aws(AwsError {
            op: "Op".into(),
            code: Some(code.into()),
            message: "m".into(),
            request_id: None,
            transient: false,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn retries_dependency_errors_then_succeeds() {
        let calls = Cell::new(0);
        let r = delete("DeleteSubnet", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(aws("DependencyViolation"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(r.is_ok());
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_on_delete_is_done_and_other_errors_are_not_retried() {
        assert!(
            delete("Delete", || async { Err(aws("InvalidSubnetID.NotFound")) })
                .await
                .is_ok()
        );
        let calls = Cell::new(0);
        let r = delete("Delete", || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(aws("UnauthorizedOperation")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gateway_that_is_not_attached_is_no_dependency_to_wait_out() {
        assert!(!is_dependency(&aws("Gateway.NotAttached")));
        let calls = Cell::new(0);
        let r = delete("DetachInternetGateway", || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(aws("Gateway.NotAttached")) }
        })
        .await;
        assert_eq!(r.unwrap_err().aws_code(), Some("Gateway.NotAttached"));
        assert_eq!(calls.get(), 1, "answered once, not retried for minutes");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_budget() {
        let policy = Policy {
            budget: Duration::from_secs(2),
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_millis(500),
        };
        let r: Result<()> = retry("x", policy, is_dependency, || async {
            Err(aws("DependencyViolation"))
        })
        .await;
        assert_eq!(r.unwrap_err().aws_code(), Some("DependencyViolation"));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_still_get_their_attempts() {
        // Each call takes longer than the whole budget (the SDK backing off from
        // throttling): the delete refused twice still succeeds on its third try.
        let policy = Policy {
            budget: Duration::from_secs(2),
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_millis(500),
        };
        let calls = std::cell::Cell::new(0);
        let r = retry("x", policy, is_dependency, || {
            calls.set(calls.get() + 1);
            async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if calls.get() < 3 {
                    Err(aws("DependencyViolation"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(r.is_ok());
        assert_eq!(calls.get(), 3);

        // A permanent refusal still ends: after MIN_ATTEMPTS.
        calls.set(0);
        let r: Result<()> = retry("x", policy, is_dependency, || {
            calls.set(calls.get() + 1);
            async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Err(aws("DependencyViolation"))
            }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), MIN_ATTEMPTS);
    }

    #[test]
    fn polls_start_fast_and_settle_at_their_interval() {
        let every = Duration::from_secs(3);
        let delays: Vec<u128> = (0..7).map(|n| poll_delay(n, every).as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 3000, 3000, 3000]);
        assert_eq!(poll_delay(u32::MAX, every), every, "no overflow");
        let short = Duration::from_millis(100);
        assert_eq!(poll_delay(0, short), short, "never above the interval");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_are_bounded() {
        let r: Result<()> = wait_for(
            "nothing",
            Duration::from_secs(3),
            Duration::from_secs(1),
            || async { Ok(None) },
        )
        .await;
        assert!(matches!(r, Err(Error::Timeout { .. })));
    }
}
