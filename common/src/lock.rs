//! One run per layer of a stack and env at a time: a lock held in AWS.
//!
//! Two runs of one layer at once would both find nothing and both create (two
//! VPCs, two KMS keys), and every later run would be stuck between the
//! duplicates. So a run that changes anything first takes its layer's lock;
//! plans, dry runs, status reads and re-runs with nothing to change take none
//! (`Context::read_then_lock`).
//!
//! The lock is per layer, not per stack, because a layer creates only its own
//! resources: duplicates can only come from two runs of one layer. Layers that
//! need nothing from each other (net-up, ecr-up, secrets-up) can then run at
//! once, which the stack scripts do. teardown deletes every layer, so it takes
//! every layer's lock, one after another in its fixed order; a tool holds only
//! its own, so no two runs can wait on each other in a cycle.
//!
//! A lock is a CloudWatch Logs log group, `/fargate-pipes/locks/{stack}/{env}/{layer}`:
//! CreateLogGroup is a conditional write (it fails when the group exists), it is
//! free, and every tool already speaks CloudWatch Logs. The group's tags name the
//! holder (tool, pid, host) and a random run id; its creation time says when the
//! run started. A second run waits up to `--lock-wait` seconds, then exits 11
//! naming the holder and its age. A lock is stale when it is older than
//! `STALE_AFTER`, or when its holder was a process on this host that is gone;
//! `--break-lock` breaks a stale lock and never a live one. Release deletes the
//! group only if it still carries this run's id. teardown takes the lock like any
//! run, and its release removes it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::Client;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use crate::error::{AwsResultExt, Error, Result};
use crate::runner::Context;

/// A lock older than this is stale whoever holds it: longer than any bounded
/// wait of ours (svc-up --wait defaults to 10 minutes), so only a dead or stuck
/// run holds one this old.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

/// How long after taking it a run releases its lock without reading it first.
const SAFE_RELEASE: Duration = Duration::from_secs(25 * 60);

const TAG_HOLDER: &str = "fargate-pipes:lock-holder";
const TAG_RUN: &str = "fargate-pipes:lock-run";
/// Polling interval while another run holds the lock.
const POLL: Duration = Duration::from_secs(2);

/// How to take the lock: `--lock-wait` and `--break-lock`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub wait: Duration,
    pub break_stale: bool,
}

/// The lock this run holds; `release` gives it back.
#[derive(Debug)]
pub struct Lock {
    client: Client,
    name: String,
    run: String,
    /// When this run took it (set by `acquire`).
    taken: std::time::Instant,
}

/// Who holds the lock, as AWS records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub who: String,
    pub run: String,
    /// Milliseconds since the epoch.
    pub since_ms: i64,
}

impl Holder {
    fn age(&self, now_ms: i64) -> Duration {
        Duration::from_millis(u64::try_from(now_ms - self.since_ms).unwrap_or(0))
    }

    /// Stale: too old, or held by a process of this host that no longer runs.
    pub fn is_stale(&self, now_ms: i64, host: &str, alive: impl Fn(u32) -> bool) -> bool {
        if self.age(now_ms) > STALE_AFTER {
            return true;
        }
        match parse_who(&self.who) {
            Some((pid, h)) if h == host => !alive(pid),
            _ => false,
        }
    }

    fn describe(&self, now_ms: i64) -> String {
        let at = DateTime::from_millis(self.since_ms)
            .fmt(Format::DateTime)
            .unwrap_or_else(|_| "an unknown time".to_owned());
        format!("{} since {at} ({} ago)", self.who, human(self.age(now_ms)))
    }
}

/// The log group name of a layer's lock (`layer` is the tool: `net-up`).
pub fn name(stack: &str, env: &str, layer: &str) -> String {
    format!("{}/{layer}", prefix(stack, env))
}

/// What the names of every lock of a stack and env start with.
pub fn prefix(stack: &str, env: &str) -> String {
    format!("/fargate-pipes/locks/{stack}/{env}")
}

/// Takes a layer's lock, waiting for another run's up to `opts.wait`.
pub async fn acquire(ctx: &Context, layer: &str, opts: Options) -> Result<Lock> {
    let lock = Lock {
        client: Client::new(&ctx.sdk),
        name: name(&ctx.stack, &ctx.env, layer),
        run: run_id(),
        taken: std::time::Instant::now(),
    };
    let start = std::time::Instant::now();
    let mut waiting = None;
    loop {
        if lock.try_create(ctx).await? {
            if let Some(w) = waiting {
                crate::progress::Waiting::done(w);
            }
            tracing::debug!("took the lock {}", lock.name);
            return Ok(Lock {
                taken: std::time::Instant::now(),
                ..lock
            });
        }
        let Some(holder) = lock.holder().await? else {
            continue; // released between our create and our read: try again
        };
        let now = now_ms();
        if opts.break_stale && holder.is_stale(now, &host(), pid_alive) {
            tracing::warn!("breaking the stale lock held by {}", holder.describe(now));
            lock.delete_if_held_by(&holder.run).await?;
            continue;
        }
        if start.elapsed() >= opts.wait {
            return Err(locked(ctx, &holder, now, opts));
        }
        waiting
            .get_or_insert_with(|| {
                crate::progress::waiting(format!(
                    "the lock held by {} (at most {})",
                    holder.describe(now),
                    human(opts.wait)
                ))
            })
            .tick();
        tokio::time::sleep(POLL).await;
    }
}

fn locked(ctx: &Context, holder: &Holder, now: i64, opts: Options) -> Error {
    let stale = holder.is_stale(now, &host(), pid_alive);
    let hint = if stale && !opts.break_stale {
        "its holder is gone or it is older than 30 minutes: re-run with --break-lock"
    } else {
        "wait for that run to finish (or raise --lock-wait)"
    };
    Error::Locked(format!(
        "{}/{} is locked by {}: {hint}",
        ctx.stack,
        ctx.env,
        holder.describe(now)
    ))
}

impl Lock {
    /// CreateLogGroup: true when this run now holds the lock.
    async fn try_create(&self, ctx: &Context) -> Result<bool> {
        let mut req = self.client.create_log_group().log_group_name(&self.name);
        for (k, v) in ctx.tags("lock") {
            req = req.tags(k, v);
        }
        let who = format!("{} pid {} on {}", ctx.tool, std::process::id(), host());
        match req
            .tags(TAG_HOLDER, who)
            .tags(TAG_RUN, &self.run)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(e).aws(format!("CreateLogGroup {} (the stack's lock)", self.name)),
        }
    }

    /// The current holder, or None when there is no lock.
    async fn holder(&self) -> Result<Option<Holder>> {
        let out = self
            .client
            .describe_log_groups()
            .log_group_name_prefix(&self.name)
            .send()
            .await
            .aws(format!("DescribeLogGroups {}", self.name))?;
        let Some(group) = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(self.name.as_str()))
        else {
            return Ok(None);
        };
        let arn = group.arn().unwrap_or_default().trim_end_matches(":*");
        let tags = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(format!("ListTagsForResource {}", self.name))?;
        let tag = |k: &str| {
            tags.tags()
                .and_then(|t| t.get(k))
                .cloned()
                .unwrap_or_default()
        };
        Ok(Some(Holder {
            who: tag(TAG_HOLDER),
            run: tag(TAG_RUN),
            since_ms: group.creation_time().unwrap_or_default(),
        }))
    }

    /// Deletes the lock if it is still the one `run` took.
    async fn delete_if_held_by(&self, run: &str) -> Result<()> {
        match self.holder().await? {
            Some(h) if h.run == run => {}
            _ => return Ok(()),
        }
        self.delete().await
    }

    async fn delete(&self) -> Result<()> {
        match self
            .client
            .delete_log_group()
            .log_group_name(&self.name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(e).aws(format!("DeleteLogGroup {} (the stack's lock)", self.name)),
        }
    }

    /// Gives the lock back; a failure is reported, never fatal to the run.
    ///
    /// Only a stale lock may be broken, and this run's is not stale while the
    /// run lives and is younger than `STALE_AFTER`: then it is still ours and
    /// goes in one call. (`SAFE_RELEASE` leaves a margin for a breaker whose
    /// clock runs ahead of AWS's.) An older one is deleted only if its tags
    /// still name this run.
    pub async fn release(self) {
        let released = if self.taken.elapsed() < SAFE_RELEASE {
            self.delete().await
        } else {
            self.delete_if_held_by(&self.run).await
        };
        if let Err(e) = released {
            tracing::warn!("could not release the lock {}: {e}", self.name);
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unique per run: the pid, the clock and the address of a stack value.
fn run_id() -> String {
    let marker = 0u8;
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        now_ms(),
        std::ptr::addr_of!(marker) as usize
    )
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Whether a process of this host runs; without /proc, assume it does (never
/// break a lock we cannot prove dead).
fn pid_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}

/// `"net-up pid 123 on host"` → (123, "host").
fn parse_who(who: &str) -> Option<(u32, &str)> {
    let (_, rest) = who.split_once(" pid ")?;
    let (pid, host) = rest.split_once(" on ")?;
    Some((pid.parse().ok()?, host))
}

/// `4m05s`, `2h10m`, `12s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(who: &str, age_secs: i64) -> (Holder, i64) {
        let now = 1_800_000_000_000;
        (
            Holder {
                who: who.to_owned(),
                run: "r".to_owned(),
                since_ms: now - age_secs * 1000,
            },
            now,
        )
    }

    #[test]
    fn stale_means_old_or_a_dead_process_here() {
        let (h, now) = holder("net-up pid 42 on here", 60);
        assert!(!h.is_stale(now, "here", |_| true), "alive, young");
        assert!(h.is_stale(now, "here", |_| false), "dead, here");
        assert!(
            !h.is_stale(now, "elsewhere", |_| false),
            "another host: cannot tell"
        );
        let (old, now) = holder("net-up pid 42 on elsewhere", 31 * 60);
        assert!(old.is_stale(now, "here", |_| true), "older than 30 minutes");
    }

    #[test]
    fn the_holder_is_described_with_its_start_and_age() {
        let (h, now) = holder("svc-up pid 7 on ci-1", 125);
        let d = h.describe(now);
        assert!(d.starts_with("svc-up pid 7 on ci-1 since 2027-"), "{d}");
        assert!(d.ends_with("(2m05s ago)"), "{d}");
    }

    #[test]
    fn names_and_durations() {
        assert_eq!(
            name("shop", "dev", "net-up"),
            "/fargate-pipes/locks/shop/dev/net-up"
        );
        assert_eq!(human(Duration::from_secs(7260)), "2h01m");
        assert_eq!(parse_who("a pid 9 on h-1"), Some((9, "h-1")));
        assert_eq!(parse_who("garbage"), None);
        assert_ne!(run_id(), "");
    }
}
