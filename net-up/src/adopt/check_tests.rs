use super::*;

const VPC: &str = "vpc-0000000a";

fn subnet(id: &str, vpc: &str, az: &str) -> SubnetSeen {
    SubnetSeen {
        id: id.into(),
        vpc_id: vpc.into(),
        az: az.into(),
        az_id: format!("use1-az{}", if az.ends_with('a') { 1 } else { 2 }),
        cidr: "10.9.0.0/24".into(),
    }
}

fn table(id: &str, subnets: &[&str], way_out: Option<&str>, to_igw: bool) -> TableSeen {
    TableSeen {
        id: id.into(),
        main: false,
        subnets: subnets.iter().map(|s| (*s).to_owned()).collect(),
        way_out: way_out.map(str::to_owned),
        to_igw,
    }
}

fn existing(public: &[&str], private: &[&str]) -> Existing {
    Existing {
        vpc_id: VPC.into(),
        public_subnets: public.iter().map(|s| (*s).to_owned()).collect(),
        private_subnets: private.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Two public and two private subnets in two AZs, the private ones through a NAT.
fn seen() -> Seen {
    Seen {
        vpc_cidr: Some("10.9.0.0/16".into()),
        subnets: vec![
            subnet("subnet-p1", VPC, "us-east-1a"),
            subnet("subnet-p2", VPC, "us-east-1b"),
            subnet("subnet-q1", VPC, "us-east-1a"),
            subnet("subnet-q2", VPC, "us-east-1b"),
        ],
        tables: vec![
            table("rtb-pub", &["subnet-p1", "subnet-p2"], None, true),
            table(
                "rtb-priv",
                &["subnet-q1", "subnet-q2"],
                Some("nat-1"),
                false,
            ),
        ],
        endpoints: vec![],
    }
}

fn want(e: &Existing) -> Want<'_> {
    Want {
        existing: e,
        azs: Azs::Count(2),
        needed: vec!["ecr.api", "ecr.dkr", "logs", "s3"],
        region: "us-east-1",
    }
}

fn refusal(e: &Existing, seen: &Seen) -> String {
    let err = check(&want(e), seen).unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    err.to_string()
}

#[test]
fn a_fit_vpc_becomes_an_adopted_network() {
    let e = existing(&["subnet-p1", "subnet-p2"], &["subnet-q1", "subnet-q2"]);
    let n = check(&want(&e), &seen()).unwrap();
    assert!(n.adopted);
    assert_eq!(n.vpc_id, VPC);
    assert_eq!(n.cidr, "10.9.0.0/16");
    assert_eq!(n.azs, ["us-east-1a", "us-east-1b"]);
    assert_eq!(n.az_ids, ["use1-az1", "use1-az2"]);
    assert_eq!(n.private_subnet_ids, ["subnet-q1", "subnet-q2"]);
    assert_eq!(n.public_subnets[1].az, "us-east-1b");
    assert_eq!(n.public_route_table_id, "rtb-pub");
    assert_eq!(n.private_route_table_ids, ["rtb-priv", "rtb-priv"]);
    assert_eq!(
        n.internet_gateway_id, "",
        "the owner's gateway is not ours to name"
    );
    assert!(n.nat_gateway_ids.is_empty() && n.endpoints.is_empty());
}

#[test]
fn a_missing_vpc_or_subnet_or_one_of_another_vpc_is_refused() {
    let e = existing(&[], &["subnet-q1", "subnet-q2"]);
    let mut none = seen();
    none.vpc_cidr = None;
    assert!(refusal(&e, &none)
        .starts_with("spec.network.existing.vpc_id: VPC vpc-0000000a not found in us-east-1"));
    let e = existing(&[], &["subnet-q1", "subnet-zz"]);
    assert_eq!(
        refusal(&e, &seen()),
        "spec.network.existing.private_subnets[1]: subnet subnet-zz not found in us-east-1"
    );
    let mut other = seen();
    other.subnets[3].vpc_id = "vpc-0000000b".into();
    let e = existing(&[], &["subnet-q1", "subnet-q2"]);
    assert!(refusal(&e, &other).starts_with(
        "spec.network.existing.private_subnets[1]: subnet subnet-q2 is in vpc-0000000b, not in vpc-0000000a"
    ));
}

#[test]
fn private_subnets_must_span_the_azs_asked_for() {
    let mut one_az = seen();
    one_az.subnets[3].az = "us-east-1a".into();
    let e = existing(&[], &["subnet-q1", "subnet-q2"]);
    let msg = refusal(&e, &one_az);
    assert!(
        msg.starts_with("spec.network.existing.private_subnets: the private subnets span 1 AZ (us-east-1a) but spec.network.azs asks for 2 AZs"),
        "{msg}"
    );
    let named = Want {
        azs: Azs::Names(vec!["us-east-1a".into(), "us-east-1c".into()]),
        ..want(&e)
    };
    let msg = check(&named, &seen()).unwrap_err().to_string();
    assert!(msg.contains("asks for us-east-1c;"), "{msg}");
}

#[test]
fn a_private_subnet_without_a_way_out_needs_the_endpoints() {
    let mut closed = seen();
    closed.tables[1] = table("rtb-priv", &["subnet-q1", "subnet-q2"], None, true);
    let e = existing(&[], &["subnet-q1", "subnet-q2"]);
    let msg = refusal(&e, &closed);
    assert!(
        msg.starts_with("spec.network.existing.private_subnets[0]: subnet subnet-q1's route table rtb-priv has no route out (its route to an internet gateway"),
        "{msg}"
    );
    assert!(msg.contains("need: ecr.api, ecr.dkr, logs, s3;"), "{msg}");
    // The endpoints, with private DNS and S3 on the subnets' table, are enough.
    let ep = |short: &str, gateway: bool| EndpointSeen {
        short: short.into(),
        gateway,
        private_dns: !gateway,
        tables: if gateway {
            vec!["rtb-priv".into()]
        } else {
            vec![]
        },
    };
    closed.endpoints = vec![
        ep("ecr.api", false),
        ep("ecr.dkr", false),
        ep("logs", false),
        ep("s3", true),
    ];
    assert!(check(&want(&e), &closed).is_ok());
    // An interface endpoint without private DNS is not reached by its usual name.
    closed.endpoints[2].private_dns = false;
    assert!(refusal(&e, &closed).contains("need: logs;"));
    // Without services, nothing is needed.
    let bare = Want {
        needed: vec![],
        ..want(&e)
    };
    assert!(check(&bare, &closed).is_ok());
}

#[test]
fn a_subnet_without_a_table_of_its_own_is_routed_by_the_main_one() {
    let mut main_only = seen();
    main_only.tables[1].subnets.clear();
    main_only.tables[1].main = true;
    let e = existing(&[], &["subnet-q1", "subnet-q2"]);
    let n = check(&want(&e), &main_only).unwrap();
    assert_eq!(n.private_route_table_ids, ["rtb-priv", "rtb-priv"]);
    main_only.tables[1].way_out = None;
    assert!(refusal(&e, &main_only).contains("route table rtb-priv has no route out"));
}

#[test]
fn a_public_subnet_must_route_to_an_internet_gateway() {
    let e = existing(&["subnet-q1"], &["subnet-q2"]);
    let one = Want {
        azs: Azs::Count(1),
        ..want(&e)
    };
    let msg = check(&one, &seen()).unwrap_err().to_string();
    assert!(
        msg.starts_with("spec.network.existing.public_subnets[0]: subnet subnet-q1's route table rtb-priv has no route 0.0.0.0/0 to an internet gateway"),
        "{msg}"
    );
}

#[test]
fn a_private_subnet_where_fargate_does_not_run_is_refused() {
    let mut constrained = seen();
    constrained.subnets[3].az_id = "use1-az3".into();
    let e = existing(&[], &["subnet-q1", "subnet-q2"]);
    assert!(refusal(&e, &constrained).starts_with(
        "spec.network.existing.private_subnets[1]: subnet subnet-q2 is in us-east-1b (use1-az3), where Fargate does not run"
    ));
}
