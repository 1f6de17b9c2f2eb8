#!/usr/bin/env python3
"""Provision Rebound's reference HA stack in the local emulator, with boto3.

    .venv/bin/python emulator/provision.py --endpoint http://127.0.0.1:PORT \
        [--name rebound-demo] [--managed true|false|none] [--instances 4] \
        [--target-groups N] [--target-groups-per-group K] [--template template.yaml] \
        [--table-name NAME] [--database multi-az|single-az|none] [--db-managed true|false|none] \
        [--raised-quotas]

Creates a VPC with two subnets in us-east-1a/us-east-1b, a security group, N Auto
Scaling groups (launch template, ELB health checks, the managed tag) each registered in
K target groups of its own, and as many internet-facing ALBs as those N x K target
groups need (at most 100 per ALB, AWS's limit: one HTTP:80 listener, the first target
group its default action, a path rule for each other one); the incidents table as
template.yaml defines it; the notifications topic with an SQS queue subscribed to read
messages back; and the database tier: an RDS DB instance `<name>-db` (Multi-AZ by
default, tagged managed) that every Auto Scaling group declares it depends on
(tag `rebound:depends-on`).

Prints ONE JSON object on stdout (see OUTPUT_KEYS); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config

REGION = "us-east-1"
AZS = ("us-east-1a", "us-east-1b")
# An Amazon Linux 2 image from moto's built-in AMI catalogue (any id in it would do).
IMAGE_ID = "ami-04681a1dbd79675a5"
MANAGED_TAG_KEY = "rebound:managed"
DEPENDS_ON_TAG_KEY = "rebound:depends-on"
FAILOVER_ALARMS_TAG_KEY = "rebound:failover-alarms"
TABLE_LOGICAL_ID = "IncidentsTable"
REPO_ROOT = Path(__file__).resolve().parent.parent
# AWS quotas the stack stays within, so that what runs here could run in an account.
TARGET_GROUPS_PER_ALB = 100  # not adjustable; also 100 rules per ALB besides the defaults
ALBS_PER_REGION = 50
TARGET_GROUPS_PER_REGION = 3000
TARGET_GROUPS_PER_AUTO_SCALING_GROUP = 50  # not adjustable
AUTO_SCALING_GROUPS_PER_REGION = 500
# The adjustable Region quotas above as an account asks Service Quotas to raise them
# (--raised-quotas): what a fleet of 10,000 target groups, the sweep benchmark's largest,
# needs. The fixed quotas (per ALB, per Auto Scaling group) stay.
RAISED_ALBS_PER_REGION = 100
RAISED_TARGET_GROUPS_PER_REGION = 10_000
RAISED_AUTO_SCALING_GROUPS_PER_REGION = 1_000
NAME_MAX = 32  # load balancer and target group names

OUTPUT_KEYS = (
    "region",
    "account",
    "vpc_id",
    "subnet_ids",
    "load_balancer_arn",
    "load_balancer_full_name",
    "listener_arn",
    "incidents_table",
    "incidents_stream_arn",
    "topic_arn",
    "queue_url",
    "stacks",
    "db_instance_id",
    "db_instance_arn",
    "db_failover_alarm",
)


def log(msg: str) -> None:
    print(f"provision: {msg}", file=sys.stderr, flush=True)


class ProvisionError(Exception):
    pass


# --------------------------------------------------------------------------------------
# template.yaml: the incidents table definition
# --------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation short-form intrinsics (!Ref, !Sub,
    !GetAtt, !If, ...) and turns them into their long form, {"Fn::If": [...]}."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # !GetAtt A.B == {"Fn::GetAtt": ["A", "B"]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def _contains_intrinsic(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k == "Ref" or k.startswith("Fn::") or _contains_intrinsic(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_intrinsic(v) for v in value)
    return False


def table_definition(template_path: Path) -> dict[str, Any]:
    """The IncidentsTable resource's properties that shape the table (keys, indexes,
    stream, billing, TTL). Intrinsics there cannot be resolved locally: fail clearly."""
    if not template_path.is_file():
        raise ProvisionError(f"template {template_path} not found (use --template)")
    try:
        doc = yaml.load(template_path.read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ProvisionError(f"cannot parse {template_path}: {exc}") from None
    resource = (doc or {}).get("Resources", {}).get(TABLE_LOGICAL_ID)
    if not resource:
        raise ProvisionError(f"{template_path} has no {TABLE_LOGICAL_ID} resource")
    if resource.get("Type") != "AWS::DynamoDB::Table":
        raise ProvisionError(
            f"{TABLE_LOGICAL_ID} in {template_path} is {resource.get('Type')!r}, expected AWS::DynamoDB::Table"
        )
    props = resource.get("Properties") or {}
    wanted = (
        "KeySchema",
        "AttributeDefinitions",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "StreamSpecification",
        "BillingMode",
        "ProvisionedThroughput",
        "TimeToLiveSpecification",
    )
    definition = {k: props[k] for k in wanted if k in props}
    for key, value in definition.items():
        if _contains_intrinsic(value):
            raise ProvisionError(f"{TABLE_LOGICAL_ID}.Properties.{key} uses an intrinsic function; cannot resolve it locally")
    for key in ("KeySchema", "AttributeDefinitions"):
        if key not in definition:
            raise ProvisionError(f"{TABLE_LOGICAL_ID}.Properties.{key} is missing in {template_path}")
    return definition


# --------------------------------------------------------------------------------------
# Provisioning
# --------------------------------------------------------------------------------------


class Provisioner:
    def __init__(self, endpoint: str) -> None:
        session = boto3.session.Session(
            # The emulator accepts any credentials; use the caller's if set so that the
            # resources land in the same (moto) account the functions will look in.
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
            region_name=REGION,
        )
        config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        client = lambda name: session.client(name, endpoint_url=endpoint, config=config)  # noqa: E731
        self.ec2 = client("ec2")
        self.elbv2 = client("elbv2")
        self.autoscaling = client("autoscaling")
        self.dynamodb = client("dynamodb")
        self.sns = client("sns")
        self.sqs = client("sqs")
        self.rds = client("rds")
        self.cloudwatch = client("cloudwatch")

    # network + load balancer --------------------------------------------------------

    def network(self, name: str) -> tuple[str, list[str], str]:
        vpc_id = self.ec2.create_vpc(
            CidrBlock="10.0.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
        )["Vpc"]["VpcId"]
        subnet_ids = []
        for i, az in enumerate(AZS):
            subnet_ids.append(
                self.ec2.create_subnet(
                    VpcId=vpc_id,
                    # /20: room for a 100-group benchmark stack and its replacements
                    # (a /24 runs out of addresses and the emulator fails a launch).
                    CidrBlock=f"10.0.{i * 16}.0/20",
                    AvailabilityZone=az,
                    TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": f"{name}-{az}"}]}],
                )["Subnet"]["SubnetId"]
            )
        sg_id = self.ec2.create_security_group(
            GroupName=f"{name}-web", Description=f"{name} web tier", VpcId=vpc_id
        )["GroupId"]
        self.ec2.authorize_security_group_ingress(
            GroupId=sg_id,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        log(f"vpc {vpc_id}, subnets {subnet_ids}, security group {sg_id}")
        return vpc_id, subnet_ids, sg_id

    def load_balancer(
        self, lb_name: str, subnet_ids: list[str], sg_id: str, managed: str, zonal_shift: bool
    ) -> dict[str, Any]:
        """An ALB in every subnet's zone, tagged like the groups (zone-health acts only on
        a managed one) and, with `zonal_shift`, registered with ARC zonal shift
        (attribute zonal_shift.config.enabled)."""
        tags = [{"Key": "Name", "Value": lb_name}]
        if managed != "none":
            tags.append({"Key": MANAGED_TAG_KEY, "Value": managed})
        lb = self.elbv2.create_load_balancer(
            Name=lb_name,
            Subnets=subnet_ids,
            SecurityGroups=[sg_id],
            Scheme="internet-facing",
            Type="application",
            IpAddressType="ipv4",
            Tags=tags,
        )["LoadBalancers"][0]
        if zonal_shift:
            self.elbv2.modify_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Attributes=[{"Key": "zonal_shift.config.enabled", "Value": "true"}],
            )
        log(f"load balancer {lb['LoadBalancerArn']}{' (zonal shift on)' if zonal_shift else ''}")
        return lb

    def target_group(self, tg_name: str, vpc_id: str) -> dict[str, Any]:
        return self.elbv2.create_target_group(
            Name=tg_name,
            Protocol="HTTP",
            Port=80,
            VpcId=vpc_id,
            TargetType="instance",
            HealthCheckProtocol="HTTP",
            HealthCheckPath="/health",
            HealthCheckIntervalSeconds=10,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=2,
        )["TargetGroups"][0]

    def launch_template(self, name: str, sg_id: str) -> str:
        lt_id = self.ec2.create_launch_template(
            LaunchTemplateName=f"{name}-web",
            LaunchTemplateData={"ImageId": IMAGE_ID, "InstanceType": "t3.micro", "SecurityGroupIds": [sg_id]},
        )["LaunchTemplate"]["LaunchTemplateId"]
        log(f"launch template {lt_id}")
        return lt_id

    def database(self, db_id: str, multi_az: bool, managed: str) -> str:
        """The DB instance, tagged with the one alarm that may fail it over (its read
        latency, `<db_id>-read-latency`, created here in OK): the sample alarm events name
        it, and any other alarm on the database is evidence only."""
        alarm = f"{db_id}-read-latency"
        tags = [{"Key": "Name", "Value": db_id}, {"Key": FAILOVER_ALARMS_TAG_KEY, "Value": alarm}]
        if managed != "none":
            tags.append({"Key": MANAGED_TAG_KEY, "Value": managed})
        db = self.rds.create_db_instance(
            DBInstanceIdentifier=db_id,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="rebound",
            MasterUserPassword="not-a-secret-1",
            AllocatedStorage=20,
            MultiAZ=multi_az,
            AvailabilityZone=AZS[0],
            Tags=tags,
        )["DBInstance"]
        self.cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            AlarmDescription=f"ReadLatency of {db_id}: designated for a failover ({FAILOVER_ALARMS_TAG_KEY})",
            Namespace="AWS/RDS",
            MetricName="ReadLatency",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": db_id}],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0.05,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
        )
        self.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="provisioned")
        log(f"database {db_id} ({'Multi-AZ' if multi_az else 'single-AZ'}, primary in {db['AvailabilityZone']}), failover alarm {alarm}")
        return db["DBInstanceArn"]

    def auto_scaling_group(
        self, asg_name: str, lt_id: str, subnet_ids: list[str], tg_arns: list[str], instances: int, managed: str,
        depends_on: str | None = None, zonal_shift: bool = False, health_check_type: str = "EC2",
    ) -> list[str]:
        """With `zonal_shift`, the group takes part in zonal shift (its impairment policy:
        ZonalShiftEnabled, IgnoreUnhealthy): shifted away from a zone, it launches only
        into the others and leaves the zone's unhealthy instances be. `health_check_type`
        EC2 leaves ELB-unhealthy instances to Rebound; ELB has the group replace them
        itself, and Rebound gives it the first go."""
        tags = [{"Key": "Name", "Value": asg_name, "PropagateAtLaunch": True}]
        if managed != "none":
            tags.append({"Key": MANAGED_TAG_KEY, "Value": managed, "PropagateAtLaunch": False})
        if depends_on:
            tags.append({"Key": DEPENDS_ON_TAG_KEY, "Value": depends_on, "PropagateAtLaunch": False})
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=asg_name,
            LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "$Latest"},
            MinSize=instances,
            MaxSize=2 * instances,
            DesiredCapacity=instances,
            VPCZoneIdentifier=",".join(subnet_ids),
            HealthCheckType=health_check_type,
            HealthCheckGracePeriod=60,
            TargetGroupARNs=tg_arns,
            Tags=tags,
            **(
                {"AvailabilityZoneImpairmentPolicy": {
                    "ZonalShiftEnabled": True, "ImpairedZoneHealthCheckBehavior": "IgnoreUnhealthy"}}
                if zonal_shift else {}
            ),
        )
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
        instance_ids = sorted(i["InstanceId"] for i in group["Instances"])
        # The emulator registers group instances in the group's target groups (server
        # fidelity layer); make sure, since every test builds on it.
        for tg_arn in tg_arns:
            registered = {
                d["Target"]["Id"]
                for d in self.elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
            }
            if not set(instance_ids) <= registered:
                missing = sorted(set(instance_ids) - registered)
                raise ProvisionError(f"{asg_name}: instances {missing} not registered in {tg_arn}")
        return instance_ids

    # incidents table ----------------------------------------------------------------

    def incidents_table(self, table_name: str, definition: dict[str, Any]) -> str:
        params: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": definition["KeySchema"],
            "AttributeDefinitions": definition["AttributeDefinitions"],
            "BillingMode": definition.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification", "ProvisionedThroughput"):
            if key in definition:
                params[key] = definition[key]
        if "StreamSpecification" in params:
            # CloudFormation implies StreamEnabled from StreamViewType; the API needs it.
            params["StreamSpecification"] = {"StreamEnabled": True, **params["StreamSpecification"]}
        description = self.dynamodb.create_table(**params)["TableDescription"]
        ttl = definition.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled", "false")).lower() == "true":
            self.dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        stream_arn = description.get("LatestStreamArn", "")
        log(f"table {table_name}, stream {stream_arn or '(none)'}")
        return stream_arn

    # notifications ------------------------------------------------------------------

    def notifications(self, name: str) -> tuple[str, str]:
        topic_arn = self.sns.create_topic(Name=f"{name}-notifications")["TopicArn"]
        queue_url = self.sqs.create_queue(QueueName=f"{name}-notifications-inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowNotificationsTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        self.sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        # Not raw: the SNS envelope (Subject, MessageAttributes) is what tests read back.
        self.sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )
        log(f"topic {topic_arn} -> queue {queue_url}")
        return topic_arn, queue_url


def full_name(arn: str, marker: str) -> str:
    """CloudWatch dimension value: the ARN's resource part after `marker`, e.g.
    `...:loadbalancer/app/n/id` -> `app/n/id`, `...:targetgroup/n/id` -> `targetgroup/n/id`."""
    resource = arn.split(":", 5)[5]
    if marker == "loadbalancer/":
        return resource[len(marker) :]
    return resource


class LoadBalancers:
    """Puts target groups behind ALBs, at most TARGET_GROUPS_PER_ALB on each: the first
    one is the listener's default action, every other one gets a path rule. A new ALB
    is created when the current one is full."""

    def __init__(
        self, p: Provisioner, name: str, total: int, subnet_ids: list[str], sg_id: str, managed: str,
        zonal_shift: bool,
    ) -> None:
        self.p, self.name, self.subnet_ids, self.sg_id = p, name, subnet_ids, sg_id
        self.managed, self.zonal_shift = managed, zonal_shift
        self.planned = -(-total // TARGET_GROUPS_PER_ALB)
        self.created: list[dict[str, Any]] = []  # {"lb", "listener_arn", "target_groups"}

    def front(self, tg_arn: str, path: str) -> dict[str, Any]:
        if not self.created or self.created[-1]["target_groups"] == TARGET_GROUPS_PER_ALB:
            n = len(self.created) + 1
            lb_name = f"{self.name}-alb" if self.planned == 1 else f"{self.name}-alb-{n:02d}"
            lb = self.p.load_balancer(lb_name, self.subnet_ids, self.sg_id, self.managed, self.zonal_shift)
            listener_arn = self.p.elbv2.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
            )["Listeners"][0]["ListenerArn"]
            self.created.append({"lb": lb, "listener_arn": listener_arn, "target_groups": 1})
            return self.created[-1]
        alb = self.created[-1]
        alb["target_groups"] += 1
        self.p.elbv2.create_rule(
            ListenerArn=alb["listener_arn"],
            Priority=alb["target_groups"],
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
            Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )
        return alb


def group_suffix(args: argparse.Namespace, group: int) -> str:
    return "" if args.target_groups == 1 else f"-{group:03d}"


def target_group_suffix(args: argparse.Namespace, group: int, index: int) -> str:
    own = "" if args.target_groups_per_group == 1 else f"-{index:02d}"
    return group_suffix(args, group) + own


def provision(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    definition = table_definition(Path(args.template))  # fail before creating anything
    p = Provisioner(args.endpoint)
    name = args.name
    per_group = args.target_groups_per_group

    vpc_id, subnet_ids, sg_id = p.network(name)
    db_id = db_arn = None
    if args.database != "none":
        db_id = f"{name}-db"
        db_arn = p.database(db_id, args.database == "multi-az", args.db_managed)
    albs = LoadBalancers(
        p, name, args.target_groups * per_group, subnet_ids, sg_id, args.managed, args.zonal_shift == "on"
    )
    lt_id = p.launch_template(name, sg_id)

    stacks = []
    for i in range(1, args.target_groups + 1):
        target_groups = []
        for j in range(1, per_group + 1):
            suffix = target_group_suffix(args, i, j)
            tg_arn = p.target_group(f"{name}-tg{suffix}", vpc_id)["TargetGroupArn"]
            alb = albs.front(tg_arn, f"/svc{suffix}/*")
            lb_arn = alb["lb"]["LoadBalancerArn"]
            target_groups.append(
                {
                    "target_group_arn": tg_arn,
                    "target_group_full_name": full_name(tg_arn, "targetgroup/"),
                    "load_balancer_arn": lb_arn,
                    "load_balancer_full_name": full_name(lb_arn, "loadbalancer/"),
                    "listener_arn": alb["listener_arn"],
                }
            )
        asg_name = f"{name}-asg{group_suffix(args, i)}"
        instance_ids = p.auto_scaling_group(
            asg_name, lt_id, subnet_ids, [tg["target_group_arn"] for tg in target_groups], args.instances, args.managed,
            depends_on=db_id, zonal_shift=args.zonal_shift == "on", health_check_type=args.health_check_type,
        )
        stacks.append(
            {
                # The group's first target group: what a stack with one per group has.
                "target_group_arn": target_groups[0]["target_group_arn"],
                "target_group_full_name": target_groups[0]["target_group_full_name"],
                "auto_scaling_group": asg_name,
                "instance_ids": instance_ids,
                "target_groups": target_groups,
            }
        )
        log(f"{asg_name}: {len(instance_ids)} instances in {len(target_groups)} target group(s)")

    table_name = args.table_name or f"{name}-incidents"
    stream_arn = p.incidents_table(table_name, definition)
    topic_arn, queue_url = p.notifications(name)

    first = albs.created[0]
    lb_arn = first["lb"]["LoadBalancerArn"]
    log(
        f"done in {time.monotonic() - started:.1f}s: {len(stacks)} groups, "
        f"{len(stacks) * per_group} target groups behind {len(albs.created)} load balancer(s)"
    )
    return {
        "region": REGION,
        "account": lb_arn.split(":")[4],
        "vpc_id": vpc_id,
        "subnet_ids": subnet_ids,
        # The first load balancer (the only one up to 100 target groups); each target
        # group's own is in stacks[].target_groups[].
        "load_balancer_arn": lb_arn,
        "load_balancer_full_name": full_name(lb_arn, "loadbalancer/"),
        "listener_arn": first["listener_arn"],
        "incidents_table": table_name,
        "incidents_stream_arn": stream_arn,
        "topic_arn": topic_arn,
        "queue_url": queue_url,
        "stacks": stacks,
        # The database every group depends on (null with --database none).
        "db_instance_id": db_id,
        "db_instance_arn": db_arn,
        # The alarm the database designates for a failover (null with --database none).
        "db_failover_alarm": f"{db_id}-read-latency" if db_id else None,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Provision Rebound's HA stack in the local emulator.")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("REBOUND_EMULATOR_URL") or os.environ.get("AWS_ENDPOINT_URL"),
        help="emulator URL (default: $REBOUND_EMULATOR_URL, then $AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--name", default="rebound-demo", help="resource name prefix (default rebound-demo)")
    parser.add_argument(
        "--managed",
        choices=("true", "false", "none"),
        default="true",
        help=f"value of the {MANAGED_TAG_KEY} tag on the groups; none = no tag (default true)",
    )
    parser.add_argument("--instances", type=int, default=4, help="instances per Auto Scaling group (default 4)")
    parser.add_argument(
        "--target-groups",
        "--groups",
        dest="target_groups",
        type=int,
        default=1,
        help="Auto Scaling groups, each with target group(s) of its own (default 1)",
    )
    parser.add_argument(
        "--target-groups-per-group",
        type=int,
        default=1,
        help="target groups each Auto Scaling group is registered in (default 1)",
    )
    parser.add_argument(
        "--template", default=str(REPO_ROOT / "template.yaml"), help="SAM template holding IncidentsTable"
    )
    parser.add_argument("--table-name", default=None, help="incidents table name (default <name>-incidents)")
    parser.add_argument(
        "--database",
        choices=("multi-az", "single-az", "none"),
        default="multi-az",
        help="the RDS DB instance <name>-db every group depends on (default multi-az; none = no database)",
    )
    parser.add_argument(
        "--zonal-shift",
        choices=("on", "off"),
        default="on",
        help="register the load balancers with ARC zonal shift and let the groups take part in it (default on)",
    )
    parser.add_argument(
        "--health-check-type",
        choices=("EC2", "ELB"),
        default="EC2",
        help="the groups' health check type (default EC2: Rebound replaces ELB-unhealthy instances; "
        "ELB: the group does, and Rebound waits for it first)",
    )
    parser.add_argument(
        "--raised-quotas",
        action="store_true",
        help=f"the account's adjustable Region quotas raised: up to {RAISED_AUTO_SCALING_GROUPS_PER_REGION:,} Auto Scaling "
        f"groups, {RAISED_TARGET_GROUPS_PER_REGION:,} target groups and {RAISED_ALBS_PER_REGION} ALBs (default: AWS's "
        f"default quotas, {AUTO_SCALING_GROUPS_PER_REGION}, {TARGET_GROUPS_PER_REGION:,} and {ALBS_PER_REGION})",
    )
    parser.add_argument(
        "--db-managed",
        choices=("true", "false", "none"),
        default="true",
        help=f"value of the {MANAGED_TAG_KEY} tag on the database; none = no tag (default true)",
    )
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("--endpoint is required (or set REBOUND_EMULATOR_URL)")
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,22}[A-Za-z0-9])?", args.name):
        parser.error("--name: 1-24 letters, digits and hyphens, not starting or ending with a hyphen")
    if args.database != "none" and not args.name[0].isalpha():
        parser.error("--name must start with a letter when a database is provisioned (RDS identifiers do)")
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    raised = " (raised)" if args.raised_quotas else ""
    groups_per_region = RAISED_AUTO_SCALING_GROUPS_PER_REGION if args.raised_quotas else AUTO_SCALING_GROUPS_PER_REGION
    target_groups_per_region = RAISED_TARGET_GROUPS_PER_REGION if args.raised_quotas else TARGET_GROUPS_PER_REGION
    if not 1 <= args.target_groups <= groups_per_region:
        parser.error(f"--target-groups must be between 1 and {groups_per_region} (Auto Scaling groups per Region{raised})")
    if not 1 <= args.target_groups_per_group <= TARGET_GROUPS_PER_AUTO_SCALING_GROUP:
        parser.error(
            f"--target-groups-per-group must be between 1 and {TARGET_GROUPS_PER_AUTO_SCALING_GROUP} "
            "(target groups per Auto Scaling group)"
        )
    total = args.target_groups * args.target_groups_per_group
    if total > target_groups_per_region:
        parser.error(f"{total} target groups: at most {target_groups_per_region} (target groups per Region{raised})")
    # So at most 30 ALBs (100 raised), within ALBS_PER_REGION (RAISED_ALBS_PER_REGION).
    longest = f"{args.name}-tg{target_group_suffix(args, args.target_groups, args.target_groups_per_group)}"
    if len(longest) > NAME_MAX:
        parser.error(f"--name is too long for this many target groups: {longest!r} has more than {NAME_MAX} characters")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = provision(args)
    except ProvisionError as exc:
        log(f"error: {exc}")
        return 1
    except Exception as exc:  # botocore errors etc.: one clear line, no traceback noise
        log(f"error: {type(exc).__name__}: {exc}")
        return 1
    assert tuple(result) == OUTPUT_KEYS
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
