//! A service's `deployment` (svc-up and alb-up's input): `"rolling"` (ECS with
//! the circuit breaker), `"blue-green"`, or the object form with CodeDeploy's
//! options, checked into the settings both tools use.

use std::fmt;

use serde::de::{self, value::MapAccessDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::one_of;
use crate::error::shown;
use crate::{Error, Result};

/// `spec.services.<name>.deployment`: `"rolling"`, `"blue-green"`, or the
/// object form with the blue/green options.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DeploymentSetting {
    Named(String),
    BlueGreen(BlueGreenOptions),
}

/// `{"type": "blue-green", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueGreenOptions {
    #[serde(rename = "type")]
    pub kind: String,
    /// The test listener's port on the ALB (alb-up picks 8080, 8081... otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_port: Option<i64>,
    /// `all-at-once`, `canary-10-5`... or a `CodeDeployDefault.ECS...` name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_wait_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_on_alarms: Option<bool>,
}

/// Read by hand rather than untagged, so a typo in the object form is named
/// with its path (an untagged enum only says that nothing matched).
impl<'de> Deserialize<'de> for DeploymentSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SettingVisitor)
    }
}

struct SettingVisitor;

impl<'de> Visitor<'de> for SettingVisitor {
    type Value = DeploymentSetting;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"rolling\", \"blue-green\" or {\"type\": \"blue-green\", ...}")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
        Ok(DeploymentSetting::Named(s.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
        BlueGreenOptions::deserialize(MapAccessDeserializer::new(map))
            .map(DeploymentSetting::BlueGreen)
    }
}

/// The traffic shifts CodeDeploy predefines for ECS: our short name and its own.
pub const TRAFFIC: &[(&str, &str)] = &[
    ("all-at-once", "CodeDeployDefault.ECSAllAtOnce"),
    (
        "canary-10-5",
        "CodeDeployDefault.ECSCanary10Percent5Minutes",
    ),
    (
        "canary-10-15",
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
    ),
    (
        "linear-10-1",
        "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    ),
    (
        "linear-10-3",
        "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    ),
];
pub const DEFAULT_TERMINATION_WAIT_MINUTES: i64 = 5;
/// CodeDeploy's limit for keeping the old (blue) tasks: two days.
pub const MAX_TERMINATION_WAIT_MINUTES: i64 = 2880;
/// The production listeners' ports: never a test listener's.
pub const PRODUCTION_PORTS: [u16; 2] = [80, 443];

/// A blue/green service's options, checked, with the defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct BlueGreen {
    /// The test listener's port when the spec names one.
    pub test_port: Option<u16>,
    /// The CodeDeploy deployment configuration (`CodeDeployDefault.ECSAllAtOnce`).
    pub config: &'static str,
    pub termination_wait_minutes: i32,
    pub rollback_on_alarms: bool,
}

/// The blue/green settings of a service (`None` for a rolling one), checked;
/// `at` is the path of its `deployment`.
pub fn blue_green(at: &str, d: Option<&DeploymentSetting>) -> Result<Option<BlueGreen>> {
    let options = match d {
        None => return Ok(None),
        Some(DeploymentSetting::Named(n)) if n == "rolling" => return Ok(None),
        Some(DeploymentSetting::Named(n)) if n == "blue-green" => BlueGreenOptions::default(),
        Some(DeploymentSetting::Named(n)) => {
            return Err(Error::spec(format!(
                "{at}: '{}' is not a deployment type; {}",
                shown(n),
                one_of(n, &["rolling", "blue-green"])
            )))
        }
        Some(DeploymentSetting::BlueGreen(o)) if o.kind == "blue-green" => o.clone(),
        Some(DeploymentSetting::BlueGreen(o)) => {
            return Err(Error::spec(format!(
                "{at}.type: '{}' is not \"blue-green\" (the object form is for blue/green options; \
                 a rolling service needs no object)",
                shown(&o.kind)
            )))
        }
    };
    let test_port = match options.test_port {
        None => None,
        Some(p) => Some(test_port(at, p)?),
    };
    let traffic = options.traffic.as_deref().unwrap_or("all-at-once");
    let config = traffic_config(traffic).ok_or_else(|| {
        let short: Vec<&str> = TRAFFIC.iter().map(|(short, _)| *short).collect();
        Error::spec(format!(
            "{at}.traffic: '{}' is not a traffic shift: one of {}",
            shown(traffic),
            short.join(", ")
        ))
    })?;
    let wait = options
        .termination_wait_minutes
        .unwrap_or(DEFAULT_TERMINATION_WAIT_MINUTES);
    if !(0..=MAX_TERMINATION_WAIT_MINUTES).contains(&wait) {
        return Err(Error::spec(format!(
            "{at}.termination_wait_minutes {wait} is out of range: 0 to {MAX_TERMINATION_WAIT_MINUTES}"
        )));
    }
    Ok(Some(BlueGreen {
        test_port,
        config,
        termination_wait_minutes: wait as i32,
        rollback_on_alarms: options.rollback_on_alarms.unwrap_or(true),
    }))
}

fn test_port(at: &str, p: i64) -> Result<u16> {
    match u16::try_from(p) {
        Ok(port) if port != 0 && !PRODUCTION_PORTS.contains(&port) => Ok(port),
        _ => Err(Error::spec(format!(
            "{at}.test_port {p} is not a test listener port: 1 to 65535, not 80 or 443 (the production listeners)"
        ))),
    }
}

/// The CodeDeploy deployment configuration of a `traffic` value: a short name
/// or CodeDeploy's own name of one of the ECS configurations.
pub fn traffic_config(traffic: &str) -> Option<&'static str> {
    TRAFFIC
        .iter()
        .find(|(short, full)| *short == traffic || *full == traffic)
        .map(|(_, full)| *full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn check(v: Value) -> Result<Option<BlueGreen>> {
        let d: DeploymentSetting = super::super::read("d", &v)?;
        blue_green("d", Some(&d))
    }

    #[test]
    fn the_short_and_the_object_forms() {
        assert_eq!(check(json!("rolling")).unwrap(), None);
        assert_eq!(blue_green("d", None).unwrap(), None);
        let short = check(json!("blue-green")).unwrap().unwrap();
        assert_eq!(
            (
                short.config,
                short.termination_wait_minutes,
                short.test_port
            ),
            ("CodeDeployDefault.ECSAllAtOnce", 5, None)
        );
        assert!(short.rollback_on_alarms);
        let full = check(json!({"type": "blue-green", "traffic": "canary-10-5",
            "termination_wait_minutes": 0, "test_port": 9000, "rollback_on_alarms": false}))
        .unwrap()
        .unwrap();
        assert_eq!(full.config, "CodeDeployDefault.ECSCanary10Percent5Minutes");
        assert_eq!(
            (full.test_port, full.termination_wait_minutes),
            (Some(9000), 0)
        );
        assert_eq!(
            traffic_config("CodeDeployDefault.ECSLinear10PercentEvery3Minutes"),
            traffic_config("linear-10-3")
        );
    }

    #[test]
    fn bad_deployments_are_named() {
        for (deployment, needle) in [
            (json!("canary"), "d: 'canary' is not a deployment type; expected one of rolling, blue-green"),
            (json!("blue-gren"), "did you mean blue-green?"),
            (json!({"type": "rolling"}), "d.type: 'rolling' is not \"blue-green\""),
            (json!({"type": "blue-green", "traffic": "slowly"}), "d.traffic: 'slowly' is not a traffic shift"),
            (json!({"type": "blue-green", "test_port": 443}), "not a test listener port"),
            (json!({"type": "blue-green", "test_port": 70000}), "not a test listener port"),
            (json!({"type": "blue-green", "termination_wait_minutes": 3000}), "0 to 2880"),
            (json!({"type": "blue-green", "trafic": "all-at-once"}), "d.trafic: unknown key; did you mean traffic?"),
            (json!({"type": "blue-green", "test_port": "8080"}), "d.test_port: expected a number, got the string \"8080\""),
            (json!({"traffic": "all-at-once"}), "d.type: missing"),
            (json!(7), "d: expected \"rolling\", \"blue-green\" or {\"type\": \"blue-green\", ...}, got the number 7"),
        ] {
            let e = check(deployment).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
