//! Ctrl-C and `kill`: stop cleanly, write nothing partial, leave a state a re-run
//! completes.
//!
//! On SIGINT or SIGTERM the run's AWS calls are gated: calls already in flight
//! finish (for at most `GRACE`), new ones fail at once, so the tool stops between
//! changes rather than in the middle of one. Then the stack's lock is released,
//! no document is written, and the tool exits 130 (SIGINT) or 143 (SIGTERM)
//! with one line saying a re-run resumes. Everything the tools create is tagged
//! in its create call, so the re-run finds what this run made.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long in-flight calls may take to finish after a signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Closed after a signal: the HTTP client refuses new calls.
static GATE_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether new AWS calls are refused (after a signal).
pub fn gate_closed() -> bool {
    GATE_CLOSED.load(Ordering::SeqCst)
}

/// The signals that stop a run, and their exit codes (128 + the signal number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }
}

/// Runs `run`; on SIGINT or SIGTERM, gates new calls, gives the ones in flight
/// `GRACE` to finish, and answers `Error::Interrupted`.
pub async fn guard<T>(run: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::pin!(run);
    let signal = tokio::select! {
        result = &mut run => return result,
        signal = wait() => signal,
    };
    GATE_CLOSED.store(true, Ordering::SeqCst);
    tracing::debug!(
        "{}: no new AWS calls; waiting up to {}s for those in flight",
        signal.name(),
        GRACE.as_secs()
    );
    let _ = tokio::time::timeout(GRACE, &mut run).await;
    // The lock is released after this: its call must go through.
    GATE_CLOSED.store(false, Ordering::SeqCst);
    Err(Error::Interrupted(signal))
}

/// The first SIGINT or SIGTERM; never, if the handlers cannot be installed.
async fn wait() -> Signal {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => Signal::Int,
        _ = term.recv() => Signal::Term,
    }
}
