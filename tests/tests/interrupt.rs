//! Interrupts and documents: Ctrl-C (SIGINT) or SIGTERM mid-run stops between
//! changes, releases the stack's lock, writes no document, exits 130 or 143 with
//! one line saying a re-run resumes; `-o FILE` keeps the previous file whole when
//! a run fails or is interrupted; and the re-run completes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{unique_stack, Emulator};

fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -s {name} {pid}");
}

/// net-up, stopped by `sig` while its third mutating call hangs.
fn interrupted(sig: &str, code: i32) {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("sig");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net.json");
    std::fs::write(&out, "the previous document\n").unwrap();
    lane.set_faults(serde_json::json!({"hang_after_mutations": 3}));
    let mut child = lane
        .tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
        .arg("-o")
        .arg(&out)
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(lane.wait_tripped(&mut child, Duration::from_secs(60)));
    let start = Instant::now();
    signal(child.id(), sig);
    // Release the hanging call: the one in flight finishes, no new one starts.
    lane.set_faults(serde_json::json!({}));
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(code), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "stopped within the grace"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("net-up: interrupted by ") && last.contains("a re-run resumes"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "the previous document\n",
        "-o keeps the previous document"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );

    // The lock was released: a re-run without --break-lock completes.
    em.tool("net-up")
        .args(["-n", "--stack", &stack, "--env", "dev", "--nat", "none"])
        .arg("-o")
        .arg(&out)
        .succeeds();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(doc["network"]["vpc_id"].is_string());
    em.tool("teardown")
        .stdin(std::fs::read(&out).unwrap())
        .succeeds();
    assert!(em.inventory("us-east-1", &stack, "dev").is_empty());
}

#[test]
fn sigint_mid_run_exits_130_keeps_the_old_document_and_a_rerun_completes() {
    interrupted("INT", 130);
}

#[test]
fn sigterm_mid_run_exits_143() {
    interrupted("TERM", 143);
}

#[test]
fn a_failed_run_leaves_the_previous_output_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("doc.json");
    std::fs::write(&out, "kept\n").unwrap();
    testkit::offline("net-up")
        .args(["-n", "--stack", "a", "--env", "dev", "--cidr", "10.0.0.0/8"])
        .arg("-o")
        .arg(&out)
        .fails()
        .code(5);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept\n");
}
