//! The AWS clients net-up uses, made once per run from the shared configuration.

use aws_sdk_ec2::types::AvailabilityZoneState;
use common::{AwsResultExt, Context, Result};

use crate::azs::Zone;

#[derive(Debug, Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
    pub quotas: aws_sdk_servicequotas::Client,
}

impl Aws {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Aws {
            ec2: aws_sdk_ec2::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
            quotas: aws_sdk_servicequotas::Client::new(sdk),
        }
    }

    /// The account the credentials belong to.
    pub async fn account(&self) -> Result<String> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .aws("GetCallerIdentity")?;
        Ok(out.account().unwrap_or_default().to_owned())
    }

    /// The region's available AZs with their IDs (not Local or Wavelength Zones).
    pub async fn zones(&self, ctx: &Context) -> Result<Vec<Zone>> {
        let out = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .aws(format!("DescribeAvailabilityZones {}", ctx.region))?;
        Ok(out
            .availability_zones()
            .iter()
            .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
            .filter(|z| {
                z.state()
                    .is_none_or(|s| *s == AvailabilityZoneState::Available)
            })
            .filter_map(|z| {
                Some(Zone {
                    name: z.zone_name()?.to_owned(),
                    id: z.zone_id().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }
}
