//! The shared runner: what every tool's one-line `main` calls.
//!
//! It parses the flags (unknown flag: one line, exit 2), sets up logging to stderr,
//! reads the document from stdin (unless stdin is a terminal or `--no-input`),
//! resolves stack, env and region (refusing a flag that would change a
//! document's identity), takes the stack's lock unless the run only reads,
//! runs the layer, appends its changes to the document's `plan` in `--plan`
//! mode, and writes the document to stdout. Errors print once as `tool: message`
//! and become the exit code; a closed stdout pipe is a clean exit, not a crash.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{ArgAction, FromArgMatches};

use crate::document::Document;
use crate::error::{one_line, shown, Error, Result};
use crate::naming;
use crate::plan::{Action, Change};

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
    /// Print a man page or shell completions for this tool, and exit
    #[arg(long, value_name = "KIND", value_enum, hide = true)]
    pub generate: Option<crate::generate::Kind>,
    /// Write the document to FILE instead of stdout: atomically, and only when the
    /// run succeeds (a failed or interrupted run leaves the previous FILE intact)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Change nothing: discover, then append the changes a run would make to the
    /// document's "plan" array (ids still to be created are "planned:" placeholders)
    #[arg(long, visible_alias = "dry-run")]
    pub plan: bool,
    /// Break this stack's lock if it is stale: older than 30 minutes, or held by a
    /// process of this host that is gone. A live lock is never broken.
    #[arg(long, env = "FP_BREAK_LOCK", value_parser = clap::builder::BoolishValueParser::new())]
    pub break_lock: bool,
    /// How long to wait for another run of this stack and env to release its lock
    #[arg(long, value_name = "SECS", default_value_t = 600, env = "FP_LOCK_WAIT")]
    pub lock_wait: u64,
}

/// A tool's flags, as the runner needs them.
pub trait Tool: clap::CommandFactory + FromArgMatches {
    fn common(&self) -> &CommonArgs;

    /// A read-only run (a plan, a dry run, a status report) takes no lock and
    /// must make no mutating call.
    fn read_only(&self) -> bool {
        self.common().plan
    }
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
    /// `--plan`: record changes, make none.
    pub plan_only: bool,
    /// The locks `lock` (or `lock_layers`) took; the runner releases them.
    pub held: Held,
    /// `--lock-wait` and `--break-lock`.
    pub lock_options: crate::lock::Options,
}

/// The locks a run holds, shared by the clones of its context.
#[derive(Debug, Clone, Default)]
pub struct Held(Arc<tokio::sync::Mutex<Vec<crate::lock::Lock>>>);

impl Context {
    /// A context with an empty SDK configuration, for unit tests of pure code
    /// (plans, ownership): any AWS call made with it fails.
    pub fn offline(tool: &str, stack: &str, env: &str, region: &str) -> Self {
        Self::new(
            tool,
            stack,
            env,
            region,
            aws_config::SdkConfig::builder().build(),
        )
    }

    /// A context for calling a layer's library directly (tests), as the runner
    /// would make it: no user tags, applying, no lock held.
    pub fn new(
        tool: &str,
        stack: &str,
        env: &str,
        region: &str,
        sdk: aws_config::SdkConfig,
    ) -> Self {
        Context {
            tool: tool.to_owned(),
            stack: stack.to_owned(),
            env: env.to_owned(),
            region: region.to_owned(),
            user_tags: BTreeMap::new(),
            sdk,
            report: Report::default(),
            plan_only: false,
            held: Held::default(),
            lock_options: crate::lock::Options {
                wait: std::time::Duration::ZERO,
                break_stale: false,
            },
        }
    }

    /// Takes this tool's layer lock (see `lock`), once the input is validated
    /// and before the read that decides what to change: two runs that both
    /// discovered "nothing yet" would both create. A plan takes none.
    pub async fn lock(&self) -> Result<()> {
        self.lock_layers(&[self.tool.as_str()]).await
    }

    /// Takes the locks of `layers`, one after another in the order given
    /// (teardown: every layer's, always in its fixed order). Idempotent.
    pub async fn lock_layers(&self, layers: &[&str]) -> Result<()> {
        if self.plan_only {
            return Ok(());
        }
        let mut held = self.held.0.lock().await;
        if held.is_empty() {
            for layer in layers {
                held.push(crate::lock::acquire(self, layer, self.lock_options).await?);
            }
        }
        Ok(())
    }

    /// Discovers and plans (`read`), taking the lock only when the plan
    /// changes something (`changes`).
    ///
    /// A re-run of a converged stack, the common case, then reads without the
    /// lock: no lock calls, and no wait behind another run. When the plan does
    /// change something, the lock is taken and `read` runs again under it,
    /// because another run may have changed the layer between the first read
    /// and the lock; only that second plan is applied. A run expected to change
    /// something (`likely_changes`: its layer is not in the document yet) takes
    /// the lock first and reads once. A plan never locks.
    pub async fn read_then_lock<T, F, Fut>(
        &self,
        likely_changes: bool,
        mut read: F,
        changes: impl Fn(&T) -> bool,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if likely_changes {
            self.lock().await?;
            return read().await;
        }
        let first = read().await?;
        if self.plan_only || !changes(&first) {
            return Ok(first);
        }
        tracing::debug!("changes to make: taking the lock and reading again");
        self.lock().await?;
        read().await
    }

    /// Ok when the tags say this is this stack's and env's `component`; the
    /// check before every update or delete (see `owner`).
    pub fn check_owned<'a>(
        &self,
        kind: &str,
        name: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
        component: &str,
    ) -> Result<()> {
        crate::owner::check(self, kind, name, tags, component)
    }

    /// `{stack}--{component}--{env}`.
    pub fn name(&self, component: &str) -> String {
        naming::name(&self.stack, component, &self.env)
    }

    /// `{stack}/{env}/{leaf}`, for kinds whose names take `/` (ECR, log groups).
    pub fn path(&self, leaf: &str) -> String {
        naming::path(&self.stack, &self.env, leaf)
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

/// What a run changed (or, with `--plan`, would change): logged as it happens,
/// summed up at the end, and in plan mode appended to the document's `plan`.
#[derive(Debug, Clone, Default)]
pub struct Report {
    counts: Arc<Mutex<BTreeMap<&'static str, u32>>>,
    changes: Arc<Mutex<Vec<Change>>>,
}

impl Report {
    /// Records one change: planned, or just applied. One line on stderr either way.
    pub fn change(&self, change: Change) {
        self.note(match change.action {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Delete => "deleted",
        });
        tracing::info!("{}", change.line());
        self.changes.lock().expect("report lock").push(change);
    }

    /// The changes recorded so far, in order.
    pub fn changes(&self) -> Vec<Change> {
        self.changes.lock().expect("report lock").clone()
    }

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
    A: Tool,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    main_with(run, Some(crate::spec::Spec::validate))
}

/// [`main`] without the spec check, for teardown: it removes what the document
/// and the tags say exists, and a typo in the spec must not keep it from that.
pub fn main_without_spec<A, F, Fut>(run: F) -> ExitCode
where
    A: Tool,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    main_with(run, None)
}

/// The tool's clap command as users see it: its version with the build's git
/// commit, and the exit-code table after the help.
pub fn command<A: Tool>() -> clap::Command {
    A::command()
        .version(crate::VERSION)
        .after_help(crate::error::exit_code_help())
}

/// A check of the document before the tool runs.
type Check = fn(&Document) -> Result<crate::spec::Spec>;

fn main_with<A, F, Fut>(run: F, check: Option<Check>) -> ExitCode
where
    A: Tool,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    let cmd = command::<A>();
    let tool = cmd.get_name().to_owned();
    let args = match cmd.try_get_matches().and_then(|m| A::from_arg_matches(&m)) {
        Ok(args) => args,
        Err(e) => return clap_exit(&tool, e),
    };
    if let Some(kind) = args.common().generate {
        return match crate::generate::print(command::<A>(), kind) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&tool, &e),
        };
    }
    crate::logging::init(&tool, args.common());
    let output = args.common().output.clone();
    let written = run_tool(&tool, args, run, check).and_then(|doc| {
        let text = doc.to_json_pretty();
        match &output {
            Some(path) => crate::output::to_file(path, &text),
            None => crate::output::to_stdout(&text),
        }
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&tool, &e),
    }
}

fn run_tool<A, F, Fut>(tool: &str, args: A, run: F, check: Option<Check>) -> Result<Document>
where
    A: Tool,
    F: FnOnce(A, Context, Document) -> Fut,
    Fut: Future<Output = Result<Document>>,
{
    let common = args.common().clone();
    let read_only = args.read_only();
    let mut doc = read_stdin(&common)?;
    if let Some(check) = check {
        check(&doc)?;
    }
    if !common.plan {
        refuse_planned_ids(&doc)?;
        doc.remove("plan");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let mut ctx = resolve(tool, &common, &mut doc).await?;
        // A read-only run never takes the lock, whatever the tool asks.
        ctx.plan_only |= read_only;
        let (report, held) = (ctx.report.clone(), ctx.held.clone());
        let (stack, env) = (ctx.stack.clone(), ctx.env.clone());
        let result = crate::interrupt::guard(run(args, ctx, doc)).await;
        let locks = std::mem::take(&mut *held.0.lock().await);
        futures_util::future::join_all(locks.into_iter().map(crate::lock::Lock::release)).await;
        let mut doc = result?;
        if common.plan {
            append_plan(&mut doc, report.changes());
        }
        tracing::info!("{stack}/{env}: {}", report.summary());
        Ok(doc)
    })
}

fn lock_options(common: &CommonArgs) -> crate::lock::Options {
    crate::lock::Options {
        wait: std::time::Duration::from_secs(common.lock_wait),
        break_stale: common.break_lock,
    }
}

/// An applying run refuses a document that holds `--plan` placeholders: its
/// ids do not exist.
fn refuse_planned_ids(doc: &Document) -> Result<()> {
    for section in crate::sections::LAYERS {
        if doc.get(section).is_some_and(crate::plan::holds_planned) {
            return Err(Error::Document(format!(
                ".{section} holds planned ids from a --plan run: apply from the stack spec \
                 or the last applied document, without --plan"
            )));
        }
    }
    Ok(())
}

/// `--plan`: this tool's changes go after those of the tools before it.
fn append_plan(doc: &mut Document, changes: Vec<Change>) {
    let mut plan = match doc.remove("plan") {
        Some(serde_json::Value::Array(a)) => a,
        _ => Vec::new(),
    };
    plan.extend(
        changes
            .into_iter()
            .map(|c| serde_json::to_value(c).expect("a change serializes")),
    );
    doc.set("plan", serde_json::Value::Array(plan));
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
    check_identity(common, doc)?;
    crate::aws::check_profile()?;
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
    naming::check_stack(&stack)?;
    naming::check_env(&env)?;
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
        plan_only: common.plan,
        held: Held::default(),
        lock_options: lock_options(common),
    })
}

/// A document that already records resources keeps its stack, env and region:
/// a flag that disagrees would point this tool at another stack's resources
/// (`net-up --env a | alb-up --env b` would build b's ALB in a's VPC). A stack
/// spec with no outputs yet may still be given another identity by flags.
fn check_identity(common: &CommonArgs, doc: &Document) -> Result<()> {
    let Some(section) = crate::sections::LAYERS.iter().find(|s| doc.contains(s)) else {
        return Ok(());
    };
    for (flag, key) in [
        (&common.stack, "stack"),
        (&common.env, "env"),
        (&common.region, "region"),
    ] {
        if let (Some(want), Some(have)) = (flag, doc.get_str(key)) {
            if want != have {
                return Err(Error::Usage(format!(
                    "--{key} {} disagrees with the document's \"{key}\": \"{}\" (it already holds .{section}): \
                     a document's identity is fixed once resources are recorded; drop --{key}",
                    shown(want),
                    shown(have)
                )));
            }
        }
    }
    Ok(())
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
