//! Removing the load balancer layer: discovery by tag (and from the document),
//! then deletion in the order AWS demands.
//!
//! Deletion protection is turned off first (teardown was asked for by name). A
//! target group stays "in use" until the listeners and rules that forward to it
//! are gone, and those go with the load balancer, so the load balancer is
//! deleted and waited for before the target groups. Its security group goes
//! last: the ALB's network interfaces hold it until they are released.

use std::time::Duration;

use aws_sdk_ec2::types::SecurityGroup;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{
    Listener, LoadBalancer, LoadBalancerAttribute, Tag, TargetGroup,
};
use aws_sdk_elasticloadbalancingv2::Client;

use common::plan::{Leftovers, Step};
use common::sections::Alb;
use common::{join_all, retry, AwsResultExt, Context, Error, Result};

use crate::elb;

const SECTION: &str = "alb";
/// A load balancer takes a minute or two to go.
const GONE_WAIT: Duration = Duration::from_secs(600);

/// Everything of the ALB layer that belongs to this stack and env.
#[derive(Debug)]
pub struct Found {
    elb: Client,
    ec2: aws_sdk_ec2::Client,
    pub load_balancers: Vec<(LoadBalancer, Vec<Tag>)>,
    pub listeners: Vec<Listener>,
    pub target_groups: Vec<(TargetGroup, Vec<Tag>)>,
    pub groups: Vec<SecurityGroup>,
}

/// Finds the stack's load balancers, their listeners, its target groups and the
/// ALB security group, by tag; the document's ALB too when its tags confirm it.
pub async fn discover(ctx: &Context, section: Option<&Alb>) -> Result<Found> {
    let client = Client::new(&ctx.sdk);
    let ec2 = aws_sdk_ec2::Client::new(&ctx.sdk);
    let (mut load_balancers, target_groups, groups) = tokio::try_join!(
        elb::owned_load_balancers(&client, ctx),
        elb::owned_target_groups(&client, ctx),
        async {
            let out = ec2
                .describe_security_groups()
                .set_filters(Some(common::ec2::component_filters(ctx, "alb")))
                .send()
                .await
                .aws("DescribeSecurityGroups")?;
            Ok::<_, Error>(
                out.security_groups()
                    .iter()
                    .filter(|g| common::ec2::owned(ctx, g.tags()))
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        },
    )?;
    if let Some(arn) = section.map(|a| a.arn.as_str()).filter(|a| !a.is_empty()) {
        let known = load_balancers
            .iter()
            .any(|(l, _)| l.load_balancer_arn() == Some(arn));
        if !known {
            doc_load_balancer(&client, ctx, arn, &mut load_balancers).await?;
        }
    }
    let mut listeners = Vec::new();
    for (lb, _) in &load_balancers {
        let arn = lb.load_balancer_arn().unwrap_or_default();
        match client
            .describe_listeners()
            .load_balancer_arn(arn)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws(format!("DescribeListeners {arn}"))
        {
            Ok(found) => listeners.extend(found),
            Err(e) if retry::is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Found {
        elb: client,
        ec2,
        load_balancers,
        listeners,
        target_groups,
        groups,
    })
}

/// The document's ALB, when tag discovery missed it: adopted only if tagged ours.
async fn doc_load_balancer(
    client: &Client,
    ctx: &Context,
    arn: &str,
    into: &mut Vec<(LoadBalancer, Vec<Tag>)>,
) -> Result<()> {
    let out = match client
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
        .aws("DescribeLoadBalancers")
    {
        Ok(out) => out,
        Err(e) if retry::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut tags = elb::tags_of(client, &[arn.to_owned()]).await?;
    let tags = tags.remove(arn).unwrap_or_default();
    for lb in out.load_balancers() {
        if elb::owned(ctx, &tags) {
            into.push((lb.clone(), tags.clone()));
        } else {
            tracing::warn!(
                "the document's load balancer {arn} is not tagged for {}/{}: left alone",
                ctx.stack,
                ctx.env
            );
        }
    }
    Ok(())
}

fn name_of(ctx: &Context, tags: &[Tag], fallback: &str) -> String {
    elb::component(tags).map_or_else(|| fallback.to_owned(), |c| ctx.name(c))
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.plan_with(None).is_empty()
    }

    /// The deletions, in order.
    pub fn steps(&self, ctx: &Context) -> Vec<Step> {
        self.plan_with(Some(ctx))
    }

    fn plan_with(&self, ctx: Option<&Context>) -> Vec<Step> {
        let step = |kind: &'static str, id: &str, name: String| Step {
            layer: SECTION,
            kind,
            id: id.to_owned(),
            name,
        };
        let mut steps = Vec::new();
        steps.extend(self.listeners.iter().map(|l| {
            let id = l.listener_arn().unwrap_or_default();
            let name = format!(
                "{} port {}",
                l.protocol().map_or("", |p| p.as_str()),
                l.port().unwrap_or(0)
            );
            step("listener", id, name)
        }));
        steps.extend(self.load_balancers.iter().map(|(l, _)| {
            step(
                "load balancer",
                l.load_balancer_arn().unwrap_or_default(),
                l.load_balancer_name().unwrap_or_default().to_owned(),
            )
        }));
        steps.extend(self.target_groups.iter().map(|(t, _)| {
            step(
                "target group",
                t.target_group_arn().unwrap_or_default(),
                t.target_group_name().unwrap_or_default().to_owned(),
            )
        }));
        steps.extend(self.groups.iter().map(|g| {
            let id = g.group_id().unwrap_or_default();
            let name = match ctx {
                Some(c) => c.name("alb"),
                None => String::new(),
            };
            step("security group", id, name)
        }));
        steps
    }

    /// Deletes everything found, in dependency order; what fails is recorded.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        let client = &self.elb;
        let report = &ctx.report;
        let all_listeners = &self.listeners;

        // 1. Deletion protection off, listeners (with their rules), the load balancer.
        let deleted = join_all(self.load_balancers.iter().map(|(lb, tags)| async move {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
            let name = lb
                .load_balancer_name()
                .map_or_else(|| name_of(ctx, tags, &arn), str::to_owned);
            let listeners: Vec<&Listener> = all_listeners
                .iter()
                .filter(|l| l.load_balancer_arn() == Some(arn.as_str()))
                .collect();
            let ok = left
                .attempt("load balancer", &name, async {
                    unprotect(client, &arn, &name).await?;
                    for l in &listeners {
                        let id = l.listener_arn().unwrap_or_default();
                        elb::delete_listener(client, id, id).await?;
                        report.deleted("listener", id);
                    }
                    retry::delete(&format!("DeleteLoadBalancer {name}"), || async {
                        client
                            .delete_load_balancer()
                            .load_balancer_arn(&arn)
                            .send()
                            .await
                            .map(|_| ())
                            .aws(format!("DeleteLoadBalancer {name}"))
                    })
                    .await
                })
                .await;
            ok.then_some((arn, name))
        }))
        .await;
        let deleted: Vec<(String, String)> = deleted.into_iter().flatten().collect();

        // 2. Wait until they are gone: until then their target groups are "in use"
        //    and their network interfaces hold the security group.
        if !deleted.is_empty() {
            let arns: Vec<String> = deleted.iter().map(|(a, _)| a.clone()).collect();
            let names: Vec<&str> = deleted.iter().map(|(_, n)| n.as_str()).collect();
            let ok = left
                .attempt("load balancers", &names.join(", "), async {
                    client
                        .wait_until_load_balancers_deleted()
                        .set_load_balancer_arns(Some(arns.clone()))
                        .wait(GONE_WAIT)
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            common::retry::waiter_error(
                                "load balancers to be deleted",
                                GONE_WAIT,
                                e,
                            )
                        })
                })
                .await;
            if ok {
                for n in names {
                    report.deleted("load balancer", n);
                }
            }
        }

        // 3. Target groups: "in use" is retried while the load balancer lets go.
        join_all(self.target_groups.iter().map(|(tg, _)| async move {
            let arn = tg.target_group_arn().unwrap_or_default();
            let name = tg.target_group_name().unwrap_or(arn);
            let ok = left
                .attempt(
                    "target group",
                    name,
                    retry::delete(&format!("DeleteTargetGroup {name}"), || async {
                        client
                            .delete_target_group()
                            .target_group_arn(arn)
                            .send()
                            .await
                            .map(|_| ())
                            .aws(format!("DeleteTargetGroup {name}"))
                    }),
                )
                .await;
            if ok {
                report.deleted("target group", name);
            }
        }))
        .await;

        // 4. The security group: other groups' references first (svc-up's service
        //    groups name it), then the group, retried while the ALB's ENIs go.
        let ec2 = &self.ec2;
        for g in &self.groups {
            let id = g.group_id().unwrap_or_default();
            let name = ctx.name("alb");
            left.attempt(
                "security group rules",
                &name,
                common::ec2::revoke_group_references(ec2, g),
            )
            .await;
            if left
                .attempt("security group", &name, common::ec2::delete_group(ec2, id))
                .await
            {
                report.deleted("security group", &name);
            }
        }
    }
}

/// Deletion protection off, if it is on: AWS refuses to delete a protected ALB.
async fn unprotect(client: &Client, arn: &str, name: &str) -> Result<()> {
    let attrs = client
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .aws(format!("DescribeLoadBalancerAttributes {name}"))?;
    let protected = attrs
        .attributes()
        .iter()
        .any(|a| a.key() == Some("deletion_protection.enabled") && a.value() == Some("true"));
    if protected {
        client
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .attributes(
                LoadBalancerAttribute::builder()
                    .key("deletion_protection.enabled")
                    .value("false")
                    .build(),
            )
            .send()
            .await
            .aws(format!("ModifyLoadBalancerAttributes {name}"))?;
        tracing::info!("turned deletion protection off on {name}");
    }
    Ok(())
}

/// This layer, as teardown walks it (see `common::layer`).
#[derive(Debug)]
pub struct AlbLayer;

pub static LAYER: AlbLayer = AlbLayer;

impl common::layer::Layer for AlbLayer {
    fn tool(&self) -> &'static str {
        "alb-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["alb"]
    }

    fn check(&self, doc: &common::Document) -> Result<()> {
        doc.layer::<Alb>("alb").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a common::Document,
        _mismatches: &'a common::owner::Mismatches,
    ) -> futures_util::future::BoxFuture<'a, Result<Box<dyn common::layer::Owned>>> {
        Box::pin(async move {
            let alb: Option<Alb> = doc.layer("alb")?;
            Ok(Box::new(discover(ctx, alb.as_ref()).await?) as Box<dyn common::layer::Owned>)
        })
    }
}

impl common::layer::Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<common::plan::Change> {
        self.steps(ctx).iter().map(|s| s.change("alb-up")).collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: common::layer::TeardownOptions,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(Found::delete_all(*self, ctx, left))
    }
}
