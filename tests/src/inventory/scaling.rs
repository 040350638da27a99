//! The scaling layer's resources in the emulator: ECS scalable targets on
//! services of the stack's cluster `{stack}--cluster--{env}` (Application Auto
//! Scaling has no tags in the emulator: the cluster scopes them), the scaling
//! policies on those targets, and CloudWatch metric alarms tagged with the
//! stack and env (the alarms AWS makes for target tracking are not tagged, and
//! not counted).

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use super::{owned_pairs, Inventory};

pub(super) async fn read(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let aas = aws_sdk_applicationautoscaling::Client::new(sdk);
    let prefix = format!("service/{stack}--cluster--{env}/");
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("DescribeScalableTargets");
    for t in targets
        .iter()
        .filter(|t| t.resource_id().starts_with(&prefix))
    {
        inv.add("scalable_target", Some(t.resource_id()));
        let policies = aas
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(t.resource_id())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeScalingPolicies");
        // Exact match: the emulator's resource id filter matches substrings.
        for p in policies
            .iter()
            .filter(|p| p.resource_id() == t.resource_id())
        {
            inv.add("scaling_policy", Some(p.policy_arn()));
        }
    }

    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let pages: Vec<_> = cw
        .describe_alarms()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("DescribeAlarms");
    for a in pages.iter().flat_map(|p| p.metric_alarms()) {
        let tags = cw
            .list_tags_for_resource()
            .resource_arn(a.alarm_arn().unwrap_or_default())
            .send()
            .await
            .expect("ListTagsForResource (CloudWatch)");
        let pairs = tags
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        if owned_pairs(pairs, stack, env) {
            inv.add("alarm", a.alarm_name());
        }
    }
}
