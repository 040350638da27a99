//! One function per resource kind: find it (by name, then its tags), adopt it
//! (fixing drift) or create it, and return what later steps need. `converge` is
//! the dependency graph: an existing ALB's listeners are read first (a
//! blue/green service keeps its test port, which the security group opens); the
//! security group and the target groups are independent; the ALB needs its
//! group; listeners need the ALB and the target groups; rules need the serving
//! listener. Nothing waits for the ALB to become active: none of these calls
//! needs it (svc-up or `--wait` users do).
//!
//! Blue/green services: CodeDeploy moves the production listener (its default
//! action or the service's rule) and the test listener from the blue target
//! group to the green one at each deployment, and back at the next. Forwarding
//! to either group is therefore converged, and nothing here ever moves traffic
//! back to blue.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HostHeaderConditionConfig,
    HttpHeaderConditionConfig, IpAddressType, Listener, LoadBalancer, LoadBalancerAttribute,
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, PathPatternConditionConfig,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, Rule, RuleCondition,
    RulePriorityPair, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use common::ec2::{GroupSpec, Rule as SgRule, Source};
use common::sections::{Alb, AlbGreenTargetGroup, AlbRule, AlbTargetGroup, Network};
use common::{retry, try_join_all, AwsResultExt, Context, Error, Result};

use crate::elb::{self, owned};
use crate::spec::{self, Conditions, HealthCheck, Plan, Routed};

const DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";
const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// Brings the load balancer layer to the plan and describes it.
pub async fn converge(ctx: &Context, network: &Network, plan: &Plan) -> Result<Alb> {
    let ec2 = aws_sdk_ec2::Client::new(&ctx.sdk);
    let elb = Client::new(&ctx.sdk);
    let found = find_load_balancer(&elb, ctx, plan).await?;
    let listeners = match &found {
        Some(lb) => {
            describe_listeners(&elb, ctx, lb.load_balancer_arn().unwrap_or_default()).await?
        }
        None => vec![],
    };
    let test_listeners = test_listeners(&elb, ctx, &listeners).await?;
    let wanted: Vec<(&str, Option<u16>)> = plan
        .blue_green()
        .map(|s| (s.name.as_str(), s.blue_green.and_then(|b| b.test_port)))
        .collect();
    let kept: BTreeMap<String, u16> = test_listeners
        .iter()
        .filter_map(|(s, l)| Some((s.clone(), u16::try_from(l.port()?).ok()?)))
        .collect();
    let test_ports = spec::assign_test_ports(&wanted, &kept)?;

    let (sg_id, tgs) = tokio::try_join!(
        ensure_security_group(&ec2, ctx, network, plan, &test_ports),
        try_join_all(plan.services.iter().map(|s| ensure_service_target_groups(
            &elb,
            ctx,
            &network.vpc_id,
            s
        ))),
    )?;
    let mut tgs: BTreeMap<String, AlbTargetGroup> = tgs.into_iter().collect();

    let (lb, fresh) = ensure_load_balancer(&elb, ctx, network, plan, &sg_id, found).await?;
    let lb_arn = lb.load_balancer_arn().unwrap_or_default().to_owned();

    let default = match &plan.default_service {
        Some(s) => Forwarding::to(&tgs[s], &listeners),
        None => Forwarding::fixed(DefaultAction::NotFound),
    };
    let ((), (http, https), tests) = tokio::try_join!(
        ensure_attributes(&elb, ctx, &lb_arn, plan, fresh),
        ensure_listeners(&elb, ctx, &lb_arn, plan, &default, &listeners),
        ensure_test_listeners(&elb, ctx, &lb_arn, plan, &tgs, &test_ports, &test_listeners),
    )?;
    for (service, arn) in tests {
        let tg = tgs
            .get_mut(&service)
            .expect("a blue/green service has target groups");
        tg.test_port = test_ports.get(&service).copied();
        tg.test_listener_arn = Some(arn);
    }

    let serving = https.as_deref().unwrap_or(&http);
    let rules = ensure_rules(&elb, ctx, plan, serving, &[&http], &tgs).await?;
    if plan.certificate_arn.is_none() {
        // Without a certificate HTTP serves again: an HTTPS listener of an earlier run goes.
        remove_https_listener(&elb, ctx, &listeners).await?;
    }
    // Only now are the target groups of services no longer routed free of rules.
    remove_unrouted_target_groups(&elb, ctx, &tgs).await?;

    Ok(Alb {
        arn: lb_arn,
        name: lb.load_balancer_name().unwrap_or_default().to_owned(),
        dns_name: lb.dns_name().unwrap_or_default().to_owned(),
        zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
        security_group_id: sg_id,
        http_listener_arn: http,
        https_listener_arn: https,
        target_groups: tgs,
        rules,
        default_service: plan.default_service.clone(),
    })
}

/// Ports 80 (and 443) and the blue/green services' test ports from the ingress
/// CIDRs; out only to the routed services' ports inside the VPC (no egress at
/// all while nothing is routed).
async fn ensure_security_group(
    ec2: &aws_sdk_ec2::Client,
    ctx: &Context,
    network: &Network,
    plan: &Plan,
    test_ports: &BTreeMap<String, u16>,
) -> Result<String> {
    let mut ingress = Vec::new();
    for cidr in &plan.ingress {
        ingress.push(SgRule::tcp(80, Source::Cidr(cidr.to_string()), "HTTP"));
        if plan.certificate_arn.is_some() {
            ingress.push(SgRule::tcp(443, Source::Cidr(cidr.to_string()), "HTTPS"));
        }
        for (service, port) in test_ports {
            ingress.push(SgRule::tcp(
                *port,
                Source::Cidr(cidr.to_string()),
                &format!("test listener of {service}"),
            ));
        }
    }
    let egress = plan
        .port_range()
        .map(|(from, to)| {
            SgRule::tcp_range(
                from,
                to,
                Source::Cidr(network.cidr.clone()),
                "to the services in the VPC",
            )
        })
        .into_iter()
        .collect();
    let spec = GroupSpec {
        component: "alb",
        description: "ALB: HTTP(S) in from the allowed CIDRs, out to the services",
        vpc_id: &network.vpc_id,
        ingress,
        egress: Some(egress),
    };
    common::ec2::ensure_group(ec2, ctx, &spec).await
}

fn scheme(plan: &Plan) -> LoadBalancerSchemeEnum {
    if plan.internal {
        LoadBalancerSchemeEnum::Internal
    } else {
        LoadBalancerSchemeEnum::InternetFacing
    }
}

/// The ALB of an earlier run: found by name, ours only if tagged so, and of the
/// scheme the plan asks for (checked before anything changes).
async fn find_load_balancer(
    elb: &Client,
    ctx: &Context,
    plan: &Plan,
) -> Result<Option<LoadBalancer>> {
    let name = elb::lb_name(ctx);
    let found = match elb
        .describe_load_balancers()
        .names(&name)
        .send()
        .await
        .aws(format!("DescribeLoadBalancers {name}"))
    {
        Ok(out) => out.load_balancers().to_vec(),
        Err(e) if retry::is_not_found(&e) => vec![],
        Err(e) => return Err(e),
    };
    if !found.is_empty() {
        // Names are unique per account and region: one that is not tagged ours
        // belongs to someone else and is never adopted.
        let arns: Vec<String> = found
            .iter()
            .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
            .collect();
        let tags = elb::tags_of(elb, &arns).await?;
        let Some(lb) = found.into_iter().find(|l| {
            tags.get(l.load_balancer_arn().unwrap_or_default())
                .is_some_and(|t| owned(ctx, t))
        }) else {
            return Err(Error::spec(format!(
                "a load balancer named {name} exists but is not tagged for {}/{}: it is not ours to change (delete it, or use another stack name)",
                ctx.stack, ctx.env
            )));
        };
        let scheme = scheme(plan);
        if lb.scheme() != Some(&scheme) {
            return Err(Error::spec(format!(
                "load balancer {name} is {} but the spec asks for {}: the scheme cannot change, tear the ALB down first",
                lb.scheme().map_or("unknown", |s| s.as_str()),
                scheme.as_str()
            )));
        }
        return Ok(Some(lb));
    }
    Ok(None)
}

/// Returns the ALB and whether it was created by this run.
async fn ensure_load_balancer(
    elb: &Client,
    ctx: &Context,
    network: &Network,
    plan: &Plan,
    sg_id: &str,
    found: Option<LoadBalancer>,
) -> Result<(LoadBalancer, bool)> {
    let name = elb::lb_name(ctx);
    let subnets = if plan.internal {
        &network.private_subnet_ids
    } else {
        &network.public_subnet_ids
    };
    if let Some(lb) = found {
        let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
        ctx.report.adopted("load balancer", &name, &arn);
        if lb.security_groups() != [sg_id.to_owned()] {
            elb.set_security_groups()
                .load_balancer_arn(&arn)
                .security_groups(sg_id)
                .send()
                .await
                .aws(format!("SetSecurityGroups {name}"))?;
            ctx.report
                .updated("load balancer", &name, "security group replaced");
        }
        let have: BTreeSet<&str> = lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .collect();
        let want: BTreeSet<&str> = subnets.iter().map(String::as_str).collect();
        if have != want {
            elb.set_subnets()
                .load_balancer_arn(&arn)
                .set_subnets(Some(subnets.clone()))
                .send()
                .await
                .aws(format!("SetSubnets {name}"))?;
            ctx.report
                .updated("load balancer", &name, "subnets changed");
        }
        return Ok((lb, false));
    }
    let out = retry::after_create(&format!("CreateLoadBalancer {name}"), || async {
        elb.create_load_balancer()
            .name(&name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(scheme(plan))
            .ip_address_type(IpAddressType::Ipv4)
            .set_subnets(Some(subnets.clone()))
            .security_groups(sg_id)
            .set_tags(Some(elb::tags(ctx, "alb")))
            .send()
            .await
            .aws(format!("CreateLoadBalancer {name}"))
    })
    .await?;
    let lb = out
        .load_balancers()
        .first()
        .cloned()
        .ok_or_else(|| missing(&format!("CreateLoadBalancer {name}")))?;
    ctx.report.created(
        "load balancer",
        &name,
        lb.load_balancer_arn().unwrap_or_default(),
    );
    Ok((lb, true))
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

/// Drop invalid header fields (request smuggling), deletion protection, idle timeout.
async fn ensure_attributes(
    elb: &Client,
    ctx: &Context,
    lb_arn: &str,
    plan: &Plan,
    fresh: bool,
) -> Result<()> {
    let name = elb::lb_name(ctx);
    let want = [
        (DROP_INVALID_HEADERS, "true".to_owned()),
        (DELETION_PROTECTION, plan.deletion_protection.to_string()),
        (IDLE_TIMEOUT, plan.idle_timeout.to_string()),
    ];
    let have = retry::after_create(
        &format!("DescribeLoadBalancerAttributes {name}"),
        || async {
            elb.describe_load_balancer_attributes()
                .load_balancer_arn(lb_arn)
                .send()
                .await
                .aws(format!("DescribeLoadBalancerAttributes {name}"))
        },
    )
    .await?;
    let current = |key: &str| {
        have.attributes()
            .iter()
            .find(|a| a.key() == Some(key))
            .and_then(|a| a.value())
    };
    let changes: Vec<LoadBalancerAttribute> = want
        .iter()
        .filter(|(k, v)| current(k) != Some(v.as_str()))
        .map(|(k, v)| LoadBalancerAttribute::builder().key(*k).value(v).build())
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let what: Vec<String> = changes
        .iter()
        .map(|a| {
            format!(
                "{}={}",
                a.key().unwrap_or_default(),
                a.value().unwrap_or_default()
            )
        })
        .collect();
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(lb_arn)
        .set_attributes(Some(changes))
        .send()
        .await
        .aws(format!("ModifyLoadBalancerAttributes {name}"))?;
    if !fresh {
        ctx.report.updated("load balancer", &name, &what.join(", "));
    }
    Ok(())
}

/// Returns the service name and its target group (with the green one of a
/// blue/green service: the same port, protocol, VPC and health check).
async fn ensure_service_target_groups(
    elb: &Client,
    ctx: &Context,
    vpc_id: &str,
    svc: &Routed,
) -> Result<(String, AlbTargetGroup)> {
    let green_of = spec::green_service(&svc.name);
    let ((arn, name), green) = tokio::try_join!(
        ensure_target_group(elb, ctx, vpc_id, svc, &svc.name),
        async {
            match svc.blue_green {
                Some(_) => ensure_target_group(elb, ctx, vpc_id, svc, &green_of)
                    .await
                    .map(|(arn, name)| Some(AlbGreenTargetGroup { arn, name })),
                None => Ok(None),
            }
        },
    )?;
    Ok((
        svc.name.clone(),
        AlbTargetGroup {
            arn,
            name,
            port: svc.port,
            green,
            ..AlbTargetGroup::default()
        },
    ))
}

/// One target group of a service, named after `group_of` (the service, or
/// `{service}-green`). Returns its ARN and name.
async fn ensure_target_group(
    elb: &Client,
    ctx: &Context,
    vpc_id: &str,
    svc: &Routed,
    group_of: &str,
) -> Result<(String, String)> {
    let component = elb::tg_component(group_of);
    let name = elb::tg_name(ctx, group_of);
    let found = match elb
        .describe_target_groups()
        .names(&name)
        .send()
        .await
        .aws(format!("DescribeTargetGroups {name}"))
    {
        Ok(out) => out.target_groups().to_vec(),
        Err(e) if retry::is_not_found(&e) => vec![],
        Err(e) => return Err(e),
    };
    let (arn, fresh) = if let Some(tg) = found.first() {
        let arn = tg.target_group_arn().unwrap_or_default().to_owned();
        let tags = elb::tags_of(elb, std::slice::from_ref(&arn)).await?;
        if !tags.get(&arn).is_some_and(|t| owned(ctx, t)) {
            return Err(Error::spec(format!(
                "a target group named {name} exists but is not tagged for {}/{}: it is not ours to change",
                ctx.stack, ctx.env
            )));
        }
        ctx.report.adopted("target group", &name, &arn);
        check_fixed(tg, &name, vpc_id, svc.port)?;
        if !health_matches(tg, &svc.health) {
            let h = &svc.health;
            elb.modify_target_group()
                .target_group_arn(&arn)
                .health_check_protocol(ProtocolEnum::Http)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval)
                .health_check_timeout_seconds(h.timeout)
                .healthy_threshold_count(h.healthy)
                .unhealthy_threshold_count(h.unhealthy)
                .matcher(Matcher::builder().http_code(&h.matcher).build())
                .send()
                .await
                .aws(format!("ModifyTargetGroup {name}"))?;
            ctx.report.updated("target group", &name, "health check");
        }
        (arn, false)
    } else {
        let h = &svc.health;
        let out = elb
            .create_target_group()
            .name(&name)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(svc.port))
            .vpc_id(vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_enabled(true)
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_path(&h.path)
            .health_check_interval_seconds(h.interval)
            .health_check_timeout_seconds(h.timeout)
            .healthy_threshold_count(h.healthy)
            .unhealthy_threshold_count(h.unhealthy)
            .matcher(Matcher::builder().http_code(&h.matcher).build())
            .set_tags(Some(elb::tags(ctx, &component)))
            .send()
            .await
            .aws(format!("CreateTargetGroup {name}"))?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .ok_or_else(|| missing(&format!("CreateTargetGroup {name}")))?
            .to_owned();
        ctx.report.created("target group", &name, &arn);
        (arn, true)
    };
    ensure_deregistration_delay(elb, ctx, &name, &arn, svc.deregistration_delay, fresh).await?;
    Ok((arn, name))
}

/// What a target group cannot change: its VPC, port, protocol and target type.
fn check_fixed(tg: &TargetGroup, name: &str, vpc_id: &str, port: u16) -> Result<()> {
    let problem = if tg.vpc_id() != Some(vpc_id) {
        Some(format!("is in {} not {vpc_id}", tg.vpc_id().unwrap_or("?")))
    } else if tg.port() != Some(i32::from(port)) {
        Some(format!(
            "has port {} but the spec asks for {port}",
            tg.port().unwrap_or(0)
        ))
    } else if tg.protocol() != Some(&ProtocolEnum::Http) {
        Some("is not HTTP".to_owned())
    } else if tg.target_type() != Some(&TargetTypeEnum::Ip) {
        Some("does not take IP targets".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(Error::spec(format!(
            "target group {name} {p}: a target group cannot change that; remove the service's route, run alb-up, then add it back"
        ))),
    }
}

fn health_matches(tg: &TargetGroup, h: &HealthCheck) -> bool {
    tg.health_check_path() == Some(h.path.as_str())
        && tg.health_check_interval_seconds() == Some(h.interval)
        && tg.health_check_timeout_seconds() == Some(h.timeout)
        && tg.healthy_threshold_count() == Some(h.healthy)
        && tg.unhealthy_threshold_count() == Some(h.unhealthy)
        && tg.matcher().and_then(|m| m.http_code()) == Some(h.matcher.as_str())
}

async fn ensure_deregistration_delay(
    elb: &Client,
    ctx: &Context,
    name: &str,
    arn: &str,
    seconds: u32,
    fresh: bool,
) -> Result<()> {
    let want = seconds.to_string();
    let have = retry::after_create(&format!("DescribeTargetGroupAttributes {name}"), || async {
        elb.describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .aws(format!("DescribeTargetGroupAttributes {name}"))
    })
    .await?;
    let current = have
        .attributes()
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
        .and_then(|a| a.value());
    if current == Some(want.as_str()) {
        return Ok(());
    }
    elb.modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key(DEREGISTRATION_DELAY)
                .value(&want)
                .build(),
        )
        .send()
        .await
        .aws(format!("ModifyTargetGroupAttributes {name}"))?;
    if !fresh {
        ctx.report.updated(
            "target group",
            name,
            &format!("deregistration delay {want}s"),
        );
    }
    Ok(())
}

/// A listener's default action, as far as alb-up sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DefaultAction {
    Forward(String),
    RedirectToHttps,
    NotFound,
}

impl DefaultAction {
    fn action(&self) -> Action {
        match self {
            DefaultAction::Forward(arn) => forward(arn),
            DefaultAction::RedirectToHttps => Action::builder()
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
            DefaultAction::NotFound => Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("404")
                        .content_type("text/plain")
                        .message_body("not found")
                        .build(),
                )
                .build(),
        }
    }

    /// What a listener's actions amount to; `None` when they are something else.
    fn of(actions: &[Action]) -> Option<Self> {
        let [a] = actions else { return None };
        match a.r#type()? {
            ActionTypeEnum::Forward => forward_target(a).map(DefaultAction::Forward),
            ActionTypeEnum::Redirect => {
                let r = a.redirect_config()?;
                (r.protocol() == Some("HTTPS")
                    && r.port() == Some("443")
                    && r.status_code() == Some(&RedirectActionStatusCodeEnum::Http301))
                .then_some(DefaultAction::RedirectToHttps)
            }
            ActionTypeEnum::FixedResponse => {
                let f = a.fixed_response_config()?;
                (f.status_code() == Some("404")).then_some(DefaultAction::NotFound)
            }
            _ => None,
        }
    }
}

fn forward(tg_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg_arn)
        .build()
}

/// The single target group a forward action sends to (either form AWS answers with).
fn forward_target(a: &Action) -> Option<String> {
    if let Some(arn) = a.target_group_arn() {
        return Some(arn.to_owned());
    }
    match a.forward_config()?.target_groups() {
        [one] => one.target_group_arn().map(str::to_owned),
        _ => None,
    }
}

/// What a listener's default action must be: `want` for a new listener or one
/// that does something else; `also` is just as converged (a blue/green
/// service's other target group, where CodeDeploy may have moved traffic).
#[derive(Debug, Clone)]
struct Forwarding {
    want: DefaultAction,
    also: Option<DefaultAction>,
}

impl Forwarding {
    fn fixed(action: DefaultAction) -> Self {
        Forwarding {
            want: action,
            also: None,
        }
    }

    /// To a service's target group, the blue one when new; for a blue/green
    /// service the green one is just as right.
    fn either(tg: &AlbTargetGroup) -> Self {
        Forwarding {
            want: DefaultAction::Forward(tg.arn.clone()),
            also: tg
                .green
                .as_ref()
                .map(|g| DefaultAction::Forward(g.arn.clone())),
        }
    }

    /// To a service's target group from a production listener. A new one takes
    /// the group the production listeners forward to now (green after an odd
    /// number of deployments), so that adding or removing HTTPS does not send
    /// traffic back to tasks CodeDeploy retired.
    fn to(tg: &AlbTargetGroup, listeners: &[Listener]) -> Self {
        let f = Self::either(tg);
        let Some(green) = f.also.clone() else {
            return f;
        };
        let green_is_live = listeners
            .iter()
            .filter(|l| is_production(l))
            .any(|l| DefaultAction::of(l.default_actions()).as_ref() == Some(&green));
        if green_is_live {
            Forwarding {
                want: green,
                also: Some(f.want),
            }
        } else {
            f
        }
    }

    /// The action to keep given what the listener does now, and whether that is a change.
    fn keep(&self, have: Option<DefaultAction>) -> (DefaultAction, bool) {
        match have {
            Some(h) if h == self.want || Some(&h) == self.also.as_ref() => (h, false),
            _ => (self.want.clone(), true),
        }
    }
}

/// The production listeners: HTTP on 80, HTTPS on 443 (the others are test listeners).
fn is_production(l: &Listener) -> bool {
    matches!(l.port(), Some(80 | 443))
}

async fn describe_listeners(elb: &Client, ctx: &Context, lb_arn: &str) -> Result<Vec<Listener>> {
    elb.describe_listeners()
        .load_balancer_arn(lb_arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws(format!("DescribeListeners {}", elb::lb_name(ctx)))
}

/// HTTP on 80 and, with a certificate, HTTPS on 443. Returns (http, https) ARNs.
async fn ensure_listeners(
    elb: &Client,
    ctx: &Context,
    lb_arn: &str,
    plan: &Plan,
    default: &Forwarding,
    existing: &[Listener],
) -> Result<(String, Option<String>)> {
    match &plan.certificate_arn {
        None => {
            let http = ensure_listener(elb, ctx, lb_arn, existing, Port::Http, default).await?;
            Ok((http, None))
        }
        Some(cert) => {
            let https = Port::Https {
                certificate: cert,
                policy: &plan.ssl_policy,
            };
            let redirect = Forwarding::fixed(DefaultAction::RedirectToHttps);
            let (http, https) = tokio::try_join!(
                ensure_listener(elb, ctx, lb_arn, existing, Port::Http, &redirect),
                ensure_listener(elb, ctx, lb_arn, existing, https, default),
            )?;
            Ok((http, Some(https)))
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Port<'a> {
    Http,
    Https {
        certificate: &'a str,
        policy: &'a str,
    },
}

impl Port<'_> {
    fn number(self) -> i32 {
        match self {
            Port::Http => 80,
            Port::Https { .. } => 443,
        }
    }

    fn protocol(self) -> ProtocolEnum {
        match self {
            Port::Http => ProtocolEnum::Http,
            Port::Https { .. } => ProtocolEnum::Https,
        }
    }

    fn component(self) -> &'static str {
        match self {
            Port::Http => "listener-http",
            Port::Https { .. } => "listener-https",
        }
    }
}

async fn ensure_listener(
    elb: &Client,
    ctx: &Context,
    lb_arn: &str,
    existing: &[Listener],
    port: Port<'_>,
    default: &Forwarding,
) -> Result<String> {
    let name = ctx.name(port.component());
    let (certificate, policy) = match port {
        Port::Http => (None, None),
        Port::Https {
            certificate,
            policy,
        } => (
            Some(Certificate::builder().certificate_arn(certificate).build()),
            Some(policy),
        ),
    };
    if let Some(l) = existing.iter().find(|l| l.port() == Some(port.number())) {
        let arn = l.listener_arn().unwrap_or_default().to_owned();
        ctx.report.adopted("listener", &name, &arn);
        let mut drift = Vec::new();
        if l.protocol() != Some(&port.protocol()) {
            drift.push("protocol");
        }
        let (action, changed) = default.keep(DefaultAction::of(l.default_actions()));
        if changed {
            drift.push("default action");
        }
        if let Port::Https {
            certificate,
            policy,
        } = port
        {
            if l.certificates().first().and_then(|c| c.certificate_arn()) != Some(certificate) {
                drift.push("certificate");
            }
            if l.ssl_policy() != Some(policy) {
                drift.push("TLS policy");
            }
        }
        if !drift.is_empty() {
            elb.modify_listener()
                .listener_arn(&arn)
                .protocol(port.protocol())
                .default_actions(action.action())
                .set_certificates(certificate.map(|c| vec![c]))
                .set_ssl_policy(policy.map(str::to_owned))
                .send()
                .await
                .aws(format!("ModifyListener {name}"))?;
            ctx.report.updated("listener", &name, &drift.join(", "));
        }
        return Ok(arn);
    }
    let out = retry::after_create(&format!("CreateListener {name}"), || async {
        elb.create_listener()
            .load_balancer_arn(lb_arn)
            .port(port.number())
            .protocol(port.protocol())
            .default_actions(default.want.action())
            .set_certificates(certificate.clone().map(|c| vec![c]))
            .set_ssl_policy(policy.map(str::to_owned))
            .set_tags(Some(elb::tags(ctx, port.component())))
            .send()
            .await
            .aws(format!("CreateListener {name}"))
    })
    .await?;
    let arn = out
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .ok_or_else(|| missing(&format!("CreateListener {name}")))?
        .to_owned();
    ctx.report.created("listener", &name, &arn);
    Ok(arn)
}

/// Our test listeners among an ALB's listeners, by the service their tag names
/// (`listener-test-{service}`).
async fn test_listeners(
    elb: &Client,
    ctx: &Context,
    listeners: &[Listener],
) -> Result<BTreeMap<String, Listener>> {
    let candidates: Vec<&Listener> = listeners.iter().filter(|l| !is_production(l)).collect();
    if candidates.is_empty() {
        return Ok(BTreeMap::new());
    }
    let arns: Vec<String> = candidates
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_owned))
        .collect();
    let tags = elb::tags_of(elb, &arns).await?;
    Ok(candidates
        .into_iter()
        .filter_map(|l| {
            let t = tags.get(l.listener_arn()?).filter(|t| owned(ctx, t))?;
            let service = elb::component(t)?.strip_prefix(elb::TEST_LISTENER_PREFIX)?;
            Some((service.to_owned(), l.clone()))
        })
        .collect())
}

/// One HTTP test listener per blue/green service on its test port; those of
/// services no longer blue/green go first (they free their ports). Returns the
/// listener ARN of each service.
async fn ensure_test_listeners(
    elb: &Client,
    ctx: &Context,
    lb_arn: &str,
    plan: &Plan,
    tgs: &BTreeMap<String, AlbTargetGroup>,
    ports: &BTreeMap<String, u16>,
    existing: &BTreeMap<String, Listener>,
) -> Result<BTreeMap<String, String>> {
    for (service, l) in existing.iter().filter(|(s, _)| !ports.contains_key(*s)) {
        let name = ctx.name(&elb::test_listener_component(service));
        elb::delete_listener(elb, &name, l.listener_arn().unwrap_or_default()).await?;
        ctx.report.deleted("listener", &name);
    }
    let out = try_join_all(plan.blue_green().map(|s| async {
        let arn = ensure_test_listener(
            elb,
            ctx,
            lb_arn,
            existing.get(&s.name),
            &s.name,
            ports[&s.name],
            &tgs[&s.name],
        )
        .await?;
        Ok::<_, Error>((s.name.clone(), arn))
    }))
    .await?;
    Ok(out.into_iter().collect())
}

/// A new test listener forwards to the blue group; one CodeDeploy has moved to
/// the green group stays there.
async fn ensure_test_listener(
    elb: &Client,
    ctx: &Context,
    lb_arn: &str,
    existing: Option<&Listener>,
    service: &str,
    port: u16,
    tg: &AlbTargetGroup,
) -> Result<String> {
    let component = elb::test_listener_component(service);
    let name = ctx.name(&component);
    let forwarding = Forwarding::either(tg);
    if let Some(l) = existing {
        let arn = l.listener_arn().unwrap_or_default().to_owned();
        ctx.report.adopted("listener", &name, &arn);
        let mut drift = Vec::new();
        if l.port() != Some(i32::from(port)) {
            drift.push("port");
        }
        if l.protocol() != Some(&ProtocolEnum::Http) {
            drift.push("protocol");
        }
        let (action, changed) = forwarding.keep(DefaultAction::of(l.default_actions()));
        if changed {
            drift.push("default action");
        }
        if !drift.is_empty() {
            elb.modify_listener()
                .listener_arn(&arn)
                .port(i32::from(port))
                .protocol(ProtocolEnum::Http)
                .default_actions(action.action())
                .send()
                .await
                .aws(format!("ModifyListener {name}"))?;
            ctx.report.updated("listener", &name, &drift.join(", "));
        }
        return Ok(arn);
    }
    let out = retry::after_create(&format!("CreateListener {name}"), || async {
        elb.create_listener()
            .load_balancer_arn(lb_arn)
            .port(i32::from(port))
            .protocol(ProtocolEnum::Http)
            .default_actions(forwarding.want.action())
            .set_tags(Some(elb::tags(ctx, &component)))
            .send()
            .await
            .aws(format!("CreateListener {name}"))
    })
    .await?;
    let arn = out
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .ok_or_else(|| missing(&format!("CreateListener {name}")))?
        .to_owned();
    ctx.report
        .created("listener", &name, &format!("{arn} (port {port})"));
    Ok(arn)
}

/// A listener rule of ours: which service it routes, and how it stands.
#[derive(Debug, Clone)]
struct OurRule {
    service: String,
    arn: String,
    priority: Option<u32>,
    conditions: Option<Conditions>,
    target: Option<String>,
}

/// The rules of one listener: ours (by their `rule-{service}` tag) and the
/// priorities taken by anyone else's.
async fn listener_rules(
    elb: &Client,
    ctx: &Context,
    listener_arn: &str,
) -> Result<(Vec<OurRule>, BTreeSet<u32>)> {
    let rules: Vec<Rule> =
        retry::after_create(&format!("DescribeRules {listener_arn}"), || async {
            elb.describe_rules()
                .listener_arn(listener_arn)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws(format!("DescribeRules {listener_arn}"))
        })
        .await?;
    let rules: Vec<Rule> = rules
        .into_iter()
        .filter(|r| r.is_default() != Some(true))
        .collect();
    let arns: Vec<String> = rules
        .iter()
        .filter_map(|r| r.rule_arn().map(str::to_owned))
        .collect();
    let tags = elb::tags_of(elb, &arns).await?;
    let mut ours = Vec::new();
    let mut foreign = BTreeSet::new();
    for r in rules {
        let arn = r.rule_arn().unwrap_or_default().to_owned();
        let priority = r.priority().and_then(|p| p.parse::<u32>().ok());
        let service = tags
            .get(&arn)
            .filter(|t| owned(ctx, t))
            .and_then(|t| elb::component(t))
            .and_then(|c| c.strip_prefix("rule-"))
            .map(str::to_owned);
        match service {
            Some(service) => ours.push(OurRule {
                service,
                arn,
                priority,
                conditions: conditions_of(r.conditions()),
                target: DefaultAction::of(r.actions()).and_then(|a| match a {
                    DefaultAction::Forward(tg) => Some(tg),
                    _ => None,
                }),
            }),
            None => foreign.extend(priority),
        }
    }
    // Lowest priority first, so a duplicate left by an interrupted run is the one removed.
    ours.sort_by_key(|r| r.priority.unwrap_or(u32::MAX));
    Ok((ours, foreign))
}

/// Conditions as AWS holds them, in our terms; `None` if there is one we do not set.
fn conditions_of(conditions: &[RuleCondition]) -> Option<Conditions> {
    let mut c = Conditions::default();
    for rc in conditions {
        let values = |config: Option<&[String]>| {
            config
                .filter(|v| !v.is_empty())
                .unwrap_or(rc.values())
                .to_vec()
        };
        match rc.field()? {
            "path-pattern" => c
                .paths
                .extend(values(rc.path_pattern_config().map(|p| p.values()))),
            "host-header" => c
                .hosts
                .extend(values(rc.host_header_config().map(|h| h.values()))),
            "http-header" => {
                let h = rc.http_header_config()?;
                c.headers
                    .entry(h.http_header_name()?.to_owned())
                    .or_default()
                    .extend(h.values().iter().cloned());
            }
            _ => return None,
        }
    }
    Some(c.normalized())
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

/// One rule per ruled service on the serving listener, with stable priorities;
/// ours on the other listeners (HTTP once HTTPS serves) and of services no
/// longer routed are deleted.
async fn ensure_rules(
    elb: &Client,
    ctx: &Context,
    plan: &Plan,
    serving: &str,
    others: &[&str],
    tgs: &BTreeMap<String, AlbTargetGroup>,
) -> Result<BTreeMap<String, AlbRule>> {
    let (mut ours, foreign) = listener_rules(elb, ctx, serving).await?;
    let mut elsewhere = Vec::new();
    for other in others.iter().filter(|o| **o != serving) {
        elsewhere.extend(listener_rules(elb, ctx, other).await?.0);
    }
    let ruled: Vec<&Routed> = plan.ruled().collect();

    // A service keeps its priority, wherever its rule was.
    let mut remembered: BTreeMap<String, u32> = BTreeMap::new();
    for r in ours.iter().chain(&elsewhere) {
        if let Some(p) = r.priority {
            remembered.entry(r.service.clone()).or_insert(p);
        }
    }
    let wanted: Vec<(&str, Option<u32>)> = ruled
        .iter()
        .map(|s| (s.name.as_str(), s.priority))
        .collect();
    let priorities = spec::assign_priorities(&wanted, &remembered, &foreign)?;
    // A blue/green service's rule that CodeDeploy moved to the green group: a
    // rule made anew for it (on another listener) forwards there too.
    let mut live: BTreeMap<String, String> = BTreeMap::new();
    for r in ours.iter().chain(&elsewhere) {
        let green = tgs
            .get(&r.service)
            .and_then(|t| t.green.as_ref())
            .map(|g| g.arn.as_str());
        if let (Some(green), Some(target)) = (green, r.target.as_deref()) {
            if green == target {
                live.insert(r.service.clone(), green.to_owned());
            }
        }
    }

    // 1. Rules no longer wanted go first: they free priorities and target groups.
    let mut keep: BTreeMap<String, OurRule> = BTreeMap::new();
    let mut stale = Vec::new();
    for r in ours.drain(..) {
        if priorities.contains_key(&r.service) && !keep.contains_key(&r.service) {
            keep.insert(r.service.clone(), r);
        } else {
            stale.push(r);
        }
    }
    stale.extend(elsewhere);
    try_join_all(stale.iter().map(|r| delete_rule(elb, ctx, r))).await?;

    // 2. Kept rules whose priority must change move in one call.
    let moves: Vec<RulePriorityPair> = keep
        .values()
        .filter(|r| r.priority != Some(priorities[&r.service]))
        .map(|r| {
            RulePriorityPair::builder()
                .rule_arn(&r.arn)
                .priority(priorities[&r.service] as i32)
                .build()
        })
        .collect();
    if !moves.is_empty() {
        elb.set_rule_priorities()
            .set_rule_priorities(Some(moves))
            .send()
            .await
            .aws("SetRulePriorities")?;
        for r in keep.values() {
            let p = priorities[&r.service];
            if r.priority != Some(p) {
                let name = ctx.name(&elb::rule_component(&r.service));
                ctx.report
                    .updated("listener rule", &name, &format!("priority {p}"));
            }
        }
    }

    // 3. Kept rules whose match or target drifted are modified; new ones created.
    let out = try_join_all(ruled.iter().map(|s| {
        let existing = keep.get(&s.name);
        let priority = priorities[&s.name];
        let tg = &tgs[&s.name];
        let target = live.get(&s.name).unwrap_or(&tg.arn);
        async move {
            let arn = match existing {
                Some(r) => update_rule(elb, ctx, r, s, tg).await?,
                None => create_rule(elb, ctx, serving, s, priority, target).await?,
            };
            Ok::<_, Error>((s.name.clone(), AlbRule { arn, priority }))
        }
    }))
    .await?;
    Ok(out.into_iter().collect())
}

async fn create_rule(
    elb: &Client,
    ctx: &Context,
    listener_arn: &str,
    svc: &Routed,
    priority: u32,
    tg_arn: &str,
) -> Result<String> {
    let component = elb::rule_component(&svc.name);
    let name = ctx.name(&component);
    let out = retry::after_create(&format!("CreateRule {name}"), || async {
        elb.create_rule()
            .listener_arn(listener_arn)
            .priority(priority as i32)
            .set_conditions(Some(rule_conditions(&svc.conditions)))
            .actions(forward(tg_arn))
            .set_tags(Some(elb::tags(ctx, &component)))
            .send()
            .await
            .aws(format!("CreateRule {name}"))
    })
    .await?;
    let arn = out
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .ok_or_else(|| missing(&format!("CreateRule {name}")))?
        .to_owned();
    ctx.report
        .created("listener rule", &name, &format!("priority {priority}"));
    Ok(arn)
}

/// A rule forwards to the service's target group, or for a blue/green service
/// to either of its groups (the one CodeDeploy moved it to is kept).
async fn update_rule(
    elb: &Client,
    ctx: &Context,
    rule: &OurRule,
    svc: &Routed,
    tg: &AlbTargetGroup,
) -> Result<String> {
    let name = ctx.name(&elb::rule_component(&svc.name));
    ctx.report.adopted("listener rule", &name, &rule.arn);
    let want = svc.conditions.clone().normalized();
    let (target, retarget) = Forwarding::either(tg).keep(
        rule.target
            .as_ref()
            .map(|t| DefaultAction::Forward(t.clone())),
    );
    let mut drift = Vec::new();
    if rule.conditions.as_ref() != Some(&want) {
        drift.push("conditions");
    }
    if retarget {
        drift.push("target group");
    }
    if !drift.is_empty() {
        elb.modify_rule()
            .rule_arn(&rule.arn)
            .set_conditions(Some(rule_conditions(&svc.conditions)))
            .actions(target.action())
            .send()
            .await
            .aws(format!("ModifyRule {name}"))?;
        ctx.report
            .updated("listener rule", &name, &drift.join(", "));
    }
    Ok(rule.arn.clone())
}

async fn delete_rule(elb: &Client, ctx: &Context, rule: &OurRule) -> Result<()> {
    let name = ctx.name(&elb::rule_component(&rule.service));
    retry::delete(&format!("DeleteRule {name}"), || async {
        elb.delete_rule()
            .rule_arn(&rule.arn)
            .send()
            .await
            .map(|_| ())
            .aws(format!("DeleteRule {name}"))
    })
    .await?;
    ctx.report.deleted("listener rule", &name);
    Ok(())
}

/// The HTTPS listener of an earlier run with a certificate (its rules go with it).
async fn remove_https_listener(elb: &Client, ctx: &Context, listeners: &[Listener]) -> Result<()> {
    for l in listeners.iter().filter(|l| l.port() == Some(443)) {
        let name = ctx.name("listener-https");
        elb::delete_listener(elb, &name, l.listener_arn().unwrap_or_default()).await?;
        ctx.report.deleted("listener", &name);
    }
    Ok(())
}

/// Target groups of ours for services that are no longer routed (or green
/// groups of services no longer blue/green). One that an ECS service still
/// uses (svc-up runs after alb-up) is left with a warning: the next run, after
/// svc-up has let go of it, removes it.
async fn remove_unrouted_target_groups(
    elb: &Client,
    ctx: &Context,
    wanted: &BTreeMap<String, AlbTargetGroup>,
) -> Result<()> {
    let keep: BTreeSet<&str> = wanted
        .values()
        .flat_map(|t| {
            std::iter::once(t.arn.as_str()).chain(t.green.as_ref().map(|g| g.arn.as_str()))
        })
        .collect();
    for (tg, tags) in elb::owned_target_groups(elb, ctx).await? {
        let arn = tg.target_group_arn().unwrap_or_default();
        let is_service_tg = elb::component(&tags).is_some_and(|c| c.starts_with("tg-"));
        if keep.contains(arn) || !is_service_tg {
            continue;
        }
        let name = tg.target_group_name().unwrap_or(arn);
        match elb
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .aws(format!("DeleteTargetGroup {name}"))
        {
            Ok(_) => ctx.report.deleted("target group", name),
            Err(e) if retry::is_not_found(&e) => {}
            Err(e) if retry::is_dependency(&e) => tracing::warn!(
                "target group {name} is no longer routed but still in use (by an ECS service?): left for the next run"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
