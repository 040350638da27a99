//! The access-log bucket without AWS: its name, its policy per region, and the
//! plan against what S3 holds, including a bucket of our name that is not ours.

use std::collections::BTreeMap;

use super::*;
use common::naming::{TAG_COMPONENT, TAG_ENV, TAG_STACK};

const ACCOUNT: &str = "123456789012";

fn ctx(region: &str) -> Context {
    Context::offline("alb-up", "shop", "dev", region)
}

fn want(region: &str) -> Bucket {
    Bucket::new(&ctx(region), ACCOUNT, 90)
}

fn tags(stack: &str, component: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([
        (TAG_STACK.to_owned(), stack.to_owned()),
        (TAG_ENV.to_owned(), "dev".to_owned()),
        (TAG_COMPONENT.to_owned(), component.to_owned()),
    ]))
}

/// The bucket as alb-up leaves it.
fn converged(want: &Bucket) -> Found {
    Found {
        tags: tags("shop", COMPONENT),
        policy: Some(want.policy()),
        days: Some(want.days),
        empty: false,
    }
}

fn ops(found: Option<&Found>) -> Vec<Op> {
    let w = want("us-east-1");
    plan(&ctx("us-east-1"), &w, found)
        .unwrap()
        .into_iter()
        .map(|(op, _)| op)
        .collect()
}

#[test]
fn the_name_carries_account_and_region_and_fits_s3() {
    assert_eq!(
        want("eu-west-1").name,
        "shop--alb-logs--dev-123456789012-eu-west-1"
    );
    let long = Context::offline("alb-up", &"s".repeat(24), "staging-blue", "ap-southeast-2");
    let name = bucket_name(&long, ACCOUNT);
    assert!(name.len() <= 63, "{name}");
    assert_ne!(name, bucket_name(&long, "210987654321"));
    assert!(name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
}

#[test]
fn older_regions_grant_elbs_account_newer_ones_the_service_principal() {
    let old = want("eu-west-1").policy();
    assert_eq!(
        old["Statement"][0]["Principal"],
        json!({"AWS": "arn:aws:iam::156460612806:root"})
    );
    assert_eq!(
        old["Statement"][0]["Resource"],
        "arn:aws:s3:::shop--alb-logs--dev-123456789012-eu-west-1/alb/AWSLogs/123456789012/*"
    );
    let new = want("ap-southeast-5").policy();
    assert_eq!(
        new["Statement"][0]["Principal"],
        json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"})
    );
    let china = want("cn-north-1").policy();
    assert_eq!(
        china["Statement"][0]["Principal"],
        json!({"AWS": "arn:aws-cn:iam::638102146993:root"})
    );
}

#[test]
fn plain_http_is_denied() {
    let p = want("us-east-1").policy();
    let deny = &p["Statement"][1];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
}

#[test]
fn a_missing_bucket_is_created_and_a_converged_one_left_alone() {
    assert_eq!(ops(None), [Op::Create]);
    assert!(ops(Some(&converged(&want("us-east-1")))).is_empty());
}

#[test]
fn policy_and_retention_are_converged() {
    let w = want("us-east-1");
    let drifted = Found {
        policy: None,
        days: Some(30),
        ..converged(&w)
    };
    assert_eq!(ops(Some(&drifted)), [Op::Policy, Op::Expiry]);
}

#[test]
fn a_bucket_of_our_name_tagged_for_another_stack_is_refused() {
    let w = want("us-east-1");
    for tags in [tags("other", COMPONENT), tags("shop", "alb")] {
        let found = Found {
            tags,
            ..converged(&w)
        };
        let err = plan(&ctx("us-east-1"), &w, Some(&found)).unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err}");
    }
}

#[test]
fn an_untagged_bucket_is_adopted_only_while_empty() {
    let w = want("us-east-1");
    let left = Found {
        tags: None,
        policy: None,
        days: None,
        empty: true,
    };
    assert_eq!(ops(Some(&left)), [Op::Tag, Op::Policy, Op::Expiry]);
    let full = Found {
        empty: false,
        ..left
    };
    let err = plan(&ctx("us-east-1"), &w, Some(&full)).unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
}
