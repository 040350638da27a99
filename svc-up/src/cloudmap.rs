//! Cloud Map: the stack's private DNS namespace (`namespace`) and one service
//! per discovered ECS service (`discovery-{service}`: A records, MULTIVALUE,
//! health from ECS). The TTL converges in place; a renamed namespace is a new
//! one (the services move to it, then the old one goes).
//!
//! Namespaces take no tag filter: the region's private namespaces are listed
//! once, and only the candidates (the wanted name, the document's id, our
//! description) are confirmed by their tags. Operations on AWS take 30-60 s;
//! creates and deletes wait for theirs, bounded. `CreatorRequestId` is unique
//! per create intent (stable across that create's retries), so a stack torn
//! down and made again is not answered with its old namespace.

use std::time::Duration;

use aws_sdk_servicediscovery::error::SdkError;
use aws_sdk_servicediscovery::operation::delete_namespace::DeleteNamespaceError;
use aws_sdk_servicediscovery::operation::delete_service::DeleteServiceError;
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsConfigChange, DnsRecord, HealthCheckCustomConfig, NamespaceFilter,
    NamespaceFilterName, OperationStatus, OperationTargetType, RecordType, RoutingPolicy,
    ServiceChange, ServiceFilter, ServiceFilterName, Tag,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use common::plan::{planned, Action, Change};
use common::{retry, AwsResultExt, Context, Error, Result};

use crate::aws::{built, retry_sdk, Clients};
use crate::names::{self, pairs, Tags};
use crate::ops::{Ids, Phase};

pub const NAMESPACE_KIND: &str = "namespace";
pub const SERVICE_KIND: &str = "discovery service";
/// How long one Cloud Map operation may take (AWS: usually under a minute).
const OPERATION_WAIT: Duration = Duration::from_secs(300);

/// A private DNS namespace as AWS holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    pub id: String,
    pub name: String,
    pub arn: String,
    pub tags: Tags,
}

/// A Cloud Map service as AWS holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub namespace_id: String,
    pub ttl: Option<i64>,
    pub tags: Tags,
}

/// A discovered service as it should be. `namespace` is the namespace's id or
/// the placeholder of the one this run creates.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub service: String,
    pub namespace: String,
    pub namespace_name: String,
    pub ttl: i64,
}

impl Want {
    /// The ARN the ECS service registers with: the one found, or a placeholder.
    pub fn arn(&self, have: Option<&Service>) -> String {
        have.map_or_else(
            || {
                planned(
                    SERVICE_KIND,
                    &format!("{}/{}", self.namespace_name, self.service),
                )
            },
            |h| h.arn.clone(),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NamespaceOp {
    Create {
        name: String,
        vpc_id: String,
        tags: Tags,
    },
    Delete {
        have: Namespace,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ServiceOp {
    Create { want: Want, tags: Tags },
    Ttl { want: Want, have: Service },
    Delete { have: Service },
}

/// The description we give a namespace: names the stack and env, so listing
/// finds our candidates without asking every namespace for its tags.
pub fn description(ctx: &Context) -> String {
    format!("{}/{}: service discovery", ctx.stack, ctx.env)
}

/// The region's private namespaces that may be ours (`names` or `ids` given,
/// or our description), with their tags.
pub async fn namespaces(
    c: &Clients,
    ctx: &Context,
    wanted_names: &[String],
    ids: &[String],
) -> Result<Vec<Namespace>> {
    let filter = built(
        NamespaceFilter::builder()
            .name(NamespaceFilterName::Type)
            .values("DNS_PRIVATE")
            .build(),
    )?;
    let listed: Vec<_> =
        c.sd.list_namespaces()
            .filters(filter)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .aws("ListNamespaces")?
            .iter()
            .flat_map(|p| p.namespaces().to_vec())
            .collect();
    let ours = description(ctx);
    let candidates = listed.iter().filter(|n| {
        n.name()
            .is_some_and(|x| wanted_names.iter().any(|w| w == x))
            || n.id().is_some_and(|x| ids.iter().any(|i| i == x))
            || n.description() == Some(ours.as_str())
    });
    common::try_join_all(candidates.map(|n| async move {
        let arn = n.arn().unwrap_or_default().to_owned();
        Ok::<_, Error>(Namespace {
            id: n.id().unwrap_or_default().to_owned(),
            name: n.name().unwrap_or_default().to_owned(),
            tags: tags_of(c, &arn).await?,
            arn,
        })
    }))
    .await
}

/// The Cloud Map services of a namespace, with their tags.
pub async fn services(c: &Clients, namespace_id: &str) -> Result<Vec<Service>> {
    let filter = built(
        ServiceFilter::builder()
            .name(ServiceFilterName::NamespaceId)
            .values(namespace_id)
            .build(),
    )?;
    let listed: Vec<_> =
        c.sd.list_services()
            .filters(filter)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .aws(format!("ListServices {namespace_id}"))?
            .iter()
            .flat_map(|p| p.services().to_vec())
            .collect();
    common::try_join_all(listed.iter().map(|s| async move {
        let arn = s.arn().unwrap_or_default().to_owned();
        Ok::<_, Error>(Service {
            id: s.id().unwrap_or_default().to_owned(),
            name: s.name().unwrap_or_default().to_owned(),
            namespace_id: namespace_id.to_owned(),
            ttl: s
                .dns_config()
                .and_then(|d| d.dns_records().first())
                .map(|r| r.ttl()),
            tags: tags_of(c, &arn).await?,
            arn,
        })
    }))
    .await
}

async fn tags_of(c: &Clients, arn: &str) -> Result<Tags> {
    let out =
        c.sd.list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(format!("ListTagsForResource {arn}"))?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

/// This stack's and env's namespaces (by tags); two of one name are refused.
pub fn owned(ctx: &Context, found: &[Namespace]) -> Result<Vec<Namespace>> {
    let mine = owned_all(ctx, found);
    for (i, a) in mine.iter().enumerate() {
        if let Some(b) = mine[i + 1..].iter().find(|b| b.name == a.name) {
            return Err(Error::Refused(format!(
                "two namespaces named {} are tagged for {}/{}: {} and {}; delete the one not in use \
                 (teardown removes both); nothing was changed",
                a.name, ctx.stack, ctx.env, a.id, b.id
            )));
        }
    }
    Ok(mine)
}

/// This stack's and env's namespaces, duplicates included (teardown removes all).
pub fn owned_all(ctx: &Context, found: &[Namespace]) -> Vec<Namespace> {
    found
        .iter()
        .filter(|n| {
            names::ours(ctx, &n.tags) && names::component(&n.tags) == Some(names::NAMESPACE)
        })
        .cloned()
        .collect()
}

/// The namespace op, if any: a create when none of ours has the wanted name.
/// Returns the namespace's id (or placeholder) too.
pub fn plan_namespace(
    ctx: &Context,
    wanted: Option<&str>,
    vpc_id: &str,
    mine: &[Namespace],
) -> Result<(Option<String>, Option<NamespaceOp>)> {
    let Some(name) = wanted else {
        return Ok((None, None));
    };
    if let Some(have) = mine.iter().find(|n| n.name == name) {
        ctx.check_owned(
            NAMESPACE_KIND,
            &have.name,
            pairs(&have.tags),
            names::NAMESPACE,
        )?;
        return Ok((Some(have.id.clone()), None));
    }
    let op = NamespaceOp::Create {
        name: name.to_owned(),
        vpc_id: vpc_id.to_owned(),
        tags: names::wanted_tags(ctx, names::NAMESPACE),
    };
    Ok((Some(planned(NAMESPACE_KIND, name)), Some(op)))
}

/// The op that brings one discovered service to `want`, if any.
pub fn plan_service(
    ctx: &Context,
    want: &Want,
    have: Option<&Service>,
) -> Result<Option<ServiceOp>> {
    let Some(have) = have else {
        return Ok(Some(ServiceOp::Create {
            want: want.clone(),
            tags: names::wanted_tags(ctx, &names::discovery_component(&want.service)),
        }));
    };
    ctx.check_owned(
        SERVICE_KIND,
        &have.name,
        pairs(&have.tags),
        &names::discovery_component(&want.service),
    )?;
    Ok((have.ttl != Some(want.ttl)).then(|| ServiceOp::Ttl {
        want: want.clone(),
        have: have.clone(),
    }))
}

/// The deletes of what no wanted service or namespace is: Cloud Map services
/// in our namespaces, then the namespaces.
pub fn prune(
    ctx: &Context,
    wanted: &[Want],
    namespace: Option<&str>,
    mine: &[Namespace],
    found: &[Service],
) -> Result<(Vec<ServiceOp>, Vec<NamespaceOp>)> {
    let mut services = Vec::new();
    for s in found {
        let kept = wanted
            .iter()
            .any(|w| w.service == s.name && w.namespace == s.namespace_id);
        // Another stack's service in our namespace is not ours to delete.
        if kept || !names::ours(ctx, &s.tags) {
            continue;
        }
        ctx.check_owned(
            SERVICE_KIND,
            &s.name,
            pairs(&s.tags),
            &names::discovery_component(&s.name),
        )?;
        services.push(ServiceOp::Delete { have: s.clone() });
    }
    let namespaces = mine
        .iter()
        .filter(|n| Some(n.name.as_str()) != namespace)
        .map(|n| NamespaceOp::Delete { have: n.clone() })
        .collect();
    Ok((services, namespaces))
}

impl NamespaceOp {
    pub fn phase(&self) -> Phase {
        match self {
            NamespaceOp::Create { .. } => Phase::Setup,
            NamespaceOp::Delete { .. } => Phase::PruneNamespaces,
        }
    }

    pub fn change(&self, ctx: &Context) -> Change {
        match self {
            NamespaceOp::Create { name, .. } => {
                Change::new(&ctx.tool, Action::Create, NAMESPACE_KIND, name)
            }
            NamespaceOp::Delete { have } => {
                Change::new(&ctx.tool, Action::Delete, NAMESPACE_KIND, &have.name).id(&have.id)
            }
        }
    }

    pub async fn apply(&self, c: &Clients, ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            NamespaceOp::Create { name, vpc_id, tags } => {
                let (id, arn) = create_namespace(c, ctx, name, vpc_id, tags).await?;
                ids.set(&planned(NAMESPACE_KIND, name), &id);
                ids.set(&namespace_arn_placeholder(name), &arn);
                Ok(Some(id))
            }
            NamespaceOp::Delete { have } => delete_namespace(c, &have.id).await.map(|()| None),
        }
    }
}

impl ServiceOp {
    pub fn phase(&self) -> Phase {
        match self {
            ServiceOp::Create { .. } | ServiceOp::Ttl { .. } => Phase::Wire,
            ServiceOp::Delete { .. } => Phase::Prune,
        }
    }

    pub fn change(&self, ctx: &Context) -> Change {
        match self {
            ServiceOp::Create { want, .. } => {
                Change::new(&ctx.tool, Action::Create, SERVICE_KIND, &want.service)
            }
            ServiceOp::Ttl { want, have } => {
                Change::new(&ctx.tool, Action::Update, SERVICE_KIND, &want.service)
                    .id(&have.id)
                    .field("ttl", have.ttl, want.ttl)
            }
            ServiceOp::Delete { have } => {
                Change::new(&ctx.tool, Action::Delete, SERVICE_KIND, &have.name).id(&have.id)
            }
        }
    }

    pub async fn apply(&self, c: &Clients, ctx: &Context, ids: &Ids) -> Result<Option<String>> {
        match self {
            ServiceOp::Create { want, tags } => {
                let (arn, id) =
                    create_service(c, ctx, want, &ids.get(&want.namespace)?, tags).await?;
                ids.set(&want.arn(None), &arn);
                Ok(Some(id))
            }
            ServiceOp::Ttl { want, have } => update_ttl(c, &have.id, want.ttl).await.map(|()| None),
            ServiceOp::Delete { have } => delete_service(c, &have.id).await.map(|()| None),
        }
    }
}

fn sd_tags(tags: &Tags) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| built(Tag::builder().key(k).value(v).build()))
        .collect()
}

async fn create_namespace(
    c: &Clients,
    ctx: &Context,
    name: &str,
    vpc_id: &str,
    tags: &Tags,
) -> Result<(String, String)> {
    let token = names::intent_token(ctx, &["namespace", name], 64);
    let out =
        c.sd.create_private_dns_namespace()
            .name(name)
            .vpc(vpc_id)
            .creator_request_id(token)
            .description(description(ctx))
            .set_tags(Some(sd_tags(tags)?))
            .send()
            .await
            .aws(format!("CreatePrivateDnsNamespace {name}"))?;
    let op = out.operation_id().unwrap_or_default();
    let id = wait_operation(c, op, OperationTargetType::Namespace).await?;
    // The operation names only the id; `.discovery` also holds the ARN.
    let got =
        c.sd.get_namespace()
            .id(&id)
            .send()
            .await
            .aws(format!("GetNamespace {id}"))?;
    let arn = got
        .namespace()
        .and_then(|n| n.arn())
        .unwrap_or_default()
        .to_owned();
    Ok((id, arn))
}

/// The placeholder of a namespace's ARN until it is created (its id's is
/// `planned(NAMESPACE_KIND, name)`: two placeholders, so each resolves to its own).
pub fn namespace_arn_placeholder(name: &str) -> String {
    planned(NAMESPACE_KIND, &format!("{name}/arn"))
}

async fn create_service(
    c: &Clients,
    ctx: &Context,
    want: &Want,
    namespace_id: &str,
    tags: &Tags,
) -> Result<(String, String)> {
    let record = built(
        DnsRecord::builder()
            .r#type(RecordType::A)
            .ttl(want.ttl)
            .build(),
    )?;
    let dns = built(
        DnsConfig::builder()
            .routing_policy(RoutingPolicy::Multivalue)
            .dns_records(record)
            .build(),
    )?;
    let token = names::intent_token(ctx, &["discovery", namespace_id, &want.service], 64);
    let out =
        c.sd.create_service()
            .name(&want.service)
            .namespace_id(namespace_id)
            .dns_config(dns)
            // ECS reports the tasks' health; Cloud Map fixes the threshold at 1.
            .health_check_custom_config(HealthCheckCustomConfig::builder().build())
            .creator_request_id(token)
            .set_tags(Some(sd_tags(tags)?))
            .send()
            .await
            .aws(format!("CreateService (Cloud Map) {}", want.service))?;
    let s = out.service();
    Ok((
        s.and_then(|s| s.arn()).unwrap_or_default().to_owned(),
        s.and_then(|s| s.id()).unwrap_or_default().to_owned(),
    ))
}

async fn update_ttl(c: &Clients, id: &str, ttl: i64) -> Result<()> {
    let record = built(DnsRecord::builder().r#type(RecordType::A).ttl(ttl).build())?;
    let change = ServiceChange::builder()
        .dns_config(built(
            DnsConfigChange::builder().dns_records(record).build(),
        )?)
        .build();
    let out =
        c.sd.update_service()
            .id(id)
            .service(change)
            .send()
            .await
            .aws(format!("UpdateService (Cloud Map) {id}"))?;
    if let Some(op) = out.operation_id() {
        wait_operation(c, op, OperationTargetType::Service).await?;
    }
    Ok(())
}

/// Polls a Cloud Map operation until it succeeds (bounded); its target's id.
pub async fn wait_operation(c: &Clients, op: &str, target: OperationTargetType) -> Result<String> {
    retry::wait_for(
        &format!("Cloud Map operation {op}"),
        OPERATION_WAIT,
        Duration::from_secs(2),
        || async {
            let out =
                c.sd.get_operation()
                    .operation_id(op)
                    .send()
                    .await
                    .aws(format!("GetOperation {op}"))?;
            let Some(o) = out.operation() else {
                return Ok(None);
            };
            match o.status() {
                Some(OperationStatus::Success) => Ok(Some(
                    o.targets()
                        .and_then(|t| t.get(&target))
                        .cloned()
                        .unwrap_or_default(),
                )),
                Some(OperationStatus::Fail) => Err(Error::Aws(common::error::AwsError {
                    op: format!("Cloud Map operation {op}"),
                    code: o.error_code().map(str::to_owned),
                    message: o.error_message().unwrap_or("failed").to_owned(),
                    request_id: None,
                    transient: false,
                })),
                _ => Ok(None),
            }
        },
    )
    .await
}

/// Deregisters what ECS left registered, then deletes the service; gone
/// already is done, in use (instances still deregistering) is retried.
pub async fn delete_service(c: &Clients, id: &str) -> Result<()> {
    let instances: Vec<_> = match c
        .sd
        .list_instances()
        .service_id(id)
        .into_paginator()
        .send()
        .try_collect()
        .await
    {
        Ok(pages) => pages.iter().flat_map(|p| p.instances().to_vec()).collect(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_service_not_found()) =>
        {
            return Ok(())
        }
        Err(e) => return Err(common::error::aws_error(format!("ListInstances {id}"), e)),
    };
    for i in instances {
        let iid = i.id().unwrap_or_default();
        let out =
            c.sd.deregister_instance()
                .service_id(id)
                .instance_id(iid)
                .send()
                .await
                .aws(format!("DeregisterInstance {iid}"))?;
        if let Some(op) = out.operation_id() {
            wait_operation(c, op, OperationTargetType::Instance).await?;
        }
    }
    let what = format!("DeleteService (Cloud Map) {id}");
    retry_sdk(
        &what,
        retry::Policy::dependency(),
        |e: &SdkError<DeleteServiceError, HttpResponse>| {
            e.as_service_error()
                .is_some_and(DeleteServiceError::is_resource_in_use)
        },
        || async {
            match c.sd.delete_service().id(id).send().await {
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_service_not_found()) =>
                {
                    Ok(())
                }
                other => other.map(|_| ()),
            }
        },
    )
    .await
}

/// Deletes a namespace and waits for it to go; its services go first, and AWS
/// may still count one for a while (ResourceInUse, retried).
pub async fn delete_namespace(c: &Clients, id: &str) -> Result<()> {
    let what = format!("DeleteNamespace {id}");
    let op = retry_sdk(
        &what,
        retry::Policy::dependency(),
        |e: &SdkError<DeleteNamespaceError, HttpResponse>| {
            e.as_service_error()
                .is_some_and(DeleteNamespaceError::is_resource_in_use)
        },
        || async {
            match c.sd.delete_namespace().id(id).send().await {
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_namespace_not_found()) =>
                {
                    Ok(None)
                }
                other => other.map(|o| o.operation_id().map(str::to_owned)),
            }
        },
    )
    .await?;
    if let Some(op) = op {
        wait_operation(c, &op, OperationTargetType::Namespace).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::offline("svc-up", "shop", "dev", "us-east-1")
    }

    fn ns(ctx: &Context, id: &str, name: &str) -> Namespace {
        Namespace {
            id: id.into(),
            name: name.into(),
            arn: format!("arn:ns/{id}"),
            tags: ctx.tags(names::NAMESPACE),
        }
    }

    fn want() -> Want {
        Want {
            service: "api".into(),
            namespace: "ns-1".into(),
            namespace_name: "dev.shop.local".into(),
            ttl: 10,
        }
    }

    fn service(ctx: &Context) -> Service {
        Service {
            id: "srv-1".into(),
            arn: "arn:srv-1".into(),
            name: "api".into(),
            namespace_id: "ns-1".into(),
            ttl: Some(10),
            tags: ctx.tags("discovery-api"),
        }
    }

    #[test]
    fn a_namespace_is_created_only_when_none_of_ours_has_its_name() {
        let ctx = ctx();
        let mine = vec![ns(&ctx, "ns-1", "dev.shop.local")];
        let (id, op) = plan_namespace(&ctx, Some("dev.shop.local"), "vpc-1", &mine).unwrap();
        assert_eq!((id.as_deref(), op), (Some("ns-1"), None));
        let (id, op) = plan_namespace(&ctx, Some("other.local"), "vpc-1", &mine).unwrap();
        assert!(common::plan::is_planned(&id.unwrap()));
        assert_eq!(op.unwrap().change(&ctx).line(), "+ namespace other.local");
        assert_eq!(
            plan_namespace(&ctx, None, "vpc-1", &mine).unwrap(),
            (None, None)
        );
    }

    #[test]
    fn only_this_stacks_namespaces_count_and_two_of_a_name_are_refused() {
        let ctx = ctx();
        let foreign = Namespace {
            tags: Context::offline("x", "shop", "prod", "us-east-1").tags(names::NAMESPACE),
            ..ns(&ctx, "ns-9", "dev.shop.local")
        };
        let mine = owned(&ctx, &[ns(&ctx, "ns-1", "dev.shop.local"), foreign]).unwrap();
        assert_eq!(mine.len(), 1);
        let e = owned(
            &ctx,
            &[ns(&ctx, "ns-1", "a.local"), ns(&ctx, "ns-2", "a.local")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("ns-1") && e.to_string().contains("ns-2"));
        assert_eq!(e.exit_code(), 10);
    }

    #[test]
    fn the_ttl_is_updated_in_place() {
        let ctx = ctx();
        assert_eq!(
            plan_service(&ctx, &want(), Some(&service(&ctx))).unwrap(),
            None
        );
        let have = Service {
            ttl: Some(60),
            ..service(&ctx)
        };
        let op = plan_service(&ctx, &want(), Some(&have)).unwrap().unwrap();
        assert_eq!(
            op.change(&ctx).line(),
            "~ discovery service api (ttl: 60 -> 10)"
        );
        let op = plan_service(&ctx, &want(), None).unwrap().unwrap();
        assert_eq!(op.change(&ctx).line(), "+ discovery service api");
    }

    #[test]
    fn another_components_service_is_refused() {
        let ctx = ctx();
        let have = Service {
            tags: ctx.tags("discovery-web"),
            ..service(&ctx)
        };
        assert_eq!(
            plan_service(&ctx, &want(), Some(&have))
                .unwrap_err()
                .exit_code(),
            10
        );
    }

    #[test]
    fn services_and_namespaces_no_longer_wanted_are_pruned() {
        let ctx = ctx();
        let mine = vec![
            ns(&ctx, "ns-1", "dev.shop.local"),
            ns(&ctx, "ns-2", "old.local"),
        ];
        let old = Service {
            id: "srv-2".into(),
            name: "old".into(),
            tags: ctx.tags("discovery-old"),
            ..service(&ctx)
        };
        let moved = Service {
            id: "srv-3".into(),
            namespace_id: "ns-2".into(),
            ..service(&ctx)
        };
        let (services, namespaces) = prune(
            &ctx,
            &[want()],
            Some("dev.shop.local"),
            &mine,
            &[service(&ctx), old, moved],
        )
        .unwrap();
        let ids: Vec<String> = services
            .iter()
            .map(|s| s.change(&ctx).id.unwrap())
            .collect();
        assert_eq!(ids, ["srv-2", "srv-3"]);
        assert_eq!(namespaces.len(), 1);
        assert_eq!(namespaces[0].change(&ctx).line(), "- namespace old.local");
        assert!(services[0].phase() < namespaces[0].phase());
        // With no discovered service at all, every namespace of ours goes.
        let (_, namespaces) = prune(&ctx, &[], None, &mine, &[]).unwrap();
        assert_eq!(namespaces.len(), 2);
    }
}
