//! One error type for every tool, and the exit-code table that goes with it.
//!
//! Each variant is one row of the table printed in every tool's `--help` and in
//! `docs/document.md`; scripts branch on the code, people read the one-line message.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a tool. The message is one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags: unknown flag, missing value, value out of range.
    #[error("{0}")]
    Usage(String),
    /// stdin is not a JSON object (empty, truncated, not JSON).
    #[error("{0}")]
    Document(String),
    /// The document's `version` is one this build does not read.
    #[error("{0}")]
    Version(String),
    /// The spec asks for something impossible (bad CIDR, CPU/memory pair, AZ count...).
    #[error("{0}")]
    Spec(String),
    /// A layer this tool builds on is not in the document.
    #[error(
        "the document has no .{section} section: run {tool} first (e.g. {tool} < spec.json | ...)"
    )]
    MissingLayer { section: String, tool: &'static str },
    /// AWS (or the emulator) answered with an error we do not retry, or retries ran out.
    #[error("{0}")]
    Aws(AwsError),
    /// A bounded wait ran out of time.
    #[error("timed out after {secs}s waiting for {what}")]
    Timeout { what: String, secs: u64 },
    /// Teardown could not remove everything; each leftover is named.
    #[error("{} resource(s) left behind: {}", .0.len(), .0.join("; "))]
    Leftovers(Vec<String>),
    /// Reading stdin or writing stdout failed.
    #[error("{0}")]
    Io(String),
    /// A resource or an id is not this stack's and env's (by AWS's own tags),
    /// or the document mixes stacks or envs: nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// Another run of this stack and env holds the lock.
    #[error("{0}")]
    Locked(String),
    /// SIGINT or SIGTERM stopped the run between changes.
    #[error("interrupted by {}: stopped between changes and wrote no document; a re-run resumes where this one stopped", .0.name())]
    Interrupted(crate::interrupt::Signal),

    /// A deployment `--wait` followed failed: rolled back, or tasks kept stopping.
    #[error("{0}")]
    Deployment(String),
}

/// The exit-code table. Stable: scripts depend on it.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (0, "success"),
    (1, "I/O error reading stdin or writing stdout"),
    (2, "usage: unknown flag or bad flag value"),
    (
        3,
        "malformed document on stdin (empty, not JSON, not an object, a key twice, a mistyped field)",
    ),
    (4, "document version not supported by this build"),
    (
        5,
        "invalid spec (unknown key, wrong type, CIDR, CPU/memory, names, ports... in any section)",
    ),
    (
        6,
        "missing upstream layer: run the tool that writes it first",
    ),
    (7, "AWS error (after retries)"),
    (8, "a wait timed out"),
    (9, "teardown left resources behind (each is named)"),
    (
        10,
        "refused: a resource or id is not this stack's and env's (by its tags); nothing changed",
    ),
    (
        11,
        "locked: another run of this stack and env is in progress",
    ),
    (
        12,
        "a deployment failed (svc-up --wait): rolled back or its tasks kept stopping; each reason is named",
    ),
    (
        130,
        "interrupted by SIGINT (143: SIGTERM); no document written, a re-run resumes",
    ),
];

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Io(_) => 1,
            Error::Usage(_) => 2,
            Error::Document(_) => 3,
            Error::Version(_) => 4,
            Error::Spec(_) => 5,
            Error::MissingLayer { .. } => 6,
            Error::Aws(_) => 7,
            Error::Timeout { .. } => 8,
            Error::Leftovers(_) => 9,
            Error::Refused(_) => 10,
            Error::Locked(_) => 11,
            Error::Deployment(_) => 12,
            Error::Interrupted(s) => s.exit_code(),
        }
    }

    pub fn spec(msg: impl Into<String>) -> Self {
        Error::Spec(msg.into())
    }

    /// The AWS error code, when this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws(e) => e.code.as_deref(),
            _ => None,
        }
    }
}

/// The exit-code table as text, for `--help` (after_help) of every tool.
pub fn exit_code_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, what) in EXIT_CODES {
        s.push_str(&format!("  {code}  {what}\n"));
    }
    s
}

/// An AWS failure with what we were doing, the service's code and message, and the request id.
#[derive(Debug)]
pub struct AwsError {
    pub op: String,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
    /// Throttling, 5xx, timeouts and dispatch failures: worth another attempt.
    pub transient: bool,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: ", self.op)?;
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// Turns any SDK error into ours, naming the operation (`CreateVpc demo-vpc-dev`).
pub fn aws_error<E>(op: impl Into<String>, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let op = op.into();
    if let Some(message) = credentials_problem(&err) {
        return Error::Aws(AwsError {
            op,
            code: None,
            message,
            request_id: None,
            transient: false,
        });
    }
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => s.raw().status().is_server_error(),
        _ => false,
    };
    let (code, message, request_id) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().status().as_u16();
            (
                e.code().map(str::to_owned),
                e.message()
                    .map_or_else(|| format!("HTTP {status} without a message"), str::to_owned),
                e.meta().extra("aws_request_id").map(str::to_owned),
            )
        }
        SdkError::DispatchFailure(failure) => {
            let why = if failure.is_io() {
                "connection failed"
            } else if failure.is_timeout() {
                "connection timed out"
            } else {
                "request could not be sent"
            };
            (None, format!("{why}: {}", unreachable()), None)
        }
        SdkError::TimeoutError(_) => (None, "request timed out".to_owned(), None),
        other => (None, one_line(&error_chain(other)), None),
    };
    let code_transient = code.as_deref().is_some_and(is_throttling_code);
    let message = match code.as_deref() {
        Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => format!(
            "{message}: your AWS credentials have expired; refresh them (e.g. aws sso login) and re-run"
        ),
        _ => message,
    };
    Error::Aws(AwsError {
        op,
        code,
        message: one_line(&message),
        request_id,
        transient: transient || code_transient,
    })
}

/// Where the calls went, for an error that says they did not arrive.
fn unreachable() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => format!(
            "could not reach {url} (AWS_ENDPOINT_URL): is the emulator running? (eval \"$(scripts/local-aws start)\")"
        ),
        _ => "could not reach AWS: check the network and the region".to_owned(),
    }
}

/// The credential chain's failure, if that is what stopped the call: said in
/// the user's terms, with the fix, instead of a connection error.
fn credentials_problem(err: &dyn std::error::Error) -> Option<String> {
    use aws_credential_types::provider::error::CredentialsError;
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            let detail = one_line(&error_chain(c));
            return Some(match c {
                CredentialsError::CredentialsNotLoaded(_) => "no AWS credentials found: set AWS_PROFILE \
                    (and `aws sso login` for an SSO profile) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; \
                    for the emulator: eval \"$(scripts/local-aws start)\""
                    .to_owned(),
                CredentialsError::ProviderTimedOut(_) => {
                    format!("loading AWS credentials timed out: {detail}")
                }
                CredentialsError::InvalidConfiguration(_) => {
                    format!("the AWS credential configuration is invalid: {detail}")
                }
                _ => format!("could not load AWS credentials: {detail}"),
            });
        }
        source = e.source();
    }
    None
}

fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "ServiceUnavailable"
            | "InternalError"
            | "InternalFailure"
    )
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        s.push_str(": ");
        s.push_str(&e.to_string());
        source = e.source();
    }
    s
}

/// Messages are printed on one line, whatever AWS sent.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many characters of a user's value a message quotes.
pub const SHOWN_MAX: usize = 60;

/// A user's value as a message quotes it: at most [`SHOWN_MAX`] characters, then
/// `…`. Every message that echoes input goes through here, so a 10 MB stack name
/// or path makes a readable error line, not a 10 MB one.
pub fn shown(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(SHOWN_MAX).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// `.aws("CreateVpc demo-vpc-dev")?` on any SDK call result.
pub trait AwsResultExt<T> {
    fn aws(self, op: impl Into<String>) -> Result<T>;
}

impl<T, E> AwsResultExt<T> for std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, op: impl Into<String>) -> Result<T> {
        self.map_err(|e| aws_error(op, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_documented() {
        let errors = [
            Error::Io(String::new()),
            Error::Usage(String::new()),
            Error::Document(String::new()),
            Error::Version(String::new()),
            Error::Spec(String::new()),
            Error::MissingLayer {
                section: "network".into(),
                tool: "net-up",
            },
            Error::Timeout {
                what: String::new(),
                secs: 1,
            },
            Error::Leftovers(vec![]),
            Error::Refused(String::new()),
            Error::Locked(String::new()),
            Error::Deployment(String::new()),
            Error::Interrupted(crate::interrupt::Signal::Int),
        ];
        let mut codes: Vec<u8> = errors.iter().map(Error::exit_code).collect();
        codes.push(7);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        for code in codes {
            assert!(
                EXIT_CODES.iter().any(|(c, _)| *c == code),
                "{code} undocumented"
            );
        }
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n  b\tc\n"), "a b c");
    }

    #[test]
    fn echoed_input_is_capped() {
        assert_eq!(shown("api"), "api");
        let exact = "x".repeat(SHOWN_MAX);
        assert_eq!(shown(&exact), exact);
        let long = "é".repeat(10 * 1024 * 1024);
        let s = shown(&long);
        assert_eq!(s.chars().count(), SHOWN_MAX + 1);
        assert!(s.ends_with('…') && s.starts_with("éé"));
    }
}
