//! What every fargate-pipes tool shares: the document, names and tags, AWS
//! configuration, errors and exit codes, the runner, retries and waits.
//!
//! Each layer crate (`net-up`, `ecr-up`, ...) holds only its own resources;
//! nothing here knows about a particular AWS resource kind.

#[cfg(feature = "account")]
pub mod account;
pub mod aws;
pub mod bounded;
pub mod cidr;
pub mod claims;
pub mod document;
#[cfg(feature = "ec2")]
pub mod ec2;
pub mod error;
pub mod generate;
#[cfg(feature = "iam")]
pub mod iam;
pub mod inflight;
pub mod interrupt;
pub mod json;
pub mod layer;
pub mod lock;
pub mod logging;
pub mod naming;
pub mod output;
pub mod owner;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod runner;
pub mod sdk;
pub mod sections;
pub mod spec;
pub mod tagset;

/// `0.1.0 (commit 0123456789ab)`: what `--version` prints after the tool's name.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FP_BUILD_COMMIT"),
    ")"
);

pub use document::Document;
pub use error::{AwsResultExt, Error, Result};
pub use runner::{CommonArgs, Context, Tool};

/// Runs independent AWS calls concurrently; the first error wins.
pub use futures_util::future::{join_all, try_join_all};
