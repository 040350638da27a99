//! The ALB layer's resources in the emulator: this stack's load balancers and
//! target groups (by their tags, whatever their names), the listeners of those
//! load balancers and the listener rules beyond each listener's default. The
//! ALB's security group is counted with the EC2 resources; the access-log
//! bucket is found among all buckets by its tags.

use aws_sdk_elasticloadbalancingv2::types::{Tag, TagDescription};
use aws_sdk_elasticloadbalancingv2::Client;

use super::{owned_pairs, Inventory};

/// The tags of `arns`, leaving out those deleted since they were listed: AWS
/// (and the emulator, scripts/emulator_ext/elbv2_describe_tags.py) refuses a
/// whole DescribeTags call when one ARN names nothing, and other tests' stacks
/// come and go while this one is counted.
async fn tags_of(elb: &Client, arns: &[String]) -> Vec<TagDescription> {
    let answer = elb
        .describe_tags()
        .set_resource_arns(Some(arns.to_vec()))
        .send()
        .await;
    match answer {
        Ok(out) => out.tag_descriptions().to_vec(),
        Err(e) => {
            let gone = e.as_service_error().is_some_and(|e| {
                e.is_load_balancer_not_found_exception()
                    || e.is_target_group_not_found_exception()
                    || e.is_listener_not_found_exception()
                    || e.is_rule_not_found_exception()
            });
            assert!(gone, "DescribeTags: {e:?}");
            let mut out = Vec::new();
            if arns.len() > 1 {
                for arn in arns {
                    out.extend(Box::pin(tags_of(elb, std::slice::from_ref(arn))).await);
                }
            }
            out
        }
    }
}

/// Which of `arns` carry this stack's tags (DescribeTags takes 20 at a time).
async fn owned_arns(elb: &Client, arns: Vec<String>, stack: &str, env: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in arns.chunks(20) {
        for d in tags_of(elb, chunk).await {
            let pairs = d
                .tags()
                .iter()
                .map(|t: &Tag| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            if owned_pairs(pairs, stack, env) {
                out.push(d.resource_arn().unwrap_or_default().to_owned());
            }
        }
    }
    out.sort();
    out
}

pub(super) async fn read(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let elb = Client::new(sdk);
    let lbs = elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("DescribeLoadBalancers");
    let arns = lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
        .collect();
    for lb in owned_arns(&elb, arns, stack, env).await {
        inv.add("load_balancer", Some(&lb));
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(&lb)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeListeners");
        for l in &listeners {
            let Some(arn) = l.listener_arn() else {
                continue;
            };
            inv.add("listener", Some(arn));
            let rules = elb
                .describe_rules()
                .listener_arn(arn)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .expect("DescribeRules");
            for r in rules.iter().filter(|r| r.is_default() != Some(true)) {
                inv.add("listener_rule", r.rule_arn());
            }
        }
    }
    let tgs = elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("DescribeTargetGroups");
    let arns = tgs
        .iter()
        .filter_map(|t| t.target_group_arn().map(str::to_owned))
        .collect();
    for tg in owned_arns(&elb, arns, stack, env).await {
        inv.add("target_group", Some(&tg));
    }
    buckets(sdk, inv, stack, env).await;
}

/// The S3 buckets tagged for this stack and env (ListBuckets, then each
/// bucket's tags: S3 has no tag filter).
async fn buckets(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let s3 = aws_sdk_s3::Client::new(sdk);
    let all = s3.list_buckets().send().await.expect("ListBuckets");
    for b in all.buckets() {
        let Some(name) = b.name() else { continue };
        // Untagged, or deleted since it was listed: not this stack's.
        let Ok(tags) = s3.get_bucket_tagging().bucket(name).send().await else {
            continue;
        };
        let pairs = tags.tag_set().iter().map(|t| (t.key(), t.value()));
        if owned_pairs(pairs, stack, env) {
            inv.add("s3_bucket", Some(name));
        }
    }
}
