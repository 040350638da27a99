//! Issue 15, "right on real AWS": the paths moto forgives, each driven with
//! AWS's own answer through the fault proxy (tests/faults.py `answer`), or
//! checked where moto keeps what AWS would (a role name, a deleted revision).
//!
//! - a task role whose name was shortened to fit IAM's 64 characters (and lost
//!   a hyphen at the cut) is found by its tags and torn down;
//! - DeleteNamespace answered `ResourceInUse` while Cloud Map still counts a
//!   deleted service is waited out, and task definitions are deregistered and
//!   deleted (DeleteTaskDefinitions), not left INACTIVE;
//! - the VPC quota (Service Quotas) is checked before the first change, and
//!   AWS's own `VpcLimitExceeded` stops the run with one line;
//! - a new log key not yet usable by CloudWatch Logs is waited out on
//!   AssociateKmsKey too (CreateLogGroup's is in svc_converge);
//! - stack names whose resource names AWS refuses are refused offline.

use serde_json::{json, Value};
use testkit::{unique_stack, Emulator};

const REGION: &str = "us-east-1";

/// IAM roles whose names begin with the stack's prefix.
fn roles_of(em: &Emulator, stack: &str) -> Vec<String> {
    let s = em.session("probe", "dev", REGION);
    let iam = aws_sdk_iam::Client::new(s.sdk());
    let listed: Vec<aws_sdk_iam::types::Role> = s
        .block_on(
            iam.list_roles()
                .path_prefix("/fargate-pipes/")
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .unwrap();
    listed
        .iter()
        .map(|r| r.role_name().to_owned())
        .filter(|n| n.starts_with(&format!("{stack}--")))
        .collect()
}

/// Issue 15, item 4: `role_name` shortens a name over 64 characters to
/// `{head}-{hash}`, and the head loses the hyphens the cut leaves at its end.
/// A service named so that the cut lands on one of its hyphens gets a
/// 63-character task role; a teardown by tag (a document without the
/// services section) finds it by its tags, and deletes it.
#[test]
fn a_shortened_task_role_is_found_by_its_tags_and_torn_down() {
    let em = Emulator::shared();
    let env = "staging";
    let stack = unique_stack("aws15-task-role");
    assert!((17..=24).contains(&stack.len()), "{stack}");
    // `{stack}--task-{service}--staging` is cut after 55 characters: put a
    // hyphen of the 32-character service name at the 55th.
    let at = 54 - (stack.len() + "--task-".len());
    let service: String = (0..32).map(|i| if i == at { '-' } else { 'a' }).collect();
    let mut doc = em.network(&stack, env);
    doc["spec"]["services"] = json!({});
    doc["spec"]["services"][&service] = json!({"port": 9000, "image": "nginx:alpine"});
    let doc = em.up("cluster-up", &doc);
    let doc = em.up("alb-up", &doc);
    let out = em.up("svc-up", &doc);
    let role_arn = out["services"][&service]["task_role_arn"].as_str().unwrap();
    let role = role_arn.rsplit('/').next().unwrap();
    assert_eq!(role.len(), 63, "{role}: shortened, a hyphen dropped");
    assert!(!role.ends_with(&format!("--{env}")), "{role}");
    assert!(roles_of(em, &stack).contains(&role.to_owned()));

    // Teardown by tag: no ids, no services section to name the role.
    let bare = json!({"version": 1, "stack": stack, "env": env, "region": REGION});
    em.tool("teardown").stdin(bare.to_string()).succeeds();
    assert_eq!(roles_of(em, &stack), Vec::<String>::new());
    assert!(em.inventory(REGION, &stack, env).is_empty());
}

/// Task definition ARNs of one family in one status.
fn task_definitions(
    em: &Emulator,
    family: &str,
    status: aws_sdk_ecs::types::TaskDefinitionStatus,
) -> Vec<String> {
    let s = em.session("probe", "dev", REGION);
    let ecs = aws_sdk_ecs::Client::new(s.sdk());
    let arns: Vec<String> = s
        .block_on(
            ecs.list_task_definitions()
                // The whole family name: ListTaskDefinitions takes no prefix.
                .family_prefix(family)
                .status(status)
                .into_paginator()
                .items()
                .send()
                .try_collect(),
        )
        .unwrap();
    arns
}

/// Issue 15, item 9: Cloud Map refuses DeleteNamespace with `ResourceInUse`
/// while it still counts a service deleted a moment ago (moto deletes at
/// once); teardown waits that out instead of leaving the namespace (exit 9).
/// And task definitions are deleted, not only deregistered: AWS keeps an
/// INACTIVE revision forever otherwise.
#[test]
fn teardown_waits_out_a_namespace_in_use_and_deletes_task_definitions() {
    use aws_sdk_ecs::types::TaskDefinitionStatus;
    let em = Emulator::shared();
    let stack = unique_stack("aws15ns");
    let mut doc = em.network(&stack, "dev");
    doc["spec"]["services"] =
        json!({"api": {"port": 9000, "image": "nginx:alpine", "discovery": true}});
    let doc = em.up("cluster-up", &doc);
    let doc = em.up("alb-up", &doc);
    let out = em.up("svc-up", &doc);
    let namespace = out["discovery"]["namespace_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let family = format!("{stack}--api--dev");
    assert_eq!(
        task_definitions(em, &family, TaskDefinitionStatus::Active).len(),
        1
    );

    let lane = em.lane();
    lane.set_faults(json!({"answer": {"DeleteNamespace": {
        "times": 2, "status": 400, "code": "ResourceInUse",
        "message": "The specified resource can't be deleted because it contains other resources."
    }}}));
    lane.tool("teardown").stdin(out.to_string()).succeeds();
    let state = lane.fault_state();
    assert_eq!(state["injected"]["answer"], 2, "{state}");
    let deletes = lane
        .mutations()
        .iter()
        .filter(|m| m.contains("DeleteNamespace"))
        .count();
    assert_eq!(deletes, 1, "the third attempt goes through");

    let s = em.session("probe", "dev", REGION);
    let sd = aws_sdk_servicediscovery::Client::new(s.sdk());
    let gone = s.block_on(sd.get_namespace().id(&namespace).send());
    assert!(
        gone.as_ref().is_err_and(|e| e
            .as_service_error()
            .is_some_and(|e| e.is_namespace_not_found())),
        "{gone:?}"
    );
    for status in [TaskDefinitionStatus::Active, TaskDefinitionStatus::Inactive] {
        assert_eq!(
            task_definitions(em, &family, status.clone()),
            Vec::<String>::new(),
            "{status:?}: deregistered and deleted"
        );
    }
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}

/// Issue 15, item 2: an account with no VPC left under "VPCs per Region"
/// (Service Quotas L-F678F1CE; the emulator's default VPC is in use) is
/// refused before the first change, naming the quota and how to raise it.
/// Then AWS's own answer, when another run took the last VPC meanwhile,
/// stops the run with one line and nothing made.
#[test]
fn the_vpc_quota_is_checked_before_the_first_change() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("aws15vpcq");
    let spec = json!({"version": 1, "stack": stack, "env": "dev", "region": REGION,
        "spec": {"network": {"azs": 2, "nat": "none"}}});
    let quota = json!({"Quota": {"ServiceCode": "vpc", "ServiceName": "Amazon Virtual Private Cloud (Amazon VPC)",
        "QuotaCode": "L-F678F1CE", "QuotaName": "VPCs per Region", "Value": 1.0,
        "Unit": "None", "Adjustable": true, "GlobalQuota": false}});
    lane.set_faults(json!({"answer": {"GetServiceQuota": {"body": quota.to_string()}}}));
    let err = lane
        .tool("net-up")
        .arg("-q")
        .stdin(spec.to_string())
        .fails()
        .code(7);
    assert!(
        err.contains("VPC")
            && err.contains("L-F678F1CE")
            && err.contains("request-service-quota-increase")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(lane.mutations(), Vec::<String>::new());

    lane.set_faults(json!({"answer": {"CreateVpc": {
        "status": 400, "code": "VpcLimitExceeded",
        "message": "The maximum number of VPCs has been reached."}}}));
    let err = lane
        .tool("net-up")
        .arg("-q")
        .stdin(spec.to_string())
        .fails()
        .code(7);
    assert!(err.contains("VpcLimitExceeded"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Only what does not need the VPC went ahead (the flow logs' group and
    // role): nothing in EC2. Teardown by tag removes those.
    let made = lane.mutations();
    assert!(!made.iter().any(|m| m.starts_with("ec2 ")), "{made:?}");
    lane.set_faults(json!({}));
    em.tool("teardown")
        .args(["-n", "--stack", &stack, "--env", "dev"])
        .succeeds();
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}

/// Issue 15, item 1: a log group made before the cluster's key (or with
/// another) gets the key with AssociateKmsKey, which CloudWatch Logs answers
/// AccessDenied until the new key's grant has propagated; svc-up retries
/// that, bounded, and the group ends up encrypted with the key.
#[test]
fn associate_kms_key_waits_for_a_new_key() {
    let em = Emulator::shared();
    let stack = unique_stack("aws15kms");
    let mut doc = em.network(&stack, "dev");
    doc["spec"]["services"] = json!({"api": {"port": 9000, "image": "nginx:alpine"}});
    let doc = em.up("cluster-up", &doc);
    let key = doc["cluster"]["log_kms_key_arn"]
        .as_str()
        .unwrap()
        .to_owned();
    // A first run without the key: the group is made unencrypted.
    let mut plain = doc.clone();
    plain["cluster"]["log_kms_key_arn"] = Value::Null;
    plain["cluster"]["log_kms_key_id"] = Value::Null;
    em.up("svc-up", &plain);

    let lane = em.lane();
    lane.set_faults(json!({"answer": {"AssociateKmsKey": {
        "times": 2, "status": 400, "code": "AccessDeniedException",
        "message": format!("The specified KMS key does not exist or is not allowed to be used with Arn '{key}'")
    }}}));
    let out = lane.tool("svc-up").stdin(doc.to_string()).succeeds().json();
    let state = lane.fault_state();
    assert_eq!(state["injected"]["answer"], 2, "{state}");

    let s = em.session("probe", "dev", REGION);
    let logs = aws_sdk_cloudwatchlogs::Client::new(s.sdk());
    let groups = s
        .block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(format!("/ecs/{stack}/dev/"))
                .send(),
        )
        .unwrap();
    assert_eq!(groups.log_groups().len(), 1);
    assert_eq!(groups.log_groups()[0].kms_key_id(), Some(key.as_str()));
    em.tool("teardown").stdin(out.to_string()).succeeds();
}

/// Issue 15, item 3: every resource name begins with the stack, and AWS
/// refuses load balancer names beginning `internal-` and security group names
/// beginning `sg-`: such stacks are refused before any call (the tools are
/// offline: any call would exit 7), naming the rule.
#[test]
fn stack_names_aws_would_refuse_are_refused_before_any_call() {
    for (stack, rule) in [("internal-tools", "internal-"), ("sg-core", "sg-")] {
        for tool in ["net-up", "alb-up", "svc-up", "teardown"] {
            let doc = json!({"version": 1, "stack": stack, "env": "dev", "region": REGION});
            let err = testkit::offline(tool)
                .stdin(doc.to_string())
                .fails()
                .code(5);
            assert!(
                err.contains(stack) && err.contains(rule) && err.contains("pick another name"),
                "{tool} {stack}: {err}"
            );
        }
    }
}

/// A NAT gateway is `pending` for a minute or two on AWS, and a route to a
/// pending one is refused; moto makes it available at once. The proxy's
/// timing model holds the new NAT `pending` for 3 s, longer than the whole
/// run takes undisturbed: net-up waits for it (the SDK's waiter) before it
/// routes through it.
#[test]
fn a_pending_nat_gateway_is_waited_for_before_its_route() {
    let em = Emulator::shared();
    let lane = em.lane();
    let stack = unique_stack("aws15nat");
    let spec = json!({"version": 1, "stack": stack, "env": "dev", "region": REGION,
        "spec": {"network": {"azs": 2, "nat": "single"}}});
    lane.set_faults(json!({"timing": {"nat": 3}}));
    let start = std::time::Instant::now();
    let out = lane
        .tool("net-up")
        .stdin(spec.to_string())
        .succeeds()
        .json();
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(3),
        "{:?}: the routes did not wait for the NAT",
        start.elapsed()
    );
    assert!(
        lane.mutations()
            .iter()
            .any(|m| m.contains("CreateNatGateway")),
        "a NAT gateway made"
    );
    lane.set_faults(json!({}));
    em.tool("teardown").stdin(out.to_string()).succeeds();
    assert!(em.inventory(REGION, &stack, "dev").is_empty());
}
