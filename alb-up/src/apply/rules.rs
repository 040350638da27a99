//! Listener rules: created with their tags on the serving listener, modified in
//! place, moved to new priorities in one call, deleted (gone counts as done).

use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, HttpHeaderConditionConfig, PathPatternConditionConfig,
    RuleCondition, RulePriorityPair,
};

use common::sdk::SdkResultExt;
use common::spec::alb::Conditions;
use common::{retry, AwsResultExt, Context, Result};

use super::{forward, missing, Applied};
use crate::discover::Clients;
use crate::names;
use crate::plan::Op;

pub async fn create(ctx: &Context, c: &Clients, op: &Op, applied: &Applied) -> Result<String> {
    let Op::CreateRule {
        listener,
        component,
        name,
        priority,
        conditions,
        target,
    } = op
    else {
        unreachable!("create is called with a CreateRule");
    };
    let (listener, target) = (applied.id(listener)?, applied.id(target)?);
    let what = format!("CreateRule {name}");
    let out = retry::retry(
        &what,
        retry::Policy::consistency(),
        |_| false,
        || async {
            c.elb
                .create_rule()
                .listener_arn(&listener)
                .priority(*priority as i32)
                .set_conditions(Some(rule_conditions(conditions)))
                .actions(forward(&target))
                .set_tags(Some(names::tags(ctx, component)))
                .send()
                .await
                .wait_if(&what, |e| {
                    e.is_listener_not_found_exception() || e.is_target_group_not_found_exception()
                })
        },
    )
    .await?;
    Ok(out
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .ok_or_else(|| missing(&what))?
        .to_owned())
}

pub async fn modify(c: &Clients, op: &Op, applied: &Applied) -> Result<()> {
    let Op::UpdateRule {
        arn,
        conditions,
        target,
        change,
    } = op
    else {
        unreachable!("modify is called with an UpdateRule");
    };
    let target = applied.id(target)?;
    let what = format!("ModifyRule {}", change.name);
    retry::retry(
        &what,
        retry::Policy::consistency(),
        |_| false,
        || async {
            c.elb
                .modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(rule_conditions(conditions)))
                .actions(forward(&target))
                .send()
                .await
                .wait_if(&what, |e| e.is_target_group_not_found_exception())
        },
    )
    .await?;
    Ok(())
}

pub async fn set_priorities(c: &Clients, moves: &[(String, u32)]) -> Result<()> {
    let pairs: Vec<RulePriorityPair> = moves
        .iter()
        .map(|(arn, p)| {
            RulePriorityPair::builder()
                .rule_arn(arn)
                .priority(*p as i32)
                .build()
        })
        .collect();
    c.elb
        .set_rule_priorities()
        .set_rule_priorities(Some(pairs))
        .send()
        .await
        .aws("SetRulePriorities")?;
    Ok(())
}

pub async fn delete(c: &Clients, arn: &str) -> Result<()> {
    c.elb
        .delete_rule()
        .rule_arn(arn)
        .send()
        .await
        .gone_if(format!("DeleteRule {arn}"), |e| {
            e.is_rule_not_found_exception()
        })?;
    Ok(())
}

fn rule_conditions(c: &Conditions) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    if !c.paths.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(c.paths.clone()))
                        .build(),
                )
                .build(),
        );
    }
    if !c.hosts.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(c.hosts.clone()))
                        .build(),
                )
                .build(),
        );
    }
    for (header, values) in &c.headers {
        out.push(
            RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name(header)
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
        );
    }
    out
}
