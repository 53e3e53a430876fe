#!/usr/bin/env python3
"""Setup and inspection of moto's ECS/EC2/IAM state for tests/ecs_add.rs.

Runs with the venv python that has PyPI moto (and so boto3): an independent
AWS client, so what `pcap-sensor ecs add` did is read back through boto3, not
through our own client.

usage:
  ecs_moto.py setup ENDPOINT SCENARIO        -> JSON: names and ARNs made
  ecs_moto.py iam-user ENDPOINT NAME KIND    -> JSON: AccessKeyId, SecretAccessKey
                                               (KIND: see iam_user)
  ecs_moto.py inspect ENDPOINT CLUSTER FAMILY SERVICE...  -> JSON: state

SCENARIO: fargate (a Fargate service whose task definition has a task role,
runtime platform, EFS volume, secrets, dependsOn and tags), bridge (an EC2
service in bridge network mode), both (both, in one cluster).
Credentials come from the environment (AWS_ACCESS_KEY_ID, ...).
"""

import json
import sys

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"


def client(service, endpoint):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def network(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    return subnet, sg


FARGATE_TD = dict(
    family="web",
    taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-task",
    executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
    networkMode="awsvpc",
    requiresCompatibilities=["FARGATE"],
    cpu="1024",
    memory="2048",
    runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
    ephemeralStorage={"sizeInGiB": 30},
    volumes=[
        {
            "name": "shared",
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-0123456789abcdef0",
                "rootDirectory": "/data",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"},
            },
        }
    ],
    containerDefinitions=[
        {
            "name": "init",
            "image": "public.ecr.aws/docker/library/busybox:1.36",
            "essential": False,
            "cpu": 64,
            "memory": 64,
            "command": ["sh", "-c", "echo ready > /data/ready"],
            "mountPoints": [{"sourceVolume": "shared", "containerPath": "/data"}],
        },
        {
            "name": "app",
            "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:2.4.1",
            "essential": True,
            "cpu": 512,
            "memory": 1024,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "MODE", "value": "prod"}],
            "secrets": [
                {
                    "name": "DB_PASSWORD",
                    "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf",
                }
            ],
            "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
            "mountPoints": [{"sourceVolume": "shared", "containerPath": "/data", "readOnly": True}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/web",
                    "awslogs-region": REGION,
                    "awslogs-stream-prefix": "app",
                },
            },
        },
    ],
    tags=[{"key": "team", "value": "payments"}, {"key": "cost-center", "value": "42"}],
)

BRIDGE_TD = dict(
    family="legacy",
    networkMode="bridge",
    requiresCompatibilities=["EC2"],
    containerDefinitions=[
        {"name": "legacy", "image": "legacy:1", "essential": True, "memory": 256, "cpu": 128}
    ],
)


def setup(endpoint, scenario):
    ecs = client("ecs", endpoint)
    ec2 = client("ec2", endpoint)
    out = {"cluster": "prod"}
    cluster = ecs.create_cluster(clusterName="prod")["cluster"]["clusterArn"]
    out["cluster_arn"] = cluster
    if scenario in ("fargate", "both"):
        subnet, sg = network(ec2)
        td = ecs.register_task_definition(**FARGATE_TD)["taskDefinition"]["taskDefinitionArn"]
        svc = ecs.create_service(
            cluster="prod",
            serviceName="web-svc",
            taskDefinition=td,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [subnet],
                    "securityGroups": [sg],
                    "assignPublicIp": "DISABLED",
                }
            },
        )["service"]["serviceArn"]
        out.update(family="web", service="web-svc", td_arn=td, service_arn=svc)
    if scenario in ("bridge", "both"):
        td = ecs.register_task_definition(**BRIDGE_TD)["taskDefinition"]["taskDefinitionArn"]
        svc = ecs.create_service(
            cluster="prod",
            serviceName="legacy-svc",
            taskDefinition=td,
            desiredCount=1,
            launchType="EC2",
        )["service"]["serviceArn"]
        out.update(bridge_family="legacy", bridge_service="legacy-svc", bridge_td_arn=td)
    return out


# Exactly the permissions of the reference product's table.
INSTALLER_ACTIONS = [
    "ec2:DescribeRegions",
    "ecs:ListClusters",
    "ecs:DescribeClusters",
    "ecs:ListTaskDefinitionFamilies",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "ecs:TagResource",
]


def iam_user(endpoint, name, kind):
    """kind: installer (the table's permissions), admin (ecs:*, ec2:*),
    deny:ACTION (the table's permissions but ACTION), or policy:FILE (the
    policy document in FILE)."""
    iam = client("iam", endpoint)
    iam.create_user(UserName=name)
    if kind.startswith("policy:"):
        with open(kind[len("policy:"):]) as f:
            statements = json.load(f)["Statement"]
    elif kind == "admin":
        statements = [{"Effect": "Allow", "Action": ["ecs:*", "ec2:*"], "Resource": "*"}]
    else:
        statements = [{"Effect": "Allow", "Action": INSTALLER_ACTIONS, "Resource": "*"}]
    if kind.startswith("deny:"):
        statements.append({"Effect": "Deny", "Action": [kind[5:]], "Resource": "*"})
    iam.put_user_policy(
        UserName=name,
        PolicyName="pcap-sensor-ecs-add",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def inspect(endpoint, cluster, family, services):
    ecs = client("ecs", endpoint)
    arns = ecs.list_task_definitions(familyPrefix=family, sort="ASC")["taskDefinitionArns"]
    revisions = []
    for arn in arns:
        d = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        revisions.append({"taskDefinition": d["taskDefinition"], "tags": d.get("tags", [])})
    svcs = ecs.describe_services(cluster=cluster, services=services)["services"]
    out_svcs = []
    for s in svcs:
        tags = ecs.list_tags_for_resource(resourceArn=s["serviceArn"]).get("tags", [])
        out_svcs.append(
            {
                "serviceName": s["serviceName"],
                "serviceArn": s["serviceArn"],
                "taskDefinition": s["taskDefinition"],
                "tags": tags,
            }
        )
    return {"revisions": revisions, "services": out_svcs}


def main():
    cmd, endpoint = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        out = setup(endpoint, sys.argv[3])
    elif cmd == "iam-user":
        out = iam_user(endpoint, sys.argv[3], sys.argv[4])
    elif cmd == "inspect":
        out = inspect(endpoint, sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit(f"unknown command {cmd}")
    json.dump(out, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
