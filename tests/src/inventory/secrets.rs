//! The secrets layer's resources in the emulator: the stack's secrets, by name.
//!
//! Listed without filters (secrets-up's own tag filters are what is under test)
//! and checked by tag here. Secrets scheduled for deletion are left out: a
//! teardown that scheduled them has done its job.

use aws_sdk_secretsmanager::types::SecretListEntry;

use super::{owned_pairs, Inventory};

pub(super) async fn read(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let pages = sm
        .list_secrets()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("ListSecrets");
    let mine = |s: &&SecretListEntry| {
        let tags = s
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        owned_pairs(tags, stack, env) && s.deleted_date().is_none()
    };
    for s in pages.iter().flat_map(|p| p.secret_list()).filter(mine) {
        inv.add("secret", s.name());
    }
}
