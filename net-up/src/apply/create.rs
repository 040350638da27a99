//! Creating each kind, tagged in the create call itself (a run killed right
//! after leaves something a re-run and teardown find by tag), with client
//! tokens where AWS takes one. Calls that name a resource made a moment ago
//! retry AWS's `NotFound` while it becomes visible.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, FlowLogsResourceType, LogDestinationType, NatGatewayState,
    ResourceType, TrafficType, VpcEndpointType,
};
use common::ec2::tag_spec;
use common::iam::{partition, ROLE_PATH};
use common::spec::network::EndpointKind;
use common::{retry, AwsResultExt, Error, Result};

use super::Applier;
use crate::components::{self as c, Key, Kind, ANY};
use crate::desired::Via;
use crate::plan::flowlogs::{DESTINATION, INTERVAL, TRAFFIC};
use crate::policy;

impl Applier<'_> {
    pub(super) async fn create(&self, key: &Key) -> Result<()> {
        let comp = key.component.as_str();
        match key.kind {
            Kind::Vpc => self.create_vpc().await,
            Kind::Eip => self.create_eip(comp).await,
            Kind::LogGroup => self.create_log_group().await,
            Kind::Role => self.create_role().await,
            Kind::Subnet => self.create_subnet(comp).await,
            Kind::Igw => self.create_igw().await,
            Kind::RouteTable => self.create_table(comp).await,
            Kind::Group => self.create_group().await,
            Kind::FlowLog => self.create_flow_log().await,
            Kind::Nat => self.create_nat(comp).await,
            Kind::Endpoint => self.create_endpoint(comp).await,
            Kind::Association => self.associate(comp).await,
            Kind::Route => self.create_route(comp).await,
            Kind::DefaultGroup => Ok(()),
        }
    }

    async fn create_vpc(&self) -> Result<()> {
        let name = self.ctx.name(c::VPC);
        let out = self
            .aws
            .ec2
            .create_vpc()
            .cidr_block(self.desired.cidr.to_string())
            .tag_specifications(tag_spec(self.ctx, ResourceType::Vpc, c::VPC))
            .send()
            .await
            .aws(format!("CreateVpc {name}"))?;
        let id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_owned();
        self.made(Kind::Vpc, c::VPC, &id);
        // Interface endpoints' private DNS and Cloud Map need both on; AWS
        // takes one attribute per call.
        self.set_dns(&id, true).await?;
        self.set_dns(&id, false).await
    }

    /// Turns DNS support (`support`) or DNS hostnames on.
    pub(super) async fn set_dns(&self, vpc: &str, support: bool) -> Result<()> {
        let on = Some(AttributeBooleanValue::builder().value(true).build());
        retry::after_create(&format!("ModifyVpcAttribute {vpc}"), || async {
            let call = self.aws.ec2.modify_vpc_attribute().vpc_id(vpc);
            let call = if support {
                call.set_enable_dns_support(on.clone())
            } else {
                call.set_enable_dns_hostnames(on.clone())
            };
            call.send()
                .await
                .map(drop)
                .aws(format!("ModifyVpcAttribute {vpc}"))
        })
        .await
    }

    async fn create_eip(&self, comp: &str) -> Result<()> {
        let name = self.ctx.name(comp);
        let out = self
            .aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(self.ctx, ResourceType::ElasticIp, comp))
            .send()
            .await
            .aws(format!("AllocateAddress {name}"))?;
        let id = out.allocation_id().unwrap_or_default();
        self.made(Kind::Eip, comp, id);
        self.made.lock().expect("ids lock").public_ips.insert(
            comp.to_owned(),
            out.public_ip().unwrap_or_default().to_owned(),
        );
        Ok(())
    }

    async fn create_log_group(&self) -> Result<()> {
        let name = c::log_group_name(self.ctx);
        let retention = self.desired.flow_logs.unwrap_or(365);
        let tags = self.ctx.tags(c::FLOW_LOGS).into_iter().collect();
        self.aws
            .logs
            .create_log_group()
            .log_group_name(&name)
            .set_tags(Some(tags))
            .send()
            .await
            .aws(format!("CreateLogGroup {name}"))?;
        self.put_retention(&name, retention).await?;
        let account = self.account().await?;
        let region = &self.ctx.region;
        let arn = policy::log_group_arn(partition(region), region, &account, &name);
        self.made(Kind::LogGroup, c::FLOW_LOGS, &arn);
        Ok(())
    }

    pub(super) async fn put_retention(&self, name: &str, days: i32) -> Result<()> {
        retry::after_create(&format!("PutRetentionPolicy {name}"), || async {
            self.aws
                .logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .map(drop)
                .aws(format!("PutRetentionPolicy {name}"))
        })
        .await
    }

    /// The account: from what this run already knows, else from STS.
    pub(super) async fn account(&self) -> Result<String> {
        let known = {
            let made = self.made.lock().expect("ids lock");
            [Kind::Role, Kind::LogGroup].iter().find_map(|k| {
                made.get(*k, c::FLOW_LOGS)
                    .and_then(policy::account_of)
                    .map(str::to_owned)
            })
        };
        match known {
            Some(a) => Ok(a),
            None => self.aws.account().await,
        }
    }

    async fn create_role(&self) -> Result<()> {
        let name = common::iam::role_name(self.ctx, c::FLOW_LOGS);
        let account = self.account().await?;
        let region = &self.ctx.region;
        let part = partition(region);
        let trust = policy::trust(part, region, &account);
        let tags = self
            .ctx
            .tags(c::FLOW_LOGS)
            .into_iter()
            .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::spec(format!("invalid tag: {e}")))?;
        let out = self
            .aws
            .iam
            .create_role()
            .role_name(&name)
            .path(ROLE_PATH)
            .assume_role_policy_document(trust.to_string())
            .description("VPC Flow Logs deliver this stack's flow logs to its log group")
            .set_tags(Some(tags))
            .send()
            .await
            .aws(format!("CreateRole {name}"))?;
        let arn = out.role().map(|r| r.arn().to_owned()).unwrap_or_default();
        let group = policy::log_group_arn(part, region, &account, &c::log_group_name(self.ctx));
        self.put_policy(&name, &policy::deliver(&group)).await?;
        self.made(Kind::Role, c::FLOW_LOGS, &arn);
        Ok(())
    }

    pub(super) async fn put_policy(&self, role: &str, document: &serde_json::Value) -> Result<()> {
        let text = document.to_string();
        retry::after_create(&format!("PutRolePolicy {role}"), || async {
            self.aws
                .iam
                .put_role_policy()
                .role_name(role)
                .policy_name(policy::POLICY_NAME)
                .policy_document(&text)
                .send()
                .await
                .map(drop)
                .aws(format!("PutRolePolicy {role}"))
        })
        .await
    }

    async fn create_subnet(&self, comp: &str) -> Result<()> {
        let want = self.desired.subnet(comp).expect("a subnet of the spec");
        let vpc = self.id(Kind::Vpc, c::VPC)?;
        let name = self.ctx.name(comp);
        let out = retry::after_create(&format!("CreateSubnet {name}"), || async {
            self.aws
                .ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(&want.cidr)
                .availability_zone(&want.az)
                .tag_specifications(tag_spec(self.ctx, ResourceType::Subnet, comp))
                .send()
                .await
                .aws(format!("CreateSubnet {name}"))
        })
        .await?;
        let id = out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default();
        self.made(Kind::Subnet, comp, id);
        Ok(())
    }

    async fn create_igw(&self) -> Result<()> {
        let name = self.ctx.name(c::IGW);
        let out = self
            .aws
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(self.ctx, ResourceType::InternetGateway, c::IGW))
            .send()
            .await
            .aws(format!("CreateInternetGateway {name}"))?;
        let id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_owned();
        self.made(Kind::Igw, c::IGW, &id);
        self.attach_igw(&id).await
    }

    pub(super) async fn attach_igw(&self, igw: &str) -> Result<()> {
        let vpc = self.id(Kind::Vpc, c::VPC)?;
        retry::after_create(&format!("AttachInternetGateway {igw}"), || async {
            self.aws
                .ec2
                .attach_internet_gateway()
                .internet_gateway_id(igw)
                .vpc_id(&vpc)
                .send()
                .await
                .map(drop)
                .aws(format!("AttachInternetGateway {igw} {vpc}"))
        })
        .await
    }

    async fn create_table(&self, comp: &str) -> Result<()> {
        let vpc = self.id(Kind::Vpc, c::VPC)?;
        let name = self.ctx.name(comp);
        let out = retry::after_create(&format!("CreateRouteTable {name}"), || async {
            self.aws
                .ec2
                .create_route_table()
                .vpc_id(&vpc)
                .tag_specifications(tag_spec(self.ctx, ResourceType::RouteTable, comp))
                .send()
                .await
                .aws(format!("CreateRouteTable {name}"))
        })
        .await?;
        let id = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default();
        self.made(Kind::RouteTable, comp, id);
        Ok(())
    }

    async fn create_group(&self) -> Result<()> {
        let vpc = self.id(Kind::Vpc, c::VPC)?;
        let name = self.ctx.name(c::ENDPOINT_GROUP);
        let out = retry::after_create(&format!("CreateSecurityGroup {name}"), || async {
            self.aws
                .ec2
                .create_security_group()
                .group_name(&name)
                .description("VPC interface endpoints: HTTPS from inside the VPC")
                .vpc_id(&vpc)
                .tag_specifications(tag_spec(
                    self.ctx,
                    ResourceType::SecurityGroup,
                    c::ENDPOINT_GROUP,
                ))
                .send()
                .await
                .aws(format!("CreateSecurityGroup {name}"))
        })
        .await?;
        let id = out.group_id().unwrap_or_default().to_owned();
        self.made(Kind::Group, c::ENDPOINT_GROUP, &id);
        let rule =
            crate::rules::tcp_from(443, &self.desired.cidr.to_string(), "HTTPS from the VPC");
        self.authorize(&id, vec![rule]).await
    }

    async fn create_flow_log(&self) -> Result<()> {
        let vpc = self.id(Kind::Vpc, c::VPC)?;
        let role = self.id(Kind::Role, c::FLOW_LOGS)?;
        let name = self.ctx.name(c::FLOW_LOGS);
        let token = self.ctx.token(&["flow-log", &vpc, &role]);
        let out = retry::after_create(&format!("CreateFlowLogs {name}"), || async {
            self.aws
                .ec2
                .create_flow_logs()
                .resource_type(FlowLogsResourceType::Vpc)
                .resource_ids(&vpc)
                .traffic_type(TrafficType::from(TRAFFIC))
                .log_destination_type(LogDestinationType::from(DESTINATION))
                .log_group_name(c::log_group_name(self.ctx))
                .deliver_logs_permission_arn(&role)
                .max_aggregation_interval(INTERVAL)
                .client_token(&token)
                .tag_specifications(tag_spec(self.ctx, ResourceType::VpcFlowLog, c::FLOW_LOGS))
                .send()
                .await
                .aws(format!("CreateFlowLogs {name}"))
        })
        .await?;
        // A batch call: a refusal comes back per resource, not as an error.
        if let Some(item) = out.unsuccessful().first() {
            return Err(crate::remove::unsuccessful("CreateFlowLogs", &name, item));
        }
        let id = out.flow_log_ids().first().cloned().unwrap_or_default();
        self.made(Kind::FlowLog, c::FLOW_LOGS, &id);
        Ok(())
    }

    async fn create_nat(&self, comp: &str) -> Result<()> {
        let az = comp.trim_start_matches("nat-");
        let subnet = self.id(Kind::Subnet, &c::subnet("public", az))?;
        let eip = self.id(Kind::Eip, &c::eip(az))?;
        let name = self.ctx.name(comp);
        // The token makes a retry, or a re-run racing a create AWS already
        // accepted, return the same gateway.
        let token = self.ctx.token(&["nat", comp, &subnet, &eip]);
        let out = retry::after_create(&format!("CreateNatGateway {name}"), || async {
            self.aws
                .ec2
                .create_nat_gateway()
                .subnet_id(&subnet)
                .allocation_id(&eip)
                .client_token(&token)
                .tag_specifications(tag_spec(self.ctx, ResourceType::Natgateway, comp))
                .send()
                .await
                .aws(format!("CreateNatGateway {name}"))
        })
        .await?;
        let nat = out.nat_gateway();
        let id = nat
            .and_then(|n| n.nat_gateway_id())
            .unwrap_or_default()
            .to_owned();
        if nat.and_then(|n| n.state()) != Some(&NatGatewayState::Available) {
            self.pending_nats
                .lock()
                .expect("nats lock")
                .push(id.clone());
        }
        self.made(Kind::Nat, comp, &id);
        Ok(())
    }

    async fn create_endpoint(&self, comp: &str) -> Result<()> {
        let want = self
            .desired
            .endpoint(comp)
            .expect("an endpoint of the spec");
        let vpc = self.id(Kind::Vpc, c::VPC)?;
        let name = self.ctx.name(comp);
        let service = format!("com.amazonaws.{}.{}", self.ctx.region, want.short);
        let token = self.ctx.token(&["vpce", &want.short, &vpc]);
        let (subnets, tables, group) = match want.kind {
            EndpointKind::Interface => {
                let subnets = self.resolve(Kind::Subnet, &self.desired.private_subnets())?;
                (
                    Some(subnets),
                    None,
                    Some(vec![self.id(Kind::Group, c::ENDPOINT_GROUP)?]),
                )
            }
            EndpointKind::Gateway => (
                None,
                Some(self.resolve(Kind::RouteTable, &self.desired.private_tables())?),
                None,
            ),
        };
        let interface = want.kind == EndpointKind::Interface;
        let out = retry::after_create(&format!("CreateVpcEndpoint {name}"), || async {
            self.aws
                .ec2
                .create_vpc_endpoint()
                .vpc_id(&vpc)
                .service_name(&service)
                .client_token(&token)
                .vpc_endpoint_type(if interface {
                    VpcEndpointType::Interface
                } else {
                    VpcEndpointType::Gateway
                })
                .set_subnet_ids(subnets.clone())
                .set_security_group_ids(group.clone())
                .set_route_table_ids(tables.clone())
                .set_private_dns_enabled(interface.then_some(true))
                .tag_specifications(tag_spec(self.ctx, ResourceType::VpcEndpoint, comp))
                .send()
                .await
                .aws(format!("CreateVpcEndpoint {name}"))
        })
        .await?;
        let id = out
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .unwrap_or_default();
        self.made(Kind::Endpoint, comp, id);
        Ok(())
    }

    /// The ids of these components of a kind.
    pub(super) fn resolve(&self, kind: Kind, components: &[String]) -> Result<Vec<String>> {
        components.iter().map(|comp| self.id(kind, comp)).collect()
    }

    async fn associate(&self, subnet_comp: &str) -> Result<()> {
        let table_comp = &self.desired.associations[subnet_comp];
        let subnet = self.id(Kind::Subnet, subnet_comp)?;
        let table = self.id(Kind::RouteTable, table_comp)?;
        retry::after_create(&format!("AssociateRouteTable {subnet} {table}"), || async {
            self.aws
                .ec2
                .associate_route_table()
                .route_table_id(&table)
                .subnet_id(&subnet)
                .send()
                .await
                .map(drop)
                .aws(format!("AssociateRouteTable {subnet} -> {table}"))
        })
        .await
    }

    /// The (internet gateway, NAT gateway) a table's default route goes to.
    pub(super) fn target(&self, table_comp: &str) -> Result<(Option<String>, Option<String>)> {
        Ok(match &self.desired.tables[table_comp] {
            Via::Igw => (Some(self.id(Kind::Igw, c::IGW)?), None),
            Via::Nat(n) => (None, Some(self.id(Kind::Nat, n)?)),
            Via::Nothing => (None, None),
        })
    }

    async fn create_route(&self, table_comp: &str) -> Result<()> {
        let table = self.id(Kind::RouteTable, table_comp)?;
        let (gateway, nat) = self.target(table_comp)?;
        retry::after_create(&format!("CreateRoute {table} {ANY}"), || async {
            self.aws
                .ec2
                .create_route()
                .route_table_id(&table)
                .destination_cidr_block(ANY)
                .set_gateway_id(gateway.clone())
                .set_nat_gateway_id(nat.clone())
                .send()
                .await
                .map(drop)
                .aws(format!("CreateRoute {table} {ANY}"))
        })
        .await
    }
}
