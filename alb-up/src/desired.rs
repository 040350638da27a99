//! What alb-up wants to exist, from the checked spec and `.network` alone: no
//! AWS call, no state. Which rule priority and test port each service keeps
//! depends on what exists, so the plan works those out (`ports.rs`).

use std::collections::BTreeMap;

use common::sections::Network;
use common::spec::alb::{Conditions, HealthCheck, Plan as Routing};
use common::Context;

use crate::names;

pub const DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
pub const DELETION_PROTECTION: &str = "deletion_protection.enabled";
pub const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
pub const ACCESS_LOGS: &str = "access_logs.s3.enabled";
pub const ACCESS_LOGS_BUCKET: &str = "access_logs.s3.bucket";
pub const ACCESS_LOGS_PREFIX: &str = "access_logs.s3.prefix";
pub const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// The layer as the spec asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub vpc_id: String,
    pub vpc_cidr: String,
    pub lb: WantLb,
    /// Who may reach 80 (and 443).
    pub ingress: Vec<String>,
    /// Who may reach the test listeners: the spec's CIDRs, else the VPC's own.
    pub test_ingress: Vec<String>,
    pub tls: Option<Tls>,
    /// Every target group: a routed service's, and a blue/green one's green twin.
    pub tgs: Vec<WantTg>,
    /// The routed services with a rule (conditions), in name order.
    pub ruled: Vec<WantRule>,
    /// Blue/green services and the test port the spec gives them, in name order.
    pub blue_green: Vec<(String, Option<u16>)>,
    pub default_service: Option<String>,
    /// The lowest and highest service port: the ALB's egress into the VPC.
    pub egress: Option<(u16, u16)>,
}

/// HTTPS: the certificate and the TLS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub certificate: String,
    pub policy: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WantLb {
    pub name: String,
    pub internal: bool,
    pub subnets: Vec<String>,
    /// The attributes alb-up sets, by key; every other attribute is AWS's default.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WantTg {
    pub service: String,
    pub vpc_id: String,
    pub green: bool,
    pub component: String,
    pub name: String,
    pub port: u16,
    pub health: HealthCheck,
    pub deregistration_delay: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WantRule {
    pub service: String,
    /// Sorted (`Conditions::normalized`), as they are compared and sent.
    pub conditions: Conditions,
    pub priority: Option<u32>,
}

impl Desired {
    /// The blue (or only) target group of a service.
    pub fn tg(&self, service: &str, green: bool) -> Option<&WantTg> {
        self.tgs
            .iter()
            .find(|t| t.service == service && t.green == green)
    }
}

/// The desired state for this stack and env; `logs_bucket` is the access-log
/// bucket when the spec turns the logs on.
pub fn build(
    ctx: &Context,
    routing: &Routing,
    network: &Network,
    logs_bucket: Option<&str>,
) -> Desired {
    let subnets = if routing.internal {
        network.private_subnet_ids.clone()
    } else {
        network.public_subnet_ids.clone()
    };
    let mut attributes = BTreeMap::from([
        (DROP_INVALID_HEADERS.to_owned(), "true".to_owned()),
        (
            DELETION_PROTECTION.to_owned(),
            routing.deletion_protection.to_string(),
        ),
        (IDLE_TIMEOUT.to_owned(), routing.idle_timeout.to_string()),
        (ACCESS_LOGS.to_owned(), logs_bucket.is_some().to_string()),
    ]);
    if let Some(bucket) = logs_bucket {
        // Off, AWS keeps (and reports) the last bucket: only `enabled` is compared then.
        attributes.insert(ACCESS_LOGS_BUCKET.to_owned(), bucket.to_owned());
        attributes.insert(
            ACCESS_LOGS_PREFIX.to_owned(),
            crate::access_logs::PREFIX.to_owned(),
        );
    }
    let mut tgs = Vec::new();
    for s in &routing.services {
        for green in [false, true] {
            if green && s.blue_green.is_none() {
                continue;
            }
            let component = names::tg_component(&s.name, green);
            tgs.push(WantTg {
                service: s.name.clone(),
                vpc_id: network.vpc_id.clone(),
                green,
                name: names::tg_name(ctx, &component),
                component,
                port: s.port,
                health: s.health.clone(),
                deregistration_delay: s.deregistration_delay,
            });
        }
    }
    Desired {
        vpc_id: network.vpc_id.clone(),
        vpc_cidr: network.cidr.clone(),
        lb: WantLb {
            name: names::lb_name(ctx),
            internal: routing.internal,
            subnets,
            attributes,
        },
        ingress: routing.ingress.iter().map(ToString::to_string).collect(),
        test_ingress: if routing.test_ingress.is_empty() {
            vec![network.cidr.clone()]
        } else {
            routing
                .test_ingress
                .iter()
                .map(ToString::to_string)
                .collect()
        },
        tls: routing.certificate_arn.as_ref().map(|c| Tls {
            certificate: c.clone(),
            policy: routing.ssl_policy.clone(),
        }),
        tgs,
        ruled: routing
            .ruled()
            .map(|s| WantRule {
                service: s.name.clone(),
                conditions: s.conditions.clone().normalized(),
                priority: s.priority,
            })
            .collect(),
        blue_green: routing
            .blue_green()
            .map(|s| (s.name.clone(), s.blue_green.and_then(|b| b.test_port)))
            .collect(),
        default_service: routing.default_service.clone(),
        egress: routing.port_range(),
    }
}
