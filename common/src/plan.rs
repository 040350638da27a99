//! Teardown plans and their outcome, shared by every layer's teardown module.
//!
//! A layer discovers what it owns (by tag, and from the document), lists it as
//! ordered `Step`s for `--dry-run`, and deletes it, collecting what it could not
//! delete as leftovers instead of stopping at the first failure.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::error::{one_line, Error, Result};

/// One resource to delete, in the order the plan lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Step {
    pub layer: &'static str,
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

/// What a teardown could not delete, and why.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    items: Arc<Mutex<Vec<String>>>,
}

impl Leftovers {
    /// Runs one deletion; a failure is recorded and the teardown goes on.
    pub async fn attempt(
        &self,
        kind: &str,
        name: &str,
        fut: impl std::future::Future<Output = Result<()>>,
    ) -> bool {
        match fut.await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("could not delete {kind} {name}: {e}");
                self.items
                    .lock()
                    .expect("leftovers lock")
                    .push(format!("{kind} {name}: {}", one_line(&e.to_string())));
                false
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.lock().expect("leftovers lock").is_empty()
    }

    /// Ok when everything went, else the error naming each leftover.
    pub fn into_result(self) -> Result<()> {
        let items = std::mem::take(&mut *self.items.lock().expect("leftovers lock"));
        if items.is_empty() {
            Ok(())
        } else {
            Err(Error::Leftovers(items))
        }
    }
}
