//! Removing the services layer, as teardown walks it (`common::layer`).
//!
//! Discovery is the tool's own, in sweep mode: the document's ids (checked by
//! their tags; another stack's or env's are noted as mismatches) and
//! everything tagged for this stack and env that is svc-up's: ECS services,
//! CodeDeploy applications, Cloud Map services and namespaces, task
//! definitions (every revision of the stack's families, by their tags), log
//! groups, task roles and CodeDeploy's role, service security groups. The
//! deletes are the plan's prune ops with nothing wanted, in the same phases:
//! CodeDeploy (running deployments stopped), ECS services (scaled to 0,
//! deleted, waited inactive), the rules between groups, Cloud Map services,
//! roles, task definitions (deregistered and deleted), log groups, groups, and
//! the namespaces last.

use futures_util::future::BoxFuture;
use serde_json::Value;

use common::layer::{Layer, Owned, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Change, Leftovers};
use common::sections::{Discovery, Services};
use common::{Context, Document, Result};

use crate::actual::{self, Actual, Hints};
use crate::aws::Clients;
use crate::ops::Op;
use crate::{cloudmap, codedeploy, ecs, groups, logs, names, roles, taskdefs};

/// This layer, as teardown walks it.
#[derive(Debug)]
pub struct ServicesLayer;

pub static LAYER: ServicesLayer = ServicesLayer;

/// What teardown found of the layer: its deletes.
#[derive(Debug)]
pub struct Found {
    ops: Vec<Op>,
}

impl Layer for ServicesLayer {
    fn tool(&self) -> &'static str {
        "svc-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["services", "discovery"]
    }

    fn check(&self, doc: &Document) -> Result<()> {
        doc.layer::<Services>("services")?;
        doc.layer::<Discovery>("discovery").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a Document,
        mismatches: &'a Mismatches,
    ) -> BoxFuture<'a, Result<Box<dyn Owned>>> {
        Box::pin(
            async move { Ok(Box::new(discover(ctx, doc, mismatches).await?) as Box<dyn Owned>) },
        )
    }
}

/// Everything of the layer for this stack and env, and its deletes in order.
pub async fn discover(ctx: &Context, doc: &Document, m: &Mismatches) -> Result<Found> {
    let c = Clients::new(ctx);
    let hints = Hints {
        services: doc.layer::<Services>("services")?,
        namespace_id: doc.layer::<Discovery>("discovery")?.map(|d| d.namespace_id),
    };
    let cluster = doc
        .get("cluster")
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .map_or_else(|| ctx.name("cluster"), str::to_owned);
    let a = sweep(&c, ctx, &cluster, doc, &hints).await?;
    actual::hinted(&c, ctx, &cluster, &hints, &a, m).await?;
    Ok(Found {
        ops: deletes(ctx, &a)?,
    })
}

/// Discovery with nothing wanted: every candidate of the stack and env.
async fn sweep(
    c: &Clients,
    ctx: &Context,
    cluster: &str,
    doc: &Document,
    hints: &Hints,
) -> Result<Actual> {
    let mut namespace_names =
        vec![common::spec::DiscoverySpec::default().namespace(&ctx.stack, &ctx.env)];
    // teardown reads no spec, but a namespace the spec named is a candidate.
    if let Some(ns) = doc
        .get("spec")
        .and_then(|s| s.pointer("/discovery/namespace"))
        .and_then(Value::as_str)
    {
        namespace_names.push(ns.to_owned());
    }
    if let Some(d) = doc.layer::<Discovery>("discovery")? {
        namespace_names.push(d.namespace_name);
    }
    let namespace_ids: Vec<String> = hints.namespace_id.iter().cloned().collect();
    let documented_roles: Vec<String> = hints
        .services
        .iter()
        .flat_map(|s| s.values())
        .filter_map(|s| s.task_role_arn.rsplit('/').next().map(str::to_owned))
        .filter(|n| n.starts_with(&common::naming::name_prefix(&ctx.stack)))
        .collect();
    let (logs, roles, groups, namespaces, stale, services, codedeploy) = tokio::try_join!(
        logs::discover(c, ctx),
        roles::discover(c, ctx, &documented_roles),
        groups::discover(c, ctx, None),
        cloudmap::namespaces(c, ctx, &namespace_names, &namespace_ids),
        taskdefs::stale(c, ctx, &[]),
        ecs::discover(c, cluster),
        applications(c, ctx),
    )?;
    let discovery = actual::discovered(c, ctx, &namespaces).await?;
    Ok(Actual {
        logs,
        roles,
        groups,
        namespaces,
        discovery,
        taskdefs: Default::default(),
        stale_revisions: stale,
        services,
        codedeploy,
    })
}

async fn applications(c: &Clients, ctx: &Context) -> Result<Vec<codedeploy::Have>> {
    let names = codedeploy::candidates(c, ctx, &[]).await?;
    if names.is_empty() {
        return Ok(vec![]);
    }
    let account = codedeploy::account_id(c).await?;
    let found = common::try_join_all(
        names
            .iter()
            .map(|n| codedeploy::discover(c, ctx, &account, n)),
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Every delete, the plan's prune with nothing wanted (and the log groups,
/// which only teardown removes). Duplicates are no refusal here: all go.
fn deletes(ctx: &Context, a: &Actual) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    ops.extend(
        codedeploy::prune(ctx, &[], &a.codedeploy)?
            .into_iter()
            .map(Op::CodeDeploy),
    );
    for s in a
        .services
        .iter()
        .filter(|s| s.status == "ACTIVE" && names::ours(ctx, &s.tags))
    {
        if let Some(service) = names::component(&s.tags) {
            if ctx
                .check_owned(ecs::KIND, &s.name, names::pairs(&s.tags), service)
                .is_ok()
            {
                ops.push(Op::Service(ecs::Op::Delete { have: s.clone() }));
            }
        }
    }
    let mine = cloudmap::owned_all(ctx, &a.namespaces);
    let (services, namespaces) = cloudmap::prune(ctx, &[], None, &mine, &a.discovery)?;
    ops.extend(services.into_iter().map(Op::Discovery));
    ops.extend(namespaces.into_iter().map(Op::Namespace));
    ops.extend(roles::prune(ctx, &[], &a.roles).into_iter().map(Op::Role));
    ops.extend(
        taskdefs::prune(ctx, &a.stale_revisions)
            .into_iter()
            .map(Op::TaskDefinition),
    );
    ops.extend(logs::teardown(ctx, &a.logs).into_iter().map(Op::LogGroup));
    for g in a.groups.iter().filter(|g| {
        names::component(&g.tags).is_some_and(|c| names::service_of(c, "svc-").is_some())
    }) {
        if !g.ingress.is_empty() {
            ops.push(Op::Group(groups::Op::Revoke { have: g.clone() }));
        }
        ops.push(Op::Group(groups::Op::Delete { have: g.clone() }));
    }
    ops.sort_by_key(Op::phase);
    Ok(ops)
}

impl Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<Change> {
        self.ops.iter().filter_map(|op| op.change(ctx)).collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: TeardownOptions,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let c = Clients::new(ctx);
            crate::apply::destroy(ctx, &c, &self.ops, left).await;
        })
    }
}

impl Found {
    /// The deletes' changes, in order (for tests and `--plan`).
    pub fn changes(&self, ctx: &Context) -> Vec<Change> {
        Owned::plan(self, ctx)
    }
}
