//! `.alb`, written from the plan's `Out` once its ids are known: after apply,
//! or as `planned:` placeholders under `--plan`.

use common::plan::planned;
use common::sections::{Alb, AlbGreenTargetGroup, AlbRule, AlbTargetGroup};
use common::Result;

use crate::apply::Applied;
use crate::plan::{Out, Ref, LOAD_BALANCER};

/// The section after apply: every id exists.
pub fn applied(out: &Out, applied: &Applied) -> Result<Alb> {
    let dns = out
        .dns
        .clone()
        .or_else(|| applied.dns())
        .unwrap_or_default();
    section(out, dns, |r| applied.id(r))
}

/// The section under `--plan`: ids still to be created are placeholders.
pub fn planned_section(out: &Out) -> Alb {
    let dns = out.dns.clone().unwrap_or_else(|| {
        let p = planned(LOAD_BALANCER, &out.lb_name);
        (p.clone(), p)
    });
    section(out, dns, |r| {
        Ok(match r {
            Ref::Have(id) => id.clone(),
            Ref::New(k) => planned(k.kind, &k.name),
        })
    })
    .expect("placeholders never fail")
}

fn section(
    out: &Out,
    (dns_name, zone_id): (String, String),
    id: impl Fn(&Ref) -> Result<String>,
) -> Result<Alb> {
    let mut target_groups = std::collections::BTreeMap::new();
    for (service, t) in &out.target_groups {
        let green = match &t.green {
            Some((r, name)) => Some(AlbGreenTargetGroup {
                arn: id(r)?,
                name: name.clone(),
            }),
            None => None,
        };
        let tg = AlbTargetGroup {
            arn: id(&t.arn)?,
            name: t.name.clone(),
            port: t.port,
            green,
            test_port: t.test_port,
            test_listener_arn: t.test_listener.as_ref().map(&id).transpose()?,
        };
        target_groups.insert(service.clone(), tg);
    }
    let mut rules = std::collections::BTreeMap::new();
    for (service, (r, priority)) in &out.rules {
        rules.insert(
            service.clone(),
            AlbRule {
                arn: id(r)?,
                priority: *priority,
            },
        );
    }
    Ok(Alb {
        arn: id(&out.lb)?,
        name: out.lb_name.clone(),
        dns_name,
        zone_id,
        security_group_id: id(&out.security_group)?,
        http_listener_arn: id(&out.http)?,
        https_listener_arn: out.https.as_ref().map(&id).transpose()?,
        target_groups,
        rules,
        default_service: out.default_service.clone(),
        access_logs_bucket: None,
    })
}
