//! net-up against the emulator: discover, plan, apply. A re-run is a no-op
//! (measured in calls), `--plan` changes nothing and lists what the apply then
//! does, a changed field gives the one change it needs, pruning happens only
//! from an explicit spec, a document that names another env's or stack's
//! resources is refused before any change, two VPCs claiming one identity are
//! refused (and both torn down), the account's limits are checked first, and
//! the hardened baseline (flow logs, a default group without rules) is there.
//!
//! Each test runs in a fault lane of its own, so its `mutation_log` holds
//! exactly its own tools' mutating calls.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde_json::{json, Value};
use testkit::{unique_stack, Emulator, Lane, Tool};

const REGION: &str = "us-east-1";

fn filter<const N: usize>(name: &str, values: [String; N]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn doc(stack: &str, network: Value) -> Value {
    json!({"version": 1, "stack": stack, "env": "dev", "spec": {"network": network}})
}

/// net-up in `lane` on `doc`, verbose (one stderr line per change).
fn net_up(lane: &Lane, doc: &Value) -> Tool {
    lane.tool("net-up").arg("-v").stdin(doc.to_string())
}

/// The change lines of a run's stderr (`net-up: <mark> <kind> <name> ...`),
/// without the prefix, sorted.
fn changes(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.split_once("net-up: ").map(|(_, rest)| rest))
        .filter(|l| ["+ ", "~ ", "- ", "-/+ "].iter().any(|m| l.starts_with(m)))
        .map(str::to_owned)
        .collect();
    out.sort();
    out
}

/// `<mark> <kind> <name>` of each entry of a document's `plan`, sorted.
fn plan_heads(doc: &Value) -> Vec<String> {
    let mark = |a: &str| match a {
        "create" => "+",
        "update" => "~",
        "replace" => "-/+",
        _ => "-",
    };
    let mut out: Vec<String> = doc["plan"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let (a, k, n) = (&c["action"], &c["kind"], &c["name"]);
            format!(
                "{} {} {}",
                mark(a.as_str().unwrap()),
                k.as_str().unwrap(),
                n.as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

fn teardown(em: &Emulator, stack: &str) {
    em.tool("teardown")
        .args(["-n", "--stack", stack, "--env", "dev"])
        .succeeds();
    let left = em.inventory(REGION, stack, "dev");
    assert!(left.is_empty(), "{stack} left behind: {:?}", left.counts());
    // The flow logs' group and role, which the inventory does not list.
    let s = em.session(stack, "dev", REGION);
    let logs = aws_sdk_cloudwatchlogs::Client::new(s.sdk());
    let iam = aws_sdk_iam::Client::new(s.sdk());
    let (groups, role) = s.block_on(async {
        let groups = logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/vpc/{stack}/dev/"))
            .send()
            .await
            .unwrap();
        let role = iam
            .get_role()
            .role_name(format!("{stack}--flow-logs--dev"))
            .send()
            .await;
        (groups, role)
    });
    assert!(groups.log_groups().is_empty(), "{groups:?}");
    assert!(role.is_err(), "the flow logs' role is left: {role:?}");
}

#[test]
fn up_then_a_rerun_changes_nothing_then_teardown_leaves_nothing() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netnoop");
    // The microservices stack's network (stacks/microservices.json).
    let spec = doc(
        &stack,
        json!({"cidr": "10.0.0.0/16", "azs": 2, "nat": "per-az",
            "public_subnet_cidrs": ["10.0.1.0/24", "10.0.2.0/24"],
            "private_subnet_cidrs": ["10.0.11.0/24", "10.0.12.0/24"]}),
    );
    let first = net_up(&lane, &spec).succeeds();
    let out = first.json();
    let counts = em.inventory(REGION, &stack, "dev").counts();
    assert_eq!(counts["vpc"], 1, "{counts:?}");
    assert_eq!(counts["subnet"], 4);
    assert_eq!(counts["nat_gateway"], 2);
    assert_eq!(counts["elastic_ip"], 2);
    assert!(
        out["network"]["flow_log"]["id"].is_string(),
        "{}",
        out["network"]
    );

    lane.set_faults(json!({}));
    let again = net_up(&lane, &out).succeeds();
    assert_eq!(changes(&again.stderr()), Vec::<String>::new());
    assert_eq!(
        lane.mutations(),
        Vec::<String>::new(),
        "a re-run mutates nothing"
    );
    assert_eq!(again.json()["network"], out["network"]);
    let calls = lane.fault_state()["calls"].as_u64().unwrap();
    eprintln!("a no-op re-run of net-up made {calls} calls");
    assert!(calls <= 25, "a no-op re-run made {calls} calls");

    teardown(em, &stack);
}

#[test]
fn the_baseline_flow_logs_on_and_the_default_group_without_rules() {
    let em = Emulator::shared();
    let stack = unique_stack("netbase");
    let out = em
        .tool("net-up")
        .args([
            "-n", "--stack", &stack, "--env", "dev", "--azs", "2", "--nat", "none",
        ])
        .succeeds()
        .json();
    let net = &out["network"];
    let vpc = net["vpc_id"].as_str().unwrap().to_owned();
    let s = em.session(&stack, "dev", REGION);
    let ec2 = aws_sdk_ec2::Client::new(s.sdk());
    let (groups, logs) = s.block_on(async {
        let groups = ec2
            .describe_security_groups()
            .filters(filter("vpc-id", [vpc.clone()]))
            .filters(filter("group-name", ["default".to_owned()]))
            .send()
            .await
            .unwrap();
        let logs = ec2
            .describe_flow_logs()
            .filter(filter("resource-id", [vpc.clone()]))
            .send()
            .await
            .unwrap();
        (groups, logs)
    });
    let default = &groups.security_groups()[0];
    assert!(default.ip_permissions().is_empty(), "{default:?}");
    assert!(default.ip_permissions_egress().is_empty(), "{default:?}");
    let flow = &logs.flow_logs()[0];
    assert_eq!(flow.log_group_name(), net["flow_log"]["log_group"].as_str());
    assert_eq!(
        flow.deliver_logs_permission_arn(),
        net["flow_log"]["role_arn"].as_str()
    );
    assert_eq!(net["flow_log"]["retention_days"], 365);
    teardown(em, &stack);
}

#[test]
fn plan_on_a_fresh_stack_mutates_nothing_and_the_apply_does_what_it_listed() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netplan");
    let spec = doc(
        &stack,
        json!({"azs": 2, "nat": "single", "endpoints": ["s3"]}),
    );
    let planned = lane
        .tool("net-up")
        .arg("--plan")
        .stdin(spec.to_string())
        .succeeds()
        .json();
    assert_eq!(
        lane.fault_state()["mutation_log"],
        json!([]),
        "a plan takes no lock either"
    );
    let heads = plan_heads(&planned);
    assert!(
        heads.contains(&format!("+ vpc {stack}--vpc--dev")),
        "{heads:?}"
    );
    // Creates only, and the default group's rules revoked (EC2.2) once the VPC exists.
    let default = format!("~ security group {stack}--vpc--dev default");
    assert!(heads.contains(&default), "{heads:?}");
    assert!(
        heads.iter().all(|h| h.starts_with("+ ") || *h == default),
        "{heads:?}"
    );
    assert!(planned["network"]["vpc_id"]
        .as_str()
        .unwrap()
        .starts_with("planned:"));

    let applied = net_up(&lane, &spec).succeeds();
    let done: Vec<String> = changes(&applied.stderr())
        .into_iter()
        .map(|l| l.split(" (").next().unwrap().to_owned())
        .collect();
    assert_eq!(done, heads, "the apply made exactly the planned changes");

    let out = applied.json();
    let again = lane
        .tool("net-up")
        .arg("--plan")
        .stdin(out.to_string())
        .succeeds()
        .json();
    assert_eq!(
        plan_heads(&again),
        Vec::<String>::new(),
        "up to date: an empty plan"
    );
    teardown(em, &stack);
}

#[test]
fn a_changed_field_gives_the_one_change_it_needs() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netfield");
    let spec = doc(
        &stack,
        json!({"azs": 2, "nat": "none", "endpoints": ["s3"]}),
    );
    let out = net_up(&lane, &spec).succeeds().json();
    let group = format!("/vpc/{stack}/dev/flow-logs");

    let mut changed = out.clone();
    changed["spec"]["network"]["flow_logs_retention_days"] = json!(30);
    lane.set_faults(json!({}));
    let run = net_up(&lane, &changed).succeeds();
    assert_eq!(
        changes(&run.stderr()),
        vec![format!("~ log group {group} (retention_days: 365 -> 30)")]
    );
    assert_eq!(
        lane.mutations(),
        vec![format!("logs PutRetentionPolicy {group}")]
    );

    let mut more = run.json();
    more["spec"]["network"]["endpoints"] = json!(["s3", "logs"]);
    let run = net_up(&lane, &more).succeeds();
    let lines = changes(&run.stderr());
    let creates: Vec<&String> = lines.iter().filter(|l| l.starts_with("+ ")).collect();
    assert_eq!(creates.len(), 2, "the endpoint and its group: {lines:?}");
    assert!(
        lines.contains(&format!("+ vpc endpoint {stack}--vpce-logs--dev")),
        "{lines:?}"
    );
    teardown(em, &stack);
}

#[test]
fn a_dropped_endpoint_is_pruned_only_from_a_stated_spec() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netprune");
    let spec = doc(
        &stack,
        json!({"azs": 2, "nat": "none", "endpoints": ["s3", "logs"]}),
    );
    let out = net_up(&lane, &spec).succeeds().json();

    // No spec at all (flags only): nothing is pruned, and the run says why.
    lane.set_faults(json!({}));
    let mut bare = out.clone();
    bare["spec"] = json!({});
    let run = net_up(&lane, &bare)
        .args(["--azs", "2", "--nat", "none", "--endpoints", "s3"])
        .succeeds();
    assert_eq!(changes(&run.stderr()), Vec::<String>::new());
    assert!(
        run.stderr().contains("nothing was pruned"),
        "{}",
        run.stderr()
    );
    assert_eq!(lane.mutations(), Vec::<String>::new());

    let mut stated = out.clone();
    stated["spec"]["network"]["endpoints"] = json!(["s3"]);
    let run = net_up(&lane, &stated).succeeds();
    let lines = changes(&run.stderr());
    assert!(
        lines.contains(&format!("- vpc endpoint {stack}--vpce-logs--dev")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with("- ")),
        "only deletes: {lines:?}"
    );
    assert_eq!(
        run.json()["network"]["endpoints"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    teardown(em, &stack);
}

#[test]
fn another_envs_document_or_another_stacks_vpc_is_refused_before_any_change() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netattack");
    let other = unique_stack("netvictim");
    let out = net_up(&lane, &doc(&stack, json!({"azs": 2, "nat": "none"})))
        .succeeds()
        .json();
    let victim = em.network(&other, "dev");

    // jq '.env="prod"': the recorded ids are dev's.
    lane.set_faults(json!({}));
    let mut prod = out.clone();
    prod["env"] = json!("prod");
    let err = net_up(&lane, &prod).fails().code(10);
    assert!(
        err.contains(out["network"]["vpc_id"].as_str().unwrap()),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(lane.mutations(), Vec::<String>::new());

    // .network.vpc_id pointed at another stack's VPC.
    let mut hijack = out.clone();
    hijack["network"]["vpc_id"] = victim["network"]["vpc_id"].clone();
    let err = net_up(&lane, &hijack).fails().code(10);
    assert!(
        err.contains(victim["network"]["vpc_id"].as_str().unwrap()),
        "{err}"
    );
    assert_eq!(lane.mutations(), Vec::<String>::new());

    teardown(em, &stack);
    teardown(em, &other);
}

#[test]
fn two_vpcs_claiming_one_identity_are_refused_and_both_torn_down() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netdup");
    let out = net_up(&lane, &doc(&stack, json!({"azs": 2, "nat": "none"})))
        .succeeds()
        .json();
    let first = out["network"]["vpc_id"].as_str().unwrap().to_owned();
    let s = em.session(&stack, "dev", REGION);
    let tags: Vec<Tag> = s
        .ctx
        .tags("vpc")
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let ec2 = aws_sdk_ec2::Client::new(s.sdk());
    let second = s.block_on(async {
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::Vpc)
            .set_tags(Some(tags))
            .build();
        let v = ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .tag_specifications(spec)
            .send()
            .await
            .unwrap();
        v.vpc().unwrap().vpc_id().unwrap().to_owned()
    });
    lane.set_faults(json!({}));
    let err = net_up(&lane, &out).fails().code(10);
    assert!(err.contains(&first) && err.contains(&second), "{err}");
    assert_eq!(lane.mutations(), Vec::<String>::new());
    teardown(em, &stack);
    let vpcs = s.block_on(async {
        ec2.describe_vpcs()
            .filters(filter("vpc-id", [first.clone(), second.clone()]))
            .send()
            .await
            .unwrap()
    });
    assert!(vpcs.vpcs().is_empty(), "{vpcs:?}");
}

#[test]
fn too_few_elastic_ips_are_refused_first_and_aws_own_limit_error_stops_the_run() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netquota");
    let spec = doc(&stack, json!({"azs": 2, "nat": "per-az"}));
    // An account allowed one Elastic IP: refused before any change.
    let body = "<DescribeAccountAttributesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
        <requestId>q</requestId><accountAttributeSet><item><attributeName>vpc-max-elastic-ips</attributeName>\
        <attributeValueSet><item><attributeValue>1</attributeValue></item></attributeValueSet></item>\
        </accountAttributeSet></DescribeAccountAttributesResponse>";
    lane.set_faults(json!({"answer": {"DescribeAccountAttributes": {"body": body}}}));
    let err = net_up(&lane, &spec).fails().code(7);
    assert!(
        err.contains("Elastic IP") && err.contains("service-quotas"),
        "{err}"
    );
    assert_eq!(lane.mutations(), Vec::<String>::new());

    // Another process took the last address meanwhile: AWS's own answer.
    lane.set_faults(json!({"answer": {"AllocateAddress": {
        "status": 400, "code": "AddressLimitExceeded",
        "message": "The maximum number of addresses has been reached."}}}));
    let quiet = lane.tool("net-up").arg("-q").stdin(spec.to_string());
    let err = quiet.fails().code(7);
    assert!(err.contains("AddressLimitExceeded"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let made = lane.mutations();
    assert!(
        !made.iter().any(|m| m.contains("CreateNatGateway")),
        "{made:?}"
    );

    // Room again: the re-run completes what the stopped one began.
    lane.set_faults(json!({}));
    net_up(&lane, &spec).succeeds();
    assert_eq!(em.inventory(REGION, &stack, "dev").counts()["vpc"], 1);
    teardown(em, &stack);
}

#[test]
fn an_az_where_fargate_does_not_run_is_refused() {
    let em = Emulator::shared();
    let stack = unique_stack("netaz");
    let names: BTreeSet<String> = {
        let s = em.session(&stack, "dev", REGION);
        let ec2 = aws_sdk_ec2::Client::new(s.sdk());
        let zones = s.block_on(async { ec2.describe_availability_zones().send().await.unwrap() });
        zones
            .availability_zones()
            .iter()
            .filter(|z| z.zone_id() == Some("use1-az3"))
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect()
    };
    let bad = names.iter().next().expect("the emulator has use1-az3");
    let err = em
        .tool("net-up")
        .args([
            "-n", "--stack", &stack, "--env", "dev", "--azs", bad, "--nat", "none",
        ])
        .fails()
        .code(5);
    assert!(err.contains("use1-az3"), "{err}");
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}

#[test]
fn an_igw_already_detached_is_no_dependency_to_wait_out() {
    let em = Emulator::shared();
    let stack = unique_stack("netigw");
    let out = em.network(&stack, "dev");
    let net = &out["network"];
    let s = em.session(&stack, "dev", REGION);
    let ec2 = aws_sdk_ec2::Client::new(s.sdk());
    s.block_on(async {
        ec2.detach_internet_gateway()
            .internet_gateway_id(net["internet_gateway_id"].as_str().unwrap())
            .vpc_id(net["vpc_id"].as_str().unwrap())
            .send()
            .await
            .unwrap()
    });
    let start = std::time::Instant::now();
    em.tool("teardown")
        .env("FP_RETRY_BUDGET_SECS", "600")
        .stdin(out.to_string())
        .succeeds();
    assert!(start.elapsed().as_secs() < 120, "{:?}", start.elapsed());
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}

#[test]
fn a_network_without_nat_lacking_the_endpoints_its_tasks_need_is_refused() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("netegress");
    let mut spec = doc(
        &stack,
        json!({"azs": 2, "nat": "none", "endpoints": ["s3", "logs"]}),
    );
    spec["spec"]["services"] = json!({"api": {"image": "nginx", "exec": true}});
    let err = lane.tool("net-up").stdin(spec.to_string()).fails().code(5);
    assert!(
        err.contains("spec.network.endpoints") && err.contains("ecr.api, ecr.dkr, ssmmessages"),
        "{err}"
    );
    assert_eq!(lane.fault_state()["mutation_log"], json!([]));
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}
