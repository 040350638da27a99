//! The shared runner: what every tool's one-line `main` calls.
//!
//! It parses the flags (unknown flag: one line, exit 2), sets up logging to stderr,
//! reads the document from stdin (unless stdin is a terminal or `--no-input`),
//! resolves stack, env and region, runs the layer, and writes the document to
//! stdout. Errors print once as `tool: message` and become the exit code; a closed
//! stdout pipe is a clean exit, not a crash.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{ArgAction, FromArgMatches};
use tracing::Level;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::document::Document;
use crate::error::{one_line, Error, Result};
use crate::naming;

/// The flags every tool takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Stack name [overrides the document's "stack"]
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// Environment: dev, staging, prod... [overrides the document's "env"]
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// AWS region [overrides the document's "region", then AWS_REGION and the profile]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// A tag for every resource, repeatable [added to the document's "tags"]
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Do not read stdin: start a new document from the flags (implied when stdin is a terminal)
    #[arg(short = 'n', long)]
    pub no_input: bool,
    /// More progress on stderr: -v progress, -vv details, -vvv everything
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
    /// Nothing on stderr but errors
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
}

fn parse_tag(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

/// What a layer runs with: who it is, where, and the shared AWS configuration.
#[derive(Debug, Clone)]
pub struct Context {
    pub tool: String,
    pub stack: String,
    pub env: String,
    pub region: String,
    /// The user's tags (document `tags` plus `--tag`), added to every resource.
    pub user_tags: BTreeMap<String, String>,
    pub sdk: aws_config::SdkConfig,
    pub report: Report,
}

impl Context {
    /// `{stack}-{component}-{env}`.
    pub fn name(&self, component: &str) -> String {
        naming::name(&self.stack, component, &self.env)
    }

    /// The tags for a resource of this stack: ours, the user's, and `Name`.
    pub fn tags(&self, component: &str) -> Vec<(String, String)> {
        let mut tags = naming::tags(&self.stack, &self.env, component, &self.user_tags);
        tags.push(("Name".to_owned(), self.name(component)));
        tags
    }

    /// An idempotency token for this stack and the given parts.
    pub fn token(&self, parts: &[&str]) -> String {
        let mut all = vec![self.stack.as_str(), self.env.as_str()];
        all.extend_from_slice(parts);
        naming::client_token(&all)
    }

    pub fn owns<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        naming::owned_by(tags, &self.stack, &self.env)
    }
}

/// What a run changed, logged as it happens and summed up at the end.
#[derive(Debug, Clone, Default)]
pub struct Report {
    counts: Arc<Mutex<BTreeMap<&'static str, u32>>>,
}

impl Report {
    fn note(&self, action: &'static str) {
        *self
            .counts
            .lock()
            .expect("report lock")
            .entry(action)
            .or_default() += 1;
    }

    pub fn created(&self, kind: &str, name: &str, id: &str) {
        self.note("created");
        tracing::info!("created {kind} {name} ({id})");
    }

    pub fn adopted(&self, kind: &str, name: &str, id: &str) {
        self.note("unchanged");
        tracing::debug!("found {kind} {name} ({id})");
    }

    pub fn updated(&self, kind: &str, name: &str, what: &str) {
        self.note("updated");
        tracing::info!("updated {kind} {name}: {what}");
    }

    pub fn deleted(&self, kind: &str, name: &str) {
        self.note("deleted");
        tracing::info!("deleted {kind} {name}");
    }

    pub fn count(&self, action: &str) -> u32 {
        self.counts
            .lock()
            .expect("report lock")
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    fn summary(&self) -> String {
        let counts = self.counts.lock().expect("report lock");
        if counts.is_empty() {
            return "nothing to do".to_owned();
        }
        counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `common::main!(net_up);` is the whole of a tool's `main.rs`.
/// `common::main!(teardown, without_spec);` for the one tool that reads no spec.
#[macro_export]
macro_rules! main {
    ($tool:ident) => {
        fn main() -> std::process::ExitCode {
            $crate::runner::main::<$tool::Args, _, _>($tool::run)
        }
    };
    ($tool:ident, without_spec) => {
        fn main() -> std::process::ExitCode {
            $crate::runner::main_without_spec::<$tool::Args, _, _>($tool::run)
        }
    };
}

/// Runs a tool: flags, stdin, the whole spec checked, context, the layer,
/// stdout, exit code. The spec is checked before the tool runs, so before any
/// AWS call: a typo anywhere in it stops the first tool of a pipe.
pub fn main<A, F, Fut>(run: F) -> ExitCode
where
    A: clap::CommandFactory + FromArgMatches + AsRef<CommonArgs>,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    main_with(run, Some(crate::spec::Spec::validate))
}

/// [`main`] without the spec check, for teardown: it removes what the document
/// and the tags say exists, and a typo in the spec must not keep it from that.
pub fn main_without_spec<A, F, Fut>(run: F) -> ExitCode
where
    A: clap::CommandFactory + FromArgMatches + AsRef<CommonArgs>,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    main_with(run, None)
}

/// A check of the document before the tool runs.
type Check = fn(&Document) -> Result<crate::spec::Spec>;

fn main_with<A, F, Fut>(run: F, check: Option<Check>) -> ExitCode
where
    A: clap::CommandFactory + FromArgMatches + AsRef<CommonArgs>,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    let cmd = A::command();
    let tool = cmd.get_name().to_owned();
    let cmd = cmd.after_help(crate::error::exit_code_help());
    let args = match cmd.try_get_matches().and_then(|m| A::from_arg_matches(&m)) {
        Ok(args) => args,
        Err(e) => return clap_exit(&tool, e),
    };
    init_logging(&tool, args.as_ref());
    match run_tool(&tool, args, run, check) {
        Ok(doc) => write_stdout(&tool, &doc.to_json_pretty()),
        Err(e) => fail(&tool, &e),
    }
}

fn run_tool<A, F, Fut>(tool: &str, args: A, run: F, check: Option<Check>) -> Result<Document>
where
    A: AsRef<CommonArgs>,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    let common = args.as_ref().clone();
    let mut doc = read_stdin(&common)?;
    if let Some(check) = check {
        check(&doc)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let ctx = resolve(tool, &common, &mut doc).await?;
        let report = ctx.report.clone();
        let (stack, env) = (ctx.stack.clone(), ctx.env.clone());
        let doc = run(args, ctx, doc).await?;
        tracing::info!("{stack}/{env}: {}", report.summary());
        Ok(doc)
    })
}

fn read_stdin(common: &CommonArgs) -> Result<Document> {
    let stdin = std::io::stdin();
    if common.no_input || stdin.is_terminal() {
        return Ok(Document::new());
    }
    let mut text = String::new();
    stdin
        .lock()
        .read_to_string(&mut text)
        .map_err(|e| Error::Document(format!("cannot read the document on stdin: {e}")))?;
    Document::parse(&text)
}

/// Stack, env, region and tags: flags first, then the document; written back into
/// the document so every later tool sees the same.
async fn resolve(tool: &str, common: &CommonArgs, doc: &mut Document) -> Result<Context> {
    let pick = |flag: &Option<String>, key: &str| {
        flag.clone().or_else(|| doc.get_str(key).map(str::to_owned))
    };
    let stack = pick(&common.stack, "stack").ok_or_else(|| {
        Error::Usage("no stack name: pass --stack NAME or set \"stack\" in the document".into())
    })?;
    let env = pick(&common.env, "env").ok_or_else(|| {
        Error::Usage(
            "no environment: pass --env ENV (e.g. dev) or set \"env\" in the document".into(),
        )
    })?;
    naming::check_label("stack name", &stack, 24)?;
    naming::check_label("env", &env, 12)?;
    let region = match pick(&common.region, "region") {
        Some(r) => r,
        None => crate::aws::region_from_environment().await.ok_or_else(|| {
            Error::Usage(
                "no region: pass --region, set \"region\" in the document, or set AWS_REGION"
                    .into(),
            )
        })?,
    };
    if !crate::aws::valid_region(&region) {
        return Err(Error::spec(format!(
            "invalid region '{}' (expected e.g. eu-central-1)",
            crate::error::shown(&region)
        )));
    }
    let mut user_tags = doc.tags()?;
    user_tags.extend(common.tags.iter().cloned());

    doc.set("stack", stack.as_str());
    doc.set("env", env.as_str());
    doc.set("region", region.as_str());
    if !user_tags.is_empty() {
        doc.set(
            "tags",
            serde_json::to_value(&user_tags).expect("tags serialize"),
        );
    }
    Ok(Context {
        tool: tool.to_owned(),
        sdk: crate::aws::sdk_config(&region).await,
        stack,
        env,
        region,
        user_tags,
        report: Report::default(),
    })
}

fn write_stdout(tool: &str, text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): not our failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(
            tool,
            &Error::Io(format!("cannot write the document to stdout: {e}")),
        ),
    }
}

fn fail(tool: &str, e: &Error) -> ExitCode {
    eprintln!("{tool}: {}", one_line(&e.to_string()));
    ExitCode::from(e.exit_code())
}

fn clap_exit(tool: &str, e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.trim_start_matches("error: ");
            fail(tool, &Error::Usage(format!("{first} (see {tool} --help)")))
        }
    }
}

/// Our crates, whose progress -v shows; everything else (the SDK) stays at warn.
const OUR_CRATES: &[&str] = &[
    "common",
    "net_up",
    "ecr_up",
    "secrets_up",
    "cluster_up",
    "alb_up",
    "svc_up",
    "scale_up",
    "teardown",
];

fn init_logging(tool: &str, common: &CommonArgs) {
    let ours = match (common.quiet, common.verbose) {
        (true, _) => "error",
        (false, 0) if std::io::stderr().is_terminal() => "info",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    // The SDK's own logs only at -vvv, and never above debug: request bodies stay out.
    let sdk = if common.verbose >= 3 { "debug" } else { "warn" };
    // FP_LOG overrides, but request signing never logs above info: its trace output
    // carries a hash of the request body, which may hold a secret value.
    let filter = std::env::var("FP_LOG")
        .map(|f| format!("{f},aws_sigv4=info"))
        .unwrap_or_else(|_| {
            let mut f = sdk.to_owned();
            for krate in OUR_CRATES {
                f.push_str(&format!(",{krate}={ours}"));
            }
            f
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .event_format(LineFormat {
            tool: tool.to_owned(),
        })
        .try_init();
}

/// `tool: message`, `tool: warning: message`: the same shape as errors.
struct LineFormat {
    tool: String,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(w, "{}: ", self.tool)?;
        match *event.metadata().level() {
            Level::ERROR => write!(w, "error: ")?,
            Level::WARN => write!(w, "warning: ")?,
            Level::INFO => {}
            Level::DEBUG | Level::TRACE => write!(w, "{}: ", event.metadata().target())?,
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}
