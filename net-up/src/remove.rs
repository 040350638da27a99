//! Deleting each kind, for the plan's deletes and for teardown: done when the
//! resource is gone (`NotFound` is success), dependency errors waited out for
//! a bounded time, and the deletes AWS finishes later (NAT gateways,
//! endpoints) waited for, since what depends on them goes next.

use std::time::Duration;

use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::UnsuccessfulItem;
use aws_sdk_ec2::Client;
use common::error::AwsError;
use common::{retry, AwsResultExt, Error, Result};

use crate::components::ANY;

const GONE_WAIT: Duration = Duration::from_secs(900);

/// A batch call's refusal of one item, as an AWS error.
pub fn unsuccessful(op: &str, name: &str, item: &UnsuccessfulItem) -> Error {
    Error::Aws(AwsError {
        op: format!("{op} {name}"),
        code: item.error().and_then(|e| e.code()).map(str::to_owned),
        message: item
            .error()
            .and_then(|e| e.message())
            .unwrap_or("refused")
            .to_owned(),
        request_id: None,
        transient: false,
    })
}

/// Deletes NAT gateways and waits until they are gone: they hold their
/// Elastic IPs and network interfaces until then.
pub async fn nats(ec2: &Client, ids: &[String]) -> Result<()> {
    for id in ids {
        retry::delete(&format!("DeleteNatGateway {id}"), || async {
            ec2.delete_nat_gateway()
                .nat_gateway_id(id)
                .send()
                .await
                .map(drop)
                .aws(format!("DeleteNatGateway {id}"))
        })
        .await?;
    }
    let wait = ec2
        .wait_until_nat_gateway_deleted()
        .set_nat_gateway_ids(Some(ids.to_vec()))
        .wait(GONE_WAIT);
    let what = format!("NAT gateway(s) {} to be deleted", ids.join(", "));
    common::progress::during(what, wait)
        .await
        .map(drop)
        .map_err(|e| retry::waiter_error("NAT gateways to be deleted", GONE_WAIT, e))
}

/// A batch delete, retried through dependency errors; `None` when AWS says
/// the whole batch is gone already.
async fn batch<T, F, Fut>(what: &str, op: F) -> Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    match retry::retry(what, retry::Policy::dependency(), retry::is_dependency, op).await {
        Ok(out) => Ok(Some(out)),
        Err(e) if retry::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The first item of a batch AWS refused for a reason other than being gone.
fn refused(items: &[UnsuccessfulItem]) -> Option<&UnsuccessfulItem> {
    items.iter().find(|i| {
        !i.error()
            .and_then(|e| e.code())
            .is_some_and(|c| c.contains("NotFound"))
    })
}

/// Deletes VPC endpoints and waits until they are gone (their network
/// interfaces pin the subnets and the group).
pub async fn endpoints(ec2: &Client, ids: &[String]) -> Result<()> {
    let out = batch("DeleteVpcEndpoints", || async {
        ec2.delete_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(ids.to_vec()))
            .send()
            .await
            .aws(format!("DeleteVpcEndpoints {}", ids.join(",")))
    })
    .await?;
    if let Some(item) = out.as_ref().and_then(|o| refused(o.unsuccessful())) {
        return Err(unsuccessful(
            "DeleteVpcEndpoints",
            item.resource_id().unwrap_or_default(),
            item,
        ));
    }
    retry::wait_for(
        "VPC endpoints to be deleted",
        GONE_WAIT,
        Duration::from_secs(5),
        || async {
            let out = ec2
                .describe_vpc_endpoints()
                .filters(common::ec2::filter("vpc-endpoint-id", ids.to_vec()))
                .send()
                .await
                .aws("DescribeVpcEndpoints")?;
            let left = out
                .vpc_endpoints()
                .iter()
                .any(|e| crate::discover::endpoint_state(e) != "deleted");
            Ok((!left).then_some(()))
        },
    )
    .await
}

pub async fn flow_logs(ec2: &Client, ids: &[String]) -> Result<()> {
    let out = batch("DeleteFlowLogs", || async {
        ec2.delete_flow_logs()
            .set_flow_log_ids(Some(ids.to_vec()))
            .send()
            .await
            .aws(format!("DeleteFlowLogs {}", ids.join(",")))
    })
    .await?;
    match out.as_ref().and_then(|o| refused(o.unsuccessful())) {
        Some(item) => Err(unsuccessful(
            "DeleteFlowLogs",
            item.resource_id().unwrap_or_default(),
            item,
        )),
        None => Ok(()),
    }
}

pub async fn address(ec2: &Client, id: &str) -> Result<()> {
    retry::delete(&format!("ReleaseAddress {id}"), || async {
        ec2.release_address()
            .allocation_id(id)
            .send()
            .await
            .map(drop)
            .aws(format!("ReleaseAddress {id}"))
    })
    .await
}

/// Detaches an internet gateway from a VPC. One that is not attached
/// (`Gateway.NotAttached`) is done: waiting would not change that.
pub async fn detach(ec2: &Client, igw: &str, vpc: &str) -> Result<()> {
    retry::delete(&format!("DetachInternetGateway {igw}"), || async {
        match ec2
            .detach_internet_gateway()
            .internet_gateway_id(igw)
            .vpc_id(vpc)
            .send()
            .await
            .map(drop)
            .aws(format!("DetachInternetGateway {igw} {vpc}"))
        {
            Err(e) if e.aws_code() == Some("Gateway.NotAttached") => Ok(()),
            other => other,
        }
    })
    .await
}

/// Detaches an internet gateway from `vpcs` (refused while public addresses
/// in them are still mapped: retried), then deletes it.
pub async fn igw(ec2: &Client, id: &str, vpcs: &[String]) -> Result<()> {
    for vpc in vpcs {
        detach(ec2, id, vpc).await?;
    }
    retry::delete(&format!("DeleteInternetGateway {id}"), || async {
        ec2.delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .map(drop)
            .aws(format!("DeleteInternetGateway {id}"))
    })
    .await
}

pub async fn association(ec2: &Client, id: &str) -> Result<()> {
    retry::delete(&format!("DisassociateRouteTable {id}"), || async {
        ec2.disassociate_route_table()
            .association_id(id)
            .send()
            .await
            .map(drop)
            .aws(format!("DisassociateRouteTable {id}"))
    })
    .await
}

/// A route table's default route.
pub async fn route(ec2: &Client, table: &str) -> Result<()> {
    retry::delete(&format!("DeleteRoute {table} {ANY}"), || async {
        ec2.delete_route()
            .route_table_id(table)
            .destination_cidr_block(ANY)
            .send()
            .await
            .map(drop)
            .aws(format!("DeleteRoute {table} {ANY}"))
    })
    .await
}

/// Disassociates a route table's subnets (`associations`), then deletes it.
pub async fn table(ec2: &Client, id: &str, associations: &[String]) -> Result<()> {
    for a in associations {
        association(ec2, a).await?;
    }
    retry::delete(&format!("DeleteRouteTable {id}"), || async {
        ec2.delete_route_table()
            .route_table_id(id)
            .send()
            .await
            .map(drop)
            .aws(format!("DeleteRouteTable {id}"))
    })
    .await
}

/// A subnet: the network interfaces of stopped tasks and load balancers may
/// still be leaving.
pub async fn subnet(ec2: &Client, id: &str) -> Result<()> {
    retry::delete(&format!("DeleteSubnet {id}"), || async {
        ec2.delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .map(drop)
            .aws(format!("DeleteSubnet {id}"))
    })
    .await
}

pub async fn vpc(ec2: &Client, id: &str) -> Result<()> {
    retry::delete(&format!("DeleteVpc {id}"), || async {
        ec2.delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map(drop)
            .aws(format!("DeleteVpc {id}"))
    })
    .await
}

pub async fn log_group(logs: &aws_sdk_cloudwatchlogs::Client, name: &str) -> Result<()> {
    match logs.delete_log_group().log_group_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(e).aws(format!("DeleteLogGroup {name}")),
    }
}
