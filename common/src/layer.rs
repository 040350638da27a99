//! The seam between teardown and the layers: each layer crate exposes one
//! `Layer` value, and teardown walks a list of them in reverse dependency order.
//! Adding a layer means one crate and one line in teardown's list.
//!
//! A layer finds what it owns (`discover`: reads only, from the document's
//! sections checked against their tags and by tag), lists the deletes in order
//! (`Owned::plan`, the same `Change`s `--plan` shows), and deletes them
//! (`Owned::destroy`), recording what it could not delete instead of stopping.

use futures_util::future::BoxFuture;

use crate::document::Document;
use crate::owner::Mismatches;
use crate::plan::{Change, Leftovers};
use crate::runner::Context;
use crate::Result;

/// What a teardown was asked for beyond the stack and env.
#[derive(Debug, Clone, Copy, Default)]
pub struct TeardownOptions {
    /// Delete secrets at once instead of after their recovery window.
    pub force_delete_secrets: bool,
}

/// One layer of the platform, as teardown sees it.
pub trait Layer: Sync {
    /// The tool that builds the layer (`net-up`): the `tool` of its plan entries.
    fn tool(&self) -> &'static str;

    /// The document sections the layer writes; teardown removes them.
    fn sections(&self) -> &'static [&'static str];

    /// Parses the layer's sections of the document without AWS, so a malformed
    /// document stops (exit 3) before the lock and before any call.
    fn check(&self, doc: &Document) -> Result<()>;

    /// Finds everything of this stack and env the layer owns. Reads only. A
    /// document id whose tags name another stack or env goes into `mismatches`.
    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a Document,
        mismatches: &'a Mismatches,
    ) -> BoxFuture<'a, Result<Box<dyn Owned>>>;
}

/// What one layer found: its deletes, in order.
pub trait Owned: Send + Sync {
    /// The deletes `destroy` would make, in its order.
    fn plan(&self, ctx: &Context) -> Vec<Change>;

    /// Whether nothing was found.
    fn is_empty(&self, ctx: &Context) -> bool {
        self.plan(ctx).is_empty()
    }

    /// Deletes everything found; what fails goes into `left`.
    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        opts: TeardownOptions,
    ) -> BoxFuture<'a, ()>;
}
