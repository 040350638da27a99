//! The cluster layer's resources in the emulator: ACTIVE ECS clusters, IAM roles
//! and live KMS keys of the stack and env, found without the tool's own lookups
//! (every cluster, every role whatever its path, every key and the log alias).

use aws_sdk_ecs::types::ClusterField;
use aws_sdk_kms::types::KeyState;

use super::{owned_pairs, Inventory};

pub(super) async fn read(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    clusters(sdk, inv, stack, env).await;
    roles(sdk, inv, stack, env).await;
    keys(sdk, inv, stack, env).await;
}

async fn clusters(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let arns = ecs
        .list_clusters()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListClusters");
    // DescribeClusters takes at most 100 clusters per call.
    for chunk in arns.chunks(100) {
        let out = ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .send()
            .await
            .expect("DescribeClusters");
        for c in out.clusters() {
            let pairs = c
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            if c.status() == Some("ACTIVE") && owned_pairs(pairs, stack, env) {
                inv.add("ecs_cluster", c.cluster_arn());
            }
        }
    }
}

async fn roles(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let iam = aws_sdk_iam::Client::new(sdk);
    let roles = iam
        .list_roles()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListRoles");
    // By prefix: a shortened role name does not end with the env; tags decide.
    let prefix = format!("{stack}--");
    for role in roles {
        let name = role.role_name();
        if !name.starts_with(&prefix) {
            continue;
        }
        let tags = match iam.list_role_tags().role_name(name).send().await {
            Ok(tags) => tags,
            // Another env of the stack (same prefix) deleted it meanwhile.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                continue
            }
            Err(e) => panic!("ListRoleTags {name}: {e:?}"),
        };
        let pairs = tags.tags().iter().map(|t| (t.key(), t.value()));
        if owned_pairs(pairs, stack, env) {
            inv.add("iam_role", Some(role.arn()));
        }
    }
}

async fn keys(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let kms = aws_sdk_kms::Client::new(sdk);
    let mut ids: Vec<String> = Vec::new();
    // By the log key's alias, whatever its tags say...
    let alias = format!("alias/{stack}--logs--{env}");
    let aliases = kms
        .list_aliases()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListAliases");
    ids.extend(
        aliases
            .iter()
            .filter(|a| a.alias_name() == Some(alias.as_str()))
            .filter_map(|a| a.target_key_id().map(str::to_owned)),
    );
    // ...and by tags.
    let keys = kms
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListKeys");
    for key in &keys {
        let Some(id) = key.key_id() else { continue };
        let Ok(tags) = kms.list_resource_tags().key_id(id).send().await else {
            continue;
        };
        let pairs = tags.tags().iter().map(|t| (t.tag_key(), t.tag_value()));
        if owned_pairs(pairs, stack, env) && !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    for id in ids {
        let meta = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .expect("DescribeKey");
        let live = meta.key_metadata().is_some_and(|m| {
            !matches!(
                m.key_state(),
                Some(KeyState::PendingDeletion | KeyState::Disabled)
            )
        });
        if live {
            inv.add("kms_key", Some(&id));
        }
    }
}
