//! Bounded concurrency for discovery and apply: independent calls run at once,
//! but never more than a few per AWS service, so a large stack does not trip
//! the service's request-rate quota (the SDK's adaptive retry would slow the
//! whole run down instead) and a small one still gets its calls in parallel.

use std::future::Future;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::Result;

/// How many calls a tool keeps in flight against one AWS service.
pub const PER_SERVICE: usize = 8;

/// Runs the futures, at most `limit` at a time; their outputs in input order.
///
/// The futures are collected before the returned future starts, so the
/// closure that made them is not part of its state: a caller's
/// `items.iter().map(|x| async move { .. })` then stays `Send` inside the
/// boxed futures of `common::layer` (otherwise rustc asks the closure to be
/// general over every lifetime, which such closures are not).
pub fn all<T, F>(limit: usize, futures: impl IntoIterator<Item = F>) -> impl Future<Output = Vec<T>>
where
    F: Future<Output = T>,
{
    let futures: Vec<F> = futures.into_iter().collect();
    stream::iter(futures).buffered(limit.max(1)).collect()
}

/// Runs the fallible futures, at most `limit` at a time; their outputs in
/// input order, or the first error (the ones still running are dropped).
pub fn try_all<T, F>(
    limit: usize,
    futures: impl IntoIterator<Item = F>,
) -> impl Future<Output = Result<Vec<T>>>
where
    F: Future<Output = Result<T>>,
{
    let futures: Vec<F> = futures.into_iter().collect();
    stream::iter(futures).buffered(limit.max(1)).try_collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::Error;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_flight_and_outputs_keep_their_order() {
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let out = all(
            3,
            (0..10).map(|i| {
                let (now, peak) = (&now, &peak);
                async move {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10 * (10 - i))).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    i
                }
            }),
        )
        .await;
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_first_error_wins() {
        let r = try_all(
            2,
            (0..5).map(|i| async move {
                if i == 3 {
                    Err(Error::Usage(format!("{i}")))
                } else {
                    Ok(i)
                }
            }),
        )
        .await;
        assert_eq!(r.unwrap_err().to_string(), "3");
        let ok = try_all(2, (0..3).map(|i| async move { Ok::<_, Error>(i) })).await;
        assert_eq!(ok.unwrap(), [0, 1, 2]);
    }
}
