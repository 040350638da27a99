//! alb-up against the emulator: seed 001's routing (frontend as the default,
//! the API under /api/*, an unrouted worker), what exists afterwards as read
//! independently through the SDK, that a re-run changes nothing, that rule
//! priorities survive services coming and going, HTTPS with a real (emulated)
//! ACM certificate, and that teardown removes exactly this stack's ALB.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, Listener, Rule};
use common::layer::Owned;
use serde_json::{json, Value};
use testkit::{unique_stack, Emulator, Session, Tool};

/// net-up for a two-AZ network without NAT, then seed 001's services.
fn network_with_services(em: &Emulator, stack: &str, env: &str) -> Value {
    let mut doc = em.network(stack, env);
    doc["spec"]["services"] = json!({
        "frontend": {"port": 3000, "cpu": 512, "memory": 1024, "image": "frontend:1",
                     "route": {"default": true}, "health_check": {"path": "/"}},
        "api": {"port": 8080, "cpu": 1024, "memory": 2048, "route": {"paths": ["/api/*"]},
                "health_check": {"path": "/health", "healthy": 2, "unhealthy": 3, "interval": 30}},
        "processing": {"port": 9000, "cpu": 2048, "memory": 4096}
    });
    doc
}

/// alb-up on a document, with -v so "created" and "updated" lines show.
fn alb_up(em: &Emulator, doc: &Value) -> Tool {
    em.tool("alb-up").arg("-v").stdin(doc.to_string())
}

fn elb(s: &Session) -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(s.sdk())
}

fn listeners(s: &Session, lb: &str) -> Vec<Listener> {
    s.block_on(elb(s).describe_listeners().load_balancer_arn(lb).send())
        .unwrap()
        .listeners()
        .to_vec()
}

fn rules(s: &Session, listener: &str) -> Vec<Rule> {
    s.block_on(elb(s).describe_rules().listener_arn(listener).send())
        .unwrap()
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .cloned()
        .collect()
}

fn attributes(s: &Session, lb: &str) -> BTreeMap<String, String> {
    s.block_on(
        elb(s)
            .describe_load_balancer_attributes()
            .load_balancer_arn(lb)
            .send(),
    )
    .unwrap()
    .attributes()
    .iter()
    .map(|a| (a.key().unwrap().to_owned(), a.value().unwrap().to_owned()))
    .collect()
}

/// A rule's path patterns, in whichever form the answer holds them.
fn paths(r: &Rule) -> Vec<String> {
    r.conditions()
        .iter()
        .filter(|c| c.field() == Some("path-pattern"))
        .flat_map(|c| {
            let config = c.path_pattern_config().map(|p| p.values().to_vec());
            config.unwrap_or_else(|| c.values().to_vec())
        })
        .collect()
}

fn forward_target(actions: &[aws_sdk_elasticloadbalancingv2::types::Action]) -> Option<String> {
    let [a] = actions else { return None };
    assert_eq!(a.r#type(), Some(&ActionTypeEnum::Forward));
    a.target_group_arn().map(str::to_owned)
}

fn counts(em: &Emulator, stack: &str, env: &str) -> BTreeMap<String, usize> {
    em.inventory("us-east-1", stack, env).counts()
}

fn alb_counts(c: &BTreeMap<String, usize>) -> [usize; 4] {
    let n = |k: &str| c.get(k).copied().unwrap_or(0);
    [
        n("load_balancer"),
        n("listener"),
        n("target_group"),
        n("listener_rule"),
    ]
}

/// The layer's teardown discovery, with the document's section as hints; no
/// id of it may name another stack.
fn find(
    s: &Session,
    ctx: &common::Context,
    section: &common::sections::Alb,
) -> alb_up::teardown::Found {
    let mismatches = common::owner::Mismatches::default();
    let found = s
        .block_on(alb_up::teardown::find(ctx, Some(section), &mismatches))
        .unwrap();
    mismatches
        .into_result(ctx)
        .expect("the document's ids are ours");
    found
}

/// Tears the ALB down through the library, then the network through `teardown`.
fn teardown(em: &Emulator, s: &Session, stack: &str, env: &str, alb: &Value) {
    let ctx = s.context(stack, env);
    let section: common::sections::Alb = serde_json::from_value(alb.clone()).unwrap();
    let found = find(s, &ctx, &section);
    let kinds: Vec<String> = found.plan(&ctx).iter().map(|c| c.kind.clone()).collect();
    assert!(
        kinds.iter().any(|k| k == "load balancer") && kinds.iter().any(|k| k == "security group"),
        "{kinds:?}"
    );
    let left = common::plan::Leftovers::default();
    s.block_on(Box::new(found).destroy(&ctx, &left, Default::default()));
    left.into_result()
        .expect("the ALB layer went away completely");
    assert!(find(s, &ctx, &section).is_empty(&ctx));
    // prod is protected: the sweep names the stack/env it may remove.
    let confirm = format!("{stack}/{env}");
    em.tool("teardown")
        .args(["-n", "--stack", stack, "--env", env, "--confirm", &confirm])
        .succeeds();
    assert!(
        em.inventory("us-east-1", stack, env).is_empty(),
        "{:?}",
        em.inventory("us-east-1", stack, env)
    );
}

#[test]
fn seed_001_routing_converges_keeps_priorities_and_tears_down() {
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("alb");
    let doc = network_with_services(em, &stack, "dev");
    let out = alb_up(em, &doc).succeeds().json();
    let alb = &out["alb"];

    // What exists, read independently of the tool.
    let inv = counts(em, &stack, "dev");
    assert_eq!(alb_counts(&inv), [1, 1, 2, 1], "{inv:?}");
    assert_eq!(inv["security_group"], 1, "the ALB's group: {inv:?}");
    assert_eq!(
        out["spec"]["alb"],
        json!({}),
        "nothing overridden, nothing recorded"
    );
    assert_eq!(alb["default_service"], "frontend");
    assert!(alb["dns_name"]
        .as_str()
        .unwrap()
        .contains("elb.amazonaws.com"));
    assert!(alb.get("https_listener_arn").is_none());
    let tgs = alb["target_groups"].as_object().unwrap();
    assert_eq!(tgs.keys().collect::<Vec<_>>(), ["api", "frontend"]);
    assert_eq!(alb["target_groups"]["api"]["port"], 8080);
    assert_eq!(alb["rules"].as_object().unwrap().len(), 1);
    let api_priority = alb["rules"]["api"]["priority"].as_u64().unwrap();

    let lb = alb["arn"].as_str().unwrap();
    let ls = listeners(&s, lb);
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0].port(), Some(80));
    assert_eq!(
        forward_target(ls[0].default_actions()).as_deref(),
        alb["target_groups"]["frontend"]["arn"].as_str(),
        "no rule matched: the frontend"
    );
    let rs = rules(&s, ls[0].listener_arn().unwrap());
    assert_eq!(rs.len(), 1);
    assert_eq!(paths(&rs[0]), ["/api/*"]);
    assert_eq!(rs[0].priority(), Some(api_priority.to_string().as_str()));
    assert_eq!(
        forward_target(rs[0].actions()).as_deref(),
        alb["target_groups"]["api"]["arn"].as_str()
    );

    // Target groups: IP targets, health checks as asked, deregistration delay.
    let tg = s
        .block_on(
            elb(&s)
                .describe_target_groups()
                .target_group_arns(alb["target_groups"]["api"]["arn"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    let tg = &tg.target_groups()[0];
    assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
    assert_eq!(tg.health_check_path(), Some("/health"));
    assert_eq!(
        (
            tg.healthy_threshold_count(),
            tg.unhealthy_threshold_count(),
            tg.health_check_interval_seconds()
        ),
        (Some(2), Some(3), Some(30))
    );
    assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200-399"));
    let tg_attrs = s
        .block_on(
            elb(&s)
                .describe_target_group_attributes()
                .target_group_arn(tg.target_group_arn().unwrap())
                .send(),
        )
        .unwrap();
    assert!(tg_attrs.attributes().iter().any(|a| a.key()
        == Some("deregistration_delay.timeout_seconds")
        && a.value() == Some("30")));

    // Load balancer attributes.
    let attrs = attributes(&s, lb);
    assert_eq!(
        attrs["routing.http.drop_invalid_header_fields.enabled"],
        "true"
    );
    assert_eq!(attrs["deletion_protection.enabled"], "false");
    assert_eq!(attrs["idle_timeout.timeout_seconds"], "60");

    // The security group: 80 from anywhere in; out only to 3000-8080 in the VPC.
    let ec2 = aws_sdk_ec2::Client::new(s.sdk());
    let sg = s
        .block_on(
            ec2.describe_security_groups()
                .group_ids(alb["security_group_id"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    let sg = &sg.security_groups()[0];
    let grants = |perms: &[aws_sdk_ec2::types::IpPermission]| -> Vec<(i32, i32, String)> {
        let mut v: Vec<_> = perms
            .iter()
            .flat_map(|p| {
                p.ip_ranges().iter().map(|r| {
                    (
                        p.from_port().unwrap_or(-1),
                        p.to_port().unwrap_or(-1),
                        r.cidr_ip().unwrap_or_default().to_owned(),
                    )
                })
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        grants(sg.ip_permissions()),
        [(80, 80, "0.0.0.0/0".to_owned())]
    );
    assert_eq!(
        grants(sg.ip_permissions_egress()),
        [(
            3000,
            8080,
            doc["network"]["cidr"].as_str().unwrap().to_owned()
        )]
    );

    // A second run changes nothing.
    let before = em.inventory("us-east-1", &stack, "dev");
    let run = alb_up(em, &doc).succeeds();
    let (again, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    assert_eq!(again["alb"], out["alb"]);
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), before);

    // Adding admin keeps api's priority, whatever admin's name sorts like.
    let mut with_admin = doc.clone();
    with_admin["spec"]["services"]["admin"] =
        json!({"port": 8081, "route": {"paths": ["/admin/*"]}});
    let added = alb_up(em, &with_admin).succeeds().json();
    assert_eq!(added["alb"]["rules"]["api"], out["alb"]["rules"]["api"]);
    let admin_priority = added["alb"]["rules"]["admin"]["priority"].as_u64().unwrap();
    assert_ne!(admin_priority, api_priority);
    assert_eq!(alb_counts(&counts(em, &stack, "dev")), [1, 1, 3, 2]);

    // Removing it deletes only its rule and its target group.
    let run = alb_up(em, &doc).succeeds();
    let (removed, log) = (run.json(), run.stderr());
    assert_eq!(removed["alb"]["rules"], out["alb"]["rules"], "{log}");
    assert_eq!(removed["alb"]["target_groups"], out["alb"]["target_groups"]);
    assert_eq!(alb_counts(&counts(em, &stack, "dev")), [1, 1, 2, 1]);
    let rs = rules(&s, ls[0].listener_arn().unwrap());
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].rule_arn(), out["alb"]["rules"]["api"]["arn"].as_str());

    // Another stack with the same spec next to it; tearing the first down leaves it alone.
    let other = unique_stack("albother");
    let other_doc = network_with_services(em, &other, "dev");
    let other_out = alb_up(em, &other_doc).succeeds().json();
    let other_before = em.inventory("us-east-1", &other, "dev");
    assert_eq!(alb_counts(&other_before.counts()), [1, 1, 2, 1]);

    teardown(em, &s, &stack, "dev", &out["alb"]);
    assert_eq!(em.inventory("us-east-1", &other, "dev"), other_before);
    teardown(em, &s, &other, "dev", &other_out["alb"]);
}

#[test]
fn a_certificate_adds_https_and_prod_turns_deletion_protection_on() {
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("albtls");
    let doc = network_with_services(em, &stack, "prod");
    // The emulator checks listener certificates against ACM, as AWS does.
    let acm = aws_sdk_acm::Client::new(s.sdk());
    let cert = s
        .block_on(
            acm.request_certificate()
                .domain_name("shop.example.com")
                .send(),
        )
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_owned();
    let out = alb_up(em, &doc)
        .args(["--certificate-arn", &cert])
        .succeeds()
        .json();
    let alb = &out["alb"];
    assert_eq!(
        out["spec"]["alb"]["certificate_arn"],
        cert.as_str(),
        "the flag is recorded"
    );
    let lb = alb["arn"].as_str().unwrap();
    assert_eq!(attributes(&s, lb)["deletion_protection.enabled"], "true");

    let ls = listeners(&s, lb);
    assert_eq!(ls.len(), 2);
    let http = ls.iter().find(|l| l.port() == Some(80)).unwrap();
    let https = ls.iter().find(|l| l.port() == Some(443)).unwrap();
    assert_eq!(
        Some(https.listener_arn().unwrap()),
        alb["https_listener_arn"].as_str()
    );
    let [redirect] = http.default_actions() else {
        panic!("one default action")
    };
    assert_eq!(redirect.r#type(), Some(&ActionTypeEnum::Redirect));
    let r = redirect.redirect_config().unwrap();
    assert_eq!((r.protocol(), r.port()), (Some("HTTPS"), Some("443")));
    assert_eq!(r.status_code().map(|s| s.as_str()), Some("HTTP_301"));
    assert_eq!(
        https
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn()),
        Some(cert.as_str())
    );
    assert_eq!(
        forward_target(https.default_actions()).as_deref(),
        alb["target_groups"]["frontend"]["arn"].as_str()
    );
    // The rule serves on HTTPS; HTTP only redirects.
    assert_eq!(rules(&s, https.listener_arn().unwrap()).len(), 1);
    assert!(rules(&s, http.listener_arn().unwrap()).is_empty());
    assert_eq!(alb_counts(&counts(em, &stack, "prod")), [1, 2, 2, 1]);

    // Re-running with the certificate from the recorded spec changes nothing.
    let run = alb_up(em, &out).succeeds();
    let (again, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    assert_eq!(again["alb"], out["alb"]);

    // Teardown turns protection off itself.
    teardown(em, &s, &stack, "prod", alb);
}

/// The target group a listener's default action (or a rule's action) forwards to.
fn listener_target(s: &Session, arn: &str) -> Option<String> {
    let out = s
        .block_on(elb(s).describe_listeners().listener_arns(arn).send())
        .unwrap();
    forward_target(out.listeners()[0].default_actions())
}

fn rule_target(s: &Session, arn: &str) -> Option<String> {
    let out = s
        .block_on(elb(s).describe_rules().rule_arns(arn).send())
        .unwrap();
    forward_target(out.rules()[0].actions())
}

#[test]
fn blue_green_services_get_a_green_group_and_a_test_listener_and_stay_where_codedeploy_moved_them()
{
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("albbg");
    let mut doc = em.network(&stack, "dev");
    doc["spec"]["services"] = json!({
        "pay": {"port": 8080, "route": {"default": true}, "health_check": {"path": "/health"},
                "deployment": {"type": "blue-green", "traffic": "all-at-once"}},
        "api": {"port": 9000, "route": {"paths": ["/api/*"]}, "deployment": "blue-green"},
        "web": {"port": 3000, "route": {"paths": ["/web/*"]}}
    });
    let out = alb_up(em, &doc).succeeds().json();
    let alb = &out["alb"];
    let tg = |s: &str| alb["target_groups"][s].clone();
    let arn = |v: &Value| v.as_str().unwrap().to_owned();

    // Read back: two groups per blue/green service, one per rolling one; the
    // production listener and a test listener per blue/green service (8080,
    // 8081 in name order), each forwarding to the blue group.
    assert_eq!(alb_counts(&counts(em, &stack, "dev")), [1, 3, 5, 2]);
    assert!(tg("web").get("green").is_none() && tg("web").get("test_port").is_none());
    assert_eq!(
        (
            tg("api")["test_port"].as_u64(),
            tg("pay")["test_port"].as_u64()
        ),
        (Some(8080), Some(8081))
    );
    assert_eq!(
        tg("pay")["green"]["name"],
        common::naming::elb_name(&stack, "tg-pay-green", "dev")
    );
    let ls = listeners(&s, alb["arn"].as_str().unwrap());
    let by_port = |p: i32| ls.iter().find(|l| l.port() == Some(p)).unwrap().clone();
    assert_eq!(
        by_port(8080).listener_arn(),
        tg("api")["test_listener_arn"].as_str()
    );
    assert_eq!(by_port(8081).protocol().map(|p| p.as_str()), Some("HTTP"));
    for (port, service) in [(8080, "api"), (8081, "pay"), (80, "pay")] {
        assert_eq!(
            forward_target(by_port(port).default_actions()),
            Some(arn(&tg(service)["arn"])),
            "port {port}"
        );
    }
    assert_eq!(
        rule_target(&s, alb["rules"]["api"]["arn"].as_str().unwrap()),
        Some(arn(&tg("api")["arn"]))
    );
    // The green group is the blue one's twin, tagged as the service's green group.
    let groups = s
        .block_on(
            elb(&s)
                .describe_target_groups()
                .target_group_arns(arn(&tg("pay")["arn"]))
                .target_group_arns(arn(&tg("pay")["green"]["arn"]))
                .send(),
        )
        .unwrap();
    let [blue, green] = groups.target_groups() else {
        panic!("two groups")
    };
    assert_eq!(
        (
            green.port(),
            green.vpc_id(),
            green.health_check_path(),
            green.target_type()
        ),
        (
            blue.port(),
            blue.vpc_id(),
            Some("/health"),
            blue.target_type()
        )
    );
    let tags = s
        .block_on(
            elb(&s)
                .describe_tags()
                .resource_arns(arn(&tg("pay")["green"]["arn"]))
                .send(),
        )
        .unwrap();
    assert!(tags.tag_descriptions()[0]
        .tags()
        .iter()
        .any(|t| t.key() == Some("fargate-pipes:component") && t.value() == Some("tg-pay-green")));
    // The test ports are open only inside the VPC (no spec.alb.test_ingress_cidrs):
    // a release not yet live is not for the internet.
    let ec2 = aws_sdk_ec2::Client::new(s.sdk());
    let sg = s
        .block_on(
            ec2.describe_security_groups()
                .group_ids(alb["security_group_id"].as_str().unwrap())
                .send(),
        )
        .unwrap();
    let mut open: Vec<(i32, String)> = sg.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(|r| {
                (
                    p.from_port().unwrap_or(-1),
                    r.cidr_ip().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    open.sort();
    let vpc = out["network"]["cidr"].as_str().unwrap().to_owned();
    assert_eq!(
        open,
        [
            (80, "0.0.0.0/0".to_owned()),
            (8080, vpc.clone()),
            (8081, vpc)
        ]
    );

    // CodeDeploy's swap, done by hand: production and test traffic of both
    // services to their green groups.
    let client = elb(&s);
    let forward = |tg: String| {
        aws_sdk_elasticloadbalancingv2::types::Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build()
    };
    for (port, service) in [(80, "pay"), (8081, "pay"), (8080, "api")] {
        s.block_on(
            client
                .modify_listener()
                .listener_arn(by_port(port).listener_arn().unwrap())
                .default_actions(forward(arn(&tg(service)["green"]["arn"])))
                .send(),
        )
        .unwrap();
    }
    s.block_on(
        client
            .modify_rule()
            .rule_arn(alb["rules"]["api"]["arn"].as_str().unwrap())
            .actions(forward(arn(&tg("api")["green"]["arn"])))
            .send(),
    )
    .unwrap();

    // A re-run changes nothing and moves no traffic back.
    let before = em.inventory("us-east-1", &stack, "dev");
    let run = alb_up(em, &out).succeeds();
    let (again, log) = (run.json(), run.stderr());
    assert!(
        !log.contains("created") && !log.contains("updated"),
        "{log}"
    );
    assert_eq!(again["alb"], out["alb"]);
    assert_eq!(em.inventory("us-east-1", &stack, "dev"), before);
    for (port, service) in [(80, "pay"), (8081, "pay"), (8080, "api")] {
        assert_eq!(
            listener_target(&s, by_port(port).listener_arn().unwrap()),
            Some(arn(&tg(service)["green"]["arn"])),
            "port {port} still forwards to green"
        );
    }
    assert_eq!(
        rule_target(&s, alb["rules"]["api"]["arn"].as_str().unwrap()),
        Some(arn(&tg("api")["green"]["arn"]))
    );

    // api goes back to rolling: its test listener and green group go, the
    // others stay put.
    let mut rolling = out.clone();
    rolling["spec"]["services"]["api"]["deployment"] = json!("rolling");
    let fewer = alb_up(em, &rolling).succeeds().json();
    assert_eq!(alb_counts(&counts(em, &stack, "dev")), [1, 2, 4, 2]);
    assert!(fewer["alb"]["target_groups"]["api"].get("green").is_none());
    assert_eq!(
        fewer["alb"]["target_groups"]["pay"],
        out["alb"]["target_groups"]["pay"]
    );
    assert_eq!(
        rule_target(&s, alb["rules"]["api"]["arn"].as_str().unwrap()),
        Some(arn(&tg("api")["arn"])),
        "a rolling service forwards to its only group"
    );

    // Teardown lists and removes both groups and the test listener.
    let ctx = s.context(&stack, "dev");
    let section: common::sections::Alb = serde_json::from_value(fewer["alb"].clone()).unwrap();
    let plan = find(&s, &ctx, &section).plan(&ctx);
    let kinds = |k: &str| plan.iter().filter(|c| c.kind == k).count();
    assert_eq!(
        (kinds("listener"), kinds("target group")),
        (2, 4),
        "{plan:?}"
    );
    let test_ids: Vec<&str> = plan.iter().filter_map(|c| c.id.as_deref()).collect();
    assert!(test_ids.contains(&by_port(8081).listener_arn().unwrap()));
    assert!(test_ids.contains(&tg("pay")["green"]["arn"].as_str().unwrap()));
    teardown(em, &s, &stack, "dev", &fewer["alb"]);
}

/// Every mutating call of a lane's run is the stack's lock.
fn only_the_lock(state: &Value, stack: &str, env: &str) {
    let log = state["mutation_log"].as_array().unwrap();
    let lock = format!("/fargate-pipes/locks/{stack}/{env}/");
    for m in log {
        let m = m.as_str().unwrap();
        assert!(
            (m.starts_with("logs CreateLogGroup") || m.starts_with("logs DeleteLogGroup"))
                && m.contains(&lock),
            "a mutating call other than the lock's: {m} ({log:?})"
        );
    }
}

/// Issue 15: ELB may not see a security group made a moment ago and answers
/// InvalidSecurityGroup; CreateLoadBalancer waits that out. Then: `--plan` on
/// the built layer is empty, a no-op re-run makes no mutating call (counted),
/// and a misspelt `servces` (no `spec.services`) prunes nothing.
#[test]
fn a_security_group_elb_cannot_see_yet_is_waited_out_then_reruns_change_nothing() {
    let em = Emulator::shared();
    let stack = unique_stack("albsg");
    let doc = network_with_services(em, &stack, "dev");
    let lane = em.lane();

    let planned = lane
        .tool("alb-up")
        .arg("--plan")
        .stdin(doc.to_string())
        .succeeds()
        .json();
    assert_eq!(lane.fault_state()["mutation_log"], json!([]));
    let creates = planned["plan"].as_array().unwrap();
    assert!(
        creates.iter().all(|c| c["action"] == "create"),
        "{creates:?}"
    );
    assert_eq!(creates.len(), 6, "{creates:?}");

    lane.set_faults(json!({"answer": {"CreateLoadBalancer": {
        "times": 2, "status": 400, "code": "InvalidSecurityGroup",
        "message": "One or more security groups are invalid"}}}));
    let out = lane.tool("alb-up").stdin(doc.to_string()).succeeds().json();
    let state = lane.fault_state();
    assert_eq!(state["injected"]["answer"], 2, "{state}");
    assert_eq!(alb_counts(&counts(em, &stack, "dev")), [1, 1, 2, 1]);

    let again = lane
        .tool("alb-up")
        .arg("--plan")
        .stdin(out.to_string())
        .succeeds()
        .json();
    assert_eq!(again.get("plan").cloned().unwrap_or(json!([])), json!([]));

    lane.set_faults(json!({}));
    let run = lane
        .tool("alb-up")
        .arg("-v")
        .stdin(out.to_string())
        .succeeds();
    assert_eq!(run.json()["alb"], out["alb"]);
    let state = lane.fault_state();
    only_the_lock(&state, &stack, "dev");
    eprintln!("alb-up no-op re-run: {} calls", state["calls"]);

    // `servces`: the spec is rejected (exit 5) before any change, and
    // without `spec.services` nothing is pruned.
    let mut typo = out.clone();
    let services = typo["spec"]
        .as_object_mut()
        .unwrap()
        .remove("services")
        .unwrap();
    typo["spec"]["servces"] = services;
    lane.tool("alb-up").stdin(typo.to_string()).fails().code(5);
    typo["spec"].as_object_mut().unwrap().remove("servces");
    let run = lane
        .tool("alb-up")
        .arg("-v")
        .stdin(typo.to_string())
        .succeeds();
    assert!(
        run.stderr()
            .contains("nothing of the load balancer layer was pruned"),
        "{}",
        run.stderr()
    );
    assert_eq!(alb_counts(&counts(em, &stack, "dev")), [1, 1, 2, 1]);
    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
}

/// Issue 12, replayed on this layer: a document whose `.alb` holds another
/// stack's ids. teardown and alb-up both stop, naming whose they are, with no
/// mutating call but the lock's, and the other stack keeps everything.
#[test]
fn a_document_naming_another_stacks_load_balancer_changes_nothing_of_it() {
    let em = Emulator::shared();
    let victim = unique_stack("albv");
    let vdoc = alb_up(em, &network_with_services(em, &victim, "dev"))
        .succeeds()
        .json();
    let before = alb_counts(&counts(em, &victim, "dev"));
    let attacker = unique_stack("alba");

    let lane = em.lane();
    let doc = json!({"version": 1, "stack": attacker, "env": "dev", "region": "us-east-1",
                     "alb": vdoc["alb"]});
    let err = lane
        .tool("teardown")
        .stdin(doc.to_string())
        .fails()
        .code(10);
    assert!(err.contains(&format!("{victim}/dev")), "{err}");
    only_the_lock(&lane.fault_state(), &attacker, "dev");

    let mut own = network_with_services(em, &attacker, "dev");
    own["alb"] = vdoc["alb"].clone();
    let lane = em.lane();
    let err = lane.tool("alb-up").stdin(own.to_string()).fails().code(10);
    assert!(err.contains(&format!("{victim}/dev")), "{err}");
    only_the_lock(&lane.fault_state(), &attacker, "dev");
    assert_eq!(alb_counts(&counts(em, &victim, "dev")), before);

    for stack in [&victim, &attacker] {
        em.tool("teardown")
            .args(["-n", "--stack", stack, "--env", "dev"])
            .succeeds();
    }
}

fn s3(s: &Session) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::new(s.sdk())
}

/// The emulator's account: the bucket name carries it.
const ACCOUNT: &str = "123456789012";

/// ELB.5: access logs go to a bucket alb-up makes (tagged, log delivery
/// granted, TLS only, public access blocked, an expiry) and the ALB points at
/// it. AWS's "Access Denied for bucket" (the new policy not yet in force when
/// ELB checks it) is waited out; a re-run changes nothing; turning the logs
/// off keeps the bucket; teardown empties it (a log file in it) and removes it.
#[test]
fn access_logs_go_to_a_bucket_of_ours_which_teardown_empties_and_removes() {
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("alblogs");
    let mut doc = network_with_services(em, &stack, "dev");
    doc["spec"]["alb"] = json!({"access_logs": {"retention_days": 30}});
    let lane = em.lane();
    lane.set_faults(json!({"answer": {"ModifyLoadBalancerAttributes": {
        "times": 1, "status": 400, "code": "InvalidConfigurationRequest",
        "message": "Access Denied for bucket: x. Please check S3bucket permission"}}}));
    let out = lane.tool("alb-up").stdin(doc.to_string()).succeeds().json();
    assert_eq!(lane.fault_state()["injected"]["answer"], 1);
    let bucket = out["alb"]["access_logs_bucket"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        bucket,
        format!("{stack}--alb-logs--dev-{ACCOUNT}-us-east-1")
    );

    let a = attributes(&s, out["alb"]["arn"].as_str().unwrap());
    assert_eq!(a["access_logs.s3.enabled"], "true");
    assert_eq!(a["access_logs.s3.bucket"], bucket);
    assert_eq!(a["access_logs.s3.prefix"], "alb");
    let c = s3(&s);
    let policy = s
        .block_on(c.get_bucket_policy().bucket(&bucket).send())
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::127311923021:root"
    );
    assert_eq!(policy["Statement"][1]["Effect"], "Deny");
    let rules = s
        .block_on(
            c.get_bucket_lifecycle_configuration()
                .bucket(&bucket)
                .send(),
        )
        .unwrap();
    assert_eq!(rules.rules()[0].expiration().unwrap().days(), Some(30));
    let block = s
        .block_on(c.get_public_access_block().bucket(&bucket).send())
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(block.restrict_public_buckets(), Some(true));
    assert_eq!(counts(em, &stack, "dev").get("s3_bucket"), Some(&1));

    lane.set_faults(json!({}));
    let again = lane.tool("alb-up").stdin(out.to_string()).succeeds().json();
    assert_eq!(again["alb"], out["alb"]);
    only_the_lock(&lane.fault_state(), &stack, "dev");

    // Off: the ALB stops logging, the bucket (the logs) stays until teardown.
    let mut off = again.clone();
    off["spec"]["alb"]["access_logs"]["enabled"] = json!(false);
    let off = em.tool("alb-up").stdin(off.to_string()).succeeds().json();
    assert_eq!(off["alb"].get("access_logs_bucket"), None);
    let a = attributes(&s, out["alb"]["arn"].as_str().unwrap());
    assert_eq!(a["access_logs.s3.enabled"], "false");
    assert_eq!(counts(em, &stack, "dev").get("s3_bucket"), Some(&1));

    let key = format!("alb/AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-1/x.log.gz");
    s.block_on(
        c.put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"log".to_vec().into())
            .send(),
    )
    .unwrap();
    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
    assert!(
        em.inventory("us-east-1", &stack, "dev").is_empty(),
        "{:?}",
        em.inventory("us-east-1", &stack, "dev")
    );
    assert!(s.block_on(c.head_bucket().bucket(&bucket).send()).is_err());
}

/// S3 names are global: a bucket of our name that another stack's tags claim
/// (or that lives in another account) is never written to. alb-up stops with
/// exit 10 before any change but the lock's, and teardown leaves it alone.
#[test]
fn a_bucket_of_our_name_that_is_not_ours_is_refused() {
    let em = Emulator::shared();
    let s = em.session("probe", "dev", "us-east-1");
    let stack = unique_stack("albsquat");
    let mut doc = network_with_services(em, &stack, "dev");
    doc["spec"]["alb"] = json!({"access_logs": {"enabled": true}});
    let bucket = format!("{stack}--alb-logs--dev-{ACCOUNT}-us-east-1");
    let c = s3(&s);
    s.block_on(c.create_bucket().bucket(&bucket).send())
        .unwrap();
    let tag = |k: &str, v: &str| {
        aws_sdk_s3::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(tag("fargate-pipes:stack", "someone-else"))
        .tag_set(tag("fargate-pipes:env", "dev"))
        .tag_set(tag("fargate-pipes:component", "alb-logs"))
        .build()
        .unwrap();
    s.block_on(
        c.put_bucket_tagging()
            .bucket(&bucket)
            .tagging(tagging)
            .send(),
    )
    .unwrap();

    let lane = em.lane();
    let stderr = lane.tool("alb-up").stdin(doc.to_string()).fails().code(10);
    assert!(stderr.contains(&bucket), "{stderr}");
    only_the_lock(&lane.fault_state(), &stack, "dev");

    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
    s.block_on(c.head_bucket().bucket(&bucket).send())
        .expect("teardown left the other stack's bucket");
    s.block_on(c.delete_bucket().bucket(&bucket).send())
        .unwrap();
}
