//! Removing the load balancer layer (`LAYER`, walked by `teardown`).
//!
//! Found by tag: the load balancers and target groups whose tags say this
//! stack, env and one of alb-up's components (`alb`, `tg-*`), the listeners of
//! those load balancers tagged ours, and the `alb` security group. The
//! document's `.alb` ids are hints: one whose tags name another stack or env
//! is a mismatch, which stops the whole teardown before anything is deleted.
//!
//! The order is AWS's: deletion protection off (teardown was asked for by
//! name), the listeners (their rules go with them), the load balancer, a wait
//! until it is gone (until then its target groups are "in use" and its network
//! interfaces hold the security group), the target groups, and last the
//! security group, after the references other groups hold to it (svc-up's
//! service groups name it) are revoked. The access-log bucket goes after the
//! load balancer that writes to it, emptied first.

use std::time::Duration;

use aws_sdk_ec2::types::SecurityGroup;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute;
use futures_util::future::BoxFuture;

use common::layer::{Layer, Owned, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Action, Change, Leftovers};
use common::sdk::{join_bounded, SdkResultExt, IN_FLIGHT};
use common::sections::Alb;
use common::{retry, AwsResultExt, Context, Document, Result};

use crate::access_logs;
use crate::desired::DELETION_PROTECTION;
use crate::discover::{self, Actual, Clients, FoundLb, FoundListener, FoundTg};
use crate::names;
use crate::plan::{LISTENER, LOAD_BALANCER, SECURITY_GROUP, TARGET_GROUP};

/// A load balancer takes a minute or two to go.
const GONE_WAIT: Duration = Duration::from_secs(600);

/// This layer, as teardown walks it.
#[derive(Debug)]
pub struct AlbLayer;

pub static LAYER: AlbLayer = AlbLayer;

impl Layer for AlbLayer {
    fn tool(&self) -> &'static str {
        "alb-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["alb"]
    }

    fn check(&self, doc: &Document) -> Result<()> {
        doc.layer::<Alb>("alb").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a Document,
        mismatches: &'a Mismatches,
    ) -> BoxFuture<'a, Result<Box<dyn Owned>>> {
        Box::pin(async move {
            let hints: Option<Alb> = doc.layer("alb")?;
            let found = find(ctx, hints.as_ref(), mismatches).await?;
            Ok(Box::new(found) as Box<dyn Owned>)
        })
    }
}

/// Everything of the layer that is this stack's and env's.
#[derive(Debug)]
pub struct Found {
    c: Clients,
    pub lbs: Vec<FoundLb>,
    pub listeners: Vec<FoundListener>,
    pub tgs: Vec<FoundTg>,
    pub groups: Vec<SecurityGroup>,
    pub bucket: Option<access_logs::Bucket>,
}

/// `find` for callers outside teardown (other layers' tests): a document id
/// of another stack's is refused here (exit 10) instead of collected.
pub async fn discover(ctx: &Context, hints: Option<&Alb>) -> Result<Found> {
    let mismatches = Mismatches::default();
    let found = find(ctx, hints, &mismatches).await?;
    mismatches.into_result(ctx)?;
    Ok(found)
}

impl Found {
    /// `Owned::destroy` with the default options, for the same callers.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        Box::new(self)
            .destroy(ctx, left, TeardownOptions::default())
            .await
    }
}

/// Finds the layer by tag, and checks the document's ids.
pub async fn find(ctx: &Context, hints: Option<&Alb>, mismatches: &Mismatches) -> Result<Found> {
    let c = Clients::new(ctx);
    let ((lbs, tgs), groups, bucket) = tokio::try_join!(
        discover::sweep(&c, ctx),
        groups(&c, ctx),
        logs_bucket(ctx, &c)
    )?;
    let lbs: Vec<FoundLb> = lbs
        .into_iter()
        .filter(|l| names::our_component(ctx, &l.tags) == Some(names::LB))
        .collect();
    let tgs: Vec<FoundTg> = tgs
        .into_iter()
        .filter(|t| names::our_component(ctx, &t.tags).is_some_and(names::is_tg_component))
        .collect();
    let mut listeners = Vec::new();
    let mut rules = Vec::new();
    for lb in &lbs {
        let (l, r) = discover::listeners_and_rules(&c, lb.arn()).await?;
        listeners.extend(l);
        rules.extend(r);
    }
    if let Some(alb) = hints {
        let seen = Actual {
            lbs: lbs.clone(),
            tgs: tgs.clone(),
            listeners: listeners.clone(),
            rules,
            groups: groups.clone(),
            ..Actual::default()
        };
        discover::check_hints(&c, ctx, &seen, alb, mismatches).await?;
    }
    // Listeners not tagged ours go with their load balancer, whose tags were checked.
    listeners.retain(|l| names::our_component(ctx, &l.tags).is_some());
    Ok(Found {
        c,
        lbs,
        listeners,
        tgs,
        groups,
        bucket,
    })
}

/// The access-log bucket, whose name carries the account.
async fn logs_bucket(ctx: &Context, c: &Clients) -> Result<Option<access_logs::Bucket>> {
    let account = common::account::account_id(&ctx.sdk).await?;
    access_logs::find_owned(ctx, &c.s3, &account).await
}

/// The `alb` security groups of this stack and env, in any VPC.
async fn groups(c: &Clients, ctx: &Context) -> Result<Vec<SecurityGroup>> {
    let all: Vec<SecurityGroup> = c
        .ec2
        .describe_security_groups()
        .set_filters(Some(common::ec2::component_filters(ctx, names::LB)))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeSecurityGroups")?;
    Ok(all
        .into_iter()
        .filter(|g| {
            ctx.owns(common::ec2::pairs(g.tags()))
                && common::ec2::component(g.tags()) == Some(names::LB)
        })
        .collect())
}

fn bucket_gone(b: &access_logs::Bucket) -> Change {
    Change::new(
        crate::plan::TOOL,
        Action::Delete,
        access_logs::BUCKET,
        &b.name,
    )
}

fn gone(kind: &str, name: &str, id: &str) -> Change {
    Change::new(crate::plan::TOOL, Action::Delete, kind, name).id(id)
}

impl Found {
    fn listener_change(&self, ctx: &Context, l: &FoundListener) -> Change {
        let component = names::our_component(ctx, &l.tags).unwrap_or(LISTENER);
        gone(LISTENER, &ctx.name(component), l.arn())
    }
}

impl Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<Change> {
        let mut out: Vec<Change> = self
            .listeners
            .iter()
            .map(|l| self.listener_change(ctx, l))
            .collect();
        out.extend(self.lbs.iter().map(|l| {
            let name = l.lb.load_balancer_name().unwrap_or_default();
            gone(LOAD_BALANCER, name, l.arn())
        }));
        out.extend(self.tgs.iter().map(|t| {
            let name = t.tg.target_group_name().unwrap_or_default();
            gone(TARGET_GROUP, name, t.arn())
        }));
        out.extend(self.groups.iter().map(|g| {
            gone(
                SECURITY_GROUP,
                &ctx.name(names::LB),
                g.group_id().unwrap_or_default(),
            )
        }));
        out.extend(self.bucket.iter().map(bucket_gone));
        out
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: TeardownOptions,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.delete_load_balancers(ctx, left).await;
            self.delete_target_groups(ctx, left).await;
            self.delete_groups(ctx, left).await;
            self.delete_bucket(ctx, left).await;
        })
    }
}

impl Found {
    /// Listeners, then load balancers, then the wait until they are gone.
    async fn delete_load_balancers(&self, ctx: &Context, left: &Leftovers) {
        let listeners = join_bounded(
            self.listeners.iter().map(|l| async move {
                let change = self.listener_change(ctx, l);
                let ok = left
                    .attempt(
                        LISTENER,
                        &change.name,
                        crate::apply::delete_listener(&self.c.elb, l.arn()),
                    )
                    .await;
                if ok {
                    ctx.report.change(change);
                }
            }),
            IN_FLIGHT,
        );
        listeners.await;
        let deleted = join_bounded(
            self.lbs.iter().map(|l| async move {
                let name = l.lb.load_balancer_name().unwrap_or_default();
                let ok = left
                    .attempt(
                        LOAD_BALANCER,
                        name,
                        delete_load_balancer(&self.c, l.arn(), name),
                    )
                    .await;
                ok.then(|| l.arn().to_owned())
            }),
            IN_FLIGHT,
        )
        .await;
        let arns: Vec<String> = deleted.iter().flatten().cloned().collect();
        if arns.is_empty() {
            return;
        }
        let waited = left
            .attempt(LOAD_BALANCER, &arns.join(", "), async {
                let wait = self
                    .c
                    .elb
                    .wait_until_load_balancers_deleted()
                    .set_load_balancer_arns(Some(arns.clone()))
                    .wait(GONE_WAIT);
                common::progress::during("the load balancer to be deleted", wait)
                    .await
                    .map(drop)
                    .map_err(|e| retry::waiter_error("load balancers to be deleted", GONE_WAIT, e))
            })
            .await;
        if waited {
            for l in self
                .lbs
                .iter()
                .filter(|l| arns.iter().any(|a| a == l.arn()))
            {
                let name = l.lb.load_balancer_name().unwrap_or_default();
                ctx.report.change(gone(LOAD_BALANCER, name, l.arn()));
            }
        }
    }

    async fn delete_target_groups(&self, ctx: &Context, left: &Leftovers) {
        join_bounded(
            self.tgs.iter().map(|t| async move {
                let name = t.tg.target_group_name().unwrap_or_default();
                let op = format!("DeleteTargetGroup {name}");
                let call = retry::retry(
                    &op,
                    retry::Policy::dependency(),
                    |_| false,
                    || async {
                        self.c
                            .elb
                            .delete_target_group()
                            .target_group_arn(t.arn())
                            .send()
                            .await
                            .map(drop)
                            .wait_if(&op, |e| e.is_resource_in_use_exception())
                    },
                );
                if left.attempt(TARGET_GROUP, name, call).await {
                    ctx.report.change(gone(TARGET_GROUP, name, t.arn()));
                }
            }),
            IN_FLIGHT,
        )
        .await;
    }

    async fn delete_bucket(&self, ctx: &Context, left: &Leftovers) {
        let Some(bucket) = &self.bucket else {
            return;
        };
        let removed = access_logs::remove(&self.c.s3, bucket);
        if left
            .attempt(access_logs::BUCKET, &bucket.name, removed)
            .await
        {
            ctx.report.change(bucket_gone(bucket));
        }
    }

    async fn delete_groups(&self, ctx: &Context, left: &Leftovers) {
        let ec2 = &self.c.ec2;
        for g in &self.groups {
            let id = g.group_id().unwrap_or_default();
            let name = ctx.name(names::LB);
            let refs = common::ec2::revoke_group_references(ec2, g);
            left.attempt("security group rules", &name, refs).await;
            if left
                .attempt(SECURITY_GROUP, &name, common::ec2::delete_group(ec2, id))
                .await
            {
                ctx.report.change(gone(SECURITY_GROUP, &name, id));
            }
        }
    }
}

/// Deletion protection off when it is on (AWS refuses to delete a protected
/// load balancer), then the delete; gone already counts as done.
async fn delete_load_balancer(c: &Clients, arn: &str, name: &str) -> Result<()> {
    let attributes = c
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .gone_if(format!("DescribeLoadBalancerAttributes {name}"), |e| {
            e.is_load_balancer_not_found_exception()
        })?;
    let Some(attributes) = attributes else {
        return Ok(());
    };
    let protected = attributes
        .attributes()
        .iter()
        .any(|a| a.key() == Some(DELETION_PROTECTION) && a.value() == Some("true"));
    if protected {
        c.elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .attributes(
                LoadBalancerAttribute::builder()
                    .key(DELETION_PROTECTION)
                    .value("false")
                    .build(),
            )
            .send()
            .await
            .aws(format!("ModifyLoadBalancerAttributes {name}"))?;
        tracing::info!("turned deletion protection off on {name}");
    }
    c.elb
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .gone_if(format!("DeleteLoadBalancer {name}"), |e| {
            e.is_load_balancer_not_found_exception()
        })?;
    Ok(())
}
