//! Logging to stderr, in the shape of the tools' errors: `tool: message`.
//!
//! By default (on a terminal or off it) every change is one line, so a CI log
//! shows what a run did; `-v` adds the time and progress, `-vv` details, `-vvv`
//! the SDK's own logs; `-q` only errors. `FP_LOG` overrides the filter.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::runner::CommonArgs;

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

/// Logging to stderr for `tool`: our crates at the level the flags ask for, the
/// SDK only at -vvv.
pub fn init(tool: &str, common: &CommonArgs) {
    let ours = match (common.quiet, common.verbose) {
        (true, _) => "error",
        // One line per change by default, on a terminal or off it (CI logs).
        (false, 0 | 1) => "info",
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
    crate::progress::init(common.quiet);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(|| Stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .event_format(LineFormat {
            tool: tool.to_owned(),
            timestamps: common.verbose > 0,
        })
        .try_init();
}

/// `tool: message`, `tool: warning: message`: the same shape as errors; with
/// -v, the time of day (UTC) first. Never a module path: users read these.
struct LineFormat {
    tool: String,
    timestamps: bool,
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
        if self.timestamps {
            write!(w, "{} ", time_of_day())?;
        }
        write!(w, "{}: ", self.tool)?;
        match *event.metadata().level() {
            Level::ERROR => write!(w, "error: ")?,
            Level::WARN => write!(w, "warning: ")?,
            Level::INFO | Level::DEBUG | Level::TRACE => {}
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// `10:01:02`, UTC.
fn time_of_day() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .and_then(|t| t.get(11..19).map(str::to_owned))
        .unwrap_or_default()
}

/// stderr, through `progress`: a log line goes above the live spinners.
struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::progress::write_stderr(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
