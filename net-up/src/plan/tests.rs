//! The plan, row by row of docs/converge/net-up.md: each test starts from a
//! network AWS holds exactly as the spec asks (`converged`), changes one
//! thing, and checks the plan makes exactly the one change it needs.

use aws_sdk_ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use common::plan::Action;
use common::Context;
use serde_json::json;

use super::*;
use crate::actual::*;
use crate::components::{self as c};
use crate::desired::tests::desired;
use crate::desired::Via;
use crate::policy;

const ACCOUNT: &str = "123456789012";

fn ctx() -> Context {
    Context::offline("net-up", "shop", "dev", "us-east-1")
}

fn tags(component: &str) -> Tags {
    ctx().tags(component).into_iter().collect()
}

fn res<T>(id: &str, component: &str, state: T) -> Res<T> {
    Res {
        id: id.to_owned(),
        tags: tags(component),
        state,
    }
}

/// The spec most tests use: two AZs, a NAT each, interface and gateway endpoints.
const SPEC: &str = r#"{"azs":2,"nat":"per-az","endpoints":["ecr.api","s3"]}"#;
const AZS: &[&str] = &["us-east-1a", "us-east-1b"];

fn https() -> IpPermission {
    crate::rules::tcp_from(443, "10.0.0.0/16", "HTTPS from the VPC")
}

/// What AWS holds when the network is exactly as `d` asks.
fn converged(d: &Desired) -> Actual {
    let ctx = ctx();
    let mut a = Actual {
        vpcs: vec![res(
            "vpc-1",
            c::VPC,
            VpcState {
                cidr: d.cidr.to_string(),
                dns_support: Some(true),
                dns_hostnames: Some(true),
            },
        )],
        igws: vec![res(
            "igw-1",
            c::IGW,
            IgwState {
                attached_to: vec!["vpc-1".into()],
            },
        )],
        default_group: Some(Res {
            id: "sg-default".into(),
            tags: Tags::new(),
            state: GroupState::default(),
        }),
        ..Actual::default()
    };
    for s in &d.subnets {
        a.subnets.push(res(
            &format!("subnet-{}", s.component),
            &s.component,
            SubnetState {
                vpc_id: "vpc-1".into(),
                cidr: s.cidr.clone(),
                az: s.az.clone(),
                map_public_ip: false,
            },
        ));
    }
    for az in &d.nat_azs {
        a.eips.push(res(
            &format!("eipalloc-{az}"),
            &c::eip(az),
            EipState {
                public_ip: "1.2.3.4".into(),
            },
        ));
        a.nats.push(res(
            &format!("nat-id-{az}"),
            &c::nat(az),
            NatState {
                vpc_id: "vpc-1".into(),
                subnet_id: format!("subnet-public-{az}"),
                allocation_id: Some(format!("eipalloc-{az}")),
                available: true,
            },
        ));
    }
    for (table, via) in &d.tables {
        let default_route = match via {
            Via::Igw => Some(RouteNow {
                gateway: Some("igw-1".into()),
                ..RouteNow::default()
            }),
            Via::Nat(n) => Some(RouteNow {
                nat: Some(format!("nat-id-{}", n.trim_start_matches("nat-"))),
                ..RouteNow::default()
            }),
            Via::Nothing => None,
        };
        let associations = d
            .associations
            .iter()
            .filter(|(_, t)| *t == table)
            .map(|(s, _)| Assoc {
                id: format!("rtbassoc-{s}"),
                subnet_id: format!("subnet-{s}"),
            })
            .collect();
        a.tables.push(res(
            &format!("rtb-{table}"),
            table,
            TableState {
                vpc_id: "vpc-1".into(),
                default_route,
                associations,
            },
        ));
    }
    if d.wants_endpoint_group() {
        a.groups.push(res(
            "sg-endpoints",
            c::ENDPOINT_GROUP,
            GroupState {
                vpc_id: "vpc-1".into(),
                ingress: vec![https()],
                egress: vec![],
            },
        ));
    }
    for e in &d.endpoints {
        let interface = e.kind == common::spec::network::EndpointKind::Interface;
        a.endpoints.push(res(
            &format!("vpce-{}", e.component),
            &e.component,
            EndpointState {
                vpc_id: "vpc-1".into(),
                service: format!("com.amazonaws.us-east-1.{}", e.short),
                subnets: if interface {
                    d.private_subnets()
                        .iter()
                        .map(|s| format!("subnet-{s}"))
                        .collect()
                } else {
                    vec![]
                },
                tables: if interface {
                    vec![]
                } else {
                    d.private_tables()
                        .iter()
                        .map(|t| format!("rtb-{t}"))
                        .collect()
                },
                groups: if interface {
                    vec!["sg-endpoints".into()]
                } else {
                    vec![]
                },
                private_dns: interface,
            },
        ));
    }
    if let Some(days) = d.flow_logs {
        let group = c::log_group_name(&ctx);
        let group_arn = policy::log_group_arn("aws", "us-east-1", ACCOUNT, &group);
        let role_name = Key::new(Kind::Role, c::FLOW_LOGS).name(&ctx);
        let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/fargate-pipes/{role_name}");
        a.log_group = Some(res(
            &group,
            c::FLOW_LOGS,
            LogGroupState {
                arn: group_arn.clone(),
                retention: Some(days),
            },
        ));
        a.role = Some(res(
            &role_name,
            c::FLOW_LOGS,
            RoleState {
                arn: role_arn.clone(),
                trust: Some(policy::trust("aws", "us-east-1", ACCOUNT)),
                policy: Some(policy::deliver(&group_arn)),
            },
        ));
        a.flow_logs.push(res(
            "fl-1",
            c::FLOW_LOGS,
            FlowLogState {
                resource_id: "vpc-1".into(),
                traffic_type: "ALL".into(),
                destination_type: "cloud-watch-logs".into(),
                log_group: group,
                role_arn,
                interval: 600,
            },
        ));
    }
    a
}

fn plan_of(d: &Desired, a: &Actual, prune: bool) -> Plan {
    plan(&ctx(), d, a, prune).unwrap()
}

/// The plan's changes as log lines, in order.
fn lines(p: &Plan) -> Vec<String> {
    p.ordered()
        .iter()
        .map(|op| op.change(&ctx()).line())
        .collect()
}

/// Asserts the plan is exactly these change lines (any order).
fn exactly(p: &Plan, want: &[&str]) {
    let mut got = lines(p);
    got.sort();
    let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(got, want);
}

fn base() -> (Desired, Actual) {
    let d = desired(SPEC, AZS);
    let a = converged(&d);
    (d, a)
}

#[test]
fn a_converged_network_plans_nothing() {
    let (d, a) = base();
    let p = plan_of(&d, &a, true);
    assert!(p.ops.is_empty(), "{:?}", lines(&p));
    assert!(p.warnings.is_empty());
    assert_eq!(p.id(Kind::Nat, "nat-us-east-1b"), Some("nat-id-us-east-1b"));
}

#[test]
fn a_fresh_stack_creates_everything_in_dependency_order() {
    let d = desired(SPEC, AZS);
    let p = plan_of(&d, &Actual::default(), true);
    assert!(p.ops.iter().all(|op| matches!(op, Op::Create(_))
        || matches!(op, Op::Update { key, .. } if key.kind == Kind::DefaultGroup)));
    for (kind, n) in [
        (Kind::Vpc, 1),
        (Kind::Subnet, 4),
        (Kind::Igw, 1),
        (Kind::Eip, 2),
        (Kind::Nat, 2),
        (Kind::RouteTable, 3),
        (Kind::Route, 3),
        (Kind::Association, 4),
        (Kind::Group, 1),
        (Kind::Endpoint, 2),
        (Kind::LogGroup, 1),
        (Kind::Role, 1),
        (Kind::FlowLog, 1),
    ] {
        assert_eq!(p.creates(kind), n, "{kind:?}");
    }
    let phases: Vec<u8> = p.ordered().iter().map(|op| op.phase()).collect();
    assert!(phases.windows(2).all(|w| w[0] <= w[1]));
    let phase = |kind| {
        p.ops
            .iter()
            .find(|op| op.key().kind == kind)
            .unwrap()
            .phase()
    };
    assert!(phase(Kind::Vpc) < phase(Kind::Subnet));
    assert!(phase(Kind::Subnet) < phase(Kind::Nat));
    assert!(phase(Kind::Nat) < phase(Kind::Route));
    assert!(lines(&p).contains(
        &"~ security group shop--vpc--dev default (egress_rules: 1 -> 0, ingress_rules: 1 -> 0)"
            .to_owned()
    ));
}

#[test]
fn vpc_cidr_cannot_change() {
    let (_, a) = base();
    let d = desired(
        r#"{"cidr":"10.1.0.0/16","azs":2,"nat":"per-az","endpoints":["ecr.api","s3"]}"#,
        AZS,
    );
    let e = plan(&ctx(), &d, &a, true).unwrap_err();
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("a VPC's CIDR cannot change"), "{e}");
}

#[test]
fn vpc_dns_attributes_are_turned_on_in_place() {
    let (d, mut a) = base();
    a.vpcs[0].state.dns_support = Some(false);
    exactly(
        &plan_of(&d, &a, true),
        &["~ vpc shop--vpc--dev (enable_dns_support: false -> true)"],
    );
    let (d, mut a) = base();
    a.vpcs[0].state.dns_hostnames = None;
    exactly(
        &plan_of(&d, &a, true),
        &["~ vpc shop--vpc--dev (enable_dns_hostnames: null -> true)"],
    );
}

#[test]
fn tags_are_set_where_aws_differs_and_others_left_alone() {
    let (d, mut a) = base();
    a.subnets[0].tags.insert("Name".into(), "renamed".into());
    a.subnets[0].tags.insert("cost-center".into(), "42".into());
    let p = plan_of(&d, &a, true);
    exactly(
        &p,
        &[&format!(
        "~ subnet shop--{}--dev (tags: {{\"Name\":\"renamed\"}} -> {{\"Name\":\"shop--{}--dev\"}})",
        a.subnets[0].component(),
        a.subnets[0].component()
    )],
    );
    let Op::Update { fixes, .. } = &p.ops[0] else {
        panic!()
    };
    assert_eq!(
        fixes[0].what,
        What::Tags(vec![(
            "Name".into(),
            format!("shop--{}--dev", a.subnets[0].component())
        )])
    );
}

#[test]
fn subnet_cidr_cannot_change() {
    let (d, mut a) = base();
    a.subnets[0].state.cidr = "10.0.200.0/24".into();
    let e = plan(&ctx(), &d, &a, true).unwrap_err();
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("a subnet cannot move"), "{e}");
}

#[test]
fn subnets_stop_giving_out_public_ips() {
    let (d, mut a) = base();
    a.subnets[0].state.map_public_ip = true;
    let name = ctx().name(a.subnets[0].component());
    exactly(
        &plan_of(&d, &a, true),
        &[&format!(
            "~ subnet {name} (map_public_ip_on_launch: true -> false)"
        )],
    );
}

#[test]
fn an_added_az_creates_its_subnets_table_routes_and_nat() {
    let (_, a) = base();
    let d = desired(
        r#"{"azs":3,"nat":"per-az","endpoints":["ecr.api","s3"]}"#,
        &["us-east-1a", "us-east-1b", "us-east-1c"],
    );
    let p = plan_of(&d, &a, true);
    let mut heads: Vec<String> = p
        .ops
        .iter()
        .map(|op| {
            let c = op.change(&ctx());
            format!(
                "{} {} {}",
                c.line().split(' ').next().unwrap(),
                c.kind,
                c.name
            )
        })
        .collect();
    heads.sort();
    let mut want = vec![
        "+ subnet shop--public-us-east-1c--dev",
        "+ subnet shop--private-us-east-1c--dev",
        "+ elastic ip shop--nat-eip-us-east-1c--dev",
        "+ nat gateway shop--nat-us-east-1c--dev",
        "+ route table shop--rt-private-us-east-1c--dev",
        "+ route shop--rt-private-us-east-1c--dev 0.0.0.0/0",
        "+ route table association shop--public-us-east-1c--dev",
        "+ route table association shop--private-us-east-1c--dev",
        "~ vpc endpoint shop--vpce-ecr-api--dev",
        "~ vpc endpoint shop--vpce-s3--dev",
    ];
    want.sort();
    assert_eq!(heads, want);
    // The endpoints' fields in full (a log line shortens long values).
    let fields: Vec<Value> = p
        .ops
        .iter()
        .filter(|op| op.key().kind == Kind::Endpoint)
        .map(|op| serde_json::to_value(&op.change(&ctx()).changes).unwrap())
        .collect();
    let privates = |tier: &str, azs: &[&str]| -> Value {
        azs.iter()
            .map(|az| format!("shop--{tier}-us-east-1{az}--dev"))
            .collect()
    };
    assert_eq!(
        fields,
        vec![
            json!({"subnets": {"from": privates("private", &["a", "b"]), "to": privates("private", &["a", "b", "c"])}}),
            json!({"route_tables": {"from": privates("rt-private", &["a", "b"]), "to": privates("rt-private", &["a", "b", "c"])}}),
        ]
    );
}

#[test]
fn a_removed_az_is_pruned_only_when_the_spec_says_so() {
    let (_, a) = base();
    let d = desired(
        r#"{"azs":1,"nat":"per-az","endpoints":["ecr.api","s3"]}"#,
        &["us-east-1a"],
    );
    let p = plan_of(&d, &a, true);
    let deletes: Vec<String> = lines(&p)
        .into_iter()
        .filter(|l| l.starts_with("- "))
        .collect();
    // The public subnet's association goes with the subnet (AWS removes a
    // deleted subnet's associations); the private one with its table.
    assert_eq!(deletes.len(), 6, "{deletes:?}");
    for l in [
        "- subnet shop--public-us-east-1b--dev",
        "- subnet shop--private-us-east-1b--dev",
        "- nat gateway shop--nat-us-east-1b--dev",
        "- elastic ip shop--nat-eip-us-east-1b--dev",
        "- route table shop--rt-private-us-east-1b--dev",
        "- route table association shop--private-us-east-1b--dev",
    ] {
        assert!(deletes.iter().any(|d| d == l), "{l} in {deletes:?}");
    }
    let kept = plan_of(&d, &a, false);
    assert!(
        kept.ops.iter().all(|op| !matches!(op, Op::Delete { .. })),
        "{:?}",
        lines(&kept)
    );
    assert!(
        kept.warnings[0].contains("nothing was pruned"),
        "{:?}",
        kept.warnings
    );
    assert!(kept
        .warnings
        .iter()
        .any(|w| w.contains("shop--nat-us-east-1b--dev")));
}

#[test]
fn a_removed_subnet_still_in_use_is_kept() {
    let (_, mut a) = base();
    let d = desired(
        r#"{"azs":1,"nat":"per-az","endpoints":["ecr.api","s3"]}"#,
        &["us-east-1a"],
    );
    a.enis.insert("subnet-private-us-east-1b".into(), 2);
    let p = plan_of(&d, &a, true);
    assert!(!lines(&p).contains(&"- subnet shop--private-us-east-1b--dev".to_owned()));
    assert!(lines(&p).contains(&"- subnet shop--public-us-east-1b--dev".to_owned()));
    assert!(p
        .warnings
        .iter()
        .any(|w| w.contains("2 network interface(s) still use it")));
}

#[test]
fn a_detached_internet_gateway_is_attached() {
    let (d, mut a) = base();
    a.igws[0].state.attached_to.clear();
    exactly(
        &plan_of(&d, &a, true),
        &["~ internet gateway shop--igw--dev (vpc: null -> shop--vpc--dev)"],
    );
}

#[test]
fn narrowing_nat_repoints_routes_then_removes_the_extra_gateway() {
    let (_, a) = base();
    let d = desired(
        r#"{"azs":2,"nat":"single","endpoints":["ecr.api","s3"]}"#,
        AZS,
    );
    let p = plan_of(&d, &a, true);
    exactly(&p, &[
        "~ route shop--rt-private-us-east-1b--dev 0.0.0.0/0 (target: shop--nat-us-east-1b--dev -> shop--nat-us-east-1a--dev)",
        "- nat gateway shop--nat-us-east-1b--dev",
        "- elastic ip shop--nat-eip-us-east-1b--dev",
    ]);
    let route = p.ops.iter().find(|o| o.key().kind == Kind::Route).unwrap();
    let nat = p.ops.iter().find(|o| o.key().kind == Kind::Nat).unwrap();
    let eip = p.ops.iter().find(|o| o.key().kind == Kind::Eip).unwrap();
    assert!(route.phase() < nat.phase() && nat.phase() < eip.phase());
}

#[test]
fn no_nat_removes_the_default_routes_when_stated() {
    let (_, a) = base();
    let d = desired(
        r#"{"azs":2,"nat":"none","endpoints":["ecr.api","s3"]}"#,
        AZS,
    );
    let p = plan_of(&d, &a, true);
    let l = lines(&p);
    assert!(
        l.contains(&"- route shop--rt-private-us-east-1a--dev 0.0.0.0/0".to_owned()),
        "{l:?}"
    );
    assert_eq!(
        l.iter().filter(|l| l.starts_with("- nat gateway")).count(),
        2
    );
}

#[test]
fn a_nat_gateway_in_another_subnet_is_replaced() {
    let (d, mut a) = base();
    a.nats[0].state.subnet_id = "subnet-elsewhere".into();
    // The route follows the new NAT gateway (the old one's id is gone).
    exactly(&plan_of(&d, &a, true), &[
        "-/+ nat gateway shop--nat-us-east-1a--dev (subnet: subnet-elsewhere -> shop--public-us-east-1a--dev)",
        "~ route shop--rt-private-us-east-1a--dev 0.0.0.0/0 (target: nat-id-us-east-1a -> shop--nat-us-east-1a--dev)",
    ]);
}

#[test]
fn a_blackhole_route_is_pointed_again() {
    let (d, mut a) = base();
    let t = a
        .tables
        .iter_mut()
        .find(|t| t.component() == "rt-private-us-east-1a")
        .unwrap();
    t.state.default_route.as_mut().unwrap().blackhole = true;
    exactly(&plan_of(&d, &a, true), &["~ route shop--rt-private-us-east-1a--dev 0.0.0.0/0 (target: nat-id-us-east-1a -> shop--nat-us-east-1a--dev)"]);
}

#[test]
fn a_subnet_in_the_wrong_table_is_moved() {
    let (d, mut a) = base();
    let moved = Assoc {
        id: "rtbassoc-x".into(),
        subnet_id: "subnet-private-us-east-1a".into(),
    };
    for t in &mut a.tables {
        t.state
            .associations
            .retain(|x| x.subnet_id != moved.subnet_id);
    }
    a.tables
        .iter_mut()
        .find(|t| t.component() == c::PUBLIC_TABLE)
        .unwrap()
        .state
        .associations
        .push(moved);
    exactly(&plan_of(&d, &a, true), &["~ route table association shop--private-us-east-1a--dev (route_table: shop--rt-public--dev -> shop--rt-private-us-east-1a--dev)"]);
}

#[test]
fn the_endpoint_group_lets_in_only_https_from_the_vpc() {
    let (d, mut a) = base();
    a.groups[0]
        .state
        .ingress
        .push(crate::rules::tcp_from(22, "0.0.0.0/0", "ssh"));
    let p = plan_of(&d, &a, true);
    exactly(&p, &["~ security group shop--endpoints--dev (ingress: [\"tcp 22 0.0.0.0/0\",\"tcp 443 10.0.0.0/16\"] -> [\"tcp 443 10.0.0.0/16\"])"]);
    let Op::Update { fixes, .. } = &p.ops[0] else {
        panic!()
    };
    let What::Ingress { add, revoke } = &fixes[0].what else {
        panic!()
    };
    assert!(add.is_empty() && crate::rules::shown(revoke) == ["tcp 22 0.0.0.0/0"]);
}

#[test]
fn endpoint_members_and_private_dns_are_fixed_in_place() {
    let (d, mut a) = base();
    let e = a
        .endpoints
        .iter_mut()
        .find(|e| e.component() == "vpce-ecr-api")
        .unwrap();
    e.state.subnets.pop();
    e.state.groups = vec!["sg-other".into()];
    e.state.private_dns = false;
    let p = plan_of(&d, &a, true);
    let Op::Update { fixes, .. } = &p.ops[0] else {
        panic!()
    };
    let fields: Vec<&str> = fixes.iter().map(|f| f.field).collect();
    assert_eq!(fields, ["subnets", "security_groups", "private_dns"]);
    assert_eq!(
        fixes[1].what,
        What::EndpointGroups {
            add: vec!["endpoints".into()],
            remove: vec!["sg-other".into()]
        }
    );
    let (d, mut a) = base();
    a.endpoints
        .iter_mut()
        .find(|e| e.component() == "vpce-s3")
        .unwrap()
        .state
        .tables
        .clear();
    let p = plan_of(&d, &a, true);
    assert_eq!(p.ops.len(), 1);
    assert!(lines(&p)[0].starts_with("~ vpc endpoint shop--vpce-s3--dev (route_tables: [] -> "));
}

#[test]
fn an_endpoint_of_another_service_is_replaced() {
    let (d, mut a) = base();
    a.endpoints[0].state.service = "com.amazonaws.us-east-1.ecr.dkr".into();
    let p = plan_of(&d, &a, true);
    assert_eq!(p.ops.len(), 1);
    assert!(
        lines(&p)[0].starts_with("-/+ vpc endpoint"),
        "{:?}",
        lines(&p)
    );
}

#[test]
fn dropped_endpoints_and_their_group_go_when_stated() {
    let (_, a) = base();
    let d = desired(r#"{"azs":2,"nat":"per-az","endpoints":["s3"]}"#, AZS);
    let p = plan_of(&d, &a, true);
    exactly(
        &p,
        &[
            "- vpc endpoint shop--vpce-ecr-api--dev",
            "- security group shop--endpoints--dev",
        ],
    );
    let group = p.ops.iter().find(|o| o.key().kind == Kind::Group).unwrap();
    let endpoint = p
        .ops
        .iter()
        .find(|o| o.key().kind == Kind::Endpoint)
        .unwrap();
    assert!(endpoint.phase() < group.phase());
    assert!(plan_of(&d, &a, false).ops.is_empty());
}

#[test]
fn the_default_group_is_emptied_as_the_vpc_is_checked() {
    let (d, mut a) = base();
    let self_ref = IpPermission::builder()
        .ip_protocol("-1")
        .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-default").build())
        .build();
    let all_out = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    a.default_group.as_mut().unwrap().state = GroupState {
        vpc_id: "vpc-1".into(),
        ingress: vec![self_ref],
        egress: vec![all_out],
    };
    exactly(
        &plan_of(&d, &a, true),
        &["~ security group shop--vpc--dev default (egress_rules: 1 -> 0, ingress_rules: 1 -> 0)"],
    );
    // The group is proven ours through its VPC's tags.
    a.vpcs[0]
        .tags
        .insert(common::naming::TAG_ENV.into(), "prod".into());
    let e = plan(&ctx(), &d, &a, true).unwrap_err();
    assert_eq!(e.exit_code(), 10);
}

#[test]
fn flow_log_group_retention_and_role_policies_are_fixed_in_place() {
    let (d, mut a) = base();
    a.log_group.as_mut().unwrap().state.retention = Some(30);
    exactly(
        &plan_of(&d, &a, true),
        &["~ log group /vpc/shop/dev/flow-logs (retention_days: 30 -> 365)"],
    );
    let (d, mut a) = base();
    a.role.as_mut().unwrap().state.policy = Some(json!({"Statement": []}));
    a.role.as_mut().unwrap().state.trust = None;
    let p = plan_of(&d, &a, true);
    let Op::Update { fixes, .. } = &p.ops[0] else {
        panic!()
    };
    let fields: Vec<&str> = fixes.iter().map(|f| f.field).collect();
    assert_eq!(fields, ["trust_policy", "policy"]);
}

#[test]
fn a_flow_log_that_differs_is_replaced() {
    let (d, mut a) = base();
    a.flow_logs[0].state.traffic_type = "REJECT".into();
    a.flow_logs[0].state.interval = 60;
    exactly(&plan_of(&d, &a, true), &["-/+ flow log shop--flow-logs--dev (max_aggregation_interval: 60 -> 600, traffic_type: REJECT -> ALL)"]);
}

#[test]
fn flow_logs_off_removes_the_flow_log_and_role_and_keeps_the_records() {
    let (_, a) = base();
    let d = desired(
        r#"{"azs":2,"nat":"per-az","endpoints":["ecr.api","s3"],"flow_logs":false}"#,
        AZS,
    );
    let p = plan_of(&d, &a, true);
    exactly(
        &p,
        &[
            "- flow log shop--flow-logs--dev",
            "- iam role shop--flow-logs--dev",
        ],
    );
    assert!(p
        .warnings
        .iter()
        .any(|w| w.contains("log group /vpc/shop/dev/flow-logs is kept")));
    let role = p.ops.iter().find(|o| o.key().kind == Kind::Role).unwrap();
    assert!(
        p.ops[0].phase() < role.phase(),
        "the flow log goes before its role"
    );
}

#[test]
fn a_log_group_or_role_of_that_name_that_is_not_ours_is_refused() {
    let (d, mut a) = base();
    a.log_group.as_mut().unwrap().tags = Tags::new();
    let e = plan(&ctx(), &d, &a, true).unwrap_err();
    assert_eq!(e.exit_code(), 10);
    assert!(
        e.to_string().contains("log group /vpc/shop/dev/flow-logs"),
        "{e}"
    );
    let (d, mut a) = base();
    a.role
        .as_mut()
        .unwrap()
        .tags
        .insert(common::naming::TAG_STACK.into(), "other".into());
    assert_eq!(plan(&ctx(), &d, &a, true).unwrap_err().exit_code(), 10);
}

#[test]
fn two_resources_claiming_one_component_are_refused_naming_both() {
    let (d, mut a) = base();
    let mut twin = a.vpcs[0].clone();
    twin.id = "vpc-2".into();
    a.vpcs.push(twin);
    let e = plan(&ctx(), &d, &a, true).unwrap_err();
    assert_eq!(e.exit_code(), 10);
    assert!(
        e.to_string()
            .contains("two vpcs claim to be shop/dev's vpc: vpc-1 and vpc-2"),
        "{e}"
    );
}

#[test]
fn an_update_of_a_resource_tagged_for_another_env_is_refused() {
    let (d, mut a) = base();
    a.subnets[0].state.map_public_ip = true;
    a.subnets[0]
        .tags
        .insert(common::naming::TAG_ENV.into(), "prod".into());
    let e = plan(&ctx(), &d, &a, true).unwrap_err();
    assert_eq!(e.exit_code(), 10);
    assert!(e.to_string().contains("belongs to shop/prod"), "{e}");
}

#[test]
fn changes_carry_ids_for_updates_and_deletes_only() {
    let (_, a) = base();
    let d = desired(
        r#"{"azs":2,"nat":"single","endpoints":["ecr.api","s3"]}"#,
        AZS,
    );
    let p = plan_of(&d, &a, true);
    for op in &p.ops {
        let c = op.change(&ctx());
        match c.action {
            Action::Create => assert!(c.id.is_none()),
            _ => assert!(c.id.is_some(), "{}", c.line()),
        }
    }
}
