//! The flow logs' log group and role: found by name (a log group's and a
//! role's name is unique in the account), with their tags read for the
//! ownership check.

use common::iam::{parse_policy, role_name};
use common::{AwsResultExt, Context, Result};

use crate::actual::{LogGroupState, Res, RoleState, Tags};
use crate::aws::Aws;
use crate::components::{self as c};
use crate::policy::POLICY_NAME;

type Found = (Option<Res<LogGroupState>>, Option<Res<RoleState>>);

pub async fn flow_log_resources(aws: &Aws, ctx: &Context) -> Result<Found> {
    let (group, role_name) = (c::log_group_name(ctx), role_name(ctx, c::FLOW_LOGS));
    tokio::try_join!(log_group(aws, &group), role(aws, &role_name))
}

pub async fn log_group(aws: &Aws, name: &str) -> Result<Option<Res<LogGroupState>>> {
    let out = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .aws(format!("DescribeLogGroups {name}"))?;
    let Some(group) = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = group
        .arn()
        .unwrap_or_default()
        .trim_end_matches(":*")
        .to_owned();
    let tags = match aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
    {
        Ok(out) => out
            .tags()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        // Deleted between the two reads: not there.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e).aws(format!("ListTagsForResource {name}")),
    };
    Ok(Some(Res {
        id: name.to_owned(),
        tags,
        state: LogGroupState {
            arn,
            retention: group.retention_in_days(),
        },
    }))
}

pub async fn role(aws: &Aws, name: &str) -> Result<Option<Res<RoleState>>> {
    let role = match aws.iam.get_role().role_name(name).send().await {
        Ok(out) => match out.role {
            Some(role) => role,
            None => return Ok(None),
        },
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e).aws(format!("GetRole {name}")),
    };
    let policy = match aws
        .iam
        .get_role_policy()
        .role_name(name)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => Some(parse_policy(out.policy_document())?),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            None
        }
        Err(e) => return Err(e).aws(format!("GetRolePolicy {name}")),
    };
    let tags: Tags = role
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    Ok(Some(Res {
        id: name.to_owned(),
        tags,
        state: RoleState {
            arn: role.arn().to_owned(),
            trust: role
                .assume_role_policy_document()
                .map(parse_policy)
                .transpose()?,
            policy,
        },
    }))
}
