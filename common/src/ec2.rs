//! EC2 helpers for the layers that own EC2 resources (network, ALB and service
//! security groups): tag filters, tags at creation, and security group rules.
//!
//! Every EC2 resource is created with its tags in the same call
//! (`TagSpecifications`), so a run killed right after a create still leaves a
//! resource the next run (or teardown) finds by tag.

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, ResourceType, SecurityGroup, Tag, TagSpecification,
    UserIdGroupPair,
};
use aws_sdk_ec2::Client;

use crate::error::{AwsResultExt, Result};
use crate::naming::{TAG_COMPONENT, TAG_ENV, TAG_STACK};
use crate::{retry, Context};

pub fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().map(Into::into).collect()))
        .build()
}

/// Filters for everything of this stack and env.
pub fn owner_filters(ctx: &Context) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{TAG_STACK}"), [ctx.stack.as_str()]),
        filter(&format!("tag:{TAG_ENV}"), [ctx.env.as_str()]),
    ]
}

/// Filters for one component of this stack and env.
pub fn component_filters(ctx: &Context, component: &str) -> Vec<Filter> {
    let mut f = owner_filters(ctx);
    f.push(filter(&format!("tag:{TAG_COMPONENT}"), [component]));
    f
}

/// Tags to create a resource with.
pub fn tag_spec(ctx: &Context, kind: ResourceType, component: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            ctx.tags(component)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

pub fn pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
}

/// Whether the tags say this stack and env own the resource. Every lookup result is
/// checked with it, since some filters are ignored (NAT gateways in the emulator).
pub fn owned(ctx: &Context, tags: &[Tag]) -> bool {
    ctx.owns(pairs(tags))
}

pub fn component(tags: &[Tag]) -> Option<&str> {
    crate::naming::component_of(pairs(tags))
}

/// Where an ingress rule lets traffic in from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Cidr(String),
    Group(String),
}

/// One TCP rule (ingress or egress): a port range and a peer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub from_port: i32,
    pub to_port: i32,
    pub peer: Source,
    pub description: String,
}

impl Rule {
    pub fn tcp(port: u16, peer: Source, description: &str) -> Self {
        Self::tcp_range(port, port, peer, description)
    }

    pub fn tcp_range(from: u16, to: u16, peer: Source, description: &str) -> Self {
        Self {
            from_port: i32::from(from),
            to_port: i32::from(to),
            peer,
            description: description.to_owned(),
        }
    }

    fn permission(&self) -> IpPermission {
        let b = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(self.from_port)
            .to_port(self.to_port);
        match &self.peer {
            Source::Cidr(c) => b.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .description(&self.description)
                    .build(),
            ),
            Source::Group(g) => b.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(g)
                    .description(&self.description)
                    .build(),
            ),
        }
        .build()
    }

    /// The rules a security group's permissions hold, one per peer. Only TCP port
    /// rules and the "all traffic" egress default are understood; anything else is
    /// reported as a rule to remove.
    fn from_permissions(perms: &[IpPermission]) -> Vec<(Self, IpPermission)> {
        let mut out = Vec::new();
        for p in perms {
            let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
            let proto = p.ip_protocol().unwrap_or_default().to_owned();
            let rule = |peer: Source, description: Option<&str>| Self {
                from_port: if proto == "tcp" { from } else { -1 },
                to_port: if proto == "tcp" { to } else { -1 },
                peer,
                description: description.unwrap_or_default().to_owned(),
            };
            let single = |b: aws_sdk_ec2::types::builders::IpPermissionBuilder| {
                b.ip_protocol(&proto)
                    .set_from_port(p.from_port())
                    .set_to_port(p.to_port())
                    .build()
            };
            for r in p.ip_ranges() {
                let cidr = r.cidr_ip().unwrap_or_default();
                out.push((
                    rule(Source::Cidr(cidr.to_owned()), r.description()),
                    single(
                        IpPermission::builder().ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
                    ),
                ));
            }
            for g in p.user_id_group_pairs() {
                let id = g.group_id().unwrap_or_default();
                out.push((
                    rule(Source::Group(id.to_owned()), g.description()),
                    single(
                        IpPermission::builder()
                            .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build()),
                    ),
                ));
            }
        }
        out
    }

    fn same_grant(&self, other: &Self) -> bool {
        self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.peer == other.peer
    }
}

/// A security group's wanted state. `egress: None` keeps AWS's default (all out).
#[derive(Debug, Clone)]
pub struct GroupSpec<'a> {
    pub component: &'a str,
    pub description: &'a str,
    pub vpc_id: &'a str,
    pub ingress: Vec<Rule>,
    pub egress: Option<Vec<Rule>>,
}

/// Finds this stack's security group for a component, if it exists.
pub async fn find_group(
    ec2: &Client,
    ctx: &Context,
    vpc_id: &str,
    component: &str,
) -> Result<Option<SecurityGroup>> {
    let mut filters = component_filters(ctx, component);
    filters.push(filter("vpc-id", [vpc_id]));
    let out = ec2
        .describe_security_groups()
        .set_filters(Some(filters))
        .send()
        .await
        .aws(format!("DescribeSecurityGroups {}", ctx.name(component)))?;
    Ok(out
        .security_groups()
        .iter()
        .find(|g| owned(ctx, g.tags()))
        .cloned())
}

/// Converges a security group: created if missing (named and tagged), then its
/// rules made exactly the wanted ones (missing authorized, extra revoked).
pub async fn ensure_group(ec2: &Client, ctx: &Context, spec: &GroupSpec<'_>) -> Result<String> {
    let name = ctx.name(spec.component);
    let fresh;
    let group = match find_group(ec2, ctx, spec.vpc_id, spec.component).await? {
        Some(g) => {
            let id = g.group_id().unwrap_or_default().to_owned();
            ctx.report.adopted("security group", &name, &id);
            fresh = false;
            g
        }
        None => {
            let id = ec2
                .create_security_group()
                .group_name(&name)
                .description(spec.description)
                .vpc_id(spec.vpc_id)
                .tag_specifications(tag_spec(ctx, ResourceType::SecurityGroup, spec.component))
                .send()
                .await
                .aws(format!("CreateSecurityGroup {name}"))?
                .group_id()
                .unwrap_or_default()
                .to_owned();
            ctx.report.created("security group", &name, &id);
            fresh = true;
            let described =
                retry::after_create(&format!("DescribeSecurityGroups {id}"), || async {
                    ec2.describe_security_groups()
                        .group_ids(&id)
                        .send()
                        .await
                        .aws(format!("DescribeSecurityGroups {id}"))
                })
                .await?;
            described
                .security_groups()
                .first()
                .cloned()
                .unwrap_or_else(|| SecurityGroup::builder().group_id(&id).build())
        }
    };
    let id = group.group_id().unwrap_or_default().to_owned();
    converge_rules(
        fresh,
        ec2,
        ctx,
        &name,
        &id,
        Direction::Ingress,
        group.ip_permissions(),
        &spec.ingress,
    )
    .await?;
    if let Some(egress) = &spec.egress {
        converge_rules(
            fresh,
            ec2,
            ctx,
            &name,
            &id,
            Direction::Egress,
            group.ip_permissions_egress(),
            egress,
        )
        .await?;
    }
    Ok(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

/// Rule changes on an existing group are updates; on a group just created they are
/// part of creating it.
fn note_rules(ctx: &Context, fresh: bool, name: &str, what: &str) {
    if fresh {
        tracing::debug!("security group {name}: {what}");
    } else {
        ctx.report.updated("security group", name, what);
    }
}

#[allow(clippy::too_many_arguments)]
async fn converge_rules(
    fresh: bool,
    ec2: &Client,
    ctx: &Context,
    name: &str,
    id: &str,
    direction: Direction,
    current: &[IpPermission],
    wanted: &[Rule],
) -> Result<()> {
    let have = Rule::from_permissions(current);
    let missing: Vec<IpPermission> = wanted
        .iter()
        .filter(|w| !have.iter().any(|(h, _)| h.same_grant(w)))
        .map(Rule::permission)
        .collect();
    let extra: Vec<IpPermission> = have
        .iter()
        .filter(|(h, _)| !wanted.iter().any(|w| w.same_grant(h)))
        .map(|(_, p)| p.clone())
        .collect();
    let what = if direction == Direction::Ingress {
        "ingress"
    } else {
        "egress"
    };
    if !missing.is_empty() {
        let n = missing.len();
        retry::after_create(&format!("Authorize {what} {name}"), || async {
            match direction {
                Direction::Ingress => ec2
                    .authorize_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(missing.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .aws(format!("AuthorizeSecurityGroupIngress {name}")),
                Direction::Egress => ec2
                    .authorize_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(missing.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .aws(format!("AuthorizeSecurityGroupEgress {name}")),
            }
        })
        .await
        .or_else(|e| {
            if e.aws_code() == Some("InvalidPermission.Duplicate") {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        note_rules(ctx, fresh, name, &format!("{n} {what} rule(s) added"));
    }
    if !extra.is_empty() {
        let n = extra.len();
        match direction {
            Direction::Ingress => ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(extra))
                .send()
                .await
                .map(|_| ())
                .aws(format!("RevokeSecurityGroupIngress {name}"))?,
            Direction::Egress => ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(extra))
                .send()
                .await
                .map(|_| ())
                .aws(format!("RevokeSecurityGroupEgress {name}"))?,
        }
        note_rules(ctx, fresh, name, &format!("{n} {what} rule(s) removed"));
    }
    Ok(())
}

/// Revokes every rule of a group that names another group, so groups that refer
/// to each other can be deleted in any order.
pub async fn revoke_group_references(ec2: &Client, group: &SecurityGroup) -> Result<()> {
    let id = group.group_id().unwrap_or_default();
    let refs = |perms: &[IpPermission]| -> Vec<IpPermission> {
        Rule::from_permissions(perms)
            .into_iter()
            .filter(|(r, _)| matches!(r.peer, Source::Group(_)))
            .map(|(_, p)| p)
            .collect()
    };
    let ingress = refs(group.ip_permissions());
    if !ingress.is_empty() {
        retry::delete(&format!("RevokeSecurityGroupIngress {id}"), || async {
            ec2.revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(ingress.clone()))
                .send()
                .await
                .map(|_| ())
                .aws(format!("RevokeSecurityGroupIngress {id}"))
        })
        .await?;
    }
    let egress = refs(group.ip_permissions_egress());
    if !egress.is_empty() {
        retry::delete(&format!("RevokeSecurityGroupEgress {id}"), || async {
            ec2.revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(egress.clone()))
                .send()
                .await
                .map(|_| ())
                .aws(format!("RevokeSecurityGroupEgress {id}"))
        })
        .await?;
    }
    Ok(())
}

/// Deletes a security group, waiting out the ENIs that still use it.
pub async fn delete_group(ec2: &Client, id: &str) -> Result<()> {
    retry::delete(&format!("DeleteSecurityGroup {id}"), || async {
        ec2.delete_security_group()
            .group_id(id)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteSecurityGroup {id}"))
    })
    .await
}
