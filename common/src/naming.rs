//! Names, tags and client tokens: how a resource is known across runs.
//!
//! A resource is found again by its tags (`fargate-pipes:stack`, `:env`,
//! `:component`) and its name; both come from here so every tool agrees on them.
//!
//! Names are injective: no two (stack, component, env) triples give the same
//! name, so one stack can never find, adopt or delete another's resource by name.
//! Stack, env and service labels never contain `--` (nor start or end with `-`),
//! so `{stack}--{component}--{env}` splits back at its first and last `--`; kinds
//! whose names take `/` (ECR repositories, log groups) use `{stack}/{env}/{leaf}`,
//! which splits at the slashes. Service names that would make one derived
//! component equal to another (`execution`: the task role `task-execution` is
//! the execution role's name) are refused by `check_service_name`. The property
//! tests at the bottom generate labels and check all of this.

use std::collections::BTreeMap;

use crate::error::{shown, Error, Result};

pub const TAG_STACK: &str = "fargate-pipes:stack";
pub const TAG_ENV: &str = "fargate-pipes:env";
pub const TAG_COMPONENT: &str = "fargate-pipes:component";

/// Longest stack name: with `--alb--` and the env it still reads in a 32-character
/// load balancer name before the hash `short_name` adds.
pub const MAX_STACK: usize = 24;
pub const MAX_ENV: usize = 12;
/// A service name is a DNS label in Cloud Map and part of 64-character role names.
pub const MAX_SERVICE: usize = 32;

/// Checks a label (stack, env, service or secret name): lowercase letters, digits
/// and single hyphens, starting with a letter, not ending with a hyphen.
pub fn check_label(what: &str, value: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && !value.ends_with('-')
        && !value.contains("--")
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "invalid {what} '{}': use 1-{max} lowercase letters, digits and single '-', starting with a letter",
            shown(value)
        )))
    }
}

/// Prefixes AWS refuses at the start of a name: load balancer names may not begin
/// with `internal-`, security group names not with `sg-`. Every name of ours
/// begins with the stack, so the stack may not.
const REFUSED_STACK_PREFIXES: &[(&str, &str)] = &[
    (
        "internal",
        "load balancer names may not begin with 'internal-'",
    ),
    ("sg", "security group names may not begin with 'sg-'"),
];

/// A stack name: a label that no AWS name rule refuses at the start of a name.
pub fn check_stack(stack: &str) -> Result<()> {
    check_label("stack name", stack, MAX_STACK)?;
    for (prefix, why) in REFUSED_STACK_PREFIXES {
        if stack == *prefix || stack.starts_with(&format!("{prefix}-")) {
            return Err(Error::spec(format!(
                "invalid stack name '{stack}': {why}, and every resource name begins with the stack; pick another name"
            )));
        }
    }
    Ok(())
}

pub fn check_env(env: &str) -> Result<()> {
    check_label("env", env, MAX_ENV)
}

/// Service names that would give a derived name another component already has.
pub const RESERVED_SERVICES: &[(&str, &str)] = &[(
    "execution",
    "its task role would be the stack's task execution role (task-execution)",
)];

/// A service's green target group is `tg-{service}-green`: a service named
/// `x-green` would take service `x`'s green group.
pub const RESERVED_SERVICE_SUFFIX: &str = "-green";

/// A service name: a label, not reserved, not ending in `-green`.
pub fn check_service_name(name: &str) -> Result<()> {
    check_label("service name", name, MAX_SERVICE)?;
    if let Some((_, why)) = RESERVED_SERVICES.iter().find(|(r, _)| *r == name) {
        return Err(Error::spec(format!(
            "service name '{name}' is reserved: {why}; rename the service"
        )));
    }
    if name.ends_with(RESERVED_SERVICE_SUFFIX) {
        return Err(Error::spec(format!(
            "service name '{name}' may not end in '{RESERVED_SERVICE_SUFFIX}': \
             blue/green services' second target groups are named tg-<service>-green; rename the service"
        )));
    }
    Ok(())
}

/// `{stack}--{component}--{env}`.
pub fn name(stack: &str, component: &str, env: &str) -> String {
    format!("{stack}--{component}--{env}")
}

/// What every `name` of this stack and env begins with: `{stack}--`.
pub fn name_prefix(stack: &str) -> String {
    format!("{stack}--")
}

/// What every unshortened `name` of this stack and env ends with: `--{env}`.
pub fn name_suffix(env: &str) -> String {
    format!("--{env}")
}

/// The component of one of this stack's and env's unshortened names.
pub fn component_in<'a>(name: &'a str, stack: &str, env: &str) -> Option<&'a str> {
    name.strip_prefix(&name_prefix(stack))?
        .strip_suffix(&name_suffix(env))
        .filter(|c| !c.is_empty())
}

/// `{stack}/{env}/{leaf}`, for kinds whose names take `/` but not `--` (ECR
/// repositories), and as the stack's prefix of log group names.
pub fn path(stack: &str, env: &str, leaf: &str) -> String {
    format!("{stack}/{env}/{leaf}")
}

/// Load balancer and target group names: at most 32 characters of letters,
/// digits and single hyphens (ELB refuses `--`). The readable part is the name
/// with single hyphens, cut to fit; a hash of the injective `name` makes it
/// unique: 8 base-36 characters, 41 bits. Two triples share an ELB name only if
/// their hashes collide, and even then the tags, checked before any change,
/// keep one stack off the other's resource.
pub fn elb_name(stack: &str, component: &str, env: &str) -> String {
    const MAX: usize = 32;
    let full = name(stack, component, env);
    let hash = base36(fnv1a(full.as_bytes()), 8);
    let readable = full.replace("--", "-");
    let keep = readable.len().min(MAX - hash.len() - 1);
    let head = readable[..keep].trim_end_matches('-');
    format!("{head}-{hash}")
}

fn base36(mut n: u64, digits: usize) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; digits];
    for d in out.iter_mut().rev() {
        *d = ALPHABET[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(out).expect("ASCII digits")
}

/// A name that must fit `max` characters (ALB and target groups: 32). Too long a
/// name keeps its start and gets a short hash of the whole, so it stays unique and stable.
pub fn short_name(full: &str, max: usize) -> String {
    if full.len() <= max {
        return full.to_owned();
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
    let keep = max - hash.len() - 1;
    let head = full[..keep].trim_end_matches('-');
    format!("{head}-{hash}")
}

/// Whether `name` may be one `short_name` shortened: it ends in `-` and the
/// 8 hex digits of the hash. Its length says nothing: the head loses the
/// hyphens the cut leaves at its end, so a name cut inside `--` is 62 or 63
/// characters long, not the limit. A hint for listing only (an unshortened
/// name can end like this too): the tags decide.
pub fn may_be_shortened(name: &str) -> bool {
    name.len() > 9
        && name
            .rsplit_once('-')
            .is_some_and(|(_, hash)| hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The tags every resource gets: ours first, then the user's (which may not override ours).
pub fn tags(
    stack: &str,
    env: &str,
    component: &str,
    user: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut tags = vec![
        (TAG_STACK.to_owned(), stack.to_owned()),
        (TAG_ENV.to_owned(), env.to_owned()),
        (TAG_COMPONENT.to_owned(), component.to_owned()),
    ];
    for (k, v) in user {
        if !k.starts_with("fargate-pipes:") {
            tags.push((k.clone(), v.clone()));
        }
    }
    tags
}

/// Whether a resource's tags say it belongs to this stack and env. Used to check
/// every lookup result, because some APIs (and the emulator) ignore tag filters.
pub fn owned_by<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    stack: &str,
    env: &str,
) -> bool {
    let (mut s, mut e) = (false, false);
    for (k, v) in tags {
        s |= k == TAG_STACK && v == stack;
        e |= k == TAG_ENV && v == env;
    }
    s && e
}

/// Whether a resource's tags say it is this stack's and env's `component`:
/// the check before any update or delete.
pub fn owned_as<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    stack: &str,
    env: &str,
    component: &str,
) -> bool {
    owned_by(tags.clone(), stack, env) && component_of(tags) == Some(component)
}

/// The component tag among a resource's tags.
pub fn component_of<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<&'a str> {
    tags.into_iter()
        .find(|(k, _)| *k == TAG_COMPONENT)
        .map(|(_, v)| v)
}

/// An idempotency token for APIs that take one: stable across retries and re-runs
/// of the same request, different once its inputs (e.g. a new subnet's id) change,
/// so a stack torn down and brought up again is not answered with the old resource.
pub fn client_token(parts: &[&str]) -> String {
    format!("fp-{:016x}", fnv1a(parts.join("\u{1f}").as_bytes()))
}

/// FNV-1a: tiny, stable across Rust releases (std's hasher is not), good enough for names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    #[test]
    fn labels() {
        assert!(check_label("stack", "payments", 24).is_ok());
        assert!(check_label("stack", "ohi-2", 24).is_ok());
        for bad in ["", "Payments", "1abc", "a--b", "a-", "a_b", &"a".repeat(25)] {
            assert!(check_label("stack", bad, 24).is_err(), "{bad}");
        }
    }

    #[test]
    fn stacks_aws_would_refuse_are_refused() {
        for bad in ["internal", "internal-tools", "sg", "sg-core"] {
            let e = check_stack(bad).unwrap_err().to_string();
            assert!(e.contains("pick another name"), "{e}");
        }
        for ok in ["internals", "sgx", "tools-internal", "payments"] {
            assert!(check_stack(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn reserved_service_names_are_refused() {
        assert!(check_service_name("execution").is_err());
        assert!(check_service_name("web-green").is_err());
        assert!(check_service_name("green").is_ok());
        assert!(check_service_name("task-execution").is_ok());
    }

    #[test]
    fn short_names_fit_and_stay_unique() {
        let a = short_name("payment-processing-payment-processor-dev", 32);
        let b = short_name("payment-processing-payment-processor-prd", 32);
        assert!(a.len() <= 32 && b.len() <= 32);
        assert_ne!(a, b);
        assert_eq!(short_name("short", 32), "short");
    }

    #[test]
    fn shortened_names_are_recognised_whatever_their_length() {
        // The cut lands on a hyphen of the service's name: the head loses
        // it, and the shortened name is 63 characters, not IAM's 64.
        let service = format!("{}-{}", "a".repeat(23), "b".repeat(8));
        let full = format!("{}--task-{service}--staging", "s".repeat(24));
        let short = short_name(&full, 64);
        assert_eq!(short.len(), 63, "{short}");
        assert!(may_be_shortened(&short));
        assert!(may_be_shortened(&short_name(&"x".repeat(80), 64)));
        assert!(!may_be_shortened("shop--task-api--dev"));
        assert!(!may_be_shortened("-0123abcd"));
    }

    #[test]
    fn tokens_are_stable_and_bounded() {
        let t = client_token(&["demo", "dev", "nat", "subnet-1"]);
        assert_eq!(t, client_token(&["demo", "dev", "nat", "subnet-1"]));
        assert_ne!(t, client_token(&["demo", "dev", "nat", "subnet-2"]));
        assert!(t.len() <= 64);
    }

    #[test]
    fn ownership_needs_stack_and_env() {
        let tags = [(TAG_STACK, "a"), (TAG_ENV, "dev")];
        assert!(owned_by(tags, "a", "dev"));
        assert!(!owned_by(tags, "a", "prod"));
        assert!(!owned_by([(TAG_STACK, "a")], "a", "dev"));
    }

    #[test]
    fn ownership_as_a_component_needs_the_component() {
        let tags = [
            (TAG_STACK, "a"),
            (TAG_ENV, "dev"),
            (TAG_COMPONENT, "task-api"),
        ];
        assert!(owned_as(tags, "a", "dev", "task-api"));
        assert!(!owned_as(tags, "a", "dev", "task-execution"));
        assert!(!owned_as(tags, "b", "dev", "task-api"));
    }

    /// Every label of up to `len` characters over `a`, `b`, `1` and `-`: small
    /// enough to enumerate, rich in hyphens and shared prefixes (the cases that
    /// could collide). Exhaustive, so these are proofs over that domain.
    fn labels_upto(len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut out = Vec::new();
        for _ in 0..len {
            all = all
                .iter()
                .flat_map(|s| ['a', 'b', '1', '-'].map(|c| format!("{s}{c}")))
                .collect();
            out.extend(
                all.iter()
                    .filter(|s| check_label("x", s, len).is_ok())
                    .cloned(),
            );
        }
        out
    }

    fn triples(len: usize) -> Vec<(String, String, String)> {
        let l = labels_upto(len);
        let mut out = Vec::new();
        for s in &l {
            for c in &l {
                for e in &l {
                    out.push((s.clone(), c.clone(), e.clone()));
                }
            }
        }
        out
    }

    /// Different (stack, component, env) triples never share a name, in either scheme.
    #[test]
    fn names_are_injective() {
        let all = triples(3);
        assert!(all.len() > 20_000, "the domain is not trivial");
        let names: HashSet<String> = all.iter().map(|(s, c, e)| name(s, c, e)).collect();
        let paths: HashSet<String> = all.iter().map(|(s, c, e)| path(s, e, c)).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(paths.len(), all.len());
    }

    /// A name splits back into its triple: the first and last `--` are the separators.
    #[test]
    fn names_split_back() {
        for (s, c, e) in triples(3) {
            let n = name(&s, &c, &e);
            let (stack, rest) = n.split_once("--").expect("a separator");
            let (component, env) = rest.rsplit_once("--").expect("a separator");
            assert_eq!(
                (stack, component, env),
                (s.as_str(), c.as_str(), e.as_str())
            );
        }
    }

    /// Every component a tool derives from a service name, with the AWS namespace
    /// in which two equal names would be one resource.
    fn derived(service: &str) -> Vec<(&'static str, String)> {
        vec![
            ("iam role", format!("task-{service}")),
            ("security group", format!("svc-{service}")),
            ("target group", format!("tg-{service}")),
            ("target group", format!("tg-{service}-green")),
            ("ecs service", service.to_owned()),
        ]
    }

    /// The components the tools name themselves, per namespace.
    const FIXED: &[(&str, &str)] = &[
        ("iam role", "task-execution"),
        ("iam role", "codedeploy"),
        ("iam role", "flow-logs"),
        ("security group", "alb"),
        ("security group", "endpoints"),
    ];

    /// No two valid services of a stack, and no service and a tool's own
    /// component, derive the same name in one namespace; the services that
    /// would (`execution`, `x-green`) are the ones `check_service_name` refuses.
    #[test]
    fn derived_components_never_collide() {
        let mut words = labels_upto(5);
        words.extend(["execution", "x-green", "green", "codedeploy", "alb"].map(String::from));
        let services: Vec<&String> = words
            .iter()
            .filter(|w| check_service_name(w).is_ok())
            .collect();
        let mut seen: HashMap<(&str, String), &str> = FIXED
            .iter()
            .map(|(k, c)| ((*k, (*c).to_owned()), "the tools"))
            .collect();
        for svc in &services {
            for (kind, component) in derived(svc) {
                if let Some(other) = seen.insert((kind, component.clone()), svc) {
                    panic!("{kind} {component}: service {svc} and {other}");
                }
            }
        }
        assert!(check_service_name("execution").is_err() && check_service_name("x-green").is_err());
    }

    /// ELB names fit, take no `--`, and stay distinct over the generated triples.
    #[test]
    fn elb_names_fit_and_stay_distinct() {
        let mut seen = HashSet::new();
        for (s, c, e) in triples(3) {
            let n = elb_name(&s, &c, &e);
            assert!(
                n.len() <= 32 && !n.contains("--") && !n.starts_with('-'),
                "{n}"
            );
            assert!(seen.insert(n.clone()), "{n}");
        }
        let long = elb_name(
            &"a".repeat(24),
            "tg-payment-processor-green",
            &"b".repeat(12),
        );
        assert_eq!(long.len(), 32);
        assert!(long.starts_with("aaaaaaaaaaaaaaaaaaaaaaa-"), "{long}");
        assert_eq!(
            elb_name("shop", "alb", "dev").len(),
            "shop-alb-dev".len() + 9
        );
    }

    /// Shortened names (ALB, target groups: 32 characters) keep distinct names
    /// distinct, over names long enough to be shortened.
    #[test]
    fn short_names_stay_injective() {
        let long = "a".repeat(20);
        let mut seen = HashSet::new();
        let mut shortened = 0;
        for (s, c, e) in triples(3) {
            let full = name(&format!("{long}{s}"), &c, &e);
            let short = short_name(&full, 32);
            assert!(short.len() <= 32);
            shortened += usize::from(short != full);
            assert!(seen.insert(short), "{full}");
        }
        assert!(shortened > 1000);
    }
}
