//! Listeners: HTTP on 80 (a redirect to HTTPS whenever a certificate is set),
//! HTTPS on 443 with the certificate and TLS policy, and a test listener per
//! blue/green service on its test port (HTTPS too with a certificate). Port,
//! protocol, certificate, TLS policy and default action are updated in place.
//!
//! Blue/green: CodeDeploy moves a production listener (or the service's rule)
//! and the test listener from the blue target group to the green one at each
//! deployment, and back at the next. Forwarding to either is converged, and a
//! listener or rule made anew forwards to the group that is live (`Live`), so
//! nothing here ever moves traffic back to tasks CodeDeploy retired.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ProtocolEnum, RedirectActionStatusCodeEnum,
};
use serde_json::json;

use common::{Context, Error, Result};

use super::LISTENER;
use super::{by_component, delete, duplicates, shown, update, Forward, Key, Op, Prune, Ref};
use crate::desired::{Desired, Tls};
use crate::discover::{Actual, FoundListener, FoundRule};
use crate::names;
use crate::ports::assign_test_ports;

/// The listeners the plan leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct Listeners {
    pub http: Ref,
    pub https: Option<Ref>,
    pub test_ports: BTreeMap<String, u16>,
    /// Each blue/green service's test listener.
    pub tests: BTreeMap<String, Ref>,
}

impl Listeners {
    /// The listener that serves the rules: HTTPS when there is one.
    pub fn serving(&self) -> &Ref {
        self.https.as_ref().unwrap_or(&self.http)
    }
}

/// What an action AWS holds amounts to, in alb-up's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Forward(String),
    RedirectToHttps,
    NotFound,
    Other,
}

impl Seen {
    pub fn of(actions: &[Action]) -> Seen {
        let [a] = actions else { return Seen::Other };
        match a.r#type() {
            Some(ActionTypeEnum::Forward) => forward_target(a).map_or(Seen::Other, Seen::Forward),
            Some(ActionTypeEnum::Redirect) => match a.redirect_config() {
                Some(r)
                    if r.protocol() == Some("HTTPS")
                        && r.port() == Some("443")
                        && r.status_code() == Some(&RedirectActionStatusCodeEnum::Http301) =>
                {
                    Seen::RedirectToHttps
                }
                _ => Seen::Other,
            },
            Some(ActionTypeEnum::FixedResponse) => match a.fixed_response_config() {
                Some(f) if f.status_code() == Some("404") => Seen::NotFound,
                _ => Seen::Other,
            },
            _ => Seen::Other,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Seen::Forward(arn) => format!("forward {arn}"),
            Seen::RedirectToHttps => "redirect to HTTPS".to_owned(),
            Seen::NotFound => "fixed 404".to_owned(),
            Seen::Other => "something else".to_owned(),
        }
    }
}

/// The one target group a forward action sends to (either form AWS answers with).
pub fn forward_target(a: &Action) -> Option<String> {
    if let Some(arn) = a.target_group_arn() {
        return Some(arn.to_owned());
    }
    match a.forward_config()?.target_groups() {
        [one] => one.target_group_arn().map(str::to_owned),
        _ => None,
    }
}

pub fn text(f: &Forward) -> String {
    match f {
        Forward::To(r) => format!("forward {}", shown(r)),
        Forward::RedirectToHttps => "redirect to HTTPS".to_owned(),
        Forward::NotFound => "fixed 404".to_owned(),
    }
}

/// Which of a blue/green service's two groups takes production traffic now.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The services whose green group is live.
    green: BTreeSet<String>,
    /// Each routed service's (blue, green) target group ids, when they exist.
    arns: BTreeMap<String, (Option<String>, Option<String>)>,
    refs: BTreeMap<String, (Ref, Option<Ref>)>,
}

impl Live {
    pub fn read(ctx: &Context, want: &Desired, have: &Actual, tgs: &BTreeMap<String, Ref>) -> Live {
        let mut live = Live::default();
        for t in want.tgs.iter().filter(|t| !t.green) {
            let blue = tgs[&t.component].clone();
            let green = want.tg(&t.service, true).map(|g| tgs[&g.component].clone());
            let ids = (
                blue.have().map(str::to_owned),
                green.as_ref().and_then(|g| g.have().map(str::to_owned)),
            );
            live.arns.insert(t.service.clone(), ids);
            live.refs.insert(t.service.clone(), (blue, green));
        }
        let forwards = production_forwards(ctx, have);
        for (service, (_, green)) in &live.arns {
            let Some(green) = green else { continue };
            let rule = names::rule_component(service);
            let to_green = forwards.iter().any(|(component, arn)| {
                arn == green && (component.starts_with("listener-") || *component == rule)
            });
            if to_green {
                live.green.insert(service.clone());
            }
        }
        live
    }

    /// The group a new listener or rule of `service` forwards to.
    pub fn target(&self, service: &str) -> Ref {
        let (blue, green) = &self.refs[service];
        match green {
            Some(g) if self.green.contains(service) => g.clone(),
            _ => blue.clone(),
        }
    }

    /// Whether forwarding to `arn` is converged for `service`: its only group,
    /// or either group of a blue/green service.
    pub fn accepts(&self, service: &str, arn: &str) -> bool {
        self.arns
            .get(service)
            .is_some_and(|(b, g)| b.as_deref() == Some(arn) || g.as_deref() == Some(arn))
    }
}

/// (component, target group) of each forward of our production listeners and rules.
fn production_forwards(ctx: &Context, have: &Actual) -> Vec<(String, String)> {
    let listeners = have.listeners.iter().filter_map(|l| {
        let c = names::our_component(ctx, &l.tags)?;
        let production = c == names::HTTP || c == names::HTTPS;
        match Seen::of(l.listener.default_actions()) {
            Seen::Forward(arn) if production => Some((c.to_owned(), arn)),
            _ => None,
        }
    });
    let rules = have.rules.iter().filter_map(|r: &FoundRule| {
        let c = names::our_component(ctx, &r.tags)?;
        match Seen::of(r.rule.actions()) {
            Seen::Forward(arn) => Some((c.to_owned(), arn)),
            _ => None,
        }
    });
    listeners.chain(rules).collect()
}

/// Whether an action AWS holds is what `want` asks for (for `service`'s
/// forwards, either of its groups).
pub fn converged(want: &Forward, seen: &Seen, service: Option<&str>, live: &Live) -> bool {
    match (want, seen) {
        (Forward::To(r), Seen::Forward(arn)) => {
            r.have() == Some(arn.as_str()) || service.is_some_and(|s| live.accepts(s, arn))
        }
        (Forward::RedirectToHttps, Seen::RedirectToHttps) | (Forward::NotFound, Seen::NotFound) => {
            true
        }
        _ => false,
    }
}

/// Each blue/green service's test port: the spec's, else the one its test
/// listener has, else the lowest free one from 8080.
pub fn test_ports(
    ctx: &Context,
    want: &Desired,
    have: &Actual,
    prune: Prune,
) -> Result<BTreeMap<String, u16>> {
    let wanted: BTreeSet<&str> = want.blue_green.iter().map(|(s, _)| s.as_str()).collect();
    let mut existing = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for l in &have.listeners {
        let port = l
            .listener
            .port()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
        let component = names::our_component(ctx, &l.tags);
        match component.and_then(names::test_listener_service) {
            Some(s) if wanted.contains(s) => {
                existing.insert(s.to_owned(), port);
            }
            // A stale test listener stays when nothing may be pruned.
            Some(_) if prune == Prune::Yes => {}
            _ if component == Some(names::HTTP) || component == Some(names::HTTPS) => {}
            _ => {
                taken.insert(port);
            }
        }
    }
    for (service, port) in &want.blue_green {
        if let Some(p) = port.filter(|p| taken.contains(p)) {
            return Err(Error::spec(format!(
                "spec.services.{service}.deployment.test_port {p} is taken by another listener of the load balancer: pick another port"
            )));
        }
    }
    let wanted: Vec<(&str, Option<u16>)> = want
        .blue_green
        .iter()
        .map(|(s, p)| (s.as_str(), *p))
        .collect();
    assign_test_ports(&wanted, &existing, &taken)
}

/// Plans every listener of the load balancer `lb`.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    ctx: &Context,
    want: &Desired,
    have: &Actual,
    lb: &Ref,
    test_ports: &BTreeMap<String, u16>,
    live: &Live,
    prune: Prune,
    ops: &mut Vec<Op>,
) -> Result<Listeners> {
    let ours = by_component(ctx, &have.listeners, |l| &l.tags);
    refuse_foreign(ctx, want, have, test_ports)?;
    let one = |component: &str| -> Result<Option<&FoundListener>> {
        match ours.get(component).map(Vec::as_slice).unwrap_or_default() {
            [] => Ok(None),
            [l] => Ok(Some(*l)),
            many => {
                let ids: Vec<&str> = many.iter().map(|l| l.arn()).collect();
                Err(duplicates(LISTENER, &ctx.name(component), &ids))
            }
        }
    };
    let default = match &want.default_service {
        Some(s) => (Forward::To(live.target(s)), Some(s.as_str())),
        None => (Forward::NotFound, None),
    };
    let mut plan_one = |component: &str, port: u16, tls: Option<&Tls>, action: Forward, service| {
        let w = super::WantListener {
            component: component.to_owned(),
            name: ctx.name(component),
            port,
            tls: tls.cloned(),
            action,
        };
        ensure(ctx, one(component)?, lb, w, service, live, ops)
    };
    let http = match &want.tls {
        Some(_) => plan_one(names::HTTP, 80, None, Forward::RedirectToHttps, None)?,
        None => plan_one(names::HTTP, 80, None, default.0.clone(), default.1)?,
    };
    let https = match &want.tls {
        Some(tls) => Some(plan_one(
            names::HTTPS,
            443,
            Some(tls),
            default.0,
            default.1,
        )?),
        None => None,
    };
    let mut tests = BTreeMap::new();
    for (service, port) in test_ports {
        let component = names::test_listener_component(service);
        // Like production: CodeDeploy leaves both on the group it shifted to.
        let to = Forward::To(live.target(service));
        let r = plan_one(&component, *port, want.tls.as_ref(), to, Some(service))?;
        tests.insert(service.clone(), r);
    }
    remove_stale(ctx, want, &ours, test_ports, prune, ops)?;
    Ok(Listeners {
        http,
        https,
        test_ports: test_ports.clone(),
        tests,
    })
}

/// A listener that is not ours on a port alb-up needs stops the run.
fn refuse_foreign(
    ctx: &Context,
    want: &Desired,
    have: &Actual,
    test_ports: &BTreeMap<String, u16>,
) -> Result<()> {
    let mut ports: BTreeSet<u16> = [80].into();
    if want.tls.is_some() {
        ports.insert(443);
    }
    ports.extend(test_ports.values());
    for l in &have.listeners {
        let port = l
            .listener
            .port()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
        if ports.contains(&port) && names::our_component(ctx, &l.tags).is_none() {
            let name = format!("{} (port {port})", l.arn());
            ctx.check_owned(LISTENER, &name, names::pairs(&l.tags), "listener")?;
        }
    }
    Ok(())
}

/// A listener as it is wanted: created, or updated field by field.
fn ensure(
    ctx: &Context,
    found: Option<&FoundListener>,
    lb: &Ref,
    mut want: super::WantListener,
    service: Option<&str>,
    live: &Live,
    ops: &mut Vec<Op>,
) -> Result<Ref> {
    let Some(l) = found else {
        let key = Key::new(LISTENER, &want.name);
        ops.push(Op::CreateListener {
            lb: lb.clone(),
            want,
        });
        return Ok(Ref::New(key));
    };
    ctx.check_owned(LISTENER, &want.name, names::pairs(&l.tags), &want.component)?;
    let listener = &l.listener;
    let protocol = if want.tls.is_some() {
        ProtocolEnum::Https
    } else {
        ProtocolEnum::Http
    };
    let tls = want.tls.as_ref();
    let certificate = listener
        .certificates()
        .first()
        .and_then(|c| c.certificate_arn());
    let mut fields = vec![
        ("port", json!(listener.port()), json!(want.port)),
        (
            "protocol",
            json!(listener.protocol().map(|p| p.as_str())),
            json!(protocol.as_str()),
        ),
        (
            "certificate",
            json!(certificate),
            json!(tls.map(|t| &t.certificate)),
        ),
    ];
    // An HTTP listener has no TLS policy (AWS shows none; the emulator shows
    // its default): compared only when either side is HTTPS.
    if tls.is_some() || listener.protocol() == Some(&ProtocolEnum::Https) {
        let policy = (
            "ssl_policy",
            json!(listener.ssl_policy()),
            json!(tls.map(|t| &t.policy)),
        );
        fields.push(policy);
    }
    let seen = Seen::of(listener.default_actions());
    if converged(&want.action, &seen, service, live) {
        if let Seen::Forward(arn) = &seen {
            // Either group of a blue/green service: keep the one CodeDeploy chose.
            want.action = Forward::To(Ref::Have(arn.clone()));
        }
    } else {
        fields.push((
            "default_action",
            json!(seen.text()),
            json!(text(&want.action)),
        ));
    }
    fields.retain(|(_, from, to)| from != to);
    if !fields.is_empty() {
        let change = fields
            .into_iter()
            .fold(update(LISTENER, &want.name, l.arn()), |c, (n, f, t)| {
                c.field(n, f, t)
            });
        ops.push(Op::UpdateListener {
            arn: l.arn().to_owned(),
            want,
            change,
        });
    }
    Ok(Ref::Have(l.arn().to_owned()))
}

/// Our listeners the spec no longer asks for: HTTPS without a certificate
/// (its rules go with it), test listeners of services no longer blue/green.
fn remove_stale(
    ctx: &Context,
    want: &Desired,
    ours: &BTreeMap<String, Vec<&FoundListener>>,
    test_ports: &BTreeMap<String, u16>,
    prune: Prune,
    ops: &mut Vec<Op>,
) -> Result<()> {
    for (component, found) in ours {
        let early = match names::test_listener_service(component) {
            Some(s) if !test_ports.contains_key(s) => true,
            None if component == names::HTTPS && want.tls.is_none() => false,
            _ => continue,
        };
        for l in found {
            let name = ctx.name(component);
            if prune == Prune::No {
                tracing::warn!(
                    "listener {name} is no longer wanted; kept (spec.services is not stated)"
                );
                continue;
            }
            ctx.check_owned(LISTENER, &name, names::pairs(&l.tags), component)?;
            ops.push(Op::DeleteListener {
                arn: l.arn().to_owned(),
                early,
                change: delete(LISTENER, &name, l.arn()),
            });
        }
    }
    Ok(())
}
