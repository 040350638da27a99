//! The ecr layer's resources in the emulator: this stack's repositories (by
//! their tags, whatever their names) and the lifecycle policies they carry.

use super::{owned_pairs, Inventory};

pub(super) async fn read(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let repos = ecr
        .describe_repositories()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("DescribeRepositories");
    for repo in &repos {
        let (Some(name), Some(arn)) = (repo.repository_name(), repo.repository_arn()) else {
            continue;
        };
        // Other tests delete their repositories while this one reads: gone is not an error.
        let tags = match ecr.list_tags_for_resource().resource_arn(arn).send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_repository_not_found_exception()) =>
            {
                continue
            }
            Err(e) => panic!("ListTagsForResource {name}: {e:?}"),
        };
        let pairs = tags.tags().iter().map(|t| (t.key(), t.value()));
        if !owned_pairs(pairs, stack, env) {
            continue;
        }
        inv.add("ecr_repository", Some(name));
        match ecr
            .get_lifecycle_policy()
            .repository_name(name)
            .send()
            .await
        {
            Ok(_) => inv.add("ecr_lifecycle_policy", Some(name)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_lifecycle_policy_not_found_exception()) => {}
            Err(e) => panic!("GetLifecyclePolicy {name}: {e:?}"),
        }
    }
}
