//! Per-service security groups (`svc-{service}`): in only on the service's
//! port, from the ALB's group when it is routed and from each caller's group.
//! Ingress converges exactly (missing grants authorized, any other revoked);
//! egress stays AWS's default (tasks reach ECR, Secrets Manager and Logs).
//!
//! Groups are found in one call by the stack's and env's tags in the VPC; two
//! groups claiming one service are refused, naming both. A group this run
//! creates gets its rules in the next phase, once every group a rule names
//! exists.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, UserIdGroupPair,
};
use common::ec2::{filter, owner_filters};
use common::plan::{planned, Action, Change};
use common::{retry, AwsResultExt, Context, Error, Result};

use crate::aws::Clients;
use crate::names::{self, pairs, Tags};
use crate::ops::{Ids, Phase};

pub const KIND: &str = "security group";

/// Where a grant lets traffic in from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Group(String),
    Cidr(String),
    Cidr6(String),
    PrefixList(String),
}

/// One ingress grant: protocol, port range, peer (descriptions are not compared).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub peer: Peer,
}

impl Grant {
    pub fn tcp(port: u16, peer: Peer) -> Self {
        Grant {
            protocol: "tcp".into(),
            from: i32::from(port),
            to: i32::from(port),
            peer,
        }
    }

    /// `tcp:8080<-sg-1`, for plans and logs.
    pub fn label(&self) -> String {
        let peer = match &self.peer {
            Peer::Group(g) | Peer::Cidr(g) | Peer::Cidr6(g) | Peer::PrefixList(g) => g,
        };
        let ports = if self.from == self.to {
            self.from.to_string()
        } else {
            format!("{}-{}", self.from, self.to)
        };
        format!("{}:{ports}<-{peer}", self.protocol)
    }
}

/// A group as it should be. Group peers may be placeholders of groups this run creates.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub service: String,
    pub name: String,
    pub description: String,
    /// Sorted, each with the description AWS shows.
    pub ingress: Vec<(Grant, String)>,
}

/// A group as AWS holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Have {
    pub id: String,
    pub name: String,
    pub tags: Tags,
    /// Sorted.
    pub ingress: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create {
        want: Want,
        vpc_id: String,
        tags: Tags,
    },
    /// Makes the ingress exactly `want`; `fresh` for a group this run creates
    /// (its creation is the change).
    Rules {
        want: Want,
        group: String,
        have: Vec<Grant>,
        fresh: bool,
    },
    /// Revokes a pruned group's ingress, so groups naming each other can go.
    Revoke {
        have: Have,
    },
    Delete {
        have: Have,
    },
}

/// Every group of this stack and env (in the VPC, when given), with tags and ingress.
pub async fn discover(c: &Clients, ctx: &Context, vpc_id: Option<&str>) -> Result<Vec<Have>> {
    let mut filters = owner_filters(ctx);
    if let Some(vpc) = vpc_id {
        filters.push(filter("vpc-id", [vpc]));
    }
    let groups: Vec<SecurityGroup> = c
        .ec2
        .describe_security_groups()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("DescribeSecurityGroups")?;
    Ok(groups.iter().map(have_of).collect())
}

/// Groups by id (a document's hints), whoever they belong to.
pub async fn by_ids(c: &Clients, ids: &[String]) -> Result<Vec<Have>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let out = match c
        .ec2
        .describe_security_groups()
        .set_group_ids(Some(ids.to_vec()))
        .send()
        .await
        .aws("DescribeSecurityGroups")
    {
        Ok(out) => out,
        // Some id is gone: ask one by one, so the others are still checked.
        Err(e) if retry::is_not_found(&e) && ids.len() > 1 => {
            let one =
                common::try_join_all(ids.iter().map(|id| by_ids(c, std::slice::from_ref(id))))
                    .await?;
            return Ok(one.into_iter().flatten().collect());
        }
        Err(e) if retry::is_not_found(&e) => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    Ok(out.security_groups().iter().map(have_of).collect())
}

pub fn have_of(g: &SecurityGroup) -> Have {
    let mut ingress = grants(g.ip_permissions());
    ingress.sort();
    Have {
        id: g.group_id().unwrap_or_default().to_owned(),
        name: g.group_name().unwrap_or_default().to_owned(),
        tags: g
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        ingress,
    }
}

/// The grants a group's permissions hold, one per peer.
fn grants(perms: &[IpPermission]) -> Vec<Grant> {
    let mut out = Vec::new();
    for p in perms {
        let grant = |peer| Grant {
            protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
            from: p.from_port().unwrap_or(-1),
            to: p.to_port().unwrap_or(-1),
            peer,
        };
        for r in p.ip_ranges() {
            out.push(grant(Peer::Cidr(
                r.cidr_ip().unwrap_or_default().to_owned(),
            )));
        }
        for r in p.ipv6_ranges() {
            out.push(grant(Peer::Cidr6(
                r.cidr_ipv6().unwrap_or_default().to_owned(),
            )));
        }
        for l in p.prefix_list_ids() {
            out.push(grant(Peer::PrefixList(
                l.prefix_list_id().unwrap_or_default().to_owned(),
            )));
        }
        for g in p.user_id_group_pairs() {
            out.push(grant(Peer::Group(
                g.group_id().unwrap_or_default().to_owned(),
            )));
        }
    }
    out
}

/// The group of each service of this stack and env; two for one service are
/// refused, naming both.
pub fn by_service(found: &[Have]) -> Result<BTreeMap<String, &Have>> {
    let mut out: BTreeMap<String, &Have> = BTreeMap::new();
    for g in found {
        let Some(service) = names::component(&g.tags).and_then(|c| names::service_of(c, "svc-"))
        else {
            continue;
        };
        if let Some(other) = out.insert(service.to_owned(), g) {
            return Err(Error::Refused(format!(
                "two security groups claim service {service}'s group: {} ({}) and {} ({}); \
                 delete the one that is not in use (teardown removes both); nothing was changed",
                other.id, other.name, g.id, g.name
            )));
        }
    }
    Ok(out)
}

impl Want {
    /// The group's id: the one found, or the placeholder of the one this run creates.
    pub fn id(&self, have: Option<&Have>) -> String {
        have.map_or_else(|| planned(KIND, &self.name), |h| h.id.clone())
    }

    fn grants(&self) -> Vec<Grant> {
        self.ingress.iter().map(|(g, _)| g.clone()).collect()
    }
}

/// The ops that bring one service's group to `want`: a create and its rules,
/// or the rules that drifted.
pub fn plan(ctx: &Context, want: &Want, have: Option<&Have>, vpc_id: &str) -> Result<Vec<Op>> {
    let Some(have) = have else {
        let create = Op::Create {
            want: want.clone(),
            vpc_id: vpc_id.to_owned(),
            tags: names::wanted_tags(ctx, &names::group_component(&want.service)),
        };
        let rules = Op::Rules {
            want: want.clone(),
            group: want.id(None),
            have: vec![],
            fresh: true,
        };
        return Ok(vec![create, rules]);
    };
    ctx.check_owned(
        KIND,
        &have.name,
        pairs(&have.tags),
        &names::group_component(&want.service),
    )?;
    if have.ingress == want.grants() {
        return Ok(vec![]);
    }
    Ok(vec![Op::Rules {
        want: want.clone(),
        group: have.id.clone(),
        have: have.ingress.clone(),
        fresh: false,
    }])
}

/// The groups of services no longer wanted: their ingress revoked, then deleted.
pub fn prune(ctx: &Context, wanted: &[Want], found: &BTreeMap<String, &Have>) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    for (service, have) in found {
        if wanted.iter().any(|w| &w.service == service) {
            continue;
        }
        ctx.check_owned(
            KIND,
            &have.name,
            pairs(&have.tags),
            &names::group_component(service),
        )?;
        if !have.ingress.is_empty() {
            ops.push(Op::Revoke {
                have: (*have).clone(),
            });
        }
        ops.push(Op::Delete {
            have: (*have).clone(),
        });
    }
    Ok(ops)
}

impl Op {
    pub fn phase(&self) -> Phase {
        match self {
            Op::Create { .. } => Phase::Setup,
            Op::Rules { .. } => Phase::Wire,
            Op::Revoke { .. } => Phase::PruneRules,
            Op::Delete { .. } => Phase::Prune,
        }
    }

    pub fn change(&self, ctx: &Context) -> Option<Change> {
        let labels = |g: &[Grant]| g.iter().map(Grant::label).collect::<Vec<_>>();
        match self {
            Op::Create { want, .. } => {
                Some(Change::new(&ctx.tool, Action::Create, KIND, &want.name))
            }
            Op::Rules { fresh: true, .. } | Op::Revoke { .. } => None,
            Op::Rules {
                want, group, have, ..
            } => Some(
                Change::new(&ctx.tool, Action::Update, KIND, &want.name)
                    .id(group)
                    .field("ingress", labels(have), labels(&want.grants())),
            ),
            Op::Delete { have } => {
                Some(Change::new(&ctx.tool, Action::Delete, KIND, &have.name).id(&have.id))
            }
        }
    }

    pub async fn apply(&self, c: &Clients, _ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            Op::Create { want, vpc_id, tags } => {
                let id = create(c, want, vpc_id, tags).await?;
                ids.set(&want.id(None), &id);
                Ok(Some(id))
            }
            Op::Rules {
                want, group, have, ..
            } => set_rules(c, &ids.get(group)?, want, have, ids)
                .await
                .map(|()| None),
            Op::Revoke { have } => {
                let perms: Vec<IpPermission> = have.ingress.iter().map(permission).collect();
                revoke(c, &have.id, perms).await.map(|()| None)
            }
            Op::Delete { have } => common::ec2::delete_group(&c.ec2, &have.id)
                .await
                .map(|()| None),
        }
    }
}

async fn create(c: &Clients, want: &Want, vpc_id: &str, tags: &Tags) -> Result<String> {
    // Tagged in the create call: a run killed right after it leaves a group
    // the next run finds by its tags.
    let spec = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroup)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build();
    let out = c
        .ec2
        .create_security_group()
        .group_name(&want.name)
        .description(&want.description)
        .vpc_id(vpc_id)
        .tag_specifications(spec)
        .send()
        .await
        .aws(format!("CreateSecurityGroup {}", want.name))?;
    Ok(out.group_id().unwrap_or_default().to_owned())
}

/// The EC2 permission of one grant (with its description when we set it).
fn permission(g: &Grant) -> IpPermission {
    described(g, None)
}

fn described(g: &Grant, description: Option<&str>) -> IpPermission {
    let b = IpPermission::builder()
        .ip_protocol(&g.protocol)
        .set_from_port((g.protocol != "-1").then_some(g.from))
        .set_to_port((g.protocol != "-1").then_some(g.to));
    match &g.peer {
        Peer::Group(id) => b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(id)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
        Peer::Cidr(c) => b.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
        Peer::Cidr6(c) => b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
        Peer::PrefixList(p) => b.prefix_list_ids(PrefixListId::builder().prefix_list_id(p).build()),
    }
    .build()
}

/// Authorizes what is missing, then revokes what is not wanted (so a peer that
/// moves never leaves the port closed in between).
async fn set_rules(c: &Clients, group: &str, want: &Want, have: &[Grant], ids: &Ids) -> Result<()> {
    let mut missing = Vec::new();
    for (g, description) in &want.ingress {
        let mut real = g.clone();
        if let Peer::Group(id) = &g.peer {
            real.peer = Peer::Group(ids.get(id)?);
        }
        if !have.contains(&real) {
            missing.push(described(&real, Some(description)));
        }
    }
    let wanted: Vec<Grant> = want.grants();
    let extra: Vec<IpPermission> = have
        .iter()
        .filter(|g| !wanted.contains(g))
        .map(permission)
        .collect();
    if !missing.is_empty() {
        // A group made a moment ago may not be visible yet.
        retry::after_create(
            &format!("AuthorizeSecurityGroupIngress {group}"),
            || async {
                match c
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(missing.clone()))
                    .send()
                    .await
                    .aws(format!("AuthorizeSecurityGroupIngress {group}"))
                {
                    // Granted already (a retry of a call that went through).
                    Err(e) if e.aws_code() == Some("InvalidPermission.Duplicate") => Ok(()),
                    other => other.map(|_| ()),
                }
            },
        )
        .await?;
    }
    revoke(c, group, extra).await
}

async fn revoke(c: &Clients, group: &str, perms: Vec<IpPermission>) -> Result<()> {
    if perms.is_empty() {
        return Ok(());
    }
    match c
        .ec2
        .revoke_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(perms))
        .send()
        .await
        .aws(format!("RevokeSecurityGroupIngress {group}"))
    {
        Err(e) if e.aws_code() == Some("InvalidPermission.NotFound") => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::offline("svc-up", "shop", "dev", "us-east-1")
    }

    fn want() -> Want {
        Want {
            service: "api".into(),
            name: "shop--svc-api--dev".into(),
            description: "d".into(),
            ingress: vec![(
                Grant::tcp(8080, Peer::Group("sg-alb".into())),
                "from the ALB".into(),
            )],
        }
    }

    fn have(ctx: &Context) -> Have {
        Have {
            id: "sg-api".into(),
            name: "shop--svc-api--dev".into(),
            tags: ctx.tags("svc-api"),
            ingress: vec![Grant::tcp(8080, Peer::Group("sg-alb".into()))],
        }
    }

    #[test]
    fn missing_is_created_then_given_its_rules() {
        let ctx = ctx();
        let ops = plan(&ctx, &want(), None, "vpc-1").unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(
            ops[0].change(&ctx).unwrap().line(),
            "+ security group shop--svc-api--dev"
        );
        assert_eq!(
            ops[1].change(&ctx),
            None,
            "its rules are part of the create"
        );
        assert!(ops[0].phase() < ops[1].phase());
    }

    #[test]
    fn ingress_converges_exactly() {
        let ctx = ctx();
        assert!(plan(&ctx, &want(), Some(&have(&ctx)), "vpc-1")
            .unwrap()
            .is_empty());
        let mut h = have(&ctx);
        h.ingress
            .push(Grant::tcp(22, Peer::Cidr("0.0.0.0/0".into())));
        h.ingress.sort();
        let ops = plan(&ctx, &want(), Some(&h), "vpc-1").unwrap();
        assert_eq!(
            ops[0].change(&ctx).unwrap().line(),
            "~ security group shop--svc-api--dev (ingress: [\"tcp:22<-0.0.0.0/0\",\"tcp:8080<-sg-alb\"] -> [\"tcp:8080<-sg-alb\"])"
        );
        let h = Have {
            ingress: vec![],
            ..have(&ctx)
        };
        let ops = plan(&ctx, &want(), Some(&h), "vpc-1").unwrap();
        assert!(ops[0]
            .change(&ctx)
            .unwrap()
            .line()
            .contains("ingress: [] ->"));
    }

    #[test]
    fn another_components_group_is_refused() {
        let ctx = ctx();
        let h = Have {
            tags: ctx.tags("alb"),
            ..have(&ctx)
        };
        assert_eq!(
            plan(&ctx, &want(), Some(&h), "vpc-1")
                .unwrap_err()
                .exit_code(),
            10
        );
    }

    #[test]
    fn two_groups_for_one_service_are_refused_naming_both() {
        let ctx = ctx();
        let a = have(&ctx);
        let b = Have {
            id: "sg-two".into(),
            ..have(&ctx)
        };
        let all = [a, b];
        let e = by_service(&all).unwrap_err();
        assert_eq!(e.exit_code(), 10);
        assert!(
            e.to_string().contains("sg-api") && e.to_string().contains("sg-two"),
            "{e}"
        );
    }

    #[test]
    fn unwanted_services_groups_are_revoked_then_deleted() {
        let ctx = ctx();
        let old = Have {
            id: "sg-old".into(),
            name: "shop--svc-old--dev".into(),
            tags: ctx.tags("svc-old"),
            ingress: vec![Grant::tcp(80, Peer::Group("sg-api".into()))],
        };
        let alb = Have {
            id: "sg-alb".into(),
            name: "alb".into(),
            tags: ctx.tags("alb"),
            ingress: vec![],
        };
        let all = [have(&ctx), old, alb];
        let by = by_service(&all).unwrap();
        let ops = prune(&ctx, &[want()], &by).unwrap();
        assert_eq!(ops.len(), 2);
        assert!(matches!(&ops[0], Op::Revoke { have } if have.id == "sg-old"));
        assert_eq!(
            ops[1].change(&ctx).unwrap().line(),
            "- security group shop--svc-old--dev"
        );
        assert!(ops[0].phase() < ops[1].phase());
    }

    #[test]
    fn grants_read_from_permissions() {
        let p = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(81)
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-1").build())
            .build();
        let all = IpPermission::builder().ip_protocol("-1").build();
        let g = grants(&[p, all]);
        assert_eq!(g.len(), 2, "a permission without a peer grants nothing");
        assert_eq!(g[0].label(), "tcp:80-81<-10.0.0.0/8");
        assert_eq!(
            permission(&g[1]).user_id_group_pairs()[0].group_id(),
            Some("sg-1")
        );
    }
}
