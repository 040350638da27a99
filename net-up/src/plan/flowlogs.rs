//! VPC flow logs (AWS FSBP EC2.6): the flow log, its log group (retention
//! always set) and the role that delivers to it.
//!
//! The log group and the role are found by name (names are unique), so they
//! are checked as ours before anything is delivered into or through them, even
//! when nothing about them changes. Turning flow logs off removes the flow log
//! and the role; the log group stays, since its records outlive the flow log
//! (teardown removes it).

use common::iam::partition;
use common::Result;
use serde_json::Value;

use super::{find, Fix, Op, Planner, What};
use crate::actual::{FlowLogState, Res};
use crate::components::{self as c, Key, Kind};
use crate::policy;

/// Flow logs capture accepted and rejected traffic, aggregated over 10
/// minutes (AWS's default interval), into CloudWatch Logs.
pub const TRAFFIC: &str = "ALL";
pub const DESTINATION: &str = "cloud-watch-logs";
pub const INTERVAL: i32 = 600;

impl Planner<'_> {
    pub(super) fn flow_logs(&mut self) -> Result<()> {
        let Some(retention) = self.desired.flow_logs else {
            return self.flow_logs_off();
        };
        self.log_group(retention)?;
        self.role()?;
        self.flow_log()
    }

    fn flow_logs_off(&mut self) -> Result<()> {
        let actual = self.actual;
        if let Some(fl) = find(&actual.flow_logs, c::FLOW_LOGS) {
            self.prune(Kind::FlowLog, fl)?;
        }
        if let Some(role) = &actual.role {
            self.prune(Kind::Role, role)?;
        }
        if let Some(group) = &actual.log_group {
            self.plan.warnings.push(format!(
                "log group {} is kept: flow log records outlive the flow log (teardown removes it)",
                group.id
            ));
        }
        Ok(())
    }

    fn log_group(&mut self, retention: i32) -> Result<()> {
        let Some(group) = &self.actual.log_group else {
            self.push(Op::Create(Key::new(Kind::LogGroup, c::FLOW_LOGS)));
            return Ok(());
        };
        // Checked even when unchanged: our flow logs would write into it.
        self.owned(Kind::LogGroup, group)?;
        self.know(Kind::LogGroup, c::FLOW_LOGS, &group.state.arn);
        let mut fixes = Vec::new();
        if group.state.retention != Some(retention) {
            fixes.push(Fix {
                field: "retention_days",
                from: group.state.retention.map_or(Value::Null, Value::from),
                to: Value::from(retention),
                what: What::Retention(retention),
            });
        }
        fixes.extend(self.tag_fix(group));
        self.update(Kind::LogGroup, group, fixes)
    }

    fn role(&mut self) -> Result<()> {
        let Some(role) = &self.actual.role else {
            self.push(Op::Create(Key::new(Kind::Role, c::FLOW_LOGS)));
            return Ok(());
        };
        // Checked even when unchanged: our flow logs would deliver through it.
        self.owned(Kind::Role, role)?;
        self.know(Kind::Role, c::FLOW_LOGS, &role.state.arn);
        let account = policy::account_of(&role.state.arn).unwrap_or_default();
        let region = &self.ctx.region;
        let part = partition(region);
        let group_arn = self.actual.log_group.as_ref().map_or_else(
            || policy::log_group_arn(part, region, account, &c::log_group_name(self.ctx)),
            |g| g.state.arn.trim_end_matches(":*").to_owned(),
        );
        let mut fixes = Vec::new();
        let trust = policy::trust(part, region, account);
        if role.state.trust.as_ref() != Some(&trust) {
            fixes.push(policy_fix(
                "trust_policy",
                &role.state.trust,
                trust.clone(),
                What::Trust(trust),
            ));
        }
        let deliver = policy::deliver(&group_arn);
        if role.state.policy.as_ref() != Some(&deliver) {
            fixes.push(policy_fix(
                "policy",
                &role.state.policy,
                deliver.clone(),
                What::Policy(deliver),
            ));
        }
        fixes.extend(self.tag_fix(role));
        self.update(Kind::Role, role, fixes)
    }

    fn flow_log(&mut self) -> Result<()> {
        let key = Key::new(Kind::FlowLog, c::FLOW_LOGS);
        let Some(fl) = find(&self.actual.flow_logs, c::FLOW_LOGS) else {
            self.push(Op::Create(key));
            return Ok(());
        };
        let fields = self.flow_log_fields(fl);
        if !fields.is_empty() {
            // AWS changes no field of a flow log: it is made again.
            self.owned(Kind::FlowLog, fl)?;
            self.push(Op::Replace {
                key,
                old: fl.id.clone(),
                fields,
            });
            return Ok(());
        }
        self.know(Kind::FlowLog, c::FLOW_LOGS, &fl.id);
        let fixes = self.tag_fix(fl).into_iter().collect();
        self.update(Kind::FlowLog, fl, fixes)
    }

    /// The fields of a flow log that differ from what the spec asks for.
    fn flow_log_fields(&self, fl: &Res<FlowLogState>) -> Vec<(&'static str, Value, Value)> {
        let s = &fl.state;
        let vpc = self.plan.id(Kind::Vpc, c::VPC).unwrap_or_default();
        let role = self.plan.id(Kind::Role, c::FLOW_LOGS).unwrap_or_default();
        let group = c::log_group_name(self.ctx);
        let mut fields = Vec::new();
        let mut cmp = |field, have: &str, want: &str, shown: String| {
            if have != want {
                fields.push((field, Value::from(have), Value::from(shown)));
            }
        };
        cmp("vpc", &s.resource_id, vpc, self.name(c::VPC));
        cmp("traffic_type", &s.traffic_type, TRAFFIC, TRAFFIC.to_owned());
        cmp(
            "destination_type",
            &s.destination_type,
            DESTINATION,
            DESTINATION.to_owned(),
        );
        cmp("log_group", &s.log_group, &group, group.clone());
        cmp(
            "role",
            &s.role_arn,
            role,
            Key::new(Kind::Role, c::FLOW_LOGS).name(self.ctx),
        );
        if s.interval != INTERVAL {
            fields.push((
                "max_aggregation_interval",
                Value::from(s.interval),
                Value::from(INTERVAL),
            ));
        }
        fields
    }
}

fn policy_fix(field: &'static str, from: &Option<Value>, to: Value, what: What) -> Fix {
    Fix {
        field,
        from: from.clone().unwrap_or(Value::Null),
        to,
        what,
    }
}
