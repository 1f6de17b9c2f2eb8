#!/usr/bin/env python3
"""Create a CloudFormation stack in the local emulator and describe what came of it.

    .venv/bin/python emulator/cfn_stack.py --endpoint URL --template examples/ha-stack/template.yaml \
        [--name ha] [--parameter Key=Value ...]

Prints ONE JSON object on stdout: the stack's status, each resource CloudFormation
reports (logical id, type, status, physical id), the template's resources that the
emulator did not create (moto's CloudFormation skips types it does not support, with a
warning, and still completes the stack), and what Rebound reads of the created
resources: every Auto Scaling group (tags, target groups, health check settings,
subnets), every target group (health check path, load balancers, targets' health),
every DB instance (Multi-AZ, tags) and every metric alarm.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provision import CfnLoader  # noqa: E402  (the CloudFormation-aware YAML loader)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--template", required=True)
    parser.add_argument("--name", default="ha")
    parser.add_argument("--parameter", action="append", default=[], help="Key=Value")
    args = parser.parse_args(argv)
    kw = dict(endpoint_url=args.endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    client = lambda name: boto3.client(name, **kw)  # noqa: E731
    cfn = client("cloudformation")
    body = Path(args.template).read_text()
    parameters = [
        {"ParameterKey": k, "ParameterValue": v} for k, v in (p.split("=", 1) for p in args.parameter)
    ]
    cfn.create_stack(StackName=args.name, TemplateBody=body, Parameters=parameters,
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    for _ in range(60):
        stack = cfn.describe_stacks(StackName=args.name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.5)
    reported = [
        {"logical_id": r.get("LogicalResourceId"), "type": r.get("ResourceType"),
         "status": r.get("ResourceStatus"), "physical_id": r.get("PhysicalResourceId")}
        for r in cfn.describe_stack_resources(StackName=args.name)["StackResources"]
    ]
    template = __import__("yaml").load(body, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    created = {r["logical_id"] for r in reported if r["logical_id"]}
    skipped = sorted(
        {"logical_id": logical_id, "type": resource["Type"]}.items()
        for logical_id, resource in template["Resources"].items()
        if logical_id not in created
    )
    asg, elb, rds, cw = client("autoscaling"), client("elbv2"), client("rds"), client("cloudwatch")
    groups = [
        {
            "name": g["AutoScalingGroupName"],
            "tags": {t["Key"]: t["Value"] for t in g.get("Tags", [])},
            "target_group_arns": g.get("TargetGroupARNs", []),
            "health_check_type": g.get("HealthCheckType"),
            "health_check_grace_period": g.get("HealthCheckGracePeriod"),
            "subnets": [s for s in g.get("VPCZoneIdentifier", "").split(",") if s],
            "desired_capacity": g.get("DesiredCapacity"),
            "instances": len(g.get("Instances", [])),
        }
        for page in asg.get_paginator("describe_auto_scaling_groups").paginate()
        for g in page["AutoScalingGroups"]
    ]
    target_groups = [
        {
            "arn": tg["TargetGroupArn"],
            "health_check_path": tg.get("HealthCheckPath"),
            "load_balancer_arns": tg.get("LoadBalancerArns", []),
            "targets": [
                {"id": d["Target"]["Id"], "state": d["TargetHealth"]["State"]}
                for d in elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
            ],
        }
        for page in elb.get_paginator("describe_target_groups").paginate()
        for tg in page["TargetGroups"]
    ]
    databases = [
        {
            "id": d["DBInstanceIdentifier"],
            "engine": d["Engine"],
            "multi_az": d["MultiAZ"],
            "tags": {t["Key"]: t["Value"] for t in d.get("TagList", [])},
        }
        for d in rds.describe_db_instances()["DBInstances"]
    ]
    alarms = [
        {"name": a["AlarmName"], "metric": a["MetricName"], "dimensions": a.get("Dimensions", [])}
        for a in cw.describe_alarms()["MetricAlarms"]
    ]
    # As declared (the emulator's CloudFormation creates no alarms): what each alarm
    # watches, with its dimensions' intrinsics as the template gives them.
    template_alarms = {
        logical_id: {
            "namespace": resource["Properties"].get("Namespace"),
            "metric": resource["Properties"].get("MetricName"),
            "dimensions": {d["Name"]: d["Value"] for d in resource["Properties"].get("Dimensions", [])},
        }
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    physical = {r["logical_id"]: r["physical_id"] for r in reported if r["logical_id"]}
    print(json.dumps({
        "status": stack["StackStatus"],
        "physical_ids": physical,
        "template_alarms": template_alarms,
        "resources": reported,
        "skipped": [dict(s) for s in skipped],
        "auto_scaling_groups": groups,
        "target_groups": target_groups,
        "db_instances": databases,
        "alarms": alarms,
    }, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
