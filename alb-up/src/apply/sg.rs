//! The security group: created with its tags, then its rules made exactly the
//! wanted ones. EC2 models no errors in the SDK, so its codes are matched as
//! text: `InvalidGroup.NotFound` right after the create is waited out; a grant
//! that is already there (`InvalidPermission.Duplicate`) or already gone
//! (`InvalidPermission.NotFound`) is what was wanted.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::ResourceType;

use common::sdk::SdkResultExt;
use common::{retry, AwsResultExt, Context, Result};

use crate::discover::Clients;
use crate::names;
use crate::sg::Diff;

pub async fn create(ctx: &Context, c: &Clients, name: &str, vpc_id: &str) -> Result<String> {
    let out = c
        .ec2
        .create_security_group()
        .group_name(name)
        .description("ALB: HTTP(S) in from the allowed CIDRs, out to the services")
        .vpc_id(vpc_id)
        .tag_specifications(common::ec2::tag_spec(
            ctx,
            ResourceType::SecurityGroup,
            names::LB,
        ))
        .send()
        .await
        .aws(format!("CreateSecurityGroup {name}"))?;
    Ok(out.group_id().unwrap_or_default().to_owned())
}

/// Authorizes the missing grants and revokes the extra ones, both directions.
pub async fn rules(c: &Clients, id: &str, name: &str, ingress: &Diff, egress: &Diff) -> Result<()> {
    let perms = |d: &Diff| -> Vec<_> {
        d.add
            .iter()
            .map(|(g, text)| g.permission(Some(text)))
            .collect()
    };
    let revokes = |d: &Diff| -> Vec<_> { d.remove.iter().map(|g| g.permission(None)).collect() };
    let (add_in, add_out) = (perms(ingress), perms(egress));
    let (drop_in, drop_out) = (revokes(ingress), revokes(egress));
    let not_yet = |code: Option<&str>| code == Some("InvalidGroup.NotFound");
    if !add_in.is_empty() {
        let op = format!("AuthorizeSecurityGroupIngress {name}");
        retry::retry(
            &op,
            retry::Policy::consistency(),
            |_| false,
            || async {
                c.ec2
                    .authorize_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(add_in.clone()))
                    .send()
                    .await
                    .map(drop)
                    .gone_if(&op, |e| e.code() == Some("InvalidPermission.Duplicate"))
                    .map_err(|e| mark(e, not_yet))
            },
        )
        .await?;
    }
    if !add_out.is_empty() {
        let op = format!("AuthorizeSecurityGroupEgress {name}");
        retry::retry(
            &op,
            retry::Policy::consistency(),
            |_| false,
            || async {
                c.ec2
                    .authorize_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(add_out.clone()))
                    .send()
                    .await
                    .map(drop)
                    .gone_if(&op, |e| e.code() == Some("InvalidPermission.Duplicate"))
                    .map_err(|e| mark(e, not_yet))
            },
        )
        .await?;
    }
    if !drop_in.is_empty() {
        c.ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(drop_in))
            .send()
            .await
            .gone_if(format!("RevokeSecurityGroupIngress {name}"), |e| {
                e.code() == Some("InvalidPermission.NotFound")
            })?;
    }
    if !drop_out.is_empty() {
        c.ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(drop_out))
            .send()
            .await
            .gone_if(format!("RevokeSecurityGroupEgress {name}"), |e| {
                e.code() == Some("InvalidPermission.NotFound")
            })?;
    }
    Ok(())
}

/// Marks an EC2 error whose code `again` accepts as one to retry.
fn mark(mut e: common::Error, again: impl Fn(Option<&str>) -> bool) -> common::Error {
    if again(e.aws_code()) {
        if let common::Error::Aws(a) = &mut e {
            a.transient = true;
        }
    }
    e
}
