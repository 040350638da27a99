//! In-place fixes, one AWS call (or two) each.

use aws_sdk_ec2::types::{AttributeBooleanValue, IpPermission, Tag};
use common::{retry, AwsResultExt, Result};

use super::Applier;
use crate::components::{self as c, Key, Kind, ANY};
use crate::plan::{Fix, What};

impl Applier<'_> {
    pub(super) async fn fix(&self, key: &Key, id: &str, fix: &Fix) -> Result<()> {
        let ec2 = &self.aws.ec2;
        match &fix.what {
            What::Tags(tags) => self.tag(key, id, tags).await,
            What::DnsSupport => self.set_dns(id, true).await,
            What::DnsHostnames => self.set_dns(id, false).await,
            What::NoPublicIps => ec2
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
                .send()
                .await
                .map(drop)
                .aws(format!("ModifySubnetAttribute {id}")),
            What::Attach { detach_from } => {
                if let Some(other) = detach_from {
                    crate::remove::detach(ec2, id, other).await?;
                }
                self.attach_igw(id).await
            }
            What::RouteTarget => self.replace_route(key, id).await,
            What::AssocTable => {
                let table =
                    self.id(Kind::RouteTable, &self.desired.associations[&key.component])?;
                ec2.replace_route_table_association()
                    .association_id(id)
                    .route_table_id(&table)
                    .send()
                    .await
                    .map(drop)
                    .aws(format!("ReplaceRouteTableAssociation {id} {table}"))
            }
            What::Ingress { add, revoke } => {
                self.authorize(id, add.clone()).await?;
                self.revoke(id, revoke.clone(), vec![]).await
            }
            What::ClearDefault { ingress, egress } => self.clear_default(id, ingress, egress).await,
            What::EndpointSubnets { .. }
            | What::EndpointTables { .. }
            | What::EndpointGroups { .. }
            | What::PrivateDns => self.modify_endpoint(id, &fix.what).await,
            What::Retention(days) => self.put_retention(id, *days).await,
            What::Trust(doc) => self
                .aws
                .iam
                .update_assume_role_policy()
                .role_name(id)
                .policy_document(doc.to_string())
                .send()
                .await
                .map(drop)
                .aws(format!("UpdateAssumeRolePolicy {id}")),
            What::Policy(doc) => self.put_policy(id, doc).await,
            What::Shown => Ok(()),
        }
    }

    /// Sets tags where the kind keeps them: EC2's CreateTags, IAM's TagRole,
    /// CloudWatch Logs' TagResource (by ARN).
    async fn tag(&self, key: &Key, id: &str, tags: &[(String, String)]) -> Result<()> {
        match key.kind {
            Kind::Role => {
                let tags = tags
                    .iter()
                    .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| common::Error::spec(format!("invalid tag: {e}")))?;
                self.aws
                    .iam
                    .tag_role()
                    .role_name(id)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map(drop)
                    .aws(format!("TagRole {id}"))
            }
            Kind::LogGroup => {
                let arn = self.id(Kind::LogGroup, c::FLOW_LOGS)?;
                self.aws
                    .logs
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tags.iter().cloned().collect()))
                    .send()
                    .await
                    .map(drop)
                    .aws(format!("TagResource {id}"))
            }
            _ => self
                .aws
                .ec2
                .create_tags()
                .resources(id)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map(drop)
                .aws(format!("CreateTags {id}")),
        }
    }

    async fn replace_route(&self, key: &Key, table: &str) -> Result<()> {
        let (gateway, nat) = self.target(&key.component)?;
        retry::after_create(&format!("ReplaceRoute {table} {ANY}"), || async {
            self.aws
                .ec2
                .replace_route()
                .route_table_id(table)
                .destination_cidr_block(ANY)
                .set_gateway_id(gateway.clone())
                .set_nat_gateway_id(nat.clone())
                .send()
                .await
                .map(drop)
                .aws(format!("ReplaceRoute {table} {ANY}"))
        })
        .await
    }

    pub(super) async fn authorize(&self, group: &str, rules: Vec<IpPermission>) -> Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        retry::after_create(
            &format!("AuthorizeSecurityGroupIngress {group}"),
            || async {
                self.aws
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(rules.clone()))
                    .send()
                    .await
                    .map(drop)
                    .aws(format!("AuthorizeSecurityGroupIngress {group}"))
            },
        )
        .await
    }

    async fn revoke(
        &self,
        group: &str,
        ingress: Vec<IpPermission>,
        egress: Vec<IpPermission>,
    ) -> Result<()> {
        let ec2 = &self.aws.ec2;
        if !ingress.is_empty() {
            retry::after_create(&format!("RevokeSecurityGroupIngress {group}"), || async {
                ec2.revoke_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(ingress.clone()))
                    .send()
                    .await
                    .map(drop)
                    .aws(format!("RevokeSecurityGroupIngress {group}"))
            })
            .await?;
        }
        if !egress.is_empty() {
            retry::after_create(&format!("RevokeSecurityGroupEgress {group}"), || async {
                ec2.revoke_security_group_egress()
                    .group_id(group)
                    .set_ip_permissions(Some(egress.clone()))
                    .send()
                    .await
                    .map(drop)
                    .aws(format!("RevokeSecurityGroupEgress {group}"))
            })
            .await?;
        }
        Ok(())
    }

    /// Empties the default group. For a VPC made by this run the group and its
    /// rules are read now (AWS makes it with the VPC).
    async fn clear_default(
        &self,
        id: &str,
        ingress: &[IpPermission],
        egress: &[IpPermission],
    ) -> Result<()> {
        if !id.is_empty() {
            return self.revoke(id, ingress.to_vec(), egress.to_vec()).await;
        }
        let vpc = self.id(Kind::Vpc, c::VPC)?;
        let group =
            retry::after_create(&format!("DescribeSecurityGroups {vpc} default"), || async {
                match crate::discover::default_group(self.aws, &vpc).await? {
                    Some(g) => Ok(g),
                    None => Err(common::Error::Aws(common::error::AwsError {
                        op: format!("DescribeSecurityGroups {vpc} default"),
                        code: Some("InvalidGroup.NotFound".to_owned()),
                        message: "the new VPC's default group is not visible yet".to_owned(),
                        request_id: None,
                        transient: false,
                    })),
                }
            })
            .await?;
        let ingress = crate::rules::grants(&group.state.ingress);
        let egress = crate::rules::grants(&group.state.egress);
        self.revoke(
            &group.id,
            ingress.into_iter().map(|g| g.permission).collect(),
            egress.into_iter().map(|g| g.permission).collect(),
        )
        .await
    }

    async fn modify_endpoint(&self, id: &str, what: &What) -> Result<()> {
        let mut call = self.aws.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
        call = match what {
            What::EndpointSubnets { add, remove } => call
                .set_add_subnet_ids(Some(self.resolve(Kind::Subnet, add)?))
                .set_remove_subnet_ids(Some(remove.clone())),
            What::EndpointTables { add, remove } => call
                .set_add_route_table_ids(Some(self.resolve(Kind::RouteTable, add)?))
                .set_remove_route_table_ids(Some(remove.clone())),
            What::EndpointGroups { add, remove } => call
                .set_add_security_group_ids(Some(self.resolve(Kind::Group, add)?))
                .set_remove_security_group_ids(Some(remove.clone())),
            _ => call.private_dns_enabled(true),
        };
        retry::after_create(&format!("ModifyVpcEndpoint {id}"), || async {
            call.clone()
                .send()
                .await
                .map(drop)
                .aws(format!("ModifyVpcEndpoint {id}"))
        })
        .await
    }
}
