//! Reading values: every refusal names the file or variable, never a value,
//! and nothing that is not a regular file is ever read from.

use std::time::{Duration, Instant};

use super::*;

fn file_source(name: &str, path: &Path) -> BTreeMap<String, Source> {
    sources(&[format!("{name}={}", path.display())], &[], &[]).unwrap()
}

fn read_error(path: &Path) -> String {
    read_all(&file_source("db", path)).unwrap_err().to_string()
}

#[test]
fn a_file_is_read_as_is_and_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    std::fs::write(&path, "hunter2-secret\n").unwrap();
    let values = read_all(&file_source("db", &path)).unwrap();
    assert_eq!(values["db"].expose(), "hunter2-secret\n");
    let shown = format!("{values:?} {}", values["db"]);
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(shown, r#"{"db": <redacted>} <redacted>"#);
}

#[test]
fn fifos_devices_and_directories_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Nobody writes to the FIFO: opening it for reading would hang forever.
    let start = Instant::now();
    let e = read_error(&fifo);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        e.contains("not a regular file") && e.contains("pipe"),
        "{e}"
    );
    let e = read_error(Path::new("/dev/zero"));
    assert!(
        e.contains("not a regular file") && e.contains("/dev/zero"),
        "{e}"
    );
    let e = read_error(dir.path());
    assert!(e.contains("a directory"), "{e}");
    let e = read_error(&dir.path().join("missing"));
    assert!(
        e.contains("cannot read the value file") && e.contains("missing"),
        "{e}"
    );
}

#[test]
fn empty_oversized_and_binary_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    std::fs::write(&path, "").unwrap();
    assert!(read_error(&path).contains("is empty"));
    std::fs::write(&path, vec![b'a'; 65_537]).unwrap();
    let e = read_error(&path);
    assert!(e.contains("65537 bytes") && e.contains("65536"), "{e}");
    std::fs::write(&path, vec![b'a'; 65_536]).unwrap();
    assert!(
        read_all(&file_source("db", &path)).is_ok(),
        "the limit itself is fine"
    );
    std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
    assert!(read_error(&path).contains("not UTF-8"));
}

#[test]
fn variables_are_named_and_their_values_never_shown() {
    let e = read_all(&sources(&[], &["db=FP_SURELY_UNSET_VAR_1".into()], &[]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("FP_SURELY_UNSET_VAR_1") && e.contains("not set"),
        "{e}"
    );
    // A value typed where the variable's name belongs: refused, not echoed.
    let e = sources(&[], &["db=p@ssw0rd!".into()], &[]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(!e.to_string().contains("p@ssw0rd"), "{e}");
}

#[test]
fn one_source_per_secret_and_names_are_secret_names() {
    let e = sources(&["db=/x".into()], &["db=HOME".into()], &[]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("two values"), "{e}");
    let e = sources(&[], &[], &["db".into(), "db".into()]).unwrap_err();
    assert!(e.to_string().contains("two values"), "{e}");
    let e = sources(&["DB=/x".into()], &[], &[]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string()
            .starts_with("--value-file: invalid secret name"),
        "{e}"
    );
    for bad in ["db", "=x", "db="] {
        let e = sources(&[bad.into()], &[], &[]).unwrap_err();
        assert!(e.to_string().contains("NAME=PATH"), "{bad}: {e}");
    }
    let all = sources(&["a=/x".into()], &["b=V".into()], &["c".into()]).unwrap();
    assert_eq!(
        all.into_iter().collect::<Vec<_>>(),
        [
            ("a".to_owned(), Source::File("/x".into())),
            ("b".to_owned(), Source::Env("V".into())),
            ("c".to_owned(), Source::Prompt)
        ]
    );
}

#[test]
fn json_keys_are_checked_without_quoting_the_value() {
    let v = SecretValue::new(r#"{"password":"hunter2"}"#.into());
    assert!(check_json_keys("db", &v, &["password".into()]).is_ok());
    let e = check_json_keys("db", &v, &["username".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("username") && !e.contains("hunter2"), "{e}");
    let not_json = SecretValue::new("hunter2 {".into());
    let e = check_json_keys("db", &not_json, &["a".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("not JSON") && !e.contains("hunter2"), "{e}");
    let list = SecretValue::new("[1]".into());
    assert!(check_json_keys("db", &list, &["a".into()])
        .unwrap_err()
        .to_string()
        .contains("not a JSON object"));
    assert!(
        check_json_keys("db", &not_json, &[]).is_ok(),
        "no keys, no check"
    );
}
