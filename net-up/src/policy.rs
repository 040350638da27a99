//! The flow logs' IAM role: trusted by VPC Flow Logs only for this account's
//! flow logs, and allowed to write to exactly one log group.

use serde_json::{json, Value};

/// The inline policy's name on the flow logs' role.
pub const POLICY_NAME: &str = "deliver-flow-logs";

/// The ARN of a log group (`:*` for its streams: the form log actions take).
pub fn log_group_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:log-group:{name}")
}

/// VPC Flow Logs may assume the role, for flow logs of this account in this
/// region only (the confused-deputy conditions AWS recommends).
pub fn trust(partition: &str, region: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": format!("arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*")}
            }
        }]
    })
}

/// Writing to the one log group: a stream per network interface and its
/// records. No CreateLogGroup (net-up makes the group, with its retention and
/// tags) and nothing on any other group.
pub fn deliver(group_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [group_arn, format!("{group_arn}:*")]
        }]
    })
}

/// The account of an ARN (`arn:aws:iam::123456789012:role/x`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_reaches_one_group_for_one_account() {
        let arn = log_group_arn("aws", "eu-west-1", "123456789012", "/vpc/a/dev/flow-logs");
        assert_eq!(
            arn,
            "arn:aws:logs:eu-west-1:123456789012:log-group:/vpc/a/dev/flow-logs"
        );
        let p = deliver(&arn);
        assert_eq!(p["Statement"][0]["Resource"][1], format!("{arn}:*"));
        let t = trust("aws", "eu-west-1", "123456789012");
        assert_eq!(
            t["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
        assert_eq!(
            account_of("arn:aws:iam::123456789012:role/x"),
            Some("123456789012")
        );
        assert_eq!(account_of("nonsense"), None);
    }
}
