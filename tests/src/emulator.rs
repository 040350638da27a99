//! The emulator process, the tools pointed at it, and its fault lanes.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::tool::Tool;
use crate::{inventory, Session, CREDENTIALS};

/// Names a running emulator (with the fault injector) for every test binary of
/// a run to share, instead of each starting and warming up its own: `make test`
/// sets it (tests/with-emulator).
pub const SHARED_ENDPOINT: &str = "FP_TEST_EMULATOR";

/// A moto server, with the fault injector (tests/faults.py) in front; its
/// default plan injects nothing.
#[derive(Debug)]
pub struct Emulator {
    pub endpoint: String,
    /// The server, when this process started it: it exits when our end of
    /// its stdin closes, that is when the test process ends, however it ends.
    process: Option<(Mutex<Child>, ChildStdin)>,
}

impl Emulator {
    /// The emulator shared by the tests of this binary: the run's, if
    /// `FP_TEST_EMULATOR` names one, else one this binary starts.
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var(SHARED_ENDPOINT) {
            Ok(endpoint) if !endpoint.is_empty() => Emulator::attach(&endpoint),
            _ => Emulator::start(),
        })
    }

    /// An emulator some other process started. It must answer now: a test
    /// never passes (or skips) without its emulator.
    fn attach(endpoint: &str) -> Emulator {
        let em = Emulator {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            process: None,
        };
        let addr = em.endpoint.trim_start_matches("http://").to_owned();
        if let Err(e) = std::net::TcpStream::connect(&addr) {
            panic!("{SHARED_ENDPOINT}={endpoint}: the emulator does not answer ({e})");
        }
        let state = em.control("GET", "/_faults/state", "");
        assert!(
            state.contains("\"tripped\""),
            "{SHARED_ENDPOINT}={endpoint}: no fault injector answers there (got {state:?})"
        );
        em
    }

    /// A private emulator.
    pub fn start() -> Emulator {
        let root = crate::root();
        install_once(&root);
        let python = root.join(".venv/bin/python");
        let log = std::env::temp_dir().join(format!("fp-moto-{}.log", std::process::id()));
        let log = std::fs::File::create(&log).expect("a log file for the emulator");
        let mut child = Command::new(&python)
            .arg(root.join("scripts/emulator.py"))
            .args(["--port", "0", "--exit-with-parent", "--faults"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator ({}): {e}", python.display()));
        let line = first_line(&mut child, Duration::from_secs(60));
        let Some(endpoint) = line.trim().strip_prefix("ready ") else {
            let _ = child.kill();
            panic!("the emulator did not start (its first line: {line:?}); see the fp-moto-*.log in the temp dir");
        };
        let stdin = child.stdin.take().expect("piped stdin");
        Emulator {
            endpoint: endpoint.to_owned(),
            process: Some((Mutex::new(child), stdin)),
        }
    }

    /// A workspace tool pointed at this emulator: `em.tool("net-up").args([..]).succeeds()`.
    pub fn tool(&self, name: &str) -> Tool {
        Tool::binary(name).env("AWS_ENDPOINT_URL", &self.endpoint)
    }

    /// A bash script with the tools on PATH, pointed at this emulator (pipelines).
    pub fn shell(&self, script: &str) -> Tool {
        Tool::shell(script).env("AWS_ENDPOINT_URL", &self.endpoint)
    }

    /// Any program (e.g. `make`) in the same environment as the tools.
    pub fn program(&self, program: &str) -> Tool {
        Tool::new(program, program).env("AWS_ENDPOINT_URL", &self.endpoint)
    }

    /// Brings `layer` up on `doc`, which must succeed; the document it writes.
    pub fn up(&self, layer: &str, doc: &serde_json::Value) -> serde_json::Value {
        self.tool(layer).stdin(doc.to_string()).succeeds().json()
    }

    /// The cheapest network the upper layers take (two AZs, no NAT), made by
    /// net-up from its flags; its document.
    pub fn network(&self, stack: &str, env: &str) -> serde_json::Value {
        self.tool("net-up")
            .args(["-n", "--stack", stack, "--env", env])
            .args(["--azs", "2", "--nat", "none"])
            .succeeds()
            .json()
    }

    /// A fault lane of its own: faults posted to it reach only its tools' calls.
    pub fn lane(&self) -> Lane<'_> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let lane = Lane {
            em: self,
            key: format!("LANE{}X{n}", std::process::id()),
        };
        lane.set_faults(serde_json::json!({}));
        lane
    }

    /// A runtime and a tool context on this emulator (see [`Session`]).
    pub fn session(&self, stack: &str, env: &str, region: &str) -> Session {
        Session::new(&self.endpoint, CREDENTIALS, stack, env, region)
    }

    /// A tool context, for async tests that call a layer's library directly.
    pub async fn context(&self, stack: &str, env: &str, region: &str) -> common::Context {
        crate::session::context(self.sdk(region).await, stack, env, region)
    }

    /// The SDK configuration of the checks, for async tests.
    pub async fn sdk(&self, region: &str) -> aws_config::SdkConfig {
        inventory::sdk_config(&self.endpoint, CREDENTIALS, region).await
    }

    /// What the emulator holds for a stack and env (callable from async tests too).
    pub fn inventory(&self, region: &str, stack: &str, env: &str) -> inventory::Inventory {
        inventory::Inventory::read(&self.endpoint, region, stack, env)
    }

    /// One call to the fault injector's control API; returns the response body.
    fn control(&self, method: &str, path: &str, body: &str) -> String {
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

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some((Ok(mut child), _)) = self.process.as_ref().map(|(c, s)| (c.lock(), s)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Once per test process: a no-op unless the pinned requirements changed.
fn install_once(root: &std::path::Path) {
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
}

/// The child's first line of stdout, or "" if none comes within `max`.
fn first_line(child: &mut Child, max: Duration) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(max).unwrap_or_default()
}

/// The calls of one access key: its tools and sessions get the faults posted
/// here, and nobody else's calls do (the inventory's never do).
#[derive(Debug)]
pub struct Lane<'a> {
    em: &'a Emulator,
    key: String,
}

impl Lane<'_> {
    pub fn tool(&self, name: &str) -> Tool {
        self.em.tool(name).env("AWS_ACCESS_KEY_ID", &self.key)
    }

    pub fn shell(&self, script: &str) -> Tool {
        self.em.shell(script).env("AWS_ACCESS_KEY_ID", &self.key)
    }

    pub fn session(&self, stack: &str, env: &str, region: &str) -> Session {
        Session::new(&self.em.endpoint, &self.key, stack, env, region)
    }

    /// Replaces the lane's fault plan (see tests/faults.py), resets its
    /// counters, and releases calls hanging on a tripped plan.
    pub fn set_faults(&self, plan: serde_json::Value) {
        let path = format!("/_faults/plan?lane={}", self.key);
        self.em.control("POST", &path, &plan.to_string());
    }

    /// `{"calls": n, "mutations": n, "tripped": bool, "injected": {...}}`.
    pub fn fault_state(&self) -> serde_json::Value {
        self.state_after(Duration::ZERO)
    }

    /// The lane's mutating calls other than the stack lock's (which every
    /// applying run makes, even one that changes nothing or is refused).
    pub fn mutations(&self) -> Vec<String> {
        self.fault_state()["mutation_log"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .filter(|m| !m.contains("/fargate-pipes/locks/"))
            .collect()
    }

    /// Waits until the lane trips (`hang_after_mutations`) or `child` exits,
    /// for at most `max`; true if it tripped.
    pub fn wait_tripped(&self, child: &mut Child, max: Duration) -> bool {
        let start = Instant::now();
        // Short waits, so a child that finishes without tripping is seen soon.
        let step = Duration::from_millis(500);
        loop {
            if self.state_after(step)["tripped"] == true {
                return true;
            }
            if child.try_wait().expect("the child's status").is_some() {
                return false;
            }
            assert!(start.elapsed() < max, "neither finished nor tripped");
        }
    }

    /// The state, as soon as the lane trips or after `wait`.
    fn state_after(&self, wait: Duration) -> serde_json::Value {
        let path = format!(
            "/_faults/state?lane={}&wait={}",
            self.key,
            wait.as_secs_f64()
        );
        serde_json::from_str(&self.em.control("GET", &path, "")).expect("fault state is JSON")
    }
}
