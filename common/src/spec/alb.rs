//! `spec.alb` and the routing fields of `spec.services` (alb-up's input), and
//! the routing plan they resolve to, which is also how they are checked: a route
//! to an unknown service, a duplicate path, two defaults, a bad CIDR or health
//! check is a one-line spec error, not a half-built load balancer.
//!
//! What depends on AWS's state (which rule priority and test port each service
//! keeps) is alb-up's own.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::deployment;
use super::services::{check_port, ServiceSpec, ServicesSpec};
use crate::cidr::{self, Ipv4Net};
use crate::error::shown;
use crate::{Error, Result};

pub const DEFAULT_INGRESS: &str = "0.0.0.0/0";
/// TLS 1.3 with TLS 1.2 fallback: AWS's recommended policy.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
pub const DEFAULT_IDLE_TIMEOUT: u32 = 60;
/// Seconds a draining target keeps its connections. AWS's default is 300, which
/// makes every ECS rolling deploy wait five minutes per task; 30 suits HTTP services.
pub const DEFAULT_DEREGISTRATION_DELAY: u32 = 30;
/// AWS: at most five condition values (paths, hosts, header values) per rule.
pub const MAX_CONDITION_VALUES: usize = 5;
/// Listener rule priorities AWS accepts.
pub const PRIORITIES: std::ops::RangeInclusive<u32> = 1..=50_000;

/// `spec.alb`. Unknown fields are an error: a typo must not build the wrong load balancer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlbSpec {
    /// Who may reach ports 80/443 [default: 0.0.0.0/0].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_cidrs: Option<Vec<String>>,
    /// An ACM (or IAM) certificate: adds HTTPS on 443 and makes HTTP redirect to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Seconds, 1 to 4000 [default 60]. Signed, so `-1` gets our message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<i64>,
    /// [default: on when env is "prod"].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// An internal ALB in the private subnets [default false: internet-facing, public subnets].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
    /// The service the listener forwards to when no rule matches (same as `route.default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_service: Option<String>,
    /// Who may reach the blue/green test listeners from outside the VPC
    /// [default: nobody; from inside the VPC only].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_ingress_cidrs: Option<Vec<String>>,
    /// Access logs to an S3 bucket alb-up makes and owns (FSBP ELB.5) [default: off].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<AccessLogsSpec>,
}

/// `spec.alb.access_logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogsSpec {
    /// [default true: writing the object turns the logs on]
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Days the bucket keeps a log file, 1 to 3650 [default 90].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i64>,
}

fn yes() -> bool {
    true
}

/// How long the access-log bucket keeps a file when the spec says nothing.
pub const DEFAULT_ACCESS_LOG_DAYS: u32 = 90;

/// `spec.services.<name>.route`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteSpec {
    pub paths: Vec<String>,
    pub hosts: Vec<String>,
    /// Header name to the values any of which matches.
    pub headers: BTreeMap<String, Vec<String>>,
    /// An explicit rule priority (1..=50000); otherwise one is picked and kept.
    pub priority: Option<i64>,
    /// The listener's default action forwards here.
    pub default: bool,
}

/// `spec.services.<name>.health_check`: the target group's health check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckSpec {
    pub path: Option<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub healthy: Option<i64>,
    pub unhealthy: Option<i64>,
    pub matcher: Option<String>,
}

/// A target group health check, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: String,
    pub interval: i32,
    pub timeout: i32,
    pub healthy: i32,
    pub unhealthy: i32,
    pub matcher: String,
}

/// A rule's match: all conditions must hold; within one, any value.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conditions {
    pub paths: Vec<String>,
    pub hosts: Vec<String>,
    pub headers: BTreeMap<String, Vec<String>>,
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.hosts.is_empty() && self.headers.is_empty()
    }

    fn value_count(&self) -> usize {
        self.paths.len() + self.hosts.len() + self.headers.values().map(Vec::len).sum::<usize>()
    }

    /// Sorted, for comparing with what AWS holds.
    pub fn normalized(mut self) -> Self {
        self.paths.sort();
        self.hosts.sort();
        self.hosts.iter_mut().for_each(|h| h.make_ascii_lowercase());
        self.headers = self
            .headers
            .into_iter()
            .map(|(k, mut v)| {
                v.sort();
                (k.to_ascii_lowercase(), v)
            })
            .collect();
        self
    }
}

/// One service behind the ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub name: String,
    pub port: u16,
    pub health: HealthCheck,
    pub deregistration_delay: u32,
    /// Empty for a default service without paths: it gets no rule.
    pub conditions: Conditions,
    pub priority: Option<u32>,
    /// Deployed blue/green through CodeDeploy: a second (green) target group and
    /// a test listener.
    pub blue_green: Option<BlueGreen>,
}

/// What a blue/green service needs from the ALB besides its (blue) target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlueGreen {
    /// The test listener's port when the spec names one; otherwise one is picked and kept.
    pub test_port: Option<u16>,
}

/// What the spec resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ingress: Vec<Ipv4Net>,
    /// Who may reach the test listeners besides the VPC itself (empty: the VPC only).
    pub test_ingress: Vec<Ipv4Net>,
    pub certificate_arn: Option<String>,
    pub ssl_policy: String,
    pub idle_timeout: u32,
    pub deletion_protection: bool,
    pub internal: bool,
    /// Days the access-log bucket keeps a file; `None`: no access logs.
    pub access_log_days: Option<u32>,
    /// Sorted by name.
    pub services: Vec<Routed>,
    pub default_service: Option<String>,
}

impl Plan {
    /// The routed services that need a listener rule.
    pub fn ruled(&self) -> impl Iterator<Item = &Routed> {
        self.services.iter().filter(|s| !s.conditions.is_empty())
    }

    /// The blue/green services, in name order.
    pub fn blue_green(&self) -> impl Iterator<Item = &Routed> {
        self.services.iter().filter(|s| s.blue_green.is_some())
    }

    /// The lowest and highest port of the routed services (the ALB's egress).
    pub fn port_range(&self) -> Option<(u16, u16)> {
        let ports = self.services.iter().map(|s| s.port);
        Some((ports.clone().min()?, ports.max()?))
    }
}

/// Every routing rule. Whether the env is protected only picks deletion
/// protection's default, which no rule depends on.
pub fn check(alb: &AlbSpec, services: &ServicesSpec) -> Result<()> {
    plan(alb, services, false).map(drop)
}

/// The routing plan for an env, checked; `protected` (`spec.protected`) turns
/// deletion protection on unless the spec says otherwise.
pub fn plan(alb: &AlbSpec, services: &ServicesSpec, protected: bool) -> Result<Plan> {
    let ingress = ingress(alb)?;
    let test_ingress = cidrs(
        "spec.alb.test_ingress_cidrs",
        alb.test_ingress_cidrs.as_deref().unwrap_or_default(),
    )?;
    if let Some(arn) = &alb.certificate_arn {
        if !arn.starts_with("arn:") || !(arn.contains(":acm:") || arn.contains(":iam:")) {
            return Err(Error::spec(format!(
                "spec.alb.certificate_arn: invalid certificate ARN '{}': expected arn:aws:acm:REGION:ACCOUNT:certificate/ID",
                shown(arn)
            )));
        }
    }
    let idle_timeout = alb.idle_timeout.unwrap_or(i64::from(DEFAULT_IDLE_TIMEOUT));
    if !(1..=4000).contains(&idle_timeout) {
        return Err(Error::spec(format!(
            "spec.alb.idle_timeout: invalid idle timeout {idle_timeout}: AWS allows 1 to 4000 seconds"
        )));
    }
    let access_log_days = access_log_days(alb)?;
    check_default_service(alb, services)?;
    let (routed, default_service) = routed_services(alb, services)?;
    Ok(Plan {
        ingress,
        test_ingress,
        certificate_arn: alb.certificate_arn.clone(),
        ssl_policy: alb
            .ssl_policy
            .clone()
            .unwrap_or_else(|| DEFAULT_SSL_POLICY.to_owned()),
        idle_timeout: idle_timeout as u32,
        deletion_protection: alb.deletion_protection.unwrap_or(protected),
        internal: alb.internal.unwrap_or(false),
        access_log_days,
        services: routed,
        default_service,
    })
}

fn access_log_days(alb: &AlbSpec) -> Result<Option<u32>> {
    let Some(logs) = alb.access_logs.as_ref().filter(|l| l.enabled) else {
        return Ok(None);
    };
    let days = logs
        .retention_days
        .unwrap_or(i64::from(DEFAULT_ACCESS_LOG_DAYS));
    if !(1..=3650).contains(&days) {
        return Err(Error::spec(format!(
            "spec.alb.access_logs.retention_days: {days} is not 1 to 3650 days"
        )));
    }
    Ok(Some(days as u32))
}

fn ingress(alb: &AlbSpec) -> Result<Vec<Ipv4Net>> {
    let given = alb
        .ingress_cidrs
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_INGRESS.to_owned()]);
    let ingress = cidrs("spec.alb.ingress_cidrs", &given)?;
    if ingress.is_empty() {
        return Err(Error::spec(
            "spec.alb.ingress_cidrs is empty: nobody could reach the load balancer",
        ));
    }
    Ok(ingress)
}

/// Each CIDR of a list, parsed; an error names the entry's path.
fn cidrs(path: &str, given: &[String]) -> Result<Vec<Ipv4Net>> {
    given
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cidr::parse("an ingress rule", c).map_err(|e| super::within(&format!("{path}[{i}]"), e))
        })
        .collect()
}

fn check_default_service(alb: &AlbSpec, services: &ServicesSpec) -> Result<()> {
    let Some(d) = &alb.default_service else {
        return Ok(());
    };
    if services.contains_key(d) {
        return Ok(());
    }
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    Err(Error::spec(format!(
        "spec.alb.default_service routes to unknown service '{}' (spec.services has: {})",
        shown(d),
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// The services behind the ALB, checked one by one and together; and the default.
fn routed_services(
    alb: &AlbSpec,
    services: &ServicesSpec,
) -> Result<(Vec<Routed>, Option<String>)> {
    let mut routed = Vec::new();
    let mut defaults: Vec<String> = alb.default_service.iter().cloned().collect();
    for (name, s) in services {
        let is_default = alb.default_service.as_deref() == Some(name.as_str());
        let at = format!("spec.services.{}", shown(name));
        let blue_green =
            deployment::blue_green(&format!("{at}.deployment"), s.deployment.as_ref())?.map(|b| {
                BlueGreen {
                    test_port: b.test_port,
                }
            });
        let route = match (&s.route, is_default) {
            (Some(r), _) => r.clone(),
            // Named as the default service: routed even without a route object.
            (None, true) => RouteSpec::default(),
            (None, false) if blue_green.is_some() => {
                return Err(Error::spec(format!(
                    "{at}: a blue/green deployment needs the service behind the ALB: \
                     give it a route (or make it the default service), or deploy it \"rolling\""
                )))
            }
            (None, false) => continue,
        };
        if route.default && !is_default {
            defaults.push(name.clone());
        }
        let mut service = routed_service(&at, name, s, &route, route.default || is_default)?;
        service.blue_green = blue_green;
        routed.push(service);
    }
    if defaults.len() > 1 {
        return Err(Error::spec(format!(
            "more than one default service ({}): only one can take the requests no rule matches",
            defaults.join(", ")
        )));
    }
    check_priorities(&routed)?;
    check_duplicates(&routed)?;
    check_blue_green(&routed, services)?;
    Ok((routed, defaults.pop()))
}

fn routed_service(
    at: &str,
    name: &str,
    s: &ServiceSpec,
    route: &RouteSpec,
    is_default: bool,
) -> Result<Routed> {
    let port = match s.port {
        Some(p) => check_port(&format!("{at}.port"), p)?,
        None => {
            return Err(Error::spec(format!(
                "{at} has a route but no port: the target group needs the container port"
            )))
        }
    };
    let conditions = Conditions {
        paths: route.paths.clone(),
        hosts: route.hosts.clone(),
        headers: route.headers.clone(),
    };
    check_conditions(at, &conditions, is_default)?;
    let priority = match route.priority {
        None => None,
        Some(p) if p >= 1 && p <= i64::from(*PRIORITIES.end()) => Some(p as u32),
        Some(p) => {
            return Err(Error::spec(format!(
                "{at}.route.priority {p} is out of range: AWS allows 1 to 50000"
            )))
        }
    };
    if priority.is_some() && conditions.is_empty() {
        return Err(Error::spec(format!(
            "{at}.route.priority is set but the route has no condition, so no rule"
        )));
    }
    let delay = s
        .deregistration_delay
        .unwrap_or(i64::from(DEFAULT_DEREGISTRATION_DELAY));
    if !(0..=3600).contains(&delay) {
        return Err(Error::spec(format!(
            "{at}.deregistration_delay {delay} is out of range: 0 to 3600 seconds"
        )));
    }
    Ok(Routed {
        name: name.to_owned(),
        port,
        health: health_check(at, s.health_check.as_ref())?,
        deregistration_delay: delay as u32,
        conditions,
        priority,
        blue_green: None,
    })
}

fn check_conditions(at: &str, conditions: &Conditions, is_default: bool) -> Result<()> {
    if conditions.is_empty() && !is_default {
        return Err(Error::spec(format!(
            "{at}.route has no condition: give paths, hosts or headers (or \"default\": true)"
        )));
    }
    if conditions.value_count() > MAX_CONDITION_VALUES {
        return Err(Error::spec(format!(
            "{at}.route has {} condition values: AWS allows {MAX_CONDITION_VALUES} per rule",
            conditions.value_count()
        )));
    }
    if let Some(p) = conditions
        .paths
        .iter()
        .find(|p| !p.starts_with('/') || p.len() > 128)
    {
        return Err(Error::spec(format!(
            "{at}.route path '{}' must start with '/' and be at most 128 characters",
            shown(p)
        )));
    }
    if let Some(h) = conditions
        .hosts
        .iter()
        .find(|h| h.is_empty() || h.len() > 128 || h.contains('/') || h.contains(' '))
    {
        return Err(Error::spec(format!(
            "{at}.route host '{}' is not a host name",
            shown(h)
        )));
    }
    if let Some((header, _)) = conditions
        .headers
        .iter()
        .find(|(h, v)| h.is_empty() || h.len() > 40 || v.is_empty())
    {
        return Err(Error::spec(format!(
            "{at}.route header '{}' needs a name of 1-40 characters and at least one value",
            shown(header)
        )));
    }
    Ok(())
}

/// Explicit test ports are unique, and a green target group's name
/// (`tg-{service}-green`) is no other service's target group.
fn check_blue_green(routed: &[Routed], services: &ServicesSpec) -> Result<()> {
    let mut ports: BTreeMap<u16, &str> = BTreeMap::new();
    for s in routed {
        let Some(bg) = s.blue_green else { continue };
        if let Some(p) = bg.test_port {
            if let Some(other) = ports.insert(p, &s.name) {
                return Err(Error::spec(format!(
                    "test_port {p} is given to both {other} and {}: each blue/green service needs its own test listener",
                    s.name
                )));
            }
        }
        let green = green_service(&s.name);
        if services.contains_key(&green) {
            return Err(Error::spec(format!(
                "spec.services.{green} would share its target group name with {}'s green target group: rename one of them",
                s.name
            )));
        }
    }
    Ok(())
}

/// The name a blue/green service's green target group is built from, as if it
/// were a service of its own: `{service}-green`.
pub fn green_service(service: &str) -> String {
    format!("{service}-green")
}

fn health_check(at: &str, spec: Option<&HealthCheckSpec>) -> Result<HealthCheck> {
    let spec = spec.cloned().unwrap_or_default();
    let path = spec.path.unwrap_or_else(|| "/".to_owned());
    if !path.starts_with('/') || path.len() > 1024 {
        return Err(Error::spec(format!(
            "{at}.health_check.path '{}' must start with '/'",
            shown(&path)
        )));
    }
    let field = |what: &str, value: Option<i64>, default: i64, range: (i64, i64)| {
        let v = value.unwrap_or(default);
        if v < range.0 || v > range.1 {
            Err(Error::spec(format!(
                "{at}.health_check.{what} {v} is out of range: AWS allows {} to {}",
                range.0, range.1
            )))
        } else {
            Ok(v as i32)
        }
    };
    let interval = field("interval", spec.interval, 30, (5, 300))?;
    let timeout = field("timeout", spec.timeout, 5, (2, 120))?;
    let healthy = field("healthy", spec.healthy, 2, (2, 10))?;
    let unhealthy = field("unhealthy", spec.unhealthy, 3, (2, 10))?;
    if timeout >= interval {
        return Err(Error::spec(format!(
            "{at}.health_check.timeout {timeout} must be shorter than the interval {interval}"
        )));
    }
    let matcher = spec.matcher.unwrap_or_else(|| "200-399".to_owned());
    if !valid_matcher(&matcher) {
        return Err(Error::spec(format!(
            "{at}.health_check.matcher '{}' is not like 200, 200-399 or 200,204 (codes 200 to 499)",
            shown(&matcher)
        )));
    }
    Ok(HealthCheck {
        path,
        interval,
        timeout,
        healthy,
        unhealthy,
        matcher,
    })
}

/// `200`, `200-399`, `200,204`: codes 200 to 499.
fn valid_matcher(matcher: &str) -> bool {
    let valid_code = |c: &str| {
        let codes: Vec<&str> = c.split('-').collect();
        codes.len() <= 2
            && codes.iter().all(|n| {
                n.len() == 3
                    && n.chars().all(|c| c.is_ascii_digit())
                    && (200..=499).contains(&n.parse::<u16>().unwrap_or(0))
            })
    };
    !matcher.is_empty() && matcher.split(',').all(valid_code)
}

fn check_priorities(routed: &[Routed]) -> Result<()> {
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for s in routed {
        if let Some(p) = s.priority {
            if let Some(other) = seen.insert(p, &s.name) {
                return Err(Error::spec(format!(
                    "rule priority {p} is given to both {other} and {}: priorities must be unique",
                    s.name
                )));
            }
        }
    }
    Ok(())
}

/// Two rules with the same hosts and headers and a common path pattern would
/// race on priority: the second could never match.
fn check_duplicates(routed: &[Routed]) -> Result<()> {
    for (i, a) in routed.iter().enumerate() {
        for b in &routed[i + 1..] {
            if a.conditions.is_empty() || b.conditions.is_empty() {
                continue;
            }
            let (ca, cb) = (
                a.conditions.clone().normalized(),
                b.conditions.clone().normalized(),
            );
            if ca.hosts != cb.hosts || ca.headers != cb.headers {
                continue;
            }
            let pa: BTreeSet<&String> = ca.paths.iter().collect();
            if let Some(p) = cb.paths.iter().find(|p| pa.contains(p)) {
                return Err(Error::spec(format!(
                    "duplicate path '{}': routed to both {} and {}",
                    shown(p),
                    a.name,
                    b.name
                )));
            }
            if ca.paths.is_empty() && cb.paths.is_empty() {
                return Err(Error::spec(format!(
                    "duplicate route: {} and {} match the same hosts and headers",
                    a.name, b.name
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn services(v: Value) -> ServicesSpec {
        super::super::read("spec.services", &v).unwrap()
    }

    fn seed_001() -> ServicesSpec {
        services(json!({
            "frontend": {"port": 3000, "cpu": 512, "memory": 1024, "route": {"default": true}, "health_check": {"path": "/"}},
            "api-gateway": {"port": 8080, "image": "x", "route": {"paths": ["/api/*"]}, "health_check": {"path": "/health"}},
            "processing": {"port": 9000}
        }))
    }

    fn err(alb: &AlbSpec, s: Value) -> String {
        plan(alb, &services(s), false).unwrap_err().to_string()
    }

    #[test]
    fn seed_001_routes_two_services_and_defaults_to_the_frontend() {
        let p = plan(&AlbSpec::default(), &seed_001(), false).unwrap();
        let names: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api-gateway", "frontend"]);
        assert_eq!(p.default_service.as_deref(), Some("frontend"));
        assert_eq!(p.ruled().count(), 1);
        assert_eq!(p.port_range(), Some((3000, 8080)));
        let api = &p.services[0];
        assert_eq!(api.health.path, "/health");
        assert_eq!(
            (
                api.health.healthy,
                api.health.unhealthy,
                api.health.interval
            ),
            (2, 3, 30)
        );
        assert!(!p.deletion_protection);
        assert!(
            plan(&AlbSpec::default(), &seed_001(), true)
                .unwrap()
                .deletion_protection
        );
    }

    #[test]
    fn bad_routes_are_refused() {
        let a = AlbSpec::default();
        assert!(err(&a, json!({"a": {"port": 1, "route": {"paths": ["/x"]}}, "b": {"port": 2, "route": {"paths": ["/x"]}}})).contains("duplicate path"));
        // The same path on different hosts is fine.
        assert!(plan(&a, &services(json!({"a": {"port": 1, "route": {"paths": ["/x"], "hosts": ["a.example.com"]}}, "b": {"port": 2, "route": {"paths": ["/x"]}}})), false).is_ok());
        assert!(err(&a, json!({"a": {"port": 1, "route": {}}})).contains("no condition"));
        assert!(err(&a, json!({"a": {"port": 1, "route": {"default": true}}, "b": {"port": 2, "route": {"default": true}}})).contains("more than one default"));
        assert!(err(&a, json!({"a": {"route": {"paths": ["/a"]}}})).contains("no port"));
        assert_eq!(
            err(&a, json!({"a": {"port": 0, "route": {"paths": ["/a"]}}})),
            "spec.services.a.port: port 0 is not a port (1 to 65535)"
        );
        assert!(err(&a, json!({"a": {"port": 1, "route": {"paths": ["/a"]}, "health_check": {"path": "health"}}})).contains("spec.services.a.health_check.path 'health' must start with '/'"));
        assert!(err(&a, json!({"a": {"port": 1, "route": {"paths": ["/a","/b","/c"], "hosts": ["h"], "headers": {"x": ["1","2"]}}}})).contains("condition values"));
        assert!(err(
            &a,
            json!({"a": {"port": 1, "route": {"paths": ["/a"], "priority": 0}}})
        )
        .contains("out of range"));
        assert!(err(&a, json!({"a": {"port": 1, "route": {"paths": ["/a"], "priority": 5}}, "b": {"port": 1, "route": {"paths": ["/b"], "priority": 5}}})).contains("priority 5"));
        let unknown = AlbSpec {
            default_service: Some("web".into()),
            ..Default::default()
        };
        assert!(err(&unknown, json!({"a": {"port": 1}})).contains("unknown service 'web'"));
        let cidr = AlbSpec {
            ingress_cidrs: Some(vec!["10.0.0.0/8".into(), "10.0.0.1/8".into()]),
            ..Default::default()
        };
        let e = err(&cidr, json!({}));
        assert!(
            e.starts_with("spec.alb.ingress_cidrs[1]: ") && e.contains("10.0.0.1/8"),
            "{e}"
        );
    }

    #[test]
    fn a_typo_in_a_route_is_named_with_its_path() {
        let e = super::super::read::<ServicesSpec>(
            "spec.services",
            &json!({"a": {"port": 1, "route": {"path": ["/a"]}}}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "spec.services.a.route.path: unknown key; did you mean paths?"
        );
    }

    #[test]
    fn blue_green_services_are_routed_with_valid_distinct_test_ports() {
        let a = AlbSpec::default();
        let p = plan(
            &a,
            &services(json!({
                "pay": {"port": 8080, "route": {"default": true}, "deployment": "blue-green"},
                "api": {"port": 9000, "route": {"paths": ["/api/*"]},
                        "deployment": {"type": "blue-green", "test_port": 9443, "traffic": "canary-10-5"}},
                "web": {"port": 3000, "route": {"paths": ["/web/*"]}, "deployment": "rolling"}
            })),
            false,
        )
        .unwrap();
        let bg: Vec<(&str, Option<u16>)> = p
            .blue_green()
            .map(|s| (s.name.as_str(), s.blue_green.unwrap().test_port))
            .collect();
        assert_eq!(bg, [("api", Some(9443)), ("pay", None)]);
        assert!(
            err(&a, json!({"w": {"port": 1, "deployment": "blue-green"}}))
                .contains("needs the service behind the ALB")
        );
        // The ALB's default service counts as routed.
        let default_web = AlbSpec {
            default_service: Some("w".into()),
            ..AlbSpec::default()
        };
        assert!(plan(
            &default_web,
            &services(json!({"w": {"port": 1, "deployment": "blue-green"}})),
            false
        )
        .is_ok());
        assert!(err(&a, json!({
            "a": {"port": 1, "route": {"paths": ["/a"]}, "deployment": {"type": "blue-green", "test_port": 9000}},
            "b": {"port": 2, "route": {"paths": ["/b"]}, "deployment": {"type": "blue-green", "test_port": 9000}}
        }))
        .contains("test_port 9000 is given to both a and b"));
        for bad in [json!(80), json!(443), json!(0), json!(70000)] {
            let e = err(
                &a,
                json!({"a": {"port": 1, "route": {"paths": ["/a"]}, "deployment": {"type": "blue-green", "test_port": bad}}}),
            );
            assert!(e.contains("not a test listener port"), "{e}");
        }
        assert!(err(
            &a,
            json!({
                "a": {"port": 1, "route": {"paths": ["/a"]}, "deployment": "blue-green"},
                "a-green": {"port": 2, "route": {"paths": ["/b"]}}
            })
        )
        .contains("green target group"));
    }
}
