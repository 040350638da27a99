//! The test harness: the emulator, the tools, and what the emulator holds.
//!
//! Emulator tests start moto through the project's own launcher
//! (`scripts/emulator.py`), one server per test binary shared by its tests, each
//! test with a stack name of its own. If the emulator cannot start, the test
//! panics with the reason: an emulator test never passes without an emulator.
//!
//! - [`Emulator::tool`], [`offline`] (and `offline!()`), [`Emulator::shell`]:
//!   run a tool, a pipeline, `make`; `.succeeds()` / `.fails().code(n)`.
//! - [`Emulator::lane`]: faults injected (tests/faults.py) into the calls of
//!   one lane's tools only, so fault tests run in parallel on the one emulator.
//! - [`Emulator::session`]: a tool context for calling a layer's library
//!   directly, and the SDK for reading back what a tool did.
//! - [`Emulator::inventory`]: what the emulator holds for a stack, by kind.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

mod emulator;
pub mod inventory;
mod session;
mod tool;

pub use emulator::{Emulator, Lane, SHARED_ENDPOINT};
pub use session::Session;
pub use tool::{offline, tool_path, tools_dir, Failed, Run, Tool};

/// The access key (and secret) of the tools and the harness; the emulator takes any.
/// Fault lanes use keys of their own.
pub(crate) const CREDENTIALS: &str = "testing";

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A stack name no other test uses, in this process or in another test
/// binary on the same emulator: the process id (five base-36 digits, so one
/// process's names are never the start of another's), then a counter.
pub fn unique_stack(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}x{n}", base36(std::process::id(), 5))
}

/// `n` in `width` base-36 digits (lowercase), its high digits dropped if longer.
fn base36(mut n: u32, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for d in digits.iter_mut().rev() {
        *d = b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(digits).expect("ASCII digits")
}

/// Kinds and counts, for assertions: `counts(&[("vpc", 1), ("subnet", 6)])`.
pub fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect()
}

/// Calls `check` on every item, `workers` at a time. A failing item stops the
/// others from starting; its panic fails the test.
pub fn parallel<T: Sync>(items: &[T], workers: usize, check: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() || failed.load(Ordering::SeqCst) {
                    break;
                }
                let item = &items[i];
                let result = catch_unwind(AssertUnwindSafe(|| check(item)));
                if let Err(panic) = result {
                    failed.store(true, Ordering::SeqCst);
                    resume_unwind(panic);
                }
            });
        }
    });
}

/// The change lines a tool logged on stderr (`tool: + kind name`, `~ …`,
/// `- …`, `-/+ …`: `Change::line()`), in the order it made them; with `-v`
/// the time of day comes first and is dropped.
pub fn change_lines(tool: &str, stderr: &str) -> Vec<String> {
    let prefix = format!("{tool}: ");
    stderr
        .lines()
        .filter_map(|l| l.split_once(prefix.as_str()).map(|(_, rest)| rest))
        .filter(|l| ["+ ", "~ ", "- ", "-/+ "].iter().any(|m| l.starts_with(m)))
        .map(str::to_owned)
        .collect()
}
