//! An existing VPC (`spec.network.existing`, issue 16 item 5) against the
//! emulator: the test builds a VPC the stack does not own with the plain SDK
//! (two AZs, public subnets through an internet gateway, private ones through
//! a NAT gateway); net-up adopts it without a single mutating call, and
//! teardown leaves it standing. A VPC whose private subnets have no way out
//! and no endpoints, and a subnet of another VPC, are refused (exit 5) before
//! any change; with the owner's endpoints such subnets are fine. A stack whose
//! own VPC stands cannot switch to an existing one (exit 10).

use aws_sdk_ec2::Client;
use serde_json::{json, Value};
use testkit::{unique_stack, Emulator, Lane};

const REGION: &str = "us-east-1";

/// A VPC made outside fargate-pipes: untagged, as another team would hand it over.
struct Theirs {
    vpc: String,
    public: Vec<String>,
    private: Vec<String>,
    private_table: String,
}

async fn subnet(ec2: &Client, vpc: &str, cidr: &str, az: &str) -> String {
    let out = ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(az)
        .send()
        .await
        .unwrap();
    out.subnet().unwrap().subnet_id().unwrap().to_owned()
}

async fn table(ec2: &Client, vpc: &str, subnets: &[String]) -> String {
    let id = ec2
        .create_route_table()
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_owned();
    for s in subnets {
        ec2.associate_route_table()
            .route_table_id(&id)
            .subnet_id(s)
            .send()
            .await
            .unwrap();
    }
    id
}

/// Their VPC in us-east-1a and 1b; the private subnets reach out through a
/// NAT gateway when `nat`, and have no route out at all otherwise.
async fn their_vpc(ec2: &Client, nat: bool) -> Theirs {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.77.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let public = vec![
        subnet(ec2, &vpc, "10.77.0.0/24", "us-east-1a").await,
        subnet(ec2, &vpc, "10.77.1.0/24", "us-east-1b").await,
    ];
    let private = vec![
        subnet(ec2, &vpc, "10.77.10.0/24", "us-east-1a").await,
        subnet(ec2, &vpc, "10.77.11.0/24", "us-east-1b").await,
    ];
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_owned();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let public_table = table(ec2, &vpc, &public).await;
    ec2.create_route()
        .route_table_id(&public_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    let private_table = table(ec2, &vpc, &private).await;
    if nat {
        let eip = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap();
        let nat = ec2
            .create_nat_gateway()
            .subnet_id(&public[0])
            .allocation_id(eip.allocation_id().unwrap())
            .send()
            .await
            .unwrap();
        ec2.create_route()
            .route_table_id(&private_table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(nat.nat_gateway().unwrap().nat_gateway_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    Theirs {
        vpc,
        public,
        private,
        private_table,
    }
}

fn doc(stack: &str, theirs: &Theirs) -> Value {
    json!({"version": 1, "stack": stack, "env": "dev", "spec": {
        "network": {"azs": 2, "existing": {"vpc_id": theirs.vpc,
            "public_subnets": theirs.public, "private_subnets": theirs.private}},
        "services": {"api": {"image": "nginx", "port": 80}}}})
}

/// The lane's mutating EC2 calls.
fn ec2_mutations(lane: &Lane) -> Vec<Value> {
    lane.fault_state()["mutation_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.as_str().unwrap().starts_with("ec2 "))
        .cloned()
        .collect()
}

/// Whether the VPC and every one of its subnets still stand.
async fn standing(ec2: &Client, theirs: &Theirs) -> bool {
    let vpcs = ec2
        .describe_vpcs()
        .vpc_ids(&theirs.vpc)
        .send()
        .await
        .unwrap();
    let subnets = ec2
        .describe_subnets()
        .set_subnet_ids(Some(
            theirs
                .public
                .iter()
                .chain(&theirs.private)
                .cloned()
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    vpcs.vpcs().len() == 1 && subnets.subnets().len() == 4
}

#[test]
fn an_existing_vpc_is_adopted_without_a_change_and_teardown_leaves_it_standing() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("byovpc");
    let s = em.session(&stack, "dev", REGION);
    let ec2 = Client::new(s.sdk());
    let theirs = s.block_on(their_vpc(&ec2, true));
    let input = doc(&stack, &theirs);

    let out = lane
        .tool("net-up")
        .stdin(input.to_string())
        .succeeds()
        .json();
    let net = &out["network"];
    assert_eq!(net["adopted"], json!(true));
    assert_eq!(net["vpc_id"], json!(theirs.vpc));
    assert_eq!(net["cidr"], json!("10.77.0.0/16"));
    assert_eq!(net["azs"], json!(["us-east-1a", "us-east-1b"]));
    assert_eq!(net["private_subnet_ids"], json!(theirs.private));
    assert_eq!(net["public_subnet_ids"], json!(theirs.public));
    assert_eq!(net["private_subnets"][1]["cidr"], json!("10.77.11.0/24"));
    assert_eq!(ec2_mutations(&lane), Vec::<Value>::new());
    // A re-run reads the same network.
    let again = lane.tool("net-up").stdin(out.to_string()).succeeds().json();
    assert_eq!(again["network"], out["network"]);

    // A document that drops `adopted` names ids that are not ours: refused,
    // never deleted as hints.
    let mut forged = out.clone();
    forged["network"].as_object_mut().unwrap().remove("adopted");
    lane.tool("teardown")
        .stdin(forged.to_string())
        .fails()
        .code(10);
    lane.tool("teardown").stdin(out.to_string()).succeeds();
    assert_eq!(ec2_mutations(&lane), Vec::<Value>::new());
    assert!(s.block_on(standing(&ec2, &theirs)));
}

#[test]
fn private_subnets_without_a_way_out_or_endpoints_are_refused() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("byoclosed");
    let s = em.session(&stack, "dev", REGION);
    let ec2 = Client::new(s.sdk());
    let theirs = s.block_on(their_vpc(&ec2, false));
    let err = lane
        .tool("net-up")
        .stdin(doc(&stack, &theirs).to_string())
        .fails()
        .code(5);
    assert!(
        err.contains("spec.network.existing.private_subnets[0]")
            && err.contains("has no route out")
            && err.contains("ecr.api, ecr.dkr, logs, s3"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(lane.fault_state()["mutation_log"], json!([]));
}

#[test]
fn a_subnet_of_another_vpc_is_refused() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("byoother");
    let s = em.session(&stack, "dev", REGION);
    let ec2 = Client::new(s.sdk());
    let (mut theirs, other) =
        s.block_on(async { tokio::join!(their_vpc(&ec2, true), their_vpc(&ec2, true)) });
    theirs.private[1] = other.private[1].clone();
    let err = lane
        .tool("net-up")
        .stdin(doc(&stack, &theirs).to_string())
        .fails()
        .code(5);
    assert!(
        err.contains(&format!(
            "spec.network.existing.private_subnets[1]: subnet {} is in {}, not in {}",
            other.private[1], other.vpc, theirs.vpc
        )),
        "{err}"
    );
    assert_eq!(lane.fault_state()["mutation_log"], json!([]));
}

/// The endpoints a plain service's tasks use, made by the VPC's owner.
async fn endpoints(ec2: &Client, theirs: &Theirs) {
    use aws_sdk_ec2::types::VpcEndpointType;
    for short in ["ecr.api", "ecr.dkr", "logs"] {
        ec2.create_vpc_endpoint()
            .vpc_id(&theirs.vpc)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .service_name(format!("com.amazonaws.{REGION}.{short}"))
            .set_subnet_ids(Some(theirs.private.clone()))
            .private_dns_enabled(true)
            .send()
            .await
            .unwrap();
    }
    ec2.create_vpc_endpoint()
        .vpc_id(&theirs.vpc)
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .service_name(format!("com.amazonaws.{REGION}.s3"))
        .route_table_ids(&theirs.private_table)
        .send()
        .await
        .unwrap();
}

#[test]
fn private_subnets_without_a_way_out_are_adopted_with_the_endpoints_their_tasks_need() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("byoendpoints");
    let s = em.session(&stack, "dev", REGION);
    let ec2 = Client::new(s.sdk());
    let theirs = s.block_on(async {
        let theirs = their_vpc(&ec2, false).await;
        endpoints(&ec2, &theirs).await;
        theirs
    });
    let out = lane
        .tool("net-up")
        .stdin(doc(&stack, &theirs).to_string())
        .succeeds()
        .json();
    assert_eq!(out["network"]["adopted"], json!(true));
    assert_eq!(ec2_mutations(&lane), Vec::<Value>::new());
    // A service that reads a secret needs Secrets Manager's endpoint too.
    let mut secret = doc(&stack, &theirs);
    secret["spec"]["secrets"] = json!({"db": {}});
    secret["spec"]["services"]["api"]["secrets"] = json!({"DB": {"secret": "db"}});
    let err = lane
        .tool("net-up")
        .stdin(secret.to_string())
        .fails()
        .code(5);
    assert!(err.contains("need: secretsmanager;"), "{err}");
}

#[test]
fn a_stack_whose_own_vpc_stands_cannot_switch_to_an_existing_one() {
    let em = Emulator::shared();
    let stack = unique_stack("byoswitch");
    let made = em.network(&stack, "dev");
    let s = em.session(&stack, "dev", REGION);
    let ec2 = Client::new(s.sdk());
    let theirs = s.block_on(their_vpc(&ec2, true));
    let lane = em.lane();
    let err = lane
        .tool("net-up")
        .stdin(doc(&stack, &theirs).to_string())
        .fails()
        .code(10);
    let own = made["network"]["vpc_id"].as_str().unwrap();
    assert!(
        err.contains(&format!("already has a VPC net-up made ({own})")),
        "{err}"
    );
    assert_eq!(lane.fault_state()["mutation_log"], json!([]));
    em.tool("teardown").stdin(made.to_string()).succeeds();
    assert!(s.block_on(standing(&ec2, &theirs)));
}
