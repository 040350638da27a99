//! The account's limits, checked before the first change: a run that would
//! stop half-way at AWS's `AddressLimitExceeded` or `VpcLimitExceeded` (after
//! making a VPC and subnets) is refused whole instead, with what it needs,
//! what is in use and how to raise the quota. Exit 7, like the AWS error the
//! run would otherwise meet: the account, not the spec, is what must change.
//!
//! Read only when the plan creates Elastic IPs or a VPC, so a re-run costs
//! nothing here. Elastic IPs: the account attribute `vpc-max-elastic-ips` less
//! the addresses allocated in the region. VPCs: Service Quotas' "VPCs per
//! Region" (L-F678F1CE; the applied value, else AWS's default) less the VPCs
//! this account owns in the region. Without permission to read Service Quotas
//! the VPC check is skipped with a warning (CreateVpc still says it plainly).

use aws_sdk_ec2::types::AccountAttributeName;
use common::ec2::filter;
use common::error::AwsError;
use common::{AwsResultExt, Context, Error, Result};

use crate::aws::Aws;
use crate::components::Kind;
use crate::plan::Plan;

/// Service Quotas' code of "VPCs per Region".
pub const VPC_QUOTA: &str = "L-F678F1CE";
/// Service Quotas' code of "EC2-VPC Elastic IPs".
pub const EIP_QUOTA: &str = "L-0263D0A3";

/// One quota as a run meets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub what: &'static str,
    pub code: &'static str,
    pub service: &'static str,
    pub limit: u64,
    pub in_use: u64,
}

impl Quota {
    /// Refuses a run that needs more than is left.
    pub fn check(&self, need: u64, region: &str) -> Result<()> {
        let left = self.limit.saturating_sub(self.in_use);
        if need <= left {
            return Ok(());
        }
        Err(Error::Aws(AwsError {
            op: format!("checking the {} quota", self.what),
            code: None,
            message: format!(
                "this run needs {need} new {what}s but {region} allows {limit} and {in_use} are in use \
                 (quota '{what}s', {code}); free some, or raise it: aws service-quotas \
                 request-service-quota-increase --service-code {service} --quota-code {code} \
                 --desired-value {wanted} --region {region}; nothing was changed",
                what = self.what,
                limit = self.limit,
                in_use = self.in_use,
                code = self.code,
                service = self.service,
                wanted = self.in_use + need,
            ),
            request_id: None,
            transient: false,
        }))
    }
}

/// Checks what the plan creates against the account's limits.
pub async fn check(aws: &Aws, ctx: &Context, plan: &Plan) -> Result<()> {
    let eips = plan.creates(Kind::Eip) as u64;
    if eips > 0 {
        elastic_ips(aws).await?.check(eips, &ctx.region)?;
    }
    if plan.creates(Kind::Vpc) > 0 {
        match vpcs(aws).await? {
            Some(q) => q.check(1, &ctx.region)?,
            None => tracing::warn!(
                "cannot read the VPC quota ({VPC_QUOTA}) from Service Quotas: not checked"
            ),
        }
    }
    Ok(())
}

async fn elastic_ips(aws: &Aws) -> Result<Quota> {
    let (attrs, addresses) = tokio::try_join!(
        async {
            aws.ec2
                .describe_account_attributes()
                // The SDK's enum models only two names; AWS answers this one too.
                .attribute_names(AccountAttributeName::from("vpc-max-elastic-ips"))
                .send()
                .await
                .aws("DescribeAccountAttributes vpc-max-elastic-ips")
        },
        async {
            aws.ec2
                .describe_addresses()
                .filters(filter("domain", ["vpc"]))
                .send()
                .await
                .aws("DescribeAddresses")
        },
    )?;
    let limit = attrs
        .account_attributes()
        .iter()
        .filter(|a| a.attribute_name() == Some("vpc-max-elastic-ips"))
        .flat_map(|a| a.attribute_values())
        .find_map(|v| v.attribute_value()?.parse::<u64>().ok())
        .unwrap_or(5);
    Ok(Quota {
        what: "Elastic IP",
        code: EIP_QUOTA,
        service: "ec2",
        limit,
        in_use: addresses.addresses().len() as u64,
    })
}

/// The VPC quota, or None when Service Quotas cannot be read.
async fn vpcs(aws: &Aws) -> Result<Option<Quota>> {
    let Some(limit) = vpc_limit(aws).await? else {
        return Ok(None);
    };
    let account = aws.account().await?;
    let owned = aws
        .ec2
        .describe_vpcs()
        .filters(filter("owner-id", [account]))
        .send()
        .await
        .aws("DescribeVpcs")?;
    Ok(Some(Quota {
        what: "VPC",
        code: VPC_QUOTA,
        service: "vpc",
        limit,
        in_use: owned.vpcs().len() as u64,
    }))
}

/// The applied quota, else AWS's default (an account that never asked for more
/// has no applied value); None without permission to read either.
async fn vpc_limit(aws: &Aws) -> Result<Option<u64>> {
    let applied = aws
        .quotas
        .get_service_quota()
        .service_code("vpc")
        .quota_code(VPC_QUOTA)
        .send()
        .await;
    let value = match applied {
        Ok(out) => out.quota().and_then(|q| q.value()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_access_denied_exception()) =>
        {
            return Ok(None)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_resource_exception()) =>
        {
            match aws
                .quotas
                .get_aws_default_service_quota()
                .service_code("vpc")
                .quota_code(VPC_QUOTA)
                .send()
                .await
            {
                Ok(out) => out.quota().and_then(|q| q.value()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_access_denied_exception()) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e).aws(format!("GetAWSDefaultServiceQuota vpc {VPC_QUOTA}")),
            }
        }
        Err(e) => return Err(e).aws(format!("GetServiceQuota vpc {VPC_QUOTA}")),
    };
    Ok(value.map(|v| v.max(0.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eips(limit: u64, in_use: u64) -> Quota {
        Quota {
            what: "Elastic IP",
            code: EIP_QUOTA,
            service: "ec2",
            limit,
            in_use,
        }
    }

    #[test]
    fn a_run_that_needs_more_than_is_left_is_refused_with_how_to_raise_it() {
        assert!(eips(5, 2).check(3, "eu-west-1").is_ok());
        let e = eips(5, 4).check(2, "eu-west-1").unwrap_err();
        assert_eq!(e.exit_code(), 7);
        let msg = e.to_string();
        assert!(
            msg.starts_with("checking the Elastic IP quota failed: this run needs 2 new Elastic IPs but eu-west-1 allows 5 and 4 are in use"),
            "{msg}"
        );
        assert!(
            msg.contains("--quota-code L-0263D0A3 --desired-value 6"),
            "{msg}"
        );
        assert!(
            eips(1, 3).check(1, "x-1").is_err(),
            "over the limit already"
        );
    }
}
