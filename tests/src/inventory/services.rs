//! The services layer's resources in the emulator: ECS services ACTIVE in the
//! stack's cluster (by tag), ACTIVE task definition revisions of the families
//! `{stack}-*-{env}` (every revision counts), log groups under
//! `/ecs/{stack}-{env}/` (by tag), and Cloud Map namespaces and services (by
//! tag). Task roles are counted with the cluster's roles, groups with EC2.

use aws_sdk_ecs::types::{ServiceField, TaskDefinitionStatus};
use aws_sdk_servicediscovery::types::NamespaceSummary;

use super::{owned_pairs, Inventory};

pub(super) async fn read(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let cluster = format!("{stack}--cluster--{env}");
    if let Ok(arns) = ecs
        .list_services()
        .cluster(&cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        for chunk in arns.chunks(10) {
            let out = ecs
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .expect("DescribeServices");
            for s in out.services() {
                let tags = s
                    .tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
                if s.status() == Some("ACTIVE") && owned_pairs(tags, stack, env) {
                    inv.add("ecs_service", s.service_arn());
                }
            }
        }
    }

    let tds = ecs
        .list_task_definitions()
        .status(TaskDefinitionStatus::Active)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListTaskDefinitions");
    for arn in tds {
        let family = arn
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once(':'))
            .map(|(f, _)| f)
            .unwrap_or_default();
        if family.starts_with(&format!("{stack}--")) && family.ends_with(&format!("--{env}")) {
            inv.add("task_definition", Some(&arn));
        }
    }

    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/ecs/{stack}/{env}/"))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("DescribeLogGroups");
    for g in groups {
        let arn = g
            .log_group_arn()
            .map(str::to_owned)
            .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_owned()))
            .unwrap_or_default();
        let tags = logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .expect("ListTagsForResource (logs)");
        let pairs = tags
            .tags()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        if owned_pairs(pairs, stack, env) {
            inv.add("log_group", g.log_group_name());
        }
    }

    // The layers' locks: a finished run (or teardown) leaves none.
    let prefix = format!("{}/", common::lock::prefix(stack, env));
    let locks = logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .send()
        .await
        .expect("DescribeLogGroups (lock)");
    for g in locks.log_groups() {
        inv.add("lock", g.log_group_name());
    }

    let sd = aws_sdk_servicediscovery::Client::new(sdk);
    let pages = sd
        .list_namespaces()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("ListNamespaces");
    let namespaces: Vec<&NamespaceSummary> = pages.iter().flat_map(|p| p.namespaces()).collect();
    for n in namespaces {
        let tags = sd
            .list_tags_for_resource()
            .resource_arn(n.arn().unwrap_or_default())
            .send()
            .await
            .expect("ListTagsForResource (Cloud Map)");
        let pairs = tags.tags().iter().map(|t| (t.key(), t.value()));
        if owned_pairs(pairs, stack, env) {
            inv.add("namespace", n.id());
        }
    }
    let pages = sd
        .list_services()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("ListServices (Cloud Map)");
    for s in pages.iter().flat_map(|p| p.services()) {
        let tags = sd
            .list_tags_for_resource()
            .resource_arn(s.arn().unwrap_or_default())
            .send()
            .await
            .expect("ListTagsForResource (Cloud Map)");
        let pairs = tags.tags().iter().map(|t| (t.key(), t.value()));
        if owned_pairs(pairs, stack, env) {
            inv.add("discovery_service", s.id());
        }
    }
}
