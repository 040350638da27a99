//! Secret values, from the person running secrets-up and nobody else.
//!
//! A value comes from a file (`--value-file NAME=PATH`), an environment
//! variable (`--value-env NAME=VAR`) or the terminal (`--value-prompt NAME`,
//! typed without echo), never from the document or the command line itself.
//! Each is read once, before the first AWS call, into a [`SecretValue`], which
//! prints as `<redacted>`, cannot be serialized, and is handed only to the
//! calls that store it or compare it with the current one. No message here
//! quotes a value: a file is named by its path, a variable by its name.
//!
//! A value file must be a regular file of at most 64 KiB (Secrets Manager's
//! limit): a FIFO, a device or a directory is refused before it is opened for
//! reading, so a path to `/dev/zero` or a named pipe cannot hang the run or
//! fill its memory. The file is then opened without blocking and checked again,
//! so one swapped for a FIFO in between is refused too.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::error::shown;
use common::{Error, Result};

pub use common::spec::secrets::check_short_name;

/// Secrets Manager's limit on a value.
pub const MAX_VALUE_BYTES: u64 = 65_536;

/// A secret's value. It never leaves the process except in the calls that
/// store it: `Debug` and `Display` print `<redacted>`, and it has no `Serialize`.
pub struct SecretValue(String);

impl SecretValue {
    /// The value itself, for the AWS call that stores it and nothing else.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// A value in memory (tests, and the current value read back from AWS).
    pub(crate) fn new(text: String) -> Self {
        SecretValue(text)
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where one secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Env(String),
    Prompt,
}

/// The flags' sources by secret name: at most one per secret.
pub fn sources(
    files: &[String],
    envs: &[String],
    prompts: &[String],
) -> Result<BTreeMap<String, Source>> {
    let mut pairs = Vec::new();
    for arg in files {
        let (name, path) = split_pair("--value-file", arg)?;
        pairs.push(("--value-file", name, Source::File(path.into())));
    }
    for arg in envs {
        let (name, var) = split_pair("--value-env", arg)?;
        env_name(var)?;
        pairs.push(("--value-env", name, Source::Env(var.to_owned())));
    }
    for name in prompts {
        pairs.push(("--value-prompt", name.as_str(), Source::Prompt));
    }
    let mut out = BTreeMap::new();
    for (flag, name, source) in pairs {
        check_short_name(name).map_err(|e| Error::Usage(format!("{flag}: {e}")))?;
        if out.insert(name.to_owned(), source).is_some() {
            return Err(Error::Usage(format!(
                "secret '{name}' is given two values: pass one of --value-file, --value-env, \
                 --value-prompt per secret"
            )));
        }
    }
    Ok(out)
}

/// `NAME=REST`, split by us rather than by clap, whose error would quote the
/// whole argument: a value typed there by mistake must not be echoed.
fn split_pair<'a>(flag: &str, arg: &'a str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k, v)),
        _ => Err(Error::Usage(format!(
            "{flag} expects NAME=PATH or NAME=VAR (see secrets-up --help)"
        ))),
    }
}

/// A variable's name, not a value typed where the name belongs (not echoed).
fn env_name(var: &str) -> Result<()> {
    if common::spec::secrets::is_env_name(var) {
        Ok(())
    } else {
        Err(Error::Usage(
            "--value-env expects NAME=VAR, VAR the name of an environment variable \
             (letters, digits, '_'), not a value"
                .into(),
        ))
    }
}

/// Reads every value, in name order; the first problem is the error.
pub fn read_all(sources: &BTreeMap<String, Source>) -> Result<BTreeMap<String, SecretValue>> {
    sources
        .iter()
        .map(|(name, source)| {
            let value = match source {
                Source::File(path) => read_file(name, path)?,
                Source::Env(var) => read_env(name, var)?,
                Source::Prompt => read_prompt(name)?,
            };
            Ok((name.clone(), value))
        })
        .collect()
}

fn read_file(short: &str, path: &Path) -> Result<SecretValue> {
    let path_shown = shown(&path.display().to_string());
    let cannot = |why: &str| {
        Error::spec(format!(
            "secret '{short}': cannot read the value file {path_shown}: {why}"
        ))
    };
    // Before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| cannot(&e.to_string()))?;
    check_regular(&meta).map_err(|why| cannot(&why))?;
    // O_NONBLOCK: should the path have become a FIFO since, the open returns at once.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| cannot(&e.to_string()))?;
    let meta = file.metadata().map_err(|e| cannot(&e.to_string()))?;
    check_regular(&meta).map_err(|why| cannot(&why))?;
    read_bounded(file)
        .map_err(|why| cannot(&why))
        .and_then(|text| checked_value(short, &format!("the value file {path_shown}"), text))
}

/// A regular file within Secrets Manager's limit.
fn check_regular(meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(format!("it is {what}; give a regular file"));
    }
    if meta.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "it holds {} bytes, more than Secrets Manager's {MAX_VALUE_BYTES}",
            meta.len()
        ));
    }
    Ok(())
}

/// Reads at most one byte more than the limit, so a file that grew since its
/// size was checked is still refused without being read whole.
fn read_bounded(file: File) -> std::result::Result<String, String> {
    let mut bytes = Vec::new();
    file.take(MAX_VALUE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    String::from_utf8(bytes)
        .map_err(|_| "it is not UTF-8 text (binary secrets are not supported)".to_owned())
}

fn read_env(short: &str, var: &str) -> Result<SecretValue> {
    let text = match std::env::var(var) {
        Ok(v) => v,
        Err(std::env::VarError::NotPresent) => {
            return Err(Error::spec(format!(
                "secret '{short}': the environment variable {var} (--value-env) is not set"
            )))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Error::spec(format!(
                "secret '{short}': the environment variable {var} is not UTF-8 text"
            )))
        }
    };
    checked_value(short, &format!("the environment variable {var}"), text)
}

/// Asks the terminal, with echo off (`stty -echo`, put back however the read
/// ends). The line's end is not part of the value.
fn read_prompt(short: &str) -> Result<SecretValue> {
    let no_tty = |e: std::io::Error| {
        Error::Usage(format!(
            "--value-prompt {short} needs a terminal ({e}): use --value-file or --value-env in scripts"
        ))
    };
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(no_tty)?;
    let _echo_off = EchoOff::new(&tty)?;
    let mut out = tty.try_clone().map_err(no_tty)?;
    let _ = write!(out, "secrets-up: value of secret {short} (not shown): ");
    let _ = out.flush();
    let mut line = String::new();
    BufReader::new(tty.take(MAX_VALUE_BYTES + 2))
        .read_line(&mut line)
        .map_err(|e| {
            Error::Usage(format!(
                "--value-prompt {short}: cannot read the terminal: {e}"
            ))
        })?;
    let _ = writeln!(out);
    let text = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line)
        .to_owned();
    checked_value(short, "the value typed", text)
}

/// The terminal's echo, off while it lives.
struct EchoOff(File);

impl EchoOff {
    fn new(tty: &File) -> Result<Self> {
        let tty = tty
            .try_clone()
            .map_err(|e| Error::Usage(format!("cannot use the terminal: {e}")))?;
        stty(&tty, "-echo").map_err(|e| {
            Error::Usage(format!(
                "cannot turn the terminal's echo off ({e}), so no value is asked for: \
                 use --value-file or --value-env"
            ))
        })?;
        Ok(EchoOff(tty))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = stty(&self.0, "echo");
    }
}

fn stty(tty: &File, setting: &str) -> std::io::Result<()> {
    let status = Command::new("stty")
        .arg(setting)
        .stdin(Stdio::from(tty.try_clone()?))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("stty {setting} failed")))
    }
}

fn checked_value(short: &str, source: &str, text: String) -> Result<SecretValue> {
    if text.is_empty() {
        return Err(Error::spec(format!("secret '{short}': {source} is empty")));
    }
    if text.len() as u64 > MAX_VALUE_BYTES {
        return Err(Error::spec(format!(
            "secret '{short}': {source} holds more than {MAX_VALUE_BYTES} bytes, Secrets Manager's limit"
        )));
    }
    Ok(SecretValue(text))
}

/// A value declared to hold JSON keys must be a JSON object with those keys, or
/// the tasks referencing `<arn>:<key>::` would fail at start. The error names
/// the missing key, never the value (serde's messages give positions, not content).
pub fn check_json_keys(short: &str, value: &SecretValue, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let parsed: serde_json::Value = serde_json::from_str(value.expose()).map_err(|e| {
        Error::spec(format!(
            "secret '{short}': json_keys is set but the value is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Some(object) = parsed.as_object() else {
        return Err(Error::spec(format!(
            "secret '{short}': json_keys is set but the value is not a JSON object"
        )));
    };
    match keys.iter().find(|k| !object.contains_key(k.as_str())) {
        Some(missing) => Err(Error::spec(format!(
            "secret '{short}': the value has no key \"{missing}\" (listed in json_keys)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
