//! Removing the network layer (teardown's `LAYER`): what carries this stack's
//! and env's tags as one of net-up's components (`components`), found in one
//! call per kind; the document's ids only checked (one that belongs elsewhere
//! stops teardown before anything is deleted). Duplicates go too.
//!
//! Deletion follows AWS's order: the flow log, endpoints and NAT gateways
//! first (waited for: their network interfaces pin the subnets, the NAT
//! gateways hold the Elastic IPs); then the addresses, the internet gateway
//! (detached: refused while public addresses are mapped, retried), the flow
//! logs' role and log group; route tables; subnets and the endpoints' group;
//! the VPC last. Dependency errors are retried for a bounded time; what still
//! fails is named, and the rest goes on.

use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};

use common::layer::{Layer, Owned, TeardownOptions};
use common::owner::Mismatches;
use common::plan::{Action, Change, Leftovers};
use common::sections::Network;
use common::{Context, Document, Result};

use crate::actual::{Actual, Res};
use crate::aws::Aws;
use crate::components::{Key, Kind};
use crate::discover as find_by;
use crate::remove;

/// Deletes of one stage in flight at once.
const IN_FLIGHT: usize = common::bounded::PER_SERVICE;

/// This layer, as teardown walks it.
#[derive(Debug)]
pub struct NetworkLayer;

pub static LAYER: NetworkLayer = NetworkLayer;

impl Layer for NetworkLayer {
    fn tool(&self) -> &'static str {
        "net-up"
    }

    fn sections(&self) -> &'static [&'static str] {
        &["network"]
    }

    fn check(&self, doc: &Document) -> Result<()> {
        doc.layer::<Network>("network").map(drop)
    }

    fn discover<'a>(
        &'a self,
        ctx: &'a Context,
        doc: &'a Document,
        mismatches: &'a Mismatches,
    ) -> BoxFuture<'a, Result<Box<dyn Owned>>> {
        Box::pin(async move {
            let found = find(ctx, doc.layer::<Network>("network")?.as_ref(), mismatches).await?;
            Ok(Box::new(found) as Box<dyn Owned>)
        })
    }
}

/// Everything of the network layer of this stack and env.
#[derive(Debug)]
pub struct Found {
    aws: Aws,
    actual: Actual,
}

/// The layer of this stack and env, for callers outside teardown (tests that
/// remove one layer): `find`, refused when the document's ids belong elsewhere.
pub async fn discover(ctx: &Context, doc: Option<&Network>) -> Result<Found> {
    let mismatches = Mismatches::default();
    let found = find(ctx, doc, &mismatches).await?;
    mismatches.into_result(ctx)?;
    Ok(found)
}

/// Finds the layer by tag, and checks the document's ids.
pub async fn find(ctx: &Context, doc: Option<&Network>, mismatches: &Mismatches) -> Result<Found> {
    let aws = Aws::new(&ctx.sdk);
    let (mut actual, (log_group, role)) = tokio::try_join!(
        find_by::tagged(&aws, ctx),
        find_by::named::flow_log_resources(&aws, ctx)
    )?;
    // Only ours by tag: a role or log group of that name that is not is left alone.
    let component = |tags: &crate::actual::Tags| {
        common::naming::owned_as(
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &ctx.stack,
            &ctx.env,
            crate::components::FLOW_LOGS,
        )
    };
    actual.log_group = log_group.filter(|g| component(&g.tags));
    actual.role = role.filter(|r| component(&r.tags));
    if let Some(doc) = doc {
        find_by::check_hints(&aws, ctx, doc, &actual, mismatches).await?;
    }
    Ok(Found { aws, actual })
}

/// (kind, resource) pairs in deletion order.
fn ordered(a: &Actual) -> Vec<(Kind, &str, &str)> {
    fn each<T>(kind: Kind, items: &[Res<T>]) -> Vec<(Kind, &str, &str)> {
        items
            .iter()
            .map(|r| (kind, r.component(), r.id.as_str()))
            .collect()
    }
    let mut out = Vec::new();
    out.extend(each(Kind::FlowLog, &a.flow_logs));
    out.extend(each(Kind::Endpoint, &a.endpoints));
    out.extend(each(Kind::Nat, &a.nats));
    out.extend(each(Kind::Eip, &a.eips));
    out.extend(each(Kind::Igw, &a.igws));
    out.extend(
        a.role
            .iter()
            .map(|r| (Kind::Role, r.component(), r.id.as_str())),
    );
    out.extend(
        a.log_group
            .iter()
            .map(|g| (Kind::LogGroup, g.component(), g.id.as_str())),
    );
    out.extend(each(Kind::RouteTable, &a.tables));
    out.extend(each(Kind::Subnet, &a.subnets));
    out.extend(each(Kind::Group, &a.groups));
    out.extend(each(Kind::Vpc, &a.vpcs));
    out
}

fn delete_change(ctx: &Context, kind: Kind, component: &str, id: &str) -> Change {
    let name = Key::new(kind, component).name(ctx);
    Change::new("net-up", Action::Delete, kind.label(), &name).id(id)
}

impl Owned for Found {
    fn plan(&self, ctx: &Context) -> Vec<Change> {
        ordered(&self.actual)
            .into_iter()
            .map(|(kind, component, id)| delete_change(ctx, kind, component, id))
            .collect()
    }

    fn destroy<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        left: &'a Leftovers,
        _opts: TeardownOptions,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.delete_all(ctx, left).await })
    }
}

/// One delete, attempted: recorded as a change when done, as a leftover when not.
async fn attempt(
    ctx: &Context,
    left: &Leftovers,
    (kind, component, id): (Kind, &str, &str),
    fut: impl std::future::Future<Output = Result<()>>,
) {
    let change = delete_change(ctx, kind, component, id);
    if left.attempt(kind.label(), &change.name, fut).await {
        ctx.report.change(change);
    }
}

impl Found {
    /// Deletes everything found, in AWS's order; what fails is noted in `left`.
    pub async fn delete_all(self, ctx: &Context, left: &Leftovers) {
        let a = &self.actual;
        let ec2 = &self.aws.ec2;
        // 1. What holds network interfaces and addresses, waited for.
        tokio::join!(
            batch(ctx, left, Kind::FlowLog, &a.flow_logs, |ids| async move {
                remove::flow_logs(ec2, &ids).await
            }),
            batch(ctx, left, Kind::Endpoint, &a.endpoints, |ids| async move {
                remove::endpoints(ec2, &ids).await
            }),
            batch(ctx, left, Kind::Nat, &a.nats, |ids| async move {
                remove::nats(ec2, &ids).await
            }),
        );
        // 2. Addresses, the internet gateway, the flow logs' role and group.
        let mut second: Vec<BoxFuture<'_, ()>> = Vec::new();
        for e in &a.eips {
            second.push(Box::pin(attempt(
                ctx,
                left,
                (Kind::Eip, e.component(), &e.id),
                remove::address(ec2, &e.id),
            )));
        }
        for g in &a.igws {
            let from = &g.state.attached_to;
            second.push(Box::pin(attempt(
                ctx,
                left,
                (Kind::Igw, g.component(), &g.id),
                remove::igw(ec2, &g.id, from),
            )));
        }
        if let Some(r) = &a.role {
            second.push(Box::pin(attempt(
                ctx,
                left,
                (Kind::Role, r.component(), &r.id),
                common::iam::delete_role(&self.aws.iam, &r.id),
            )));
        }
        if let Some(g) = &a.log_group {
            second.push(Box::pin(attempt(
                ctx,
                left,
                (Kind::LogGroup, g.component(), &g.id),
                remove::log_group(&self.aws.logs, &g.id),
            )));
        }
        bounded(second).await;
        // 3. Route tables, their associations first.
        let mut third: Vec<BoxFuture<'_, ()>> = Vec::new();
        for t in &a.tables {
            let assocs: Vec<String> = t.state.associations.iter().map(|x| x.id.clone()).collect();
            third.push(Box::pin(async move {
                let delete = remove::table(ec2, &t.id, &assocs);
                attempt(ctx, left, (Kind::RouteTable, t.component(), &t.id), delete).await;
            }));
        }
        bounded(third).await;
        // 4. Subnets and the endpoints' group.
        let mut fourth: Vec<BoxFuture<'_, ()>> = Vec::new();
        for s in &a.subnets {
            fourth.push(Box::pin(attempt(
                ctx,
                left,
                (Kind::Subnet, s.component(), &s.id),
                remove::subnet(ec2, &s.id),
            )));
        }
        for g in &a.groups {
            fourth.push(Box::pin(attempt(
                ctx,
                left,
                (Kind::Group, g.component(), &g.id),
                common::ec2::delete_group(ec2, &g.id),
            )));
        }
        bounded(fourth).await;
        // 5. The VPC(s).
        let mut fifth: Vec<BoxFuture<'_, ()>> = Vec::new();
        for v in &a.vpcs {
            fifth.push(Box::pin(attempt(
                ctx,
                left,
                (Kind::Vpc, v.component(), &v.id),
                remove::vpc(ec2, &v.id),
            )));
        }
        bounded(fifth).await;
    }
}

/// Runs the deletes, at most `IN_FLIGHT` at once.
async fn bounded<'a>(futs: impl IntoIterator<Item = BoxFuture<'a, ()>>) {
    stream::iter(futs)
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
}

/// A batch delete (one call for all of a kind), recorded per resource.
async fn batch<T, F, Fut>(ctx: &Context, left: &Leftovers, kind: Kind, items: &[Res<T>], delete: F)
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    if items.is_empty() {
        return;
    }
    let ids: Vec<String> = items.iter().map(|r| r.id.clone()).collect();
    let what = format!("{}s", kind.label());
    if left
        .attempt(&what, &ids.join(", "), delete(ids.clone()))
        .await
    {
        for r in items {
            ctx.report
                .change(delete_change(ctx, kind, r.component(), &r.id));
        }
    }
}
