//! The account the credentials belong to (STS GetCallerIdentity), for names and
//! ARNs that must carry it: S3 bucket names are global, KMS key policies and
//! CodeDeploy roles name the account.

use aws_config::SdkConfig;

use crate::error::{AwsError, AwsResultExt};
use crate::{Error, Result};

pub async fn account_id(sdk: &SdkConfig) -> Result<String> {
    let out = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .aws("GetCallerIdentity")?;
    out.account().map(str::to_owned).ok_or_else(|| {
        Error::Aws(AwsError {
            op: "GetCallerIdentity".into(),
            code: None,
            message: "no account id in the answer".into(),
            request_id: None,
            transient: false,
        })
    })
}
