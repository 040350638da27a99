//! Modelled AWS errors, matched while they are still the SDK's.
//!
//! `.aws(op)` turns any SDK error into ours and keeps only the code as text.
//! Where the SDK models an error (`LoadBalancerNotFoundException`,
//! `ObjectNotFoundException`...), a tool decides on the modelled type instead:
//! `gone_if` turns "it is not there" into `None`, `wait_if` marks an answer AWS
//! gives while it catches up (a security group ELB cannot see yet) as one the
//! retries of `common::retry` wait out. The closures get the operation's
//! modelled error, so `|e| e.is_invalid_security_group_exception()` is checked
//! by the compiler against the operation's error type.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{aws_error, Error, Result};

/// The calls a tool keeps in flight per AWS service: enough to overlap
/// latency, few enough to stay under the default API rate limits.
pub const IN_FLIGHT: usize = 8;

/// Decisions on an SDK call's modelled error.
pub trait SdkResultExt<T, E> {
    /// `Ok(None)` when the service error is one `gone` accepts (the resource
    /// is not there); any other error becomes ours, naming `op`.
    fn gone_if(self, op: impl Into<String>, gone: impl FnOnce(&E) -> bool) -> Result<Option<T>>;

    /// Our error, marked transient when the service error is one `wait`
    /// accepts, so that `common::retry` tries the call again.
    fn wait_if(self, op: impl Into<String>, wait: impl FnOnce(&E) -> bool) -> Result<T>;
}

impl<T, E> SdkResultExt<T, E> for std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn gone_if(self, op: impl Into<String>, gone: impl FnOnce(&E) -> bool) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.as_service_error().is_some_and(gone) => Ok(None),
            Err(e) => Err(aws_error(op, e)),
        }
    }

    fn wait_if(self, op: impl Into<String>, wait: impl FnOnce(&E) -> bool) -> Result<T> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => {
                let again = e.as_service_error().is_some_and(wait);
                let mut ours = aws_error(op, e);
                if let (true, Error::Aws(a)) = (again, &mut ours) {
                    a.transient = true;
                }
                Err(ours)
            }
        }
    }
}

/// Runs `futures` with at most `limit` in flight, in order; the first error wins.
///
/// The futures are collected before the returned future starts, so the
/// iterator (usually a `map` with a closure borrowing its items) is not held
/// across an await: holding it makes rustc's `Send` check of a boxed caller
/// fail with "FnOnce is not general enough".
pub fn try_join_bounded<T, F>(
    futures: impl IntoIterator<Item = F>,
    limit: usize,
) -> impl std::future::Future<Output = Result<Vec<T>>>
where
    F: std::future::Future<Output = Result<T>>,
{
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let futures: Vec<F> = futures.into_iter().collect();
    stream::iter(futures).buffered(limit.max(1)).try_collect()
}

/// Runs `futures` with at most `limit` in flight, to the end, in order.
/// Collected first, like `try_join_bounded`'s.
pub fn join_bounded<T, F>(
    futures: impl IntoIterator<Item = F>,
    limit: usize,
) -> impl std::future::Future<Output = Vec<T>>
where
    F: std::future::Future<Output = T>,
{
    use futures_util::stream::{self, StreamExt};
    let futures: Vec<F> = futures.into_iter().collect();
    stream::iter(futures).buffered(limit.max(1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn at_most_limit_run_at_once_and_order_is_kept() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let futures = (0..20).map(|i| {
            let (now, peak) = (now.clone(), peak.clone());
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Error>(i)
            }
        });
        let out = try_join_bounded(futures, 3).await.unwrap();
        assert_eq!(out, (0..20).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        let out = join_bounded((0..4).map(|i| async move { i * 2 }), 2).await;
        assert_eq!(out, [0, 2, 4, 6]);
    }
}
