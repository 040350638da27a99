//! A service's `scaling` (scale-up's input; svc-up asks only whether it is
//! there and which alarms it names): task count bounds for every env, the
//! metrics to track, cooldowns and alarms.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::check_env_keys;
use crate::error::shown;
use crate::{Error, Result};

/// ECS runs at most this many tasks per service.
pub const MAX_TASKS: i64 = 1000;
/// Cooldowns are seconds, up to an hour.
pub const MAX_COOLDOWN: i64 = 3600;
pub const DEFAULT_SCALE_IN_COOLDOWN: i64 = 300;
pub const DEFAULT_SCALE_OUT_COOLDOWN: i64 = 60;
pub const DEFAULT_ALARM_PERIOD: i64 = 60;
pub const DEFAULT_EVALUATION_PERIODS: i64 = 2;

/// `spec.services.<name>.scaling`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingSpec {
    pub min: i64,
    pub max: i64,
    /// Env (`prod`) to bounds overriding `min` / `max` there.
    #[serde(default)]
    pub sizes: BTreeMap<String, Bounds>,
    /// Target average CPU, percent.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Target average memory, percent.
    #[serde(default)]
    pub memory: Option<f64>,
    /// Target ALB requests per task (per target, per minute).
    #[serde(default)]
    pub requests: Option<f64>,
    #[serde(default)]
    pub scale_in_cooldown: Option<i64>,
    #[serde(default)]
    pub scale_out_cooldown: Option<i64>,
    #[serde(default)]
    pub alarms: Option<AlarmsSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

/// `scaling.alarms`: alarm when the service's average CPU / memory stays above these.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmsSpec {
    #[serde(default)]
    pub cpu: Option<f64>,
    #[serde(default)]
    pub memory: Option<f64>,
    /// Seconds per evaluated datapoint [60].
    #[serde(default)]
    pub period: Option<i64>,
    /// Datapoints above the threshold before the alarm fires [2].
    #[serde(default)]
    pub evaluation_periods: Option<i64>,
    /// What the alarm notifies (SNS topic ARNs...).
    #[serde(default)]
    pub actions: Vec<String>,
}

impl ScalingSpec {
    /// Every rule, with the bounds of every env of `sizes`; `at` is the path of `scaling`.
    pub fn check(&self, at: &str) -> Result<()> {
        check_bounds(at, self.min, self.max)?;
        check_env_keys(&format!("{at}.sizes"), &self.sizes)?;
        for (env, b) in &self.sizes {
            check_bounds(
                &format!("{at}.sizes.{}", shown(env)),
                b.min.unwrap_or(self.min),
                b.max.unwrap_or(self.max),
            )?;
        }
        if self.cpu.is_none() && self.memory.is_none() && self.requests.is_none() {
            return Err(Error::spec(format!(
                "{at}: set at least one of cpu, memory, requests (the metric to track)"
            )));
        }
        for (what, v) in [("cpu", self.cpu), ("memory", self.memory)] {
            check_percent(&format!("{at}.{what}"), v, "a target percentage")?;
        }
        if let Some(r) = self.requests {
            if !(r >= 1.0 && r.is_finite()) {
                return Err(Error::spec(format!(
                    "{at}.requests: {r} is not a request count: at least 1 per target"
                )));
            }
        }
        for (what, v) in [
            ("scale_in_cooldown", self.scale_in_cooldown),
            ("scale_out_cooldown", self.scale_out_cooldown),
        ] {
            if let Some(v) = v.filter(|v| !(0..=MAX_COOLDOWN).contains(v)) {
                return Err(Error::spec(format!(
                    "{at}.{what}: {v} is not between 0 and {MAX_COOLDOWN} seconds"
                )));
            }
        }
        match &self.alarms {
            Some(a) => a.check(&format!("{at}.alarms")),
            None => Ok(()),
        }
    }

    /// The task count bounds in force in `env`. Only after [`ScalingSpec::check`]:
    /// checked bounds fit an i32.
    pub fn bounds(&self, env: &str) -> (i32, i32) {
        let b = self.sizes.get(env);
        let min = b.and_then(|b| b.min).unwrap_or(self.min);
        let max = b.and_then(|b| b.max).unwrap_or(self.max);
        (min as i32, max as i32)
    }
}

impl AlarmsSpec {
    fn check(&self, at: &str) -> Result<()> {
        if self.cpu.is_none() && self.memory.is_none() {
            return Err(Error::spec(format!(
                "{at}: set cpu and/or memory (the percentage to alarm above)"
            )));
        }
        for (what, v) in [("cpu", self.cpu), ("memory", self.memory)] {
            check_percent(&format!("{at}.{what}"), v, "an alarm threshold")?;
        }
        let period = self.period.unwrap_or(DEFAULT_ALARM_PERIOD);
        // CloudWatch's rule: high resolution (10, 30) or whole minutes.
        if !(period == 10 || period == 30 || (period > 0 && period % 60 == 0)) {
            return Err(Error::spec(format!(
                "{at}.period: {period} is not 10, 30 or a multiple of 60 seconds"
            )));
        }
        let n = self
            .evaluation_periods
            .unwrap_or(DEFAULT_EVALUATION_PERIODS);
        if n < 1 {
            return Err(Error::spec(format!(
                "{at}.evaluation_periods: {n} is below 1"
            )));
        }
        // CloudWatch evaluates at most a day of sub-hour periods, at most 7 days otherwise.
        let limit = if period < 3600 { 86_400 } else { 604_800 };
        if period.saturating_mul(n) > limit {
            return Err(Error::spec(format!(
                "{at}: period {period} x evaluation_periods {n} is more than the {limit} seconds CloudWatch evaluates"
            )));
        }
        for (i, action) in self.actions.iter().enumerate() {
            if !action.starts_with("arn:") {
                return Err(Error::spec(format!(
                    "{at}.actions[{i}]: '{}' is not an ARN (e.g. an SNS topic arn:aws:sns:...)",
                    shown(action)
                )));
            }
        }
        Ok(())
    }
}

fn check_bounds(at: &str, min: i64, max: i64) -> Result<()> {
    if min < 0 {
        return Err(Error::spec(format!("{at}: min {min} is below 0")));
    }
    if max > MAX_TASKS {
        return Err(Error::spec(format!(
            "{at}: max {max} is above {MAX_TASKS}, the most tasks ECS runs per service"
        )));
    }
    if min > max {
        return Err(Error::spec(format!("{at}: min {min} is above max {max}")));
    }
    Ok(())
}

fn check_percent(at: &str, v: Option<f64>, what: &str) -> Result<()> {
    match v {
        Some(p) if !(1.0..=100.0).contains(&p) => {
            Err(Error::spec(format!("{at}: {p} is not {what} (1 to 100)")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn err(v: Value) -> String {
        let at = "spec.services.api.scaling";
        match super::super::read::<ScalingSpec>(at, &v) {
            Ok(s) => s.check(at).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn sizes_follow_the_env() {
        let s: ScalingSpec = super::super::read(
            "s",
            &json!({"min": 2, "max": 10, "cpu": 70, "sizes": {"prod": {"min": 3, "max": 20}}}),
        )
        .unwrap();
        assert!(s.check("s").is_ok());
        assert_eq!(s.bounds("dev"), (2, 10));
        assert_eq!(s.bounds("prod"), (3, 20));
    }

    #[test]
    fn every_rule_has_its_message() {
        let cases = [
            (
                json!({"min": 5, "max": 2, "cpu": 50}),
                "scaling: min 5 is above max 2",
            ),
            (json!({"min": -1, "max": 2, "cpu": 50}), "below 0"),
            (json!({"min": 1, "max": 1001, "cpu": 50}), "above 1000"),
            (json!({"min": 1, "max": 2}), "at least one of"),
            (json!({"min": 1, "max": 2, "cpu": 0}), "scaling.cpu: 0"),
            (
                json!({"min": 1, "max": 2, "memory": 101}),
                "scaling.memory: 101",
            ),
            (
                json!({"min": 1, "max": 2, "requests": 0}),
                "scaling.requests",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "scale_in_cooldown": 3601}),
                "scale_in_cooldown",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "scale_out_cooldown": -1}),
                "scale_out_cooldown",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "sizes": {"prod": {"max": 0}}}),
                "scaling.sizes.prod: min 1 is above max 0",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "sizes": {"PROD": {}}}),
                "scaling.sizes.PROD: invalid env",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "mx": 3}),
                "scaling.mx: unknown key; did you mean max?",
            ),
            (json!({"min": 1, "cpu": 50}), "scaling.max: missing"),
            (
                json!({"min": "1", "max": 2, "cpu": 50}),
                "scaling.min: expected a number, got the string \"1\"",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {}}),
                "cpu and/or memory",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 0}}),
                "alarms.cpu: 0",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "period": 45}}),
                "alarms.period: 45",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "evaluation_periods": 0}}),
                "evaluation_periods: 0",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "period": 60, "evaluation_periods": 1441}}),
                "86400",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "actions": ["sns-topic"]}}),
                "alarms.actions[0]: 'sns-topic' is not an ARN",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "threshold": 3}}),
                "alarms.threshold: unknown key",
            ),
        ];
        for (scaling, needle) in cases {
            let e = err(scaling);
            assert!(e.starts_with("spec.services.api.scaling"), "{e}");
            assert!(e.contains(needle), "{needle} in {e}");
        }
        for period in [10, 30, 60, 300, 3600] {
            let s: ScalingSpec = super::super::read(
                "s",
                &json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "period": period}}),
            )
            .unwrap();
            assert!(s.check("s").is_ok(), "{period}");
        }
    }
}
