//! What net-up owns, by kind and component tag: the one place that says which
//! `fargate-pipes:component` values are the network layer's, and how each
//! resource is named in plans and logs.
//!
//! Other layers tag their resources with the same stack and env (the ALB's and
//! the services' security groups live in our VPC), so discovery and teardown
//! keep only the components listed here: nothing is changed or counted twice
//! across layers.

use common::Context;

/// The kinds of resource net-up changes, as plans name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Vpc,
    Subnet,
    Igw,
    Eip,
    Nat,
    RouteTable,
    /// A route table's default route (`0.0.0.0/0`); checked through its table.
    Route,
    /// A subnet's association with a route table; checked through the table.
    Association,
    /// The interface endpoints' security group.
    Group,
    /// The VPC's default security group (AWS-made; checked through the VPC).
    DefaultGroup,
    Endpoint,
    LogGroup,
    Role,
    FlowLog,
}

impl Kind {
    /// The kind as plans and logs name it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::Igw => "internet gateway",
            Kind::Eip => "elastic ip",
            Kind::Nat => "nat gateway",
            Kind::RouteTable => "route table",
            Kind::Route => "route",
            Kind::Association => "route table association",
            Kind::Group | Kind::DefaultGroup => "security group",
            Kind::Endpoint => "vpc endpoint",
            Kind::LogGroup => "log group",
            Kind::Role => "iam role",
            Kind::FlowLog => "flow log",
        }
    }
}

/// One resource of the plan: its kind and its component (for routes, the route
/// table's component; for associations, the subnet's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub component: String,
}

impl Key {
    pub fn new(kind: Kind, component: impl Into<String>) -> Self {
        Key {
            kind,
            component: component.into(),
        }
    }

    /// The name plans and logs show.
    pub fn name(&self, ctx: &Context) -> String {
        match self.kind {
            Kind::LogGroup => log_group_name(ctx),
            Kind::Role => common::iam::role_name(ctx, FLOW_LOGS),
            Kind::Route => format!("{} {ANY}", ctx.name(&self.component)),
            Kind::DefaultGroup => format!("{} default", ctx.name(VPC)),
            _ => ctx.name(&self.component),
        }
    }
}

/// The default route's destination.
pub const ANY: &str = "0.0.0.0/0";

pub const VPC: &str = "vpc";
pub const IGW: &str = "igw";
pub const PUBLIC_TABLE: &str = "rt-public";
pub const ENDPOINT_GROUP: &str = "endpoints";
/// The flow log, its log group and the role that delivers to it.
pub const FLOW_LOGS: &str = "flow-logs";

pub fn subnet(tier: &str, az: &str) -> String {
    format!("{tier}-{az}")
}

pub fn private_table(az: &str) -> String {
    format!("rt-private-{az}")
}

pub fn nat(az: &str) -> String {
    format!("nat-{az}")
}

pub fn eip(az: &str) -> String {
    format!("nat-eip-{az}")
}

pub fn endpoint(short: &str) -> String {
    format!("vpce-{}", short.replace('.', "-"))
}

/// `/vpc/{stack}/{env}/flow-logs`: under the stack's path, like the services'
/// `/ecs/{stack}/{env}/...`.
pub fn log_group_name(ctx: &Context) -> String {
    format!("/vpc/{}", ctx.path(FLOW_LOGS))
}

/// Whether a component tag on a resource of `kind` is one of net-up's.
pub fn is_ours(kind: Kind, component: &str) -> bool {
    let az_part = |prefix: &str| {
        component
            .strip_prefix(prefix)
            .is_some_and(|r| !r.is_empty())
    };
    match kind {
        Kind::Vpc => component == VPC,
        Kind::Igw => component == IGW,
        Kind::Subnet => az_part("public-") || az_part("private-"),
        Kind::Eip => az_part("nat-eip-"),
        Kind::Nat => az_part("nat-") && !component.starts_with("nat-eip-"),
        Kind::RouteTable => component == PUBLIC_TABLE || az_part("rt-private-"),
        Kind::Group => component == ENDPOINT_GROUP,
        Kind::Endpoint => az_part("vpce-"),
        Kind::LogGroup | Kind::Role | Kind::FlowLog => component == FLOW_LOGS,
        Kind::Route | Kind::Association | Kind::DefaultGroup => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_told_apart_by_kind() {
        assert!(is_ours(Kind::Nat, "nat-us-east-1a"));
        assert!(!is_ours(Kind::Nat, "nat-eip-us-east-1a"));
        assert!(is_ours(Kind::Eip, "nat-eip-us-east-1a"));
        assert!(is_ours(Kind::Group, "endpoints"));
        assert!(!is_ours(Kind::Group, "alb") && !is_ours(Kind::Group, "svc-api"));
        assert!(is_ours(Kind::Subnet, "private-eu-west-1b"));
        assert!(!is_ours(Kind::Subnet, "private-"));
        assert!(is_ours(Kind::RouteTable, "rt-public"));
    }

    #[test]
    fn names_follow_the_stack_scheme() {
        let ctx = Context::offline("net-up", "shop", "dev", "us-east-1");
        assert_eq!(log_group_name(&ctx), "/vpc/shop/dev/flow-logs");
        assert_eq!(
            Key::new(Kind::Route, "rt-public").name(&ctx),
            "shop--rt-public--dev 0.0.0.0/0"
        );
        assert_eq!(
            Key::new(Kind::Role, FLOW_LOGS).name(&ctx),
            "shop--flow-logs--dev"
        );
        assert_eq!(endpoint("ecr.api"), "vpce-ecr-api");
    }
}
