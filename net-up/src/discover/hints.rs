//! The document's ids, checked: a `.network` that names resources discovery
//! did not find by this stack's tags (a document copied from another env, an
//! edited `vpc_id`) is read by id, and every id whose tags name another stack
//! or env is noted, so the run is refused before any change.

use aws_sdk_ec2::types::Tag;
use common::ec2::filter;
use common::owner::Mismatches;
use common::plan::is_planned;
use common::sections::Network;
use common::{AwsResultExt, Context, Result};

use crate::actual::Actual;
use crate::aws::Aws;

/// Notes the document's ids that belong elsewhere. Reads only the kinds that
/// have an id discovery did not already find (none, on an ordinary re-run).
pub async fn check_hints<'a>(
    aws: &Aws,
    ctx: &Context,
    hints: &'a Network,
    actual: &Actual,
    mismatches: &Mismatches,
) -> Result<()> {
    let unknown = |ids: Vec<&String>, known: Vec<&String>| -> Vec<String> {
        ids.into_iter()
            .filter(|id| !id.is_empty() && !is_planned(id) && !known.contains(id))
            .cloned()
            .collect()
    };
    let n = hints;
    // An adopted VPC, its subnets and tables carry their owner's tags (or
    // none), never ours: nothing deletes them (teardown finds by tag), so
    // they are not checked, or every adopted network would be refused.
    let adopted = |ids: Vec<&'a String>| if n.adopted { vec![] } else { ids };
    let subnets: Vec<&String> = adopted(
        n.public_subnet_ids
            .iter()
            .chain(&n.private_subnet_ids)
            .collect(),
    );
    let tables: Vec<&String> = adopted(
        std::iter::once(&n.public_route_table_id)
            .chain(&n.private_route_table_ids)
            .collect(),
    );
    let checks = [
        ("vpc", unknown(adopted(vec![&n.vpc_id]), ids(&actual.vpcs))),
        ("subnet", unknown(subnets, ids(&actual.subnets))),
        (
            "internet gateway",
            unknown(vec![&n.internet_gateway_id], ids(&actual.igws)),
        ),
        (
            "nat gateway",
            unknown(n.nat_gateway_ids.iter().collect(), ids(&actual.nats)),
        ),
        (
            "elastic ip",
            unknown(
                n.elastic_ip_allocation_ids.iter().collect(),
                ids(&actual.eips),
            ),
        ),
        ("route table", unknown(tables, ids(&actual.tables))),
        (
            "security group",
            unknown(
                n.endpoint_security_group_id.iter().collect(),
                ids(&actual.groups),
            ),
        ),
        (
            "vpc endpoint",
            unknown(n.endpoints.values().collect(), ids(&actual.endpoints)),
        ),
    ];
    let found =
        common::try_join_all(checks.into_iter().filter(|(_, ids)| !ids.is_empty()).map(
            |(kind, ids)| async move {
                Ok::<_, common::Error>((kind, tags_by_id(aws, kind, ids).await?))
            },
        ))
        .await?;
    for (kind, items) in found {
        for (id, tags) in items {
            mismatches.note(ctx, kind, &id, common::ec2::pairs(&tags));
        }
    }
    Ok(())
}

/// The ids of what discovery found.
fn ids<T>(found: &[crate::actual::Res<T>]) -> Vec<&String> {
    found.iter().map(|r| &r.id).collect()
}

/// The tags of the resources of `kind` with these ids that exist (an id
/// filter answers nothing for an id that is gone, where an id list fails).
async fn tags_by_id(aws: &Aws, kind: &str, ids: Vec<String>) -> Result<Vec<(String, Vec<Tag>)>> {
    let ec2 = &aws.ec2;
    let op = format!("Describe {kind} {}", ids.join(","));
    let pick = |id: Option<&str>, tags: &[Tag]| (id.unwrap_or_default().to_owned(), tags.to_vec());
    Ok(match kind {
        "vpc" => {
            let out = ec2
                .describe_vpcs()
                .filters(filter("vpc-id", ids))
                .send()
                .await
                .aws(op)?;
            out.vpcs()
                .iter()
                .map(|v| pick(v.vpc_id(), v.tags()))
                .collect()
        }
        "subnet" => {
            let out = ec2
                .describe_subnets()
                .filters(filter("subnet-id", ids))
                .send()
                .await
                .aws(op)?;
            out.subnets()
                .iter()
                .map(|s| pick(s.subnet_id(), s.tags()))
                .collect()
        }
        "internet gateway" => {
            let f = filter("internet-gateway-id", ids);
            let out = ec2
                .describe_internet_gateways()
                .filters(f)
                .send()
                .await
                .aws(op)?;
            out.internet_gateways()
                .iter()
                .map(|g| pick(g.internet_gateway_id(), g.tags()))
                .collect()
        }
        "nat gateway" => {
            let f = filter("nat-gateway-id", ids);
            let out = ec2.describe_nat_gateways().filter(f).send().await.aws(op)?;
            out.nat_gateways()
                .iter()
                .map(|g| pick(g.nat_gateway_id(), g.tags()))
                .collect()
        }
        "elastic ip" => {
            let f = filter("allocation-id", ids);
            let out = ec2.describe_addresses().filters(f).send().await.aws(op)?;
            out.addresses()
                .iter()
                .map(|a| pick(a.allocation_id(), a.tags()))
                .collect()
        }
        "route table" => {
            let f = filter("route-table-id", ids);
            let out = ec2
                .describe_route_tables()
                .filters(f)
                .send()
                .await
                .aws(op)?;
            out.route_tables()
                .iter()
                .map(|t| pick(t.route_table_id(), t.tags()))
                .collect()
        }
        "security group" => {
            let f = filter("group-id", ids);
            let out = ec2
                .describe_security_groups()
                .filters(f)
                .send()
                .await
                .aws(op)?;
            out.security_groups()
                .iter()
                .map(|g| pick(g.group_id(), g.tags()))
                .collect()
        }
        _ => {
            let f = filter("vpc-endpoint-id", ids);
            let out = ec2
                .describe_vpc_endpoints()
                .filters(f)
                .send()
                .await
                .aws(op)?;
            out.vpc_endpoints()
                .iter()
                .map(|e| pick(e.vpc_endpoint_id(), e.tags()))
                .collect()
        }
    })
}
