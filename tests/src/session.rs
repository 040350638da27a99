//! The test's own side of the emulator: a runtime, the SDK configuration of the
//! checks, and a tool context for calling a layer's library (e.g.
//! `net_up::teardown::discover`) the way its binary would.

use std::future::Future;

/// A runtime with a tool context on it. They go together: SDK clients keep
/// their connections on the runtime they first ran on.
#[derive(Debug)]
pub struct Session {
    rt: tokio::runtime::Runtime,
    /// The context of the session's stack and env.
    pub ctx: common::Context,
}

impl Session {
    pub(crate) fn new(endpoint: &str, key: &str, stack: &str, env: &str, region: &str) -> Session {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let sdk = rt.block_on(crate::inventory::sdk_config(endpoint, key, region));
        Session {
            ctx: context(sdk, stack, env, region),
            rt,
        }
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The SDK configuration, for clients: `aws_sdk_ecr::Client::new(s.sdk())`.
    pub fn sdk(&self) -> &aws_config::SdkConfig {
        &self.ctx.sdk
    }

    /// A context for another stack or env on the same connection, with a report of its own.
    pub fn context(&self, stack: &str, env: &str) -> common::Context {
        context(self.ctx.sdk.clone(), stack, env, &self.ctx.region)
    }
}

pub(crate) fn context(
    sdk: aws_config::SdkConfig,
    stack: &str,
    env: &str,
    region: &str,
) -> common::Context {
    common::Context::new("test", stack, env, region, sdk)
}
