//! Fixtures of the unit tests: a context, a planned service, a desired state,
//! and AWS-side `Have`s as they would be found once everything is as wanted.

use common::Context;

use crate::desired::{Desired, PlannedUpstream};
use crate::ecs;
use crate::spec::Planned;

pub fn ctx() -> Context {
    Context::offline("svc-up", "shop", "dev", "us-east-1")
}

/// A routed rolling service on port 8080.
pub fn service(name: &str) -> Planned {
    Planned {
        name: name.into(),
        image: "nginx:alpine".into(),
        cpu: 256,
        memory: 512,
        port: Some(8080),
        desired_count: 2,
        read_only: true,
        log_retention_days: 30,
        target_group_arn: Some(format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/1"
        )),
        ..Planned::default()
    }
}

pub fn desired(services: Vec<Planned>) -> Desired {
    Desired {
        services,
        namespace: None,
        cluster: "shop--cluster--dev".into(),
        cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/shop--cluster--dev".into(),
        execution_role: "arn:aws:iam::123456789012:role/fargate-pipes/shop--task-execution--dev"
            .into(),
        log_kms_key: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
        strategy: vec![ecs::Strategy {
            provider: "FARGATE".into(),
            base: 0,
            weight: 1,
        }],
        vpc_id: "vpc-1".into(),
        subnets: vec!["subnet-a".into(), "subnet-b".into()],
        alb_group: Some("sg-alb".into()),
        target_groups: vec![],
        stated: true,
        planned: PlannedUpstream::default(),
        egress: Default::default(),
    }
}
