//! Applying a plan: phase by phase (`Op::phase`), the operations of a phase
//! concurrently (at most `IN_FLIGHT` calls at once), each change recorded once
//! it is made. Ids of resources created here are kept in `Applied` and fill
//! the `Ref::New` of later operations.
//!
//! Nothing waits for the load balancer to become active: none of these calls
//! needs it (svc-up's `--wait` does). AWS's eventual consistency is waited out
//! where it shows: a security group ELB cannot see yet (InvalidSecurityGroup),
//! a target group or listener created a moment ago (NotFound), a target group
//! still held by a rule being deleted (ResourceInUse).

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::operation::modify_load_balancer_attributes::ModifyLoadBalancerAttributesError;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, IpAddressType,
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, TargetGroupAttribute, TargetTypeEnum,
};

use common::sdk::{try_join_bounded, SdkResultExt, IN_FLIGHT};
use common::{retry, AwsResultExt, Context, Error, Result};

use crate::desired::{WantTg, DEREGISTRATION_DELAY};
use crate::discover::Clients;
use crate::names;
use crate::plan::{Forward, Key, Op, Plan, Ref, WantListener};

mod rules;
mod sg;

/// What this run created: ids by key, and the new load balancer's DNS name and zone.
#[derive(Debug, Default)]
pub struct Applied {
    ids: Mutex<BTreeMap<Key, String>>,
    dns: Mutex<Option<(String, String)>>,
}

impl Applied {
    fn created(&self, key: Key, id: &str) {
        self.ids.lock().expect("ids").insert(key, id.to_owned());
    }

    /// The id a ref stands for, once it exists.
    pub fn id(&self, r: &Ref) -> Result<String> {
        match r {
            Ref::Have(id) => Ok(id.clone()),
            Ref::New(k) => self
                .ids
                .lock()
                .expect("ids")
                .get(k)
                .cloned()
                .ok_or_else(|| {
                    Error::Io(format!(
                        "internal: {} {} is used before it was created",
                        k.kind, k.name
                    ))
                }),
        }
    }

    pub fn dns(&self) -> Option<(String, String)> {
        self.dns.lock().expect("dns").clone()
    }
}

/// Applies every operation of the plan, in phases.
pub async fn apply(ctx: &Context, c: &Clients, plan: &Plan) -> Result<Applied> {
    let applied = Applied::default();
    let mut phases: BTreeMap<u8, Vec<&Op>> = BTreeMap::new();
    for op in &plan.ops {
        phases.entry(op.phase()).or_default().push(op);
    }
    for ops in phases.values() {
        try_join_bounded(ops.iter().map(|op| run(ctx, c, op, &applied)), IN_FLIGHT).await?;
    }
    Ok(applied)
}

/// One operation, then its changes recorded.
async fn run(ctx: &Context, c: &Clients, op: &Op, applied: &Applied) -> Result<()> {
    match op {
        Op::CreateSecurityGroup { name, vpc_id } => {
            let id = sg::create(ctx, c, name, vpc_id).await?;
            applied.created(op.creates().expect("a create"), &id);
        }
        Op::SecurityGroupRules {
            group,
            name,
            ingress,
            egress,
            ..
        } => sg::rules(c, &applied.id(group)?, name, ingress, egress).await?,
        Op::CreateTargetGroup(want) => {
            let arn = create_target_group(ctx, c, want).await?;
            applied.created(op.creates().expect("a create"), &arn);
        }
        Op::UpdateTargetGroup {
            arn,
            want,
            health,
            deregistration_delay,
            ..
        } => {
            if *health {
                modify_health_check(c, arn, want).await?;
            }
            if *deregistration_delay {
                set_deregistration_delay(c, arn, want).await?;
            }
        }
        Op::DeleteTargetGroup { arn, .. } => delete_target_group(c, arn).await?,
        Op::CreateLoadBalancer { want, group } => {
            let group = applied.id(group)?;
            let (arn, dns) = create_load_balancer(ctx, c, want, &group).await?;
            *applied.dns.lock().expect("dns") = Some(dns);
            applied.created(op.creates().expect("a create"), &arn);
        }
        Op::UpdateLoadBalancer { .. } => update_load_balancer(c, op, applied).await?,
        Op::CreateListener { lb, want } => {
            let arn = create_listener(ctx, c, &applied.id(lb)?, want, applied).await?;
            applied.created(op.creates().expect("a create"), &arn);
        }
        Op::UpdateListener { arn, want, .. } => modify_listener(c, arn, want, applied).await?,
        Op::DeleteListener { arn, .. } => delete_listener(&c.elb, arn).await?,
        Op::DeleteRule { arn, .. } => rules::delete(c, arn).await?,
        Op::SetRulePriorities { moves, .. } => rules::set_priorities(c, moves).await?,
        Op::CreateRule { .. } => {
            let arn = rules::create(ctx, c, op, applied).await?;
            applied.created(op.creates().expect("a create"), &arn);
        }
        Op::UpdateRule { .. } => rules::modify(c, op, applied).await?,
    }
    for change in op.changes(ctx) {
        ctx.report.change(change);
    }
    Ok(())
}

/// The ELB action for a forward, a redirect to HTTPS, or the fixed 404.
fn action(f: &Forward, applied: &Applied) -> Result<Action> {
    Ok(match f {
        Forward::To(tg) => forward(&applied.id(tg)?),
        Forward::RedirectToHttps => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .host("#{host}")
                    .path("/#{path}")
                    .query("#{query}")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
        Forward::NotFound => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("404")
                    .content_type("text/plain")
                    .message_body("not found")
                    .build(),
            )
            .build(),
    })
}

fn forward(tg_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg_arn)
        .build()
}

fn missing(op: &str) -> Error {
    Error::Aws(common::error::AwsError {
        op: op.to_owned(),
        code: None,
        message: "the answer held no resource".to_owned(),
        request_id: None,
        transient: false,
    })
}

async fn create_target_group(ctx: &Context, c: &Clients, w: &WantTg) -> Result<String> {
    let h = &w.health;
    let op = format!("CreateTargetGroup {}", w.name);
    let out = c
        .elb
        .create_target_group()
        .name(&w.name)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(w.port))
        .vpc_id(&w.vpc_id)
        .target_type(TargetTypeEnum::Ip)
        .health_check_enabled(true)
        .health_check_protocol(ProtocolEnum::Http)
        .health_check_path(&h.path)
        .health_check_interval_seconds(h.interval)
        .health_check_timeout_seconds(h.timeout)
        .healthy_threshold_count(h.healthy)
        .unhealthy_threshold_count(h.unhealthy)
        .matcher(Matcher::builder().http_code(&h.matcher).build())
        .set_tags(Some(names::tags(ctx, &w.component)))
        .send()
        .await
        .aws(&op)?;
    let arn = out
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .ok_or_else(|| missing(&op))?
        .to_owned();
    set_deregistration_delay(c, &arn, w).await?;
    Ok(arn)
}

async fn modify_health_check(c: &Clients, arn: &str, w: &WantTg) -> Result<()> {
    let h = &w.health;
    c.elb
        .modify_target_group()
        .target_group_arn(arn)
        .health_check_protocol(ProtocolEnum::Http)
        .health_check_path(&h.path)
        .health_check_interval_seconds(h.interval)
        .health_check_timeout_seconds(h.timeout)
        .healthy_threshold_count(h.healthy)
        .unhealthy_threshold_count(h.unhealthy)
        .matcher(Matcher::builder().http_code(&h.matcher).build())
        .send()
        .await
        .aws(format!("ModifyTargetGroup {}", w.name))?;
    Ok(())
}

/// Right after CreateTargetGroup the group may not be visible yet.
async fn set_deregistration_delay(c: &Clients, arn: &str, w: &WantTg) -> Result<()> {
    let op = format!("ModifyTargetGroupAttributes {}", w.name);
    retry::retry(
        &op,
        retry::Policy::consistency(),
        |_| false,
        || async {
            c.elb
                .modify_target_group_attributes()
                .target_group_arn(arn)
                .attributes(
                    TargetGroupAttribute::builder()
                        .key(DEREGISTRATION_DELAY)
                        .value(w.deregistration_delay.to_string())
                        .build(),
                )
                .send()
                .await
                .wait_if(&op, |e| e.is_target_group_not_found_exception())
        },
    )
    .await?;
    Ok(())
}

/// A target group goes once the rules that forwarded to it are gone (they were
/// deleted in an earlier phase; AWS may answer ResourceInUse a moment longer).
async fn delete_target_group(c: &Clients, arn: &str) -> Result<()> {
    let op = format!("DeleteTargetGroup {arn}");
    retry::retry(
        &op,
        retry::Policy::dependency(),
        |_| false,
        || async {
            c.elb
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await
                .wait_if(&op, |e| e.is_resource_in_use_exception())
        },
    )
    .await?;
    Ok(())
}

/// Creates the load balancer with its tags and sets its attributes. A
/// security group made a moment ago may not be visible to ELB yet
/// (InvalidSecurityGroup): that is waited out. CreateLoadBalancer is
/// idempotent for one name and the same settings.
async fn create_load_balancer(
    ctx: &Context,
    c: &Clients,
    want: &crate::desired::WantLb,
    group: &str,
) -> Result<(String, (String, String))> {
    let op = format!("CreateLoadBalancer {}", want.name);
    let scheme = if want.internal {
        LoadBalancerSchemeEnum::Internal
    } else {
        LoadBalancerSchemeEnum::InternetFacing
    };
    let out = retry::retry(
        &op,
        retry::Policy::consistency(),
        |_| false,
        || async {
            c.elb
                .create_load_balancer()
                .name(&want.name)
                .r#type(LoadBalancerTypeEnum::Application)
                .scheme(scheme.clone())
                .ip_address_type(IpAddressType::Ipv4)
                .set_subnets(Some(want.subnets.clone()))
                .security_groups(group)
                .set_tags(Some(names::tags(ctx, names::LB)))
                .send()
                .await
                .wait_if(&op, |e| {
                    e.is_invalid_security_group_exception() || e.is_subnet_not_found_exception()
                })
        },
    )
    .await?;
    let lb = out.load_balancers().first().ok_or_else(|| missing(&op))?;
    let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
    let dns = (
        lb.dns_name().unwrap_or_default().to_owned(),
        lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
    );
    set_lb_attributes(c, &arn, &want.name, &want.attributes).await?;
    Ok((arn, dns))
}

async fn set_lb_attributes(
    c: &Clients,
    arn: &str,
    name: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<()> {
    if attributes.is_empty() {
        return Ok(());
    }
    let op = format!("ModifyLoadBalancerAttributes {name}");
    // A bucket policy made a moment ago may not be in force yet when ELB
    // checks that it may write there: "Access Denied for bucket: ...".
    let logs = attributes
        .get(crate::desired::ACCESS_LOGS)
        .map(String::as_str)
        == Some("true");
    let attributes: Vec<LoadBalancerAttribute> = attributes
        .iter()
        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
        .collect();
    retry::retry(
        &op,
        retry::Policy::consistency(),
        |_| false,
        || async {
            c.elb
                .modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .set_attributes(Some(attributes.clone()))
                .send()
                .await
                .wait_if(&op, |e| {
                    e.is_load_balancer_not_found_exception() || (logs && bucket_not_ready(e))
                })
        },
    )
    .await?;
    Ok(())
}

fn bucket_not_ready(e: &ModifyLoadBalancerAttributesError) -> bool {
    e.is_invalid_configuration_request_exception()
        && e.message()
            .is_some_and(|m| m.contains("Access Denied for bucket"))
}

async fn update_load_balancer(c: &Clients, op: &Op, applied: &Applied) -> Result<()> {
    let Op::UpdateLoadBalancer {
        arn,
        group,
        subnets,
        ipv4,
        attributes,
        change,
    } = op
    else {
        return Ok(());
    };
    let name = &change.name;
    if let Some(group) = group {
        let group = applied.id(group)?;
        let op = format!("SetSecurityGroups {name}");
        retry::retry(
            &op,
            retry::Policy::consistency(),
            |_| false,
            || async {
                c.elb
                    .set_security_groups()
                    .load_balancer_arn(arn)
                    .security_groups(&group)
                    .send()
                    .await
                    .wait_if(&op, |e| e.is_invalid_security_group_exception())
            },
        )
        .await?;
    }
    if let Some(subnets) = subnets {
        c.elb
            .set_subnets()
            .load_balancer_arn(arn)
            .set_subnets(Some(subnets.clone()))
            .send()
            .await
            .aws(format!("SetSubnets {name}"))?;
    }
    if *ipv4 {
        c.elb
            .set_ip_address_type()
            .load_balancer_arn(arn)
            .ip_address_type(IpAddressType::Ipv4)
            .send()
            .await
            .aws(format!("SetIpAddressType {name}"))?;
    }
    set_lb_attributes(c, arn, name, attributes).await
}

fn tls_parts(w: &WantListener) -> (ProtocolEnum, Option<Vec<Certificate>>, Option<String>) {
    match &w.tls {
        Some(t) => (
            ProtocolEnum::Https,
            Some(vec![Certificate::builder()
                .certificate_arn(&t.certificate)
                .build()]),
            Some(t.policy.clone()),
        ),
        None => (ProtocolEnum::Http, None, None),
    }
}

async fn create_listener(
    ctx: &Context,
    c: &Clients,
    lb: &str,
    w: &WantListener,
    applied: &Applied,
) -> Result<String> {
    let op = format!("CreateListener {}", w.name);
    let (protocol, certificates, policy) = tls_parts(w);
    let default = action(&w.action, applied)?;
    let out = retry::retry(
        &op,
        retry::Policy::consistency(),
        |_| false,
        || async {
            c.elb
                .create_listener()
                .load_balancer_arn(lb)
                .port(i32::from(w.port))
                .protocol(protocol.clone())
                .default_actions(default.clone())
                .set_certificates(certificates.clone())
                .set_ssl_policy(policy.clone())
                .set_tags(Some(names::tags(ctx, &w.component)))
                .send()
                .await
                .wait_if(&op, |e| {
                    e.is_load_balancer_not_found_exception()
                        || e.is_target_group_not_found_exception()
                })
        },
    )
    .await?;
    Ok(out
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .ok_or_else(|| missing(&op))?
        .to_owned())
}

async fn modify_listener(
    c: &Clients,
    arn: &str,
    w: &WantListener,
    applied: &Applied,
) -> Result<()> {
    let op = format!("ModifyListener {}", w.name);
    let (protocol, certificates, policy) = tls_parts(w);
    let default = action(&w.action, applied)?;
    retry::retry(
        &op,
        retry::Policy::consistency(),
        |_| false,
        || async {
            c.elb
                .modify_listener()
                .listener_arn(arn)
                .port(i32::from(w.port))
                .protocol(protocol.clone())
                .default_actions(default.clone())
                .set_certificates(certificates.clone())
                .set_ssl_policy(policy.clone())
                .send()
                .await
                .wait_if(&op, |e| e.is_target_group_not_found_exception())
        },
    )
    .await?;
    Ok(())
}

/// Deletes a listener (its rules go with it); gone already counts as done.
pub async fn delete_listener(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<()> {
    elb.delete_listener()
        .listener_arn(arn)
        .send()
        .await
        .gone_if(format!("DeleteListener {arn}"), |e| {
            e.is_listener_not_found_exception()
        })?;
    Ok(())
}
