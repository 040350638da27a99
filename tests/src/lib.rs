//! The test harness: the emulator, the tools, and what the emulator holds.
//!
//! Emulator tests start moto through the project's own launcher
//! (`scripts/emulator.py`), one server per test binary shared by its tests, each
//! test with a stack name of its own. If the emulator cannot start, the test
//! panics with the reason: an emulator test never passes without an emulator.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use assert_cmd::Command as ToolCommand;

pub mod inventory;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A running moto server. It exits when this value's stdin pipe closes, that is
/// when the test process ends, however it ends.
#[derive(Debug)]
pub struct Emulator {
    pub endpoint: String,
    child: Mutex<Child>,
    _stdin: ChildStdin,
}

impl Emulator {
    /// The emulator shared by the tests of this binary.
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(|| Emulator::start(&[]))
    }

    /// A private emulator, e.g. with a fault plan (`--faults FILE`).
    pub fn start(extra: &[&str]) -> Emulator {
        let root = root();
        let python = root.join(".venv/bin/python");
        // Once per test process: a no-op unless the pinned requirements changed.
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            let status = Command::new(root.join("scripts/local-aws"))
                .arg("install")
                .status()
                .unwrap_or_else(|e| panic!("cannot run scripts/local-aws install: {e}"));
            assert!(
                status.success(),
                "scripts/local-aws install failed: the emulator tests cannot run"
            );
        });
        let log = std::fs::File::create(
            std::env::temp_dir().join(format!("fp-moto-{}.log", std::process::id())),
        )
        .expect("a log file for the emulator");
        let mut child = Command::new(&python)
            .arg(root.join("scripts/emulator.py"))
            .args(["--port", "0", "--exit-with-parent"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator ({}): {e}", python.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(endpoint) = line.trim().strip_prefix("ready ") else {
            let _ = child.kill();
            panic!("the emulator did not start (its first line: {line:?}); see the fp-moto-*.log in the temp dir");
        };
        let stdin = child.stdin.take().expect("piped stdin");
        Emulator {
            endpoint: endpoint.to_owned(),
            child: Mutex::new(child),
            _stdin: stdin,
        }
    }

    /// A tool binary with the environment pointing at this emulator.
    pub fn tool(&self, name: &str) -> ToolCommand {
        let mut cmd = bare_tool(name);
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint);
        cmd
    }

    /// The same, as a std Command (for pipelines and killing).
    pub fn std_tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(tool_path(name));
        configure(&mut cmd);
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint);
        cmd
    }

    /// A tool context on this emulator, for calling a layer's library directly
    /// (e.g. `teardown::discover`) the way its binary would.
    pub async fn context(&self, stack: &str, env: &str, region: &str) -> common::Context {
        common::Context::new(
            "test",
            stack,
            env,
            region,
            inventory::sdk_config(&self.endpoint, region).await,
        )
    }

    pub fn inventory(&self, region: &str, stack: &str, env: &str) -> inventory::Inventory {
        inventory::Inventory::read(&self.endpoint, region, stack, env)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where cargo put a workspace binary (next to this test binary's deps/ dir).
pub fn tool_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

fn configure(cmd: &mut Command) {
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
        "FP_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Fail fast instead of retrying for minutes when a test goes wrong.
        .env("FP_RETRY_BUDGET_SECS", "20");
}

/// A tool binary with test credentials and no endpoint set.
pub fn bare_tool(name: &str) -> ToolCommand {
    let mut std = Command::new(tool_path(name));
    configure(&mut std);
    ToolCommand::from_std(std)
}

/// A tool pointed at a port nothing listens on: any AWS call it makes fails with
/// the AWS exit code (7), so a test that gets another code proves no call was made.
pub fn offline_tool(name: &str) -> ToolCommand {
    let mut cmd = bare_tool(name);
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1");
    cmd
}

/// A stack name no other test uses.
pub fn unique_stack(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}x{n}", std::process::id() % 10_000)
}

/// Parses a tool's stdout as JSON.
pub fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

/// Kinds and counts, for assertions: `counts(&[("vpc", 1), ("subnet", 6)])`.
pub fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect()
}

/// Asserts a failed run printed exactly one line, `tool: ...`, and exited with `code`.
pub fn assert_one_line_error(out: &std::process::Output, tool: &str, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {stderr}");
    assert!(
        lines[0].starts_with(&format!("{tool}: ")),
        "starts with the tool name: {stderr}"
    );
    stderr
}

/// The fault injector in front of an emulator started with `Emulator::with_faults`.
impl Emulator {
    /// A private emulator with the fault injector (tests/faults.py) in front.
    pub fn with_faults() -> Emulator {
        Emulator::start(&["--faults"])
    }

    /// Replaces the fault plan (see tests/faults.py) and resets its counters.
    pub fn set_faults(&self, plan: serde_json::Value) {
        self.control("POST", "/_faults/plan", &plan.to_string());
    }

    /// `{"mutations": n, "tripped": bool, "injected": {...}}`.
    pub fn fault_state(&self) -> serde_json::Value {
        serde_json::from_str(&self.control("GET", "/_faults/state", ""))
            .expect("fault state is JSON")
    }

    fn control(&self, method: &str, path: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).expect("the emulator listens");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write to the emulator");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read from the emulator");
        response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }
}
