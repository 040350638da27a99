//! ALB access logs (FSBP ELB.5): the S3 bucket alb-up makes for them. The load
//! balancer attributes that point at it are in `desired.rs`.
//!
//! S3 bucket names are global across accounts, so the name carries the account
//! and region (`{stack}--alb-logs--{env}-{account}-{region}`, cut with a hash
//! past 63 characters) and every call on the bucket names the expected owner:
//! a bucket of that name in another account (squatted, say) answers
//! AccessDenied and is refused, never written to.
//!
//! The bucket gets what AWS needs and FSBP asks: object ownership enforced (no
//! ACLs), public access blocked, SSE-S3 (ALB log delivery cannot write with
//! SSE-KMS), the log-delivery grant (ELB's own account in the regions opened
//! before 2022, the `logdelivery.elasticloadbalancing` service principal in the
//! newer ones), a deny of plain-HTTP requests (S3.5) and an expiry. Tags follow
//! CreateBucket at once (it takes none); a run killed between the two leaves an
//! untagged bucket of our exact name in our own account, which the next run
//! adopts only while it is still empty.
//!
//! Turning the logs off keeps the bucket: logs are data, like log groups.
//! teardown empties and removes it once the load balancer is gone.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    ObjectOwnership, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use aws_sdk_s3::Client;
use serde_json::{json, Value};

use common::plan::{Action, Change};
use common::{retry, AwsResultExt, Context, Error, Result};

use crate::plan::TOOL;

pub const BUCKET: &str = "access-log bucket";
/// The component tag of the bucket.
pub const COMPONENT: &str = "alb-logs";
/// The key prefix ELB writes under: `alb/AWSLogs/{account}/elasticloadbalancing/...`.
pub const PREFIX: &str = "alb";
/// The id of the one lifecycle rule alb-up keeps on the bucket.
const EXPIRY_RULE: &str = "expire-access-logs";

/// The bucket as the spec asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub account: String,
    pub region: String,
    pub days: u32,
}

impl Bucket {
    pub fn new(ctx: &Context, account: &str, days: u32) -> Bucket {
        Bucket {
            name: bucket_name(ctx, account),
            account: account.to_owned(),
            region: ctx.region.clone(),
            days,
        }
    }

    /// The bucket policy: the log-delivery grant and the TLS-only deny.
    pub fn policy(&self) -> Value {
        let partition = partition(&self.region);
        let bucket_arn = format!("arn:{partition}:s3:::{}", self.name);
        let principal = match elb_account(&self.region) {
            Some(elb) => json!({"AWS": format!("arn:{partition}:iam::{elb}:root")}),
            None => json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
        };
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlbAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": format!("{bucket_arn}/{PREFIX}/AWSLogs/{}/*", self.account),
                },
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn.clone(), format!("{bucket_arn}/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        })
    }
}

/// `{stack}--alb-logs--{env}-{account}-{region}`, at most 63 characters.
pub fn bucket_name(ctx: &Context, account: &str) -> String {
    let full = format!("{}-{account}-{}", ctx.name(COMPONENT), ctx.region);
    common::naming::short_name(&full, 63)
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// ELB's log-delivery account in the regions opened before August 2022 (AWS's
/// ALB access-log guide); the newer regions take the service principal.
fn elb_account(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" => "127311923021",
        "us-east-2" => "033677994240",
        "us-west-1" => "027434742980",
        "us-west-2" => "797873946194",
        "af-south-1" => "098369216593",
        "ap-east-1" => "754344448648",
        "ap-southeast-3" => "589379963580",
        "ap-south-1" => "718504428378",
        "ap-northeast-3" => "383597477331",
        "ap-northeast-2" => "600734575887",
        "ap-southeast-1" => "114774131450",
        "ap-southeast-2" => "783225319266",
        "ap-northeast-1" => "582318560864",
        "ca-central-1" => "985666609251",
        "eu-central-1" => "054676820928",
        "eu-west-1" => "156460612806",
        "eu-west-2" => "652711504416",
        "eu-south-1" => "635631232127",
        "eu-west-3" => "009996457667",
        "eu-north-1" => "897822967062",
        "me-south-1" => "076674570225",
        "sa-east-1" => "507241528517",
        "us-gov-west-1" => "048591011584",
        "us-gov-east-1" => "190560391635",
        "cn-north-1" => "638102146993",
        "cn-northwest-1" => "037604701340",
        _ => return None,
    })
}

/// The bucket as S3 describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// `None`: the bucket has no tags at all.
    pub tags: Option<BTreeMap<String, String>>,
    pub policy: Option<Value>,
    /// The days of alb-up's expiry rule, if the bucket has it.
    pub days: Option<u32>,
    pub empty: bool,
}

impl Found {
    fn tag_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// One change to the bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// CreateBucket, then public access block, encryption, tags, policy, expiry.
    Create,
    /// Tags on an empty untagged bucket of ours a killed run left behind.
    Tag,
    Policy,
    Expiry,
}

/// What the bucket needs; refuses a bucket of our name that is not ours.
pub fn plan(ctx: &Context, want: &Bucket, found: Option<&Found>) -> Result<Vec<(Op, Change)>> {
    let Some(found) = found else {
        let change = Change::new(TOOL, Action::Create, BUCKET, &want.name);
        return Ok(vec![(Op::Create, change)]);
    };
    let mut ops = Vec::new();
    let update = || Change::new(TOOL, Action::Update, BUCKET, &want.name);
    if found.tags.is_none() && found.empty {
        ops.push((Op::Tag, update().field("tags", "none", COMPONENT)));
    } else {
        ctx.check_owned(BUCKET, &want.name, found.tag_pairs(), COMPONENT)?;
    }
    let policy = want.policy();
    if found.policy.as_ref() != Some(&policy) {
        let from = found.policy.as_ref().map_or("none", |_| "other");
        ops.push((
            Op::Policy,
            update().field("policy", from, "log delivery, TLS only"),
        ));
    }
    if found.days != Some(want.days) {
        ops.push((
            Op::Expiry,
            update().field("retention_days", found.days, want.days),
        ));
    }
    Ok(ops)
}

/// Reads the bucket: `None` when there is none of that name.
pub async fn discover(s3: &Client, want: &Bucket) -> Result<Option<Found>> {
    let name = &want.name;
    let tags = match s3
        .get_bucket_tagging()
        .bucket(name)
        .expected_bucket_owner(&want.account)
        .send()
        .await
        .aws(format!("GetBucketTagging {name}"))
    {
        Ok(out) => Some(
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        ),
        Err(e) if code_is(&e, "NoSuchBucket") => return Ok(None),
        Err(e) if code_is(&e, "NoSuchTagSet") => None,
        Err(e) if code_is(&e, "AccessDenied") => return Err(elsewhere(name)),
        Err(e) => return Err(e),
    };
    let (policy, days, empty) = tokio::try_join!(
        read_policy(s3, want),
        read_days(s3, want),
        is_empty(s3, want)
    )?;
    Ok(Some(Found {
        tags,
        policy,
        days,
        empty,
    }))
}

/// S3 models none of these codes for these operations: the code is all there is.
fn code_is(e: &Error, code: &str) -> bool {
    e.aws_code() == Some(code)
}

fn elsewhere(name: &str) -> Error {
    Error::Refused(format!(
        "{BUCKET} {name} exists in another AWS account (S3 bucket names are global): \
         alb-up will not write logs to it; turn spec.alb.access_logs off or ask its owner"
    ))
}

async fn read_policy(s3: &Client, want: &Bucket) -> Result<Option<Value>> {
    let name = &want.name;
    let got = s3
        .get_bucket_policy()
        .bucket(name)
        .expected_bucket_owner(&want.account)
        .send()
        .await
        .aws(format!("GetBucketPolicy {name}"));
    match got {
        Ok(out) => Ok(out.policy().and_then(|p| serde_json::from_str(p).ok())),
        Err(e) if code_is(&e, "NoSuchBucketPolicy") => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_days(s3: &Client, want: &Bucket) -> Result<Option<u32>> {
    let name = &want.name;
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .expected_bucket_owner(&want.account)
        .send()
        .await
        .aws(format!("GetBucketLifecycleConfiguration {name}"));
    match got {
        Ok(out) => Ok(out
            .rules()
            .iter()
            .find(|r| r.id() == Some(EXPIRY_RULE) && r.status() == &ExpirationStatus::Enabled)
            .and_then(|r| r.expiration()?.days())
            .and_then(|d| u32::try_from(d).ok())),
        Err(e) if code_is(&e, "NoSuchLifecycleConfiguration") => Ok(None),
        Err(e) => Err(e),
    }
}

async fn is_empty(s3: &Client, want: &Bucket) -> Result<bool> {
    let name = &want.name;
    let out = s3
        .list_objects_v2()
        .bucket(name)
        .expected_bucket_owner(&want.account)
        .max_keys(1)
        .send()
        .await
        .aws(format!("ListObjectsV2 {name}"))?;
    Ok(out.contents().is_empty())
}

/// Makes the planned changes, in order, recording each.
pub async fn apply(ctx: &Context, s3: &Client, want: &Bucket, ops: &[(Op, Change)]) -> Result<()> {
    for (op, change) in ops {
        match op {
            Op::Create => create(ctx, s3, want).await?,
            Op::Tag => put_tags(ctx, s3, want).await?,
            Op::Policy => put_policy(s3, want).await?,
            Op::Expiry => put_expiry(s3, want).await?,
        }
        ctx.report.change(change.clone());
    }
    Ok(())
}

/// CreateBucket, then everything else a new bucket needs. Calls right after
/// the create may meet an endpoint that does not know the bucket yet.
async fn create(ctx: &Context, s3: &Client, want: &Bucket) -> Result<()> {
    let name = &want.name;
    // us-east-1 refuses a location constraint naming itself.
    let location = (want.region != "us-east-1").then(|| {
        CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(want.region.as_str()))
            .build()
    });
    let created = s3
        .create_bucket()
        .bucket(name)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .set_create_bucket_configuration(location)
        .send()
        .await;
    match created {
        Ok(_) => {}
        // A retried create of ours: the tags are set below either way.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_exists()) =>
        {
            return Err(elsewhere(name))
        }
        Err(e) => return Err(common::error::aws_error(format!("CreateBucket {name}"), e)),
    }
    settle(&format!("PutPublicAccessBlock {name}"), || {
        block_public(s3, want)
    })
    .await?;
    settle(&format!("PutBucketEncryption {name}"), || encrypt(s3, want)).await?;
    settle(&format!("PutBucketTagging {name}"), || {
        put_tags(ctx, s3, want)
    })
    .await?;
    settle(&format!("PutBucketPolicy {name}"), || put_policy(s3, want)).await?;
    settle(&format!("PutBucketLifecycleConfiguration {name}"), || {
        put_expiry(s3, want)
    })
    .await
}

/// Retries `NoSuchBucket` for the consistency budget.
async fn settle<F, Fut>(what: &str, op: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    retry::retry(
        what,
        retry::Policy::consistency(),
        |e| code_is(e, "NoSuchBucket"),
        op,
    )
    .await
}

async fn block_public(s3: &Client, want: &Bucket) -> Result<()> {
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(&want.name)
        .expected_bucket_owner(&want.account)
        .public_access_block_configuration(block)
        .send()
        .await
        .aws(format!("PutPublicAccessBlock {}", want.name))
        .map(drop)
}

async fn encrypt(s3: &Client, want: &Bucket) -> Result<()> {
    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(built)?;
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(sse)
                .build(),
        )
        .build()
        .map_err(built)?;
    s3.put_bucket_encryption()
        .bucket(&want.name)
        .expected_bucket_owner(&want.account)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .aws(format!("PutBucketEncryption {}", want.name))
        .map(drop)
}

async fn put_tags(ctx: &Context, s3: &Client, want: &Bucket) -> Result<()> {
    let tags = ctx
        .tags(COMPONENT)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(built))
        .collect::<Result<Vec<Tag>>>()?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(built)?;
    s3.put_bucket_tagging()
        .bucket(&want.name)
        .expected_bucket_owner(&want.account)
        .tagging(tagging)
        .send()
        .await
        .aws(format!("PutBucketTagging {}", want.name))
        .map(drop)
}

async fn put_policy(s3: &Client, want: &Bucket) -> Result<()> {
    s3.put_bucket_policy()
        .bucket(&want.name)
        .expected_bucket_owner(&want.account)
        .policy(want.policy().to_string())
        .send()
        .await
        .aws(format!("PutBucketPolicy {}", want.name))
        .map(drop)
}

async fn put_expiry(s3: &Client, want: &Bucket) -> Result<()> {
    let rule = LifecycleRule::builder()
        .id(EXPIRY_RULE)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(
            LifecycleExpiration::builder()
                .days(want.days as i32)
                .build(),
        )
        .build()
        .map_err(built)?;
    let config = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(built)?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(&want.name)
        .expected_bucket_owner(&want.account)
        .lifecycle_configuration(config)
        .send()
        .await
        .aws(format!("PutBucketLifecycleConfiguration {}", want.name))
        .map(drop)
}

/// teardown's view: the bucket of this stack and env when S3 says it is ours
/// (tagged ours, or untagged and empty: a create a killed run left behind).
/// A bucket of our name tagged otherwise is not ours and is left alone.
pub async fn find_owned(ctx: &Context, s3: &Client, account: &str) -> Result<Option<Bucket>> {
    let bucket = Bucket::new(ctx, account, 0);
    let Some(found) = discover(s3, &bucket).await? else {
        return Ok(None);
    };
    let ours = match found.tags {
        None => found.empty,
        Some(_) => ctx
            .check_owned(BUCKET, &bucket.name, found.tag_pairs(), COMPONENT)
            .is_ok(),
    };
    Ok(ours.then_some(bucket))
}

/// Empties the bucket (every version and delete marker) and deletes it. ELB
/// may deliver a last file after its load balancer is gone: BucketNotEmpty
/// empties it again, within the dependency budget.
pub async fn remove(s3: &Client, bucket: &Bucket) -> Result<()> {
    let op = format!("DeleteBucket {}", bucket.name);
    retry::retry(
        &op,
        retry::Policy::dependency(),
        |e| code_is(e, "BucketNotEmpty"),
        || async {
            empty(s3, bucket).await?;
            match s3
                .delete_bucket()
                .bucket(&bucket.name)
                .expected_bucket_owner(&bucket.account)
                .send()
                .await
                .aws(&op)
            {
                Err(e) if code_is(&e, "NoSuchBucket") => Ok(()),
                other => other.map(drop),
            }
        },
    )
    .await
}

/// Deletes every object version and delete marker, a page (at most 1000, what
/// one DeleteObjects takes) at a time.
async fn empty(s3: &Client, bucket: &Bucket) -> Result<()> {
    let name = &bucket.name;
    let (mut key, mut version) = (None, None);
    loop {
        let page = match s3
            .list_object_versions()
            .bucket(name)
            .expected_bucket_owner(&bucket.account)
            .set_key_marker(key.take())
            .set_version_id_marker(version.take())
            .send()
            .await
            .aws(format!("ListObjectVersions {name}"))
        {
            Err(e) if code_is(&e, "NoSuchBucket") => return Ok(()),
            other => other?,
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let ids = versions
            .chain(markers)
            .filter_map(|(k, v)| {
                let id = ObjectIdentifier::builder()
                    .key(k?)
                    .set_version_id(v.map(str::to_owned));
                id.build().ok()
            })
            .collect::<Vec<_>>();
        delete_objects(s3, bucket, ids).await?;
        if page.is_truncated() != Some(true) {
            return Ok(());
        }
        key = page.next_key_marker().map(str::to_owned);
        version = page.next_version_id_marker().map(str::to_owned);
    }
}

async fn delete_objects(s3: &Client, bucket: &Bucket, ids: Vec<ObjectIdentifier>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let name = &bucket.name;
    let delete = Delete::builder()
        .set_objects(Some(ids))
        .quiet(true)
        .build()
        .map_err(built)?;
    let out = s3
        .delete_objects()
        .bucket(name)
        .expected_bucket_owner(&bucket.account)
        .delete(delete)
        .send()
        .await
        .aws(format!("DeleteObjects {name}"))?;
    match out.errors().first() {
        None => Ok(()),
        Some(e) => Err(Error::Io(format!(
            "DeleteObjects {name}: {} of the objects were not deleted, first {}: {}",
            out.errors().len(),
            e.key().unwrap_or_default(),
            e.message().unwrap_or_default()
        ))),
    }
}

/// A builder missing a required field: a bug here, not bad input.
fn built(e: aws_sdk_s3::error::BuildError) -> Error {
    Error::Io(format!("internal: cannot build an S3 request: {e}"))
}

#[cfg(test)]
mod tests;
