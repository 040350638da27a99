//! Running a tool the way a test means it, in the spirit of uutils' `new_ucmd!()`:
//!
//! ```no_run
//! # let em = testkit::Emulator::shared();
//! # let doc = String::new();
//! let out = em.tool("svc-up").args(["-v"]).stdin(&doc).succeeds();
//! let services = &out.json()["services"];
//! let err = testkit::offline("svc-up").stdin("{").fails().code(3);
//! ```
//!
//! `succeeds()` and `fails()` say what the test expects and, when it does not
//! happen, panic with the tool's stderr; `fails().code(n)` also checks the error
//! shape every tool shares: nothing on stdout, one line `tool: message` on stderr.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A tool (or a shell, or `make`) about to run, with the test environment set.
#[derive(Debug)]
pub struct Tool {
    name: String,
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Tool {
    /// `program` with test credentials and nothing from the user's AWS setup;
    /// `name` is what its errors start with (`net-up: ...`).
    pub(crate) fn new(name: &str, program: impl AsRef<OsStr>) -> Tool {
        let mut cmd = Command::new(program);
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
        cmd.env("AWS_ACCESS_KEY_ID", crate::CREDENTIALS)
            .env("AWS_SECRET_ACCESS_KEY", crate::CREDENTIALS)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Fail fast instead of retrying for minutes when a test goes wrong.
            .env("FP_RETRY_BUDGET_SECS", "20");
        Tool {
            name: name.to_owned(),
            cmd,
            stdin: None,
        }
    }

    /// A workspace binary, e.g. `net-up`.
    pub(crate) fn binary(name: &str) -> Tool {
        Tool::new(name, tool_path(name))
    }

    /// `script` in bash (`set -euo pipefail`), the workspace's tools on PATH.
    pub(crate) fn shell(script: &str) -> Tool {
        let path = match std::env::var_os("PATH") {
            Some(rest) => std::env::join_paths(
                [tools_dir()]
                    .into_iter()
                    .chain(std::env::split_paths(&rest).collect::<Vec<_>>()),
            )
            .expect("PATH entries join"),
            None => tools_dir().into_os_string(),
        };
        Tool::new("bash", "bash")
            .args(["-c", &format!("set -euo pipefail; {script}")])
            .env("PATH", path)
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Tool {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Tool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Tool {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Tool {
        self.cmd.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Tool {
        self.cmd.current_dir(dir);
        self
    }

    /// What the tool reads on stdin (without it, stdin is empty: a tool that
    /// reads it sees no document).
    pub fn stdin(mut self, text: impl AsRef<[u8]>) -> Tool {
        self.stdin = Some(text.as_ref().to_vec());
        self
    }

    /// Runs it to the end, whatever the outcome.
    pub fn run(mut self) -> Run {
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.name));
        let mut pipe = child.stdin.take().expect("piped stdin");
        let input = self.stdin.take().unwrap_or_default();
        // A thread, so a tool that writes before it has read everything cannot
        // block on a full pipe while we block writing to it.
        let writer = std::thread::spawn(move || {
            // A tool that fails before reading stdin closes it: not our error.
            let _ = pipe.write_all(&input);
        });
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name));
        writer.join().expect("the stdin writer");
        Run {
            name: self.name,
            output,
        }
    }

    /// Runs it and asserts it exits 0.
    pub fn succeeds(self) -> Run {
        let run = self.run();
        assert!(
            run.output.status.success(),
            "{} failed ({}): {}",
            run.name,
            run.output.status,
            run.stderr()
        );
        run
    }

    /// Runs it and asserts it does not exit 0; `.code(n)` says how it must fail.
    pub fn fails(self) -> Failed {
        let run = self.run();
        assert!(
            !run.output.status.success(),
            "{} succeeded where it must fail; stdout: {}",
            run.name,
            run.stdout()
        );
        Failed(run)
    }

    /// The command as set up, for a test that spawns, waits or kills it itself.
    pub fn into_command(self) -> Command {
        assert!(
            self.stdin.is_none(),
            "{}: stdin is given to a spawned command by its spawner",
            self.name
        );
        self.cmd
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    name: String,
    output: Output,
}

impl Run {
    /// stdout, parsed: every tool writes one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout).unwrap_or_else(|e| {
            panic!("{}: stdout is not JSON ({e}): {}", self.name, self.stdout())
        })
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The exit code (None when a signal ended it).
    pub fn status(&self) -> Option<i32> {
        self.output.status.code()
    }
}

/// A run that failed, as the test expected.
#[derive(Debug)]
pub struct Failed(Run);

impl Failed {
    /// Asserts the exit code and the one error shape of every tool: nothing on
    /// stdout, exactly one line on stderr, `tool: message`. Returns that line.
    pub fn code(self, code: i32) -> String {
        let run = self.0;
        let stderr = run.stderr();
        assert_eq!(run.status(), Some(code), "exit code; stderr: {stderr}");
        assert!(
            run.output.stdout.is_empty(),
            "nothing on stdout: {}",
            run.stdout()
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got: {stderr}");
        assert!(
            lines[0].starts_with(&format!("{}: ", run.name)),
            "starts with the tool name: {stderr}"
        );
        stderr
    }

    /// Only the exit code, for what is not one tool (a shell, `make`).
    pub fn status(self, code: i32) -> Run {
        assert_eq!(
            self.0.status(),
            Some(code),
            "exit code; stderr: {}",
            self.0.stderr()
        );
        self.0
    }
}

/// Where cargo put a workspace binary (next to this test binary's deps/ dir).
pub fn tool_path(name: &str) -> PathBuf {
    let path = tools_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// target/<profile>/, where the tools are.
pub fn tools_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..")
        .to_path_buf()
}

/// A tool pointed at a port nothing listens on: any AWS call it makes fails with
/// the AWS exit code (7), so a test that gets another code proves no call was made.
pub fn offline(name: &str) -> Tool {
    Tool::binary(name)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1")
}

/// The tool of the crate whose tests call it, offline: `offline!().arg("--help")`.
#[macro_export]
macro_rules! offline {
    () => {
        $crate::offline(env!("CARGO_PKG_NAME"))
    };
}
