//! Discovery: what exists of this layer, read in as few calls as ELBv2 allows.
//! Reads only.
//!
//! ELBv2 filters nothing by tag, so: one paginated DescribeLoadBalancers and
//! one DescribeTargetGroups (400 per page), kept to the names that begin with
//! this stack's prefix, then DescribeTags on those candidates (20 ARNs per
//! call); the load balancer's listeners, their rules (one call per listener:
//! AWS has no batch), the tags of both (20 per call), the load balancer's
//! attributes and each target group's (one call each, no batch). The security
//! groups of the VPC in one call (net-up's VPC holds a handful). A candidate
//! not tagged ours is kept with its tags: the plan refuses to create a
//! resource whose name it holds.
//!
//! The document's `.alb` ids are hints: any that the sweep did not find is
//! looked up alone, and one whose tags name another stack or env is noted in
//! `owner::Mismatches`, which refuses the run before any change.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::SecurityGroup;
use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, Rule, Tag, TargetGroup};
use aws_sdk_elasticloadbalancingv2::Client;

use common::owner::Mismatches;
use common::sdk::{try_join_bounded, SdkResultExt, IN_FLIGHT};
use common::sections::Alb;
use common::{AwsResultExt, Context, Result};

use crate::names;

/// Everything found, as AWS described it.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    /// Load balancers whose names begin with the stack's prefix, with tags.
    pub lbs: Vec<FoundLb>,
    /// The attributes of the one load balancer of ours, when there is one.
    pub lb_attributes: BTreeMap<String, String>,
    /// The security groups of the VPC.
    pub groups: Vec<SecurityGroup>,
    /// Target groups whose names begin with the stack's prefix, with tags
    /// (and attributes, for ours).
    pub tgs: Vec<FoundTg>,
    /// The listeners of the one load balancer of ours, with tags.
    pub listeners: Vec<FoundListener>,
    /// The rules of those listeners, but their default rules, with tags.
    pub rules: Vec<FoundRule>,
}

#[derive(Debug, Clone)]
pub struct FoundLb {
    pub lb: LoadBalancer,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct FoundTg {
    pub tg: TargetGroup,
    pub tags: Vec<Tag>,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct FoundListener {
    pub listener: Listener,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct FoundRule {
    pub rule: Rule,
    pub listener_arn: String,
    pub tags: Vec<Tag>,
}

impl FoundLb {
    pub fn arn(&self) -> &str {
        self.lb.load_balancer_arn().unwrap_or_default()
    }
}

impl FoundTg {
    pub fn arn(&self) -> &str {
        self.tg.target_group_arn().unwrap_or_default()
    }
}

impl FoundListener {
    pub fn arn(&self) -> &str {
        self.listener.listener_arn().unwrap_or_default()
    }
}

impl FoundRule {
    pub fn arn(&self) -> &str {
        self.rule.rule_arn().unwrap_or_default()
    }
}

/// The clients discovery and apply use.
#[derive(Debug, Clone)]
pub struct Clients {
    pub elb: Client,
    pub ec2: aws_sdk_ec2::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    pub fn new(ctx: &Context) -> Self {
        Clients {
            elb: Client::new(&ctx.sdk),
            ec2: aws_sdk_ec2::Client::new(&ctx.sdk),
            s3: aws_sdk_s3::Client::new(&ctx.sdk),
        }
    }
}

/// What exists of the layer in `vpc_id` (None: the VPC is still to be
/// created, so nothing in it exists), and the document's ids checked.
pub async fn discover(
    c: &Clients,
    ctx: &Context,
    vpc_id: Option<&str>,
    hints: Option<&Alb>,
    mismatches: &Mismatches,
) -> Result<Actual> {
    let ((lbs, tgs), groups) = tokio::try_join!(sweep(c, ctx), groups_in(c, vpc_id))?;
    let mut actual = Actual {
        lbs,
        tgs,
        groups,
        ..Actual::default()
    };
    let ours: Vec<&FoundLb> = actual
        .lbs
        .iter()
        .filter(|l| names::our_component(ctx, &l.tags) == Some(names::LB))
        .collect();
    let lb_arn = match ours.as_slice() {
        [lb] => Some(lb.arn().to_owned()),
        _ => None,
    };
    // The load balancer's parts and the target groups' attributes at once.
    let lb_parts = async {
        match &lb_arn {
            Some(arn) => {
                tokio::try_join!(lb_attributes(c, arn), listeners_and_rules(c, arn)).map(Some)
            }
            None => Ok(None),
        }
    };
    let (lb_parts, ()) = tokio::try_join!(lb_parts, tg_attributes(c, ctx, &mut actual.tgs))?;
    if let Some((attributes, (listeners, rules))) = lb_parts {
        actual.lb_attributes = attributes;
        actual.listeners = listeners;
        actual.rules = rules;
    }
    if let Some(alb) = hints {
        check_hints(c, ctx, &actual, alb, mismatches).await?;
    }
    Ok(actual)
}

/// Every load balancer whose name begins with the stack's prefix (no tags yet).
async fn candidates_lbs(c: &Clients, ctx: &Context) -> Result<Vec<FoundLb>> {
    let prefix = names::elb_prefix(&ctx.stack);
    let all: Vec<LoadBalancer> = c
        .elb
        .describe_load_balancers()
        .page_size(400)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeLoadBalancers")?;
    Ok(all
        .into_iter()
        .filter(|l| {
            l.load_balancer_name()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|lb| FoundLb { lb, tags: vec![] })
        .collect())
}

/// Every target group whose name begins with the stack's prefix (no tags yet).
async fn candidates_tgs(c: &Clients, ctx: &Context) -> Result<Vec<FoundTg>> {
    let prefix = names::elb_prefix(&ctx.stack);
    let all: Vec<TargetGroup> = c
        .elb
        .describe_target_groups()
        .page_size(400)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeTargetGroups")?;
    Ok(all
        .into_iter()
        .filter(|t| {
            t.target_group_name()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|tg| FoundTg {
            tg,
            tags: vec![],
            attributes: BTreeMap::new(),
        })
        .collect())
}

/// The security groups of the VPC (its tags come with each).
async fn groups_in(c: &Clients, vpc_id: Option<&str>) -> Result<Vec<SecurityGroup>> {
    let Some(vpc_id) = vpc_id else {
        return Ok(vec![]);
    };
    c.ec2
        .describe_security_groups()
        .filters(common::ec2::filter("vpc-id", [vpc_id]))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("DescribeSecurityGroups vpc-id={vpc_id}"))
}

/// The candidate load balancers and target groups (their names begin with
/// the stack's prefix), with their tags read together.
pub async fn sweep(c: &Clients, ctx: &Context) -> Result<(Vec<FoundLb>, Vec<FoundTg>)> {
    let (mut lbs, mut tgs) = tokio::try_join!(candidates_lbs(c, ctx), candidates_tgs(c, ctx))?;
    let arns: Vec<String> = lbs
        .iter()
        .map(|l| l.arn().to_owned())
        .chain(tgs.iter().map(|t| t.arn().to_owned()))
        .collect();
    let mut tags = tags_of(&c.elb, &arns).await?;
    for l in &mut lbs {
        l.tags = tags.remove(l.arn()).unwrap_or_default();
    }
    for t in &mut tgs {
        t.tags = tags.remove(t.arn()).unwrap_or_default();
    }
    Ok((lbs, tgs))
}

/// The tags of each ARN, 20 per call (DescribeTags' limit), concurrently.
/// Resources that went away meanwhile are left out.
pub async fn tags_of(elb: &Client, arns: &[String]) -> Result<BTreeMap<String, Vec<Tag>>> {
    let calls = arns.chunks(20).map(|chunk| async move {
        let answer = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .gone_if("DescribeTags", |e| {
                e.is_load_balancer_not_found_exception()
                    || e.is_target_group_not_found_exception()
                    || e.is_listener_not_found_exception()
                    || e.is_rule_not_found_exception()
            })?;
        match answer {
            Some(out) => Ok(out
                .tag_descriptions()
                .iter()
                .map(|d| {
                    (
                        d.resource_arn().unwrap_or_default().to_owned(),
                        d.tags().to_vec(),
                    )
                })
                .collect::<Vec<_>>()),
            // One of them is gone: AWS refuses the whole batch, so ask one by one.
            None if chunk.len() > 1 => one_by_one(elb, chunk).await,
            None => Ok(vec![]),
        }
    });
    Ok(try_join_bounded(calls, IN_FLIGHT)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

async fn one_by_one(elb: &Client, arns: &[String]) -> Result<Vec<(String, Vec<Tag>)>> {
    let mut out = Vec::new();
    for arn in arns {
        out.extend(Box::pin(tags_of(elb, std::slice::from_ref(arn))).await?);
    }
    Ok(out)
}

async fn lb_attributes(c: &Clients, arn: &str) -> Result<BTreeMap<String, String>> {
    let out = c
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .aws(format!("DescribeLoadBalancerAttributes {arn}"))?;
    Ok(out
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_owned(), a.value()?.to_owned())))
        .collect())
}

/// The listeners of a load balancer and the rules of each, all with tags.
pub async fn listeners_and_rules(
    c: &Clients,
    lb_arn: &str,
) -> Result<(Vec<FoundListener>, Vec<FoundRule>)> {
    let listeners: Vec<Listener> = c
        .elb
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("DescribeListeners {lb_arn}"))?;
    let rules = try_join_bounded(
        listeners.iter().map(|l| {
            let arn = l.listener_arn().unwrap_or_default().to_owned();
            async move {
                let rules: Vec<Rule> = c
                    .elb
                    .describe_rules()
                    .listener_arn(&arn)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws(format!("DescribeRules {arn}"))?;
                Ok(rules
                    .into_iter()
                    .filter(|r| r.is_default() != Some(true))
                    .map(move |rule| (arn.clone(), rule))
                    .collect::<Vec<_>>())
            }
        }),
        IN_FLIGHT,
    )
    .await?;
    let rules: Vec<(String, Rule)> = rules.into_iter().flatten().collect();
    let arns: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_owned))
        .chain(
            rules
                .iter()
                .filter_map(|(_, r)| r.rule_arn().map(str::to_owned)),
        )
        .collect();
    let mut tags = tags_of(&c.elb, &arns).await?;
    let listeners = listeners
        .into_iter()
        .map(|listener| FoundListener {
            tags: tags
                .remove(listener.listener_arn().unwrap_or_default())
                .unwrap_or_default(),
            listener,
        })
        .collect();
    let rules = rules
        .into_iter()
        .map(|(listener_arn, rule)| FoundRule {
            tags: tags
                .remove(rule.rule_arn().unwrap_or_default())
                .unwrap_or_default(),
            listener_arn,
            rule,
        })
        .collect();
    Ok((listeners, rules))
}

/// The attributes of our target groups (one call each: AWS has no batch).
async fn tg_attributes(c: &Clients, ctx: &Context, tgs: &mut [FoundTg]) -> Result<()> {
    let ours: Vec<usize> = (0..tgs.len())
        .filter(|i| names::our_component(ctx, &tgs[*i].tags).is_some_and(names::is_tg_component))
        .collect();
    let read = try_join_bounded(
        ours.iter().map(|i| {
            let arn = tgs[*i].arn().to_owned();
            async move {
                let out = c
                    .elb
                    .describe_target_group_attributes()
                    .target_group_arn(&arn)
                    .send()
                    .await
                    .gone_if(format!("DescribeTargetGroupAttributes {arn}"), |e| {
                        e.is_target_group_not_found_exception()
                    })?;
                Ok(out
                    .map(|o| {
                        o.attributes()
                            .iter()
                            .filter_map(|a| Some((a.key()?.to_owned(), a.value()?.to_owned())))
                            .collect::<BTreeMap<_, _>>()
                    })
                    .unwrap_or_default())
            }
        }),
        IN_FLIGHT,
    )
    .await?;
    for (i, attributes) in ours.into_iter().zip(read) {
        tgs[i].attributes = attributes;
    }
    Ok(())
}

/// Every ELB ARN the document's `.alb` names.
pub fn hinted_arns(alb: &Alb) -> BTreeSet<String> {
    let mut arns: BTreeSet<String> = [alb.arn.clone(), alb.http_listener_arn.clone()].into();
    arns.extend(alb.https_listener_arn.clone());
    for t in alb.target_groups.values() {
        arns.insert(t.arn.clone());
        arns.extend(t.green.as_ref().map(|g| g.arn.clone()));
        arns.extend(t.test_listener_arn.clone());
    }
    arns.extend(alb.rules.values().map(|r| r.arn.clone()));
    arns.retain(|a| a.starts_with("arn:") && !common::plan::is_planned(a));
    arns
}

/// The document's ids that discovery did not find by itself: their tags must
/// say this stack and env, else they are mismatches.
pub async fn check_hints(
    c: &Clients,
    ctx: &Context,
    actual: &Actual,
    alb: &Alb,
    mismatches: &Mismatches,
) -> Result<()> {
    let mut known: BTreeSet<&str> = actual.lbs.iter().map(FoundLb::arn).collect();
    known.extend(actual.tgs.iter().map(FoundTg::arn));
    known.extend(actual.listeners.iter().map(FoundListener::arn));
    known.extend(actual.rules.iter().map(FoundRule::arn));
    let unknown: Vec<String> = hinted_arns(alb)
        .into_iter()
        .filter(|a| !known.contains(a.as_str()))
        .collect();
    for (arn, tags) in tags_of(&c.elb, &unknown).await? {
        mismatches.note(ctx, kind_of(&arn), &arn, names::pairs(&tags));
    }
    let group = alb.security_group_id.as_str();
    let seen = actual.groups.iter().any(|g| g.group_id() == Some(group));
    if !seen && group.starts_with("sg-") {
        let out = c
            .ec2
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            // EC2 models no errors: its code is all the SDK gives.
            .gone_if(format!("DescribeSecurityGroups {group}"), |e| {
                e.code() == Some("InvalidGroup.NotFound")
            })?;
        for g in out.iter().flat_map(|o| o.security_groups()) {
            mismatches.note(ctx, "security group", group, common::ec2::pairs(g.tags()));
        }
    }
    Ok(())
}

/// The kind an ELB ARN names, for messages.
pub fn kind_of(arn: &str) -> &'static str {
    if arn.contains(":targetgroup/") {
        "target group"
    } else if arn.contains(":listener-rule/") {
        "listener rule"
    } else if arn.contains(":listener/") {
        "listener"
    } else {
        "load balancer"
    }
}
