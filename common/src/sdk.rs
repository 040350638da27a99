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

/// The calls a tool keeps in flight per AWS service (common::bounded's bound).
pub const IN_FLIGHT: usize = crate::bounded::PER_SERVICE;

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

/// `bounded::try_all`, in the argument order alb-up and scale-up call it with.
pub fn try_join_bounded<T, F>(
    futures: impl IntoIterator<Item = F>,
    limit: usize,
) -> impl std::future::Future<Output = Result<Vec<T>>>
where
    F: std::future::Future<Output = Result<T>>,
{
    crate::bounded::try_all(limit, futures)
}

/// `bounded::all`, in the argument order alb-up and scale-up call it with.
pub fn join_bounded<T, F>(
    futures: impl IntoIterator<Item = F>,
    limit: usize,
) -> impl std::future::Future<Output = Vec<T>>
where
    F: std::future::Future<Output = T>,
{
    crate::bounded::all(limit, futures)
}
