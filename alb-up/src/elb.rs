//! ELBv2 helpers shared by converge and teardown: names, tags and ownership.
//!
//! Unlike EC2, ELBv2 cannot filter describes by tag: every lookup lists (or
//! names) resources and then reads their tags with DescribeTags, at most 20 ARNs
//! per call. A resource is ours only when its tags say this stack and env.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{LoadBalancer, Tag, TargetGroup};
use aws_sdk_elasticloadbalancingv2::Client;

use common::{naming, retry, AwsResultExt, Context, Result};

/// The load balancer's name: 32 characters at most (see `naming::elb_name`).
pub fn lb_name(ctx: &Context) -> String {
    naming::elb_name(&ctx.stack, "alb", &ctx.env)
}

pub fn tg_component(service: &str) -> String {
    format!("tg-{service}")
}

pub fn tg_name(ctx: &Context, service: &str) -> String {
    naming::elb_name(&ctx.stack, &tg_component(service), &ctx.env)
}

pub fn rule_component(service: &str) -> String {
    format!("rule-{service}")
}

/// The component tag of a blue/green service's test listener, before the service name.
pub const TEST_LISTENER_PREFIX: &str = "listener-test-";

pub fn test_listener_component(service: &str) -> String {
    format!("{TEST_LISTENER_PREFIX}{service}")
}

/// The tags to create a resource with.
pub fn tags(ctx: &Context, component: &str) -> Vec<Tag> {
    ctx.tags(component)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
}

pub fn owned(ctx: &Context, tags: &[Tag]) -> bool {
    ctx.owns(pairs(tags))
}

pub fn component(tags: &[Tag]) -> Option<&str> {
    naming::component_of(pairs(tags))
}

/// The tags of each ARN, 20 per call (DescribeTags' limit).
pub async fn tags_of(elb: &Client, arns: &[String]) -> Result<BTreeMap<String, Vec<Tag>>> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let resp = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .aws("DescribeTags")?;
        for d in resp.tag_descriptions() {
            out.insert(
                d.resource_arn().unwrap_or_default().to_owned(),
                d.tags().to_vec(),
            );
        }
    }
    Ok(out)
}

/// Every load balancer of the account and region that is tagged for this stack and env.
pub async fn owned_load_balancers(
    elb: &Client,
    ctx: &Context,
) -> Result<Vec<(LoadBalancer, Vec<Tag>)>> {
    let all: Vec<LoadBalancer> = elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeLoadBalancers")?;
    let arns: Vec<String> = all
        .iter()
        .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
        .collect();
    let mut tags = tags_of(elb, &arns).await?;
    Ok(all
        .into_iter()
        .filter_map(|l| {
            let t = tags.remove(l.load_balancer_arn().unwrap_or_default())?;
            owned(ctx, &t).then_some((l, t))
        })
        .collect())
}

/// Every target group tagged for this stack and env.
pub async fn owned_target_groups(
    elb: &Client,
    ctx: &Context,
) -> Result<Vec<(TargetGroup, Vec<Tag>)>> {
    let all: Vec<TargetGroup> = elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeTargetGroups")?;
    let arns: Vec<String> = all
        .iter()
        .filter_map(|t| t.target_group_arn().map(str::to_owned))
        .collect();
    let mut tags = tags_of(elb, &arns).await?;
    Ok(all
        .into_iter()
        .filter_map(|g| {
            let t = tags.remove(g.target_group_arn().unwrap_or_default())?;
            owned(ctx, &t).then_some((g, t))
        })
        .collect())
}

/// Deletes a listener (its rules go with it); gone already counts as done.
pub async fn delete_listener(elb: &Client, name: &str, arn: &str) -> Result<()> {
    retry::delete(&format!("DeleteListener {name}"), || async {
        elb.delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteListener {name}"))
    })
    .await
}
