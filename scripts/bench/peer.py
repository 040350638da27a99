#!/usr/bin/env python3
"""The benchmark's peer: the microservices stack (stacks/microservices.json)
brought up by a plain boto3 script, one call after another.

This is what a platform team would write without fargate-pipes: no discovery,
no re-run, no teardown, no concurrency; every resource the seven tools make,
made once, in dependency order. scripts/bench.sh runs it against the same
emulator and latency as the tools, so the two wall times compare how much the
tools' concurrency buys over the plain sequential order.

    peer.py STACK_FILE NAME     (AWS_ENDPOINT_URL and credentials from the env)
"""
import json
import sys

import boto3

ASSUME_TASKS = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


def main():
    stack_file, name = sys.argv[1], sys.argv[2]
    stack = json.load(open(stack_file))
    spec, region = stack["spec"], stack["region"]
    aws = boto3.session.Session(region_name=region)
    net = network(aws.client("ec2"), spec["network"], name)
    repos(aws.client("ecr"), spec, name)
    secret_arns = secrets(aws.client("secretsmanager"), spec["secrets"], name)
    cluster, execution = platform(aws.client("ecs"), aws.client("iam"), name, secret_arns)
    groups = balancer(aws.client("ec2"), aws.client("elbv2"), net, spec["services"], name)
    services(aws, net, spec["services"], name, cluster, execution, groups)
    scaling(aws.client("application-autoscaling"), spec["services"], name)


def network(ec2, spec, name):
    vpc = ec2.create_vpc(CidrBlock=spec["cidr"])["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    azs = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][: spec["azs"]]
    public = [ec2.create_subnet(VpcId=vpc, CidrBlock=c, AvailabilityZone=az)["Subnet"]["SubnetId"]
              for c, az in zip(spec["public_subnet_cidrs"], azs)]
    private = [ec2.create_subnet(VpcId=vpc, CidrBlock=c, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for c, az in zip(spec["private_subnet_cidrs"], azs)]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for subnet in public:
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=subnet)
    nats = []
    for subnet in public:
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nats.append(ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"])
    ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=nats, WaiterConfig={"Delay": 1})
    for subnet, nat in zip(private, nats):
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet)
    return {"vpc": vpc, "public": public, "private": private}


def repos(ecr, spec, name):
    keep = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                        "countNumber": spec["ecr"]["keep_images"]},
                       "action": {"type": "expire"}}]}
    for svc in spec["services"]:
        repo = f"{name}/{svc}"
        ecr.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE",
                              imageScanningConfiguration={"scanOnPush": True})
        ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=json.dumps(keep))


def secrets(sm, spec, name):
    return {key: sm.create_secret(Name=f"{name}/{key}", Description=s["description"])["ARN"]
            for key, s in spec.items()}


def platform(ecs, iam, name, secret_arns):
    cluster = ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE", "FARGATE_SPOT"],
                                 settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]["clusterArn"]
    role = iam.create_role(RoleName=f"{name}-execution", AssumeRolePolicyDocument=ASSUME_TASKS)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=f"{name}-execution",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
    iam.put_role_policy(RoleName=f"{name}-execution", PolicyName="secrets", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                       "Resource": list(secret_arns.values())}]}))
    return cluster, role


def balancer(ec2, elb, net, services, name):
    sg = ec2.create_security_group(GroupName=f"{name}-alb", Description="alb", VpcId=net["vpc"])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    lb = elb.create_load_balancer(Name=f"{name}-alb"[:32], Subnets=net["public"],
                                  SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
    groups = {}
    for i, (svc, s) in enumerate(services.items()):
        groups[svc] = elb.create_target_group(
            Name=f"{name[:20]}-{i}", Protocol="HTTP", Port=s["port"], VpcId=net["vpc"], TargetType="ip",
            HealthCheckPath=s["health_check"]["path"])["TargetGroups"][0]["TargetGroupArn"]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
    for i, (svc, s) in enumerate(services.items()):
        elb.create_rule(ListenerArn=listener, Priority=i + 1,
                        Conditions=[{"Field": "path-pattern", "Values": s["route"]["paths"]}],
                        Actions=[{"Type": "forward", "TargetGroupArn": groups[svc]}])
    return {"alb_sg": sg, "target_groups": groups}


def services(aws, net, services, name, cluster, execution, groups):
    ec2, iam, logs, ecs = (aws.client(c) for c in ("ec2", "iam", "logs", "ecs"))
    for svc, s in services.items():
        log_group = f"/ecs/{name}/{svc}"
        logs.create_log_group(logGroupName=log_group)
        logs.put_retention_policy(logGroupName=log_group, retentionInDays=s["log_retention_days"])
        role = iam.create_role(RoleName=f"{name}-{svc}", AssumeRolePolicyDocument=ASSUME_TASKS)["Role"]["Arn"]
        sg = ec2.create_security_group(GroupName=f"{name}-{svc}", Description=svc, VpcId=net["vpc"])["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": s["port"], "ToPort": s["port"],
             "UserIdGroupPairs": [{"GroupId": groups["alb_sg"]}]}])
        task = ecs.register_task_definition(
            family=f"{name}-{svc}", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu=str(s["cpu"]), memory=str(s["memory"]), executionRoleArn=execution, taskRoleArn=role,
            containerDefinitions=[{"name": svc, "image": f"{name}/{svc}:latest", "essential": True,
                                   "portMappings": [{"containerPort": s["port"]}],
                                   "logConfiguration": {"logDriver": "awslogs", "options": {
                                       "awslogs-group": log_group, "awslogs-region": aws.region_name,
                                       "awslogs-stream-prefix": svc}}}])["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=cluster, serviceName=svc, taskDefinition=task, desiredCount=s["desired_count"],
            launchType="FARGATE", loadBalancers=[{"targetGroupArn": groups["target_groups"][svc],
                                                  "containerName": svc, "containerPort": s["port"]}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": net["private"], "securityGroups": [sg]}})


def scaling(aas, services, name):
    for svc, s in services.items():
        resource = f"service/{name}/{svc}"
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                     ScalableDimension="ecs:service:DesiredCount",
                                     MinCapacity=s["scaling"]["min"], MaxCapacity=s["scaling"]["max"])
        aas.put_scaling_policy(
            PolicyName=f"{svc}-cpu", ServiceNamespace="ecs", ResourceId=resource,
            ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(s["scaling"]["cpu"]),
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})


if __name__ == "__main__":
    main()
