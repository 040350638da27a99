//! The calls that change Application Auto Scaling and CloudWatch, each with
//! the waits AWS needs: a target registered a moment ago (or a service-linked
//! role just made) is not usable at once, and a delete of something already
//! gone is done. `apply` and `teardown` run them; nothing here decides what to
//! change (that is the pure `plan`).

use aws_sdk_applicationautoscaling::types::{PolicyType, TargetTrackingScalingPolicyConfiguration};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};

use common::{retry, AwsResultExt, Context, Error, Result};

use crate::desired::{WantAlarm, WantService};
use crate::discover::{dimension, namespace, Clients};
use crate::plan::alarm_shape;

/// Registers the target: creates it with `tag`'s tags, or (tag `None`)
/// changes the bounds of the existing one in place. Returns its ARN.
pub async fn register_target(
    c: &Clients,
    ctx: &Context,
    resource_id: &str,
    (min, max): (i32, i32),
    tag: Option<&str>,
) -> Result<String> {
    let op = format!("RegisterScalableTarget {resource_id}");
    let out = retry::retry(
        &op,
        retry::Policy::consistency(),
        is_target_not_ready,
        || {
            let mut req = c
                .aas
                .register_scalable_target()
                .service_namespace(namespace())
                .scalable_dimension(dimension())
                .resource_id(resource_id)
                .min_capacity(min)
                .max_capacity(max);
            // Tags are taken only when the target is created.
            for (k, v) in tag.map(|t| ctx.tags(t)).unwrap_or_default() {
                req = req.tags(k, v);
            }
            let op = &op;
            async move { req.send().await.aws(op) }
        },
    )
    .await?;
    Ok(out.scalable_target_arn().unwrap_or(resource_id).to_owned())
}

/// Puts (creates or replaces) the target-tracking policy; returns its ARN.
pub async fn put_policy(
    c: &Clients,
    resource_id: &str,
    name: &str,
    cfg: TargetTrackingScalingPolicyConfiguration,
) -> Result<String> {
    let op = format!("PutScalingPolicy {name}");
    let out = retry::retry(
        &op,
        retry::Policy::consistency(),
        is_policy_not_ready,
        || async {
            c.aas
                .put_scaling_policy()
                .policy_name(name)
                .service_namespace(namespace())
                .scalable_dimension(dimension())
                .resource_id(resource_id)
                .policy_type(PolicyType::TargetTrackingScaling)
                .target_tracking_scaling_policy_configuration(cfg.clone())
                .send()
                .await
                .aws(&op)
        },
    )
    .await?;
    Ok(out.policy_arn().to_owned())
}

/// PutMetricAlarm: the whole alarm of that name, with `tag`'s tags when it is
/// created (AWS ignores tags on an update).
pub async fn put_alarm(
    c: &Clients,
    ctx: &Context,
    cluster: &str,
    (s, a): (&WantService, &WantAlarm),
    tag: Option<&str>,
) -> Result<()> {
    let shape = alarm_shape(ctx, cluster, s, a);
    let dims = shape
        .dimensions
        .iter()
        .map(|(n, v)| Dimension::builder().name(n).value(v).build());
    let mut req =
        c.cw.put_metric_alarm()
            .alarm_name(&a.name)
            .alarm_description(shape.description)
            .namespace("AWS/ECS")
            .metric_name(shape.metric_name)
            .set_dimensions(Some(dims.collect()))
            .statistic(Statistic::Average)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(a.threshold)
            .period(a.period)
            .evaluation_periods(a.evaluation_periods)
            .set_alarm_actions(Some(a.actions.clone()))
            .actions_enabled(true);
    for (k, v) in tag.map(|t| ctx.tags(t)).unwrap_or_default() {
        req = req.tags(Tag::builder().key(k).value(v).build());
    }
    req.send().await.aws(format!("PutMetricAlarm {}", a.name))?;
    Ok(())
}

fn is_target_not_ready(e: &Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    match e.aws_code() {
        Some("ConcurrentUpdateException") => true,
        Some("ValidationException") => {
            text.contains("not exist") || text.contains("doesn't exist") || text.contains("role")
        }
        _ => false,
    }
}

/// AWS answers ObjectNotFoundException for a target or policy that is gone;
/// the emulator a ValidationException "No scalable target / scaling policy found".
pub(crate) fn is_gone(e: &Error) -> bool {
    retry::is_not_found(e)
        || (e.aws_code() == Some("ValidationException") && e.to_string().contains("No scal"))
}

/// A delete of a target or policy: retried while the target settles, done
/// once the object is gone.
async fn delete_until_gone<F, Fut>(op: &str, call: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    match retry::retry(op, retry::Policy::consistency(), is_target_not_ready, call).await {
        Err(e) if is_gone(&e) => Ok(()),
        other => other,
    }
}

pub(crate) async fn deregister_target(c: &Clients, resource_id: &str) -> Result<()> {
    let op = format!("DeregisterScalableTarget {resource_id}");
    delete_until_gone(&op, || async {
        c.aas
            .deregister_scalable_target()
            .service_namespace(namespace())
            .scalable_dimension(dimension())
            .resource_id(resource_id)
            .send()
            .await
            .map(|_| ())
            .aws(&op)
    })
    .await
}

pub(crate) async fn delete_policy(c: &Clients, resource_id: &str, name: &str) -> Result<()> {
    let op = format!("DeleteScalingPolicy {name}");
    delete_until_gone(&op, || async {
        c.aas
            .delete_scaling_policy()
            .service_namespace(namespace())
            .scalable_dimension(dimension())
            .resource_id(resource_id)
            .policy_name(name)
            .send()
            .await
            .map(|_| ())
            .aws(&op)
    })
    .await
}

/// A target registered a moment ago may not be visible yet
/// (ObjectNotFoundException); right after AWS made the service-linked role,
/// the policy's alarms cannot be read or made yet (FailedResourceAccessException).
fn is_policy_not_ready(e: &Error) -> bool {
    retry::is_not_found(e)
        || matches!(
            e.aws_code(),
            Some("FailedResourceAccessException" | "ConcurrentUpdateException")
        )
}

/// DeleteAlarms takes up to 100 names; names that do not exist are no error.
pub(crate) async fn delete_alarms(c: &Clients, names: &[String]) -> Result<()> {
    for chunk in names.chunks(100) {
        c.cw.delete_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send()
            .await
            .aws(format!("DeleteAlarms {}", chunk.join(", ")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::sections::AlarmMetric;

    #[test]
    fn alarm_names_are_recognised_only_in_our_shape() {
        let ctx = Context::offline("scale-up", "pay", "dev", "us-east-1");
        let parse = |n: &str| crate::plan::parse_alarm_name(&ctx, n);
        assert_eq!(
            parse("pay--api-cpu-high--dev"),
            Some(("api".to_owned(), AlarmMetric::Cpu))
        );
        assert_eq!(
            parse("pay--fraud-detector-memory-high--dev"),
            Some(("fraud-detector".to_owned(), AlarmMetric::Memory))
        );
        for other in [
            "pay--api-cpu-high--prod",
            "payx--api-cpu-high--dev",
            "pay--api-latency-high--dev",
            "pay--cpu-high--dev",
            "pay-api-cpu-high-dev",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn target_not_ready_is_only_consistency() {
        let aws = |code: &str, msg: &str| {
            Error::Aws(common::error::AwsError {
                op: "RegisterScalableTarget".into(),
                code: Some(code.into()),
                message: msg.into(),
                request_id: None,
                transient: false,
            })
        };
        assert!(is_target_not_ready(&aws(
            "ValidationException",
            "ECS service doesn't exist: service/a/b"
        )));
        assert!(is_target_not_ready(&aws(
            "ValidationException",
            "Unable to assume IAM role: arn:aws:iam::1:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
        )));
        assert!(is_target_not_ready(&aws(
            "ConcurrentUpdateException",
            "busy"
        )));
        assert!(!is_target_not_ready(&aws(
            "ValidationException",
            "Maximum capacity cannot be less than minimum capacity"
        )));
        assert!(is_policy_not_ready(&aws(
            "ObjectNotFoundException",
            "No scalable target"
        )));
        assert!(is_policy_not_ready(&aws(
            "FailedResourceAccessException",
            "no access"
        )));
        assert!(!is_policy_not_ready(&aws("ValidationException", "bad")));
        assert!(is_gone(&aws(
            "ObjectNotFoundException",
            "No scalable target"
        )));
        assert!(is_gone(&aws(
            "ValidationException",
            "No scaling policy found for service namespace: ecs"
        )));
    }
}
