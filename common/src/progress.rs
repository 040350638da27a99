//! Long waits, shown as they happen.
//!
//! A NAT gateway takes a minute or two, a Cloud Map namespace up to a minute,
//! a deployment several: a tool that prints nothing meanwhile looks hung. On a
//! terminal each wait is a live spinner line with its elapsed time (indicatif,
//! drawn on stderr, and the log lines printed above it); off a terminal (CI)
//! a wait is a log line when it starts, one every `HEARTBEAT` while it lasts,
//! and one when it ends, so the log says what the run waited for and how long.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// How often a wait off a terminal says it is still waiting.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

static BARS: OnceLock<Option<MultiProgress>> = OnceLock::new();

/// Live progress on stderr, when stderr is a terminal and the run is not quiet.
/// Called once, by logging::init; without it there are no spinners.
pub fn init(quiet: bool) {
    let live = !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let _ = BARS.set(live.then(MultiProgress::new));
}

fn bars() -> Option<&'static MultiProgress> {
    BARS.get().and_then(Option::as_ref)
}

/// Writes a log line to stderr above the live spinners (if any), so the two
/// never garble each other. The logging subscriber writes through this.
pub fn write_stderr(buf: &[u8]) -> std::io::Result<()> {
    match bars() {
        Some(m) => m.suspend(|| std::io::stderr().write_all(buf)),
        None => std::io::stderr().write_all(buf),
    }
}

/// One wait in progress; `done` ends it with its duration, dropping it ends
/// it silently (the caller reports the failure).
#[derive(Debug)]
pub struct Waiting {
    what: String,
    started: Instant,
    said: Instant,
    bar: Option<ProgressBar>,
}

/// Starts showing a wait for `what` ("NAT gateway nat-0a1b… to be available").
pub fn waiting(what: impl Into<String>) -> Waiting {
    let what = what.into();
    let bar = bars().map(|m| {
        let bar = m.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} waiting for {msg} ({elapsed})")
                .expect("a valid template"),
        );
        bar.set_message(what.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    if bar.is_none() {
        tracing::info!("waiting for {what}");
    }
    let now = Instant::now();
    Waiting {
        what,
        started: now,
        said: now,
        bar,
    }
}

/// Shows a wait for `what` while `wait` runs: for the SDK's waiters, which
/// poll by themselves and say nothing meanwhile. Ends with the duration when
/// the wait succeeds; the caller reports a failure.
pub async fn during<T, E>(
    what: impl Into<String>,
    wait: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, E> {
    let mut shown = waiting(what);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            result = &mut wait => {
                if result.is_ok() {
                    shown.done();
                }
                return result;
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => shown.tick(),
        }
    }
}

impl Waiting {
    /// Called at each poll: off a terminal, says every `HEARTBEAT` that the
    /// wait goes on (a terminal's spinner already does).
    pub fn tick(&mut self) {
        if self.bar.is_none() && self.said.elapsed() >= HEARTBEAT {
            self.said = Instant::now();
            tracing::info!(
                "still waiting for {} ({})",
                self.what,
                seconds(self.started.elapsed())
            );
        }
    }

    /// The wait is over: one line saying how long it took.
    pub fn done(self) {
        tracing::info!(
            "{}: ready after {}",
            self.what,
            seconds(self.started.elapsed())
        );
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if let Some(m) = bars() {
                m.remove(&bar);
            }
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_a_terminal_a_wait_is_log_lines_and_no_spinner() {
        // Tests run with stderr captured: never a terminal.
        init(false);
        let mut w = waiting("a thing");
        assert!(w.bar.is_none());
        w.said -= HEARTBEAT;
        w.tick();
        assert!(
            w.said.elapsed() < HEARTBEAT,
            "the heartbeat was said and reset"
        );
        w.done();
    }

    #[test]
    fn durations_read_in_seconds() {
        assert_eq!(seconds(Duration::from_millis(92_400)), "92 s");
    }
}
