//! The desired state: the checked spec resolved against the upstream sections
//! (`spec::plan` per service) and what the layer takes from them whole: the
//! cluster, its execution role, key and default strategy, the VPC and its
//! private subnets, the ALB's group. Pure: no AWS call, so every error here
//! (exit 3, 5, 6) comes before the lock and before any change.
//!
//! An upstream section holding `--plan` placeholders is a layer that does not
//! exist yet: nothing can hang under it, so discovery skips it and the plan
//! creates everything there.

use common::document::Document;
use common::plan::holds_planned;
use common::sections::{Alb, Cluster, Ecr, Network, Secrets};

use crate::egress::Egress;
use common::spec::Spec;
use common::{Context, Error, Result};

use crate::ecs;
use crate::spec::{self, Planned, Upstream};

/// What the layer should be.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Sorted by name.
    pub services: Vec<Planned>,
    /// The namespace's name, when a service is discovered.
    pub namespace: Option<String>,
    pub cluster: String,
    pub cluster_arn: String,
    pub execution_role: String,
    pub log_kms_key: Option<String>,
    pub strategy: Vec<ecs::Strategy>,
    pub vpc_id: String,
    /// Sorted.
    pub subnets: Vec<String>,
    /// The ALB's group, which routed services let in.
    pub alb_group: Option<String>,
    /// The target groups the services attach to (blue and green), for the ownership check.
    pub target_groups: Vec<String>,
    /// `spec.services` is an explicit, non-empty statement: what it leaves out may be pruned.
    pub stated: bool,
    /// Upstream layers that a `--plan` run has not made yet.
    pub planned: PlannedUpstream,
    /// The routes out that must exist before a task starts.
    pub egress: Egress,
}

/// Which upstream sections are `--plan` placeholders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlannedUpstream {
    pub network: bool,
    pub cluster: bool,
    pub alb: bool,
}

impl Desired {
    /// Reads and checks everything svc-up needs from the document.
    pub fn read(ctx: &Context, doc: &Document) -> Result<Desired> {
        let (stack, env) = (ctx.stack.as_str(), ctx.env.as_str());
        let network: Network = doc.require("network", "net-up")?;
        let cluster: Cluster = doc.require("cluster", "cluster-up")?;
        let ecr: Option<Ecr> = doc.layer("ecr")?;
        let secrets: Option<Secrets> = doc.layer("secrets")?;
        let alb: Option<Alb> = doc.layer("alb")?;
        let spec = Spec::validate(doc)?;
        let up = Upstream {
            cluster: &cluster,
            ecr: ecr.as_ref(),
            secrets: secrets.as_ref(),
            alb: alb.as_ref(),
        };
        let plan = spec::plan(&spec.services, &spec.discovery, up, stack, env, &ctx.region)?;
        if network.private_subnet_ids.is_empty() && !plan.services.is_empty() {
            return Err(Error::Document(
                ".network has no private subnets: tasks run only in private subnets (re-run net-up)"
                    .into(),
            ));
        }
        check_policies(ctx, &plan.services, &cluster)?;
        let planned = PlannedUpstream {
            network: doc.get("network").is_some_and(holds_planned),
            cluster: doc.get("cluster").is_some_and(holds_planned),
            alb: doc.get("alb").is_some_and(holds_planned),
        };
        Ok(Desired {
            namespace: plan.namespace,
            services: plan.services,
            cluster: cluster.name.clone(),
            cluster_arn: cluster.arn.clone(),
            execution_role: cluster.execution_role_arn.clone(),
            log_kms_key: cluster.log_kms_key_arn.clone(),
            strategy: strategy(&cluster),
            vpc_id: network.vpc_id.clone(),
            subnets: sorted(network.private_subnet_ids.clone()),
            alb_group: alb.as_ref().map(|a| a.security_group_id.clone()),
            target_groups: target_groups(alb.as_ref()),
            stated: common::spec::stated(doc, "services"),
            planned,
            egress: Egress::of(&network),
        })
    }

    /// The account the cluster is in (its ARN's fifth part), for ARNs we build.
    pub fn account(&self) -> Option<&str> {
        self.cluster_arn
            .split(':')
            .nth(4)
            .filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
    }

    pub fn blue_green(&self) -> bool {
        self.services.iter().any(|s| s.blue_green.is_some())
    }
}

/// Every task role's policy, ECS Exec's grants included, fits IAM's limit for
/// an inline role policy (the spec check measured the declared statements alone).
fn check_policies(ctx: &Context, services: &[Planned], cluster: &Cluster) -> Result<()> {
    // The longest account field an ARN can hold, so the size is never under-counted.
    let account = Some("123456789012");
    for s in services {
        let arn = crate::plan::log_group_arn(ctx, account, &s.name);
        let policy = spec::task_policy(
            s.policy.as_ref(),
            s.exec,
            &arn,
            cluster.log_kms_key_arn.as_deref(),
        );
        if let Some(policy) = policy {
            common::spec::services::permissions::check_size(
                &format!("spec.services.{}.permissions", s.name),
                &policy,
            )?;
        }
    }
    Ok(())
}

/// The cluster's default strategy, which every service runs with (explicitly,
/// so a changed default reaches services made before it).
fn strategy(cluster: &Cluster) -> Vec<ecs::Strategy> {
    sorted(
        cluster
            .default_strategy
            .iter()
            .map(|s| ecs::Strategy {
                provider: s.provider.clone(),
                base: i32::try_from(s.base).unwrap_or(i32::MAX),
                weight: i32::try_from(s.weight).unwrap_or(i32::MAX),
            })
            .collect(),
    )
}

fn target_groups(alb: Option<&Alb>) -> Vec<String> {
    let mut out = Vec::new();
    for tg in alb.into_iter().flat_map(|a| a.target_groups.values()) {
        out.push(tg.arn.clone());
        if let Some(g) = &tg.green {
            out.push(g.arn.clone());
        }
    }
    sorted(out)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}
