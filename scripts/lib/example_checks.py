#!/usr/bin/env python3
"""Checks on the HA example stack (examples/ha-stack/template.yaml) that cfn-lint cannot
make, run by scripts/lint-example.

    .venv/bin/python scripts/lib/example_checks.py [-v]

- An FIS experiment that stops an instance of an Auto Scaling group starts it again
  after a while (`startInstancesAfterDuration`) and completes when the group terminated
  it meanwhile (`completeIfInstancesTerminated: "true"`): the group replaces a stopped
  instance, and without the parameter FIS ends the experiment failed although the stack
  healed, which a drill then reports.
- Zonal evacuation (docs/src/zonal-evacuation.md) can act on the stack:
  - every load balancer has `zonal_shift.config.enabled` "true" and the managed tag;
  - every Auto Scaling group is managed and has an `AvailabilityZoneImpairmentPolicy`
    with `ZonalShiftEnabled` and `IgnoreUnhealthy`;
  - each zone of each group has an `UnHealthyHostCount` alarm with the dimensions
    TargetGroup, LoadBalancer and AvailabilityZone of that group's target group, load
    balancer and zone, firing by the time two targets fail (the fewest that make a zone
    impaired), and matched by zone-health's `ZoneAlarmStateChange` rule in template.yaml;
  - the group runs at least two instances per zone (a zone needs two failing targets to
    be impaired) and its MaxSize leaves room for the zone's share elsewhere (the raise
    before a shift);
  - the FIS experiment that disrupts a zone's connectivity blocks the subnets of one of
    the group's zones, all traffic, for at least the default RTO (a drill holds the
    shift to it; the zone must not come back before a late shift can be measured).
- Every `AWS/RDS` alarm on a DB instance of the stack is designated by that instance's
  `rebound:failover-alarms` tag (comma-separated names, a trailing `*` a prefix, as
  rds-health reads it), whose value RDS accepts: an alarm not named there is evidence
  only and would never fail the database over.
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
import unittest
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts" / "lib"))

import sam_env_vars  # noqa: E402  (the CloudFormation-aware YAML loader)

EXAMPLE = REPO_ROOT / "examples" / "ha-stack" / "template.yaml"
REBOUND = REPO_ROOT / "template.yaml"
GROUP_TAG = "aws:autoscaling:groupName"

MANAGED_TAG = "rebound:managed"  # the template's ManagedTagKey default
FAILOVER_ALARMS_TAG = "rebound:failover-alarms"  # shared/src/kinds/database/observation.rs
ZONAL_SHIFT_ATTRIBUTE = "zonal_shift.config.enabled"  # shared/src/kinds/zone/observation.rs
MIN_UNHEALTHY_IN_ZONE = 2  # shared/src/zonal.rs: the fewest failing targets of an impaired zone
# What RDS accepts in a tag value (API_Tag): letters, digits, white space, _ . : / = + - @
RDS_TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]*$")


def group_instance_stops(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every aws:ec2:stop-instances action whose targets are an Auto Scaling group's
    instances, as (experiment.action, action)."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::FIS::ExperimentTemplate":
            continue
        props = resource["Properties"]
        for name, action in props.get("Actions", {}).items():
            if action.get("ActionId") != "aws:ec2:stop-instances":
                continue
            targets = [props["Targets"][t] for t in action.get("Targets", {}).values()]
            if any(GROUP_TAG in (t.get("ResourceTags") or {}) for t in targets):
                found.append((f"{logical_id}.{name}", action))
    return found


def incomplete_stops(template: dict[str, Any]) -> list[str]:
    """The stops that would end an experiment failed when the group replaces the instance."""
    wrong = []
    for where, action in group_instance_stops(template):
        parameters = action.get("Parameters") or {}
        if parameters.get("completeIfInstancesTerminated") != "true" or not parameters.get("startInstancesAfterDuration"):
            wrong.append(where)
    return wrong


# ------------------------------------------------------------ reading the template


def resources(template: dict[str, Any], type_name: str) -> list[tuple[str, dict[str, Any]]]:
    return [(logical_id, r.get("Properties") or {}) for logical_id, r in template["Resources"].items()
            if r.get("Type") == type_name]


def tags_of(props: dict[str, Any]) -> dict[str, Any]:
    """Tags as a map, whether the resource lists them (Key/Value) or maps them (FIS)."""
    tags = props.get("Tags") or {}
    if isinstance(tags, dict):
        return tags
    return {t["Key"]: t.get("Value") for t in tags}


def render(template: dict[str, Any], expr: Any) -> str:
    """A string-valued expression as the stack would resolve it, with placeholders for
    what only a deployment knows: parameters take their defaults, AWS::StackName is
    STACK, a resource is <Id>, an attribute <Id.Attr>."""
    parameters = template.get("Parameters", {})

    def ref(name: str) -> str:
        if name in parameters:
            return str(parameters[name].get("Default", f"<{name}>"))
        return "STACK" if name == "AWS::StackName" else f"<{name}>"

    if isinstance(expr, (str, int, float)):
        return str(expr)
    if isinstance(expr, dict) and "Ref" in expr:
        return ref(expr["Ref"])
    if isinstance(expr, dict) and "Fn::GetAtt" in expr:
        return "<{}>".format(".".join(expr["Fn::GetAtt"]))
    if isinstance(expr, dict) and "Fn::Sub" in expr and isinstance(expr["Fn::Sub"], str):
        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"<{name}>" if "." in name else ref(name)
        return re.sub(r"\$\{([^}]+)\}", variable, expr["Fn::Sub"])
    return json.dumps(expr, sort_keys=True)


def number(template: dict[str, Any], expr: Any, field: str = "Default") -> float | None:
    """A number, or a parameter's default (or MinValue, ...) when it is a Ref."""
    if isinstance(expr, dict) and "Ref" in expr:
        expr = template.get("Parameters", {}).get(expr["Ref"], {}).get(field)
    try:
        return float(expr)
    except (TypeError, ValueError):
        return None


def subnet_zone(template: dict[str, Any], subnet: Any) -> str | None:
    """Which zone a subnet (a Ref to one of the template's) is in, as its AvailabilityZone
    expression says (the same expression is the same zone)."""
    if isinstance(subnet, dict) and "Ref" in subnet:
        resource = template["Resources"].get(subnet["Ref"], {})
        if resource.get("Type") == "AWS::EC2::Subnet":
            return json.dumps(resource["Properties"].get("AvailabilityZone"), sort_keys=True)
    return None


def zone_of(template: dict[str, Any], expr: Any) -> str | None:
    """The zone an AvailabilityZone dimension names: !GetAtt <subnet>.AvailabilityZone."""
    if isinstance(expr, dict) and "Fn::GetAtt" in expr and expr["Fn::GetAtt"][1] == "AvailabilityZone":
        return subnet_zone(template, {"Ref": expr["Fn::GetAtt"][0]})
    return None


def dimensions(props: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in props.get("Dimensions") or []}


def load_balancers_of(template: dict[str, Any], target_group: str) -> list[str]:
    """The load balancers whose listeners forward to the target group."""
    found = []
    for _, listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener"):
        forwards = [a.get("TargetGroupArn") for a in listener.get("DefaultActions") or []]
        if {"Ref": target_group} in forwards and isinstance(listener.get("LoadBalancerArn"), dict):
            found.append(listener["LoadBalancerArn"]["Ref"])
    return found


# ------------------------------------------------------------------ zonal evacuation


def load_balancer_problems(template: dict[str, Any]) -> list[str]:
    """Load balancers zone-health could not shift: zonal shift off, or not opted in."""
    problems = []
    for logical_id, props in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        attributes = {a["Key"]: a["Value"] for a in props.get("LoadBalancerAttributes") or []}
        if attributes.get(ZONAL_SHIFT_ATTRIBUTE) != "true":
            problems.append(f'{logical_id}: LoadBalancerAttributes {ZONAL_SHIFT_ATTRIBUTE} is not "true" '
                            "(zone-health escalates zonal-shift-disabled)")
        if tags_of(props).get(MANAGED_TAG) != "true":
            problems.append(f'{logical_id}: no tag {MANAGED_TAG}="true" (zone-health holds: not-managed)')
    return problems


def group_problems(template: dict[str, Any]) -> list[str]:
    """Groups that would not shift with their load balancer."""
    problems = []
    for logical_id, props in resources(template, "AWS::AutoScaling::AutoScalingGroup"):
        policy = props.get("AvailabilityZoneImpairmentPolicy") or {}
        if policy.get("ZonalShiftEnabled") not in (True, "true"):
            problems.append(f"{logical_id}: AvailabilityZoneImpairmentPolicy.ZonalShiftEnabled is not true")
        if policy.get("ImpairedZoneHealthCheckBehavior") != "IgnoreUnhealthy":
            problems.append(f"{logical_id}: ImpairedZoneHealthCheckBehavior is not IgnoreUnhealthy "
                            "(the group would replace the shifted zone's instances there)")
        if tags_of(props).get(MANAGED_TAG) != "true":
            problems.append(f'{logical_id}: no tag {MANAGED_TAG}="true"')
    return problems


def zone_alarm_rule(rebound: dict[str, Any]) -> dict[str, Any]:
    """The metric zone-health's ZoneAlarmStateChange rule matches (template.yaml)."""
    event = rebound["Resources"]["ZoneHealthFunction"]["Properties"]["Events"]["ZoneAlarmStateChange"]
    return event["Properties"]["Pattern"]["detail"]["configuration"]["metrics"]["metricStat"]["metric"]


def matches_rule(rule: dict[str, Any], props: dict[str, Any]) -> bool:
    if props.get("Namespace") not in rule.get("namespace", []) or props.get("MetricName") not in rule.get("name", []):
        return False
    present = dimensions(props)
    for name, condition in (rule.get("dimensions") or {}).items():
        if condition == [{"exists": True}] and name not in present:
            return False
    return True


def fires_by_two(props: dict[str, Any]) -> bool:
    """In ALARM once two targets fail: the fewest that make a zone impaired."""
    threshold = props.get("Threshold")
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        return False
    operator = props.get("ComparisonOperator")
    return ((operator == "GreaterThanOrEqualToThreshold" and threshold <= MIN_UNHEALTHY_IN_ZONE)
            or (operator == "GreaterThanThreshold" and threshold < MIN_UNHEALTHY_IN_ZONE))


def zone_alarm_problems(template: dict[str, Any], rebound: dict[str, Any]) -> list[str]:
    """Each zone of each group behind a load balancer needs its own UnHealthyHostCount
    alarm that zone-health's rule delivers: the quick confirmation of an impairment."""
    rule = zone_alarm_rule(rebound)
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    problems = []
    for group_id, group in resources(template, "AWS::AutoScaling::AutoScalingGroup"):
        zones = {subnet_zone(template, s) for s in group.get("VPCZoneIdentifier") or []}
        for target_group in [t["Ref"] for t in group.get("TargetGroupARNs") or [] if isinstance(t, dict)]:
            for balancer in load_balancers_of(template, target_group):
                for zone in sorted(z for z in zones if z):
                    wanted = {
                        "TargetGroup": {"Fn::GetAtt": [target_group, "TargetGroupFullName"]},
                        "LoadBalancer": {"Fn::GetAtt": [balancer, "LoadBalancerFullName"]},
                    }
                    found = [
                        alarm_id for alarm_id, props in alarms
                        if props.get("Namespace") == "AWS/ApplicationELB"
                        and props.get("MetricName") == "UnHealthyHostCount"
                        and all(dimensions(props).get(k) == v for k, v in wanted.items())
                        and zone_of(template, dimensions(props).get("AvailabilityZone")) == zone
                    ]
                    where = f"{group_id}'s zone {zone} behind {balancer} ({target_group})"
                    if not found:
                        problems.append(f"{where}: no UnHealthyHostCount alarm with dimensions TargetGroup, "
                                        "LoadBalancer and AvailabilityZone (!GetAtt <subnet>.AvailabilityZone)")
                    for alarm_id in found:
                        props = dict(alarms)[alarm_id]
                        if not matches_rule(rule, props):
                            problems.append(f"{alarm_id}: zone-health's ZoneAlarmStateChange rule does not match it")
                        if not fires_by_two(props):
                            problems.append(f"{alarm_id}: not in ALARM once {MIN_UNHEALTHY_IN_ZONE} targets fail")
    return problems


def capacity_problems(template: dict[str, Any]) -> list[str]:
    """A zone is impaired only with two failing targets, so each zone runs two; a raise
    before a shift adds the zone's share elsewhere, up to MaxSize."""
    problems = []
    for logical_id, props in resources(template, "AWS::AutoScaling::AutoScalingGroup"):
        zones = len({subnet_zone(template, s) for s in props.get("VPCZoneIdentifier") or []})
        if zones < 2:
            problems.append(f"{logical_id}: in {zones} zone(s): nowhere to shift to")
            continue
        least = MIN_UNHEALTHY_IN_ZONE * zones
        for field in ("MinValue", "Default"):
            desired = number(template, props.get("DesiredCapacity"), field)
            if desired is None or desired < least:
                problems.append(f"{logical_id}: DesiredCapacity {field} {desired} < {least} "
                                f"({MIN_UNHEALTHY_IN_ZONE} per zone: a zone of one instance is never impaired)")
        desired = number(template, props.get("DesiredCapacity"))
        maximum = number(template, props.get("MaxSize"))
        if desired is not None and maximum is not None and maximum < desired + math.ceil(desired / zones):
            problems.append(f"{logical_id}: MaxSize {maximum} leaves no room to add a zone's share "
                            f"({math.ceil(desired / zones)}) to {desired}")
    return problems


def iso_seconds(duration: Any) -> int | None:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", str(duration))
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def az_experiments(template: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every aws:network:disrupt-connectivity action on subnets, as (experiment.action,
    action, experiment properties)."""
    found = []
    for logical_id, props in resources(template, "AWS::FIS::ExperimentTemplate"):
        for name, action in (props.get("Actions") or {}).items():
            if action.get("ActionId") != "aws:network:disrupt-connectivity":
                continue
            found.append((f"{logical_id}.{name}", action, props))
    return found


def az_experiment_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    group_zones = {subnet_zone(template, s)
                   for _, g in resources(template, "AWS::AutoScaling::AutoScalingGroup")
                   for s in g.get("VPCZoneIdentifier") or []}
    rto = number(template, {"Ref": "RtoSeconds"})
    for where, action, props in az_experiments(template):
        subnets = []
        for target in (action.get("Targets") or {}).values():
            for arn in props["Targets"][target].get("ResourceArns") or []:
                subnets += re.findall(r"\$\{(\w+)\}", arn.get("Fn::Sub", "") if isinstance(arn, dict) else "")
        zones = {subnet_zone(template, {"Ref": s}) for s in subnets if s in template["Resources"]}
        if len(zones) != 1 or not zones <= group_zones:
            problems.append(f"{where}: does not block the subnets of exactly one of the group's zones")
        parameters = action.get("Parameters") or {}
        if parameters.get("scope") != "all":
            problems.append(f"{where}: scope is not all (the zone's targets must fail their health checks)")
        seconds = iso_seconds(parameters.get("duration"))
        if seconds is None or rto is None or seconds < rto:
            problems.append(f"{where}: duration {parameters.get('duration')} is shorter than the default "
                            f"RtoSeconds ({rto} s): the zone would come back before a late shift is measured")
    return problems


# ------------------------------------------------------------------ designated alarms


def designated(value: str) -> list[tuple[str, str]]:
    """rebound:failover-alarms as rds-health reads it: comma-separated, trimmed, blank
    entries and a bare `*` ignored, a trailing `*` a prefix."""
    patterns = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry or entry == "*":
            continue
        patterns.append(("prefix", entry[:-1]) if entry.endswith("*") else ("name", entry))
    return patterns


def failover_alarm_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    databases = dict(resources(template, "AWS::RDS::DBInstance"))
    for alarm_id, props in resources(template, "AWS::CloudWatch::Alarm"):
        if props.get("Namespace") != "AWS/RDS":
            continue
        instance = dimensions(props).get("DBInstanceIdentifier")
        if not (isinstance(instance, dict) and instance.get("Ref") in databases):
            continue
        database = instance["Ref"]
        if "AlarmName" not in props:
            problems.append(f"{alarm_id}: no AlarmName, so {database} cannot designate it")
            continue
        name = render(template, props["AlarmName"])
        tag = tags_of(databases[database]).get(FAILOVER_ALARMS_TAG)
        if tag is None:
            problems.append(f"{alarm_id}: {database} has no {FAILOVER_ALARMS_TAG} tag; the alarm is evidence only")
            continue
        value = render(template, tag)
        if not RDS_TAG_VALUE.match(value):
            problems.append(f"{database}: {FAILOVER_ALARMS_TAG} value {value!r} has characters RDS refuses in a tag")
        if not any(name == p if kind == "name" else name.startswith(p) for kind, p in designated(value)):
            problems.append(f"{alarm_id} ({name}) is not designated by {database}'s {FAILOVER_ALARMS_TAG} ({value})")
    return problems


class FisExperiments(unittest.TestCase):
    def test_a_stopped_group_instance_the_group_replaced_completes_the_experiment(self):
        template = sam_env_vars.load_template(EXAMPLE)
        self.assertTrue(group_instance_stops(template), "the example stops an instance of its group")
        self.assertEqual(incomplete_stops(template), [],
                         'set completeIfInstancesTerminated: "true" (and startInstancesAfterDuration)')

    def test_the_check_catches_a_stop_without_the_parameter(self):
        template = sam_env_vars.load_template(EXAMPLE)
        for _, action in group_instance_stops(template):
            action["Parameters"].pop("completeIfInstancesTerminated")
        self.assertTrue(incomplete_stops(template))

    def test_the_zone_experiment_blocks_one_zone_of_the_group_long_enough_to_see_a_shift(self):
        template = sam_env_vars.load_template(EXAMPLE)
        self.assertTrue(az_experiments(template), "the example impairs a zone")
        self.assertEqual(az_experiment_problems(template), [])

    def test_the_check_catches_a_zone_experiment_shorter_than_the_rto_or_over_two_zones(self):
        template = sam_env_vars.load_template(EXAMPLE)
        short = copy.deepcopy(template)
        for _, action, _ in az_experiments(short):
            action["Parameters"]["duration"] = "PT10M"
        self.assertTrue(any("duration" in p for p in az_experiment_problems(short)))
        both = copy.deepcopy(template)
        for _, _, props in az_experiments(both):
            for target in props["Targets"].values():
                target["ResourceArns"].append({"Fn::Sub": "arn:aws:ec2:r:a:subnet/${PrivateSubnetA}"})
        self.assertTrue(any("exactly one" in p for p in az_experiment_problems(both)))


class ZonalEvacuation(unittest.TestCase):
    """What zone-health needs of the stack to shift its traffic away from a zone."""

    def setUp(self):
        self.template = sam_env_vars.load_template(EXAMPLE)
        self.rebound = sam_env_vars.load_template(REBOUND)

    def test_the_load_balancer_takes_part_in_zonal_shift_and_is_managed(self):
        self.assertTrue(resources(self.template, "AWS::ElasticLoadBalancingV2::LoadBalancer"))
        self.assertEqual(load_balancer_problems(self.template), [])

    def test_the_check_catches_a_load_balancer_without_the_attribute_or_the_tag(self):
        for _, props in resources(self.template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
            props.pop("LoadBalancerAttributes")
            props.pop("Tags")
        problems = load_balancer_problems(self.template)
        self.assertTrue(any(ZONAL_SHIFT_ATTRIBUTE in p for p in problems), problems)
        self.assertTrue(any(MANAGED_TAG in p for p in problems), problems)

    def test_the_group_shifts_with_it_and_ignores_its_unhealthy_instances_in_the_shifted_zone(self):
        self.assertEqual(group_problems(self.template), [])

    def test_the_check_catches_a_group_without_the_impairment_policy(self):
        for _, props in resources(self.template, "AWS::AutoScaling::AutoScalingGroup"):
            props["AvailabilityZoneImpairmentPolicy"]["ImpairedZoneHealthCheckBehavior"] = "ReplaceUnhealthy"
        self.assertTrue(group_problems(self.template))
        for _, props in resources(self.template, "AWS::AutoScaling::AutoScalingGroup"):
            props.pop("AvailabilityZoneImpairmentPolicy")
        self.assertTrue(any("ZonalShiftEnabled" in p for p in group_problems(self.template)))

    def test_each_zone_has_an_alarm_zone_health_s_rule_delivers(self):
        alarms = [a for a, props in resources(self.template, "AWS::CloudWatch::Alarm")
                  if "AvailabilityZone" in dimensions(props)]
        self.assertEqual(len(alarms), 2, "one per zone of the group")
        self.assertEqual(zone_alarm_problems(self.template, self.rebound), [])

    def test_the_check_catches_a_missing_zone_alarm_and_one_the_rule_would_not_match(self):
        missing = copy.deepcopy(self.template)
        del missing["Resources"]["UnhealthyHostsZoneBAlarm"]
        self.assertTrue(any("no UnHealthyHostCount alarm" in p for p in zone_alarm_problems(missing, self.rebound)))
        unmatched = copy.deepcopy(self.rebound)
        zone_alarm_rule(unmatched)["dimensions"]["Zone"] = [{"exists": True}]
        self.assertTrue(any("does not match" in p for p in zone_alarm_problems(self.template, unmatched)))
        late = copy.deepcopy(self.template)
        late["Resources"]["UnhealthyHostsZoneAAlarm"]["Properties"]["Threshold"] = 3
        self.assertTrue(any("not in ALARM" in p for p in zone_alarm_problems(late, self.rebound)))

    def test_each_zone_runs_enough_instances_to_be_impaired_and_a_raise_fits(self):
        self.assertEqual(capacity_problems(self.template), [])
        self.template["Parameters"]["DesiredCapacity"]["MinValue"] = 2
        self.assertTrue(any("MinValue" in p for p in capacity_problems(self.template)))
        self.template["Parameters"]["MaxSize"]["Default"] = 5
        self.assertTrue(any("MaxSize" in p for p in capacity_problems(self.template)))


class DesignatedFailoverAlarms(unittest.TestCase):
    def test_every_database_alarm_is_designated_by_its_database(self):
        template = sam_env_vars.load_template(EXAMPLE)
        rds_alarms = [a for a, props in resources(template, "AWS::CloudWatch::Alarm") if props.get("Namespace") == "AWS/RDS"]
        self.assertTrue(rds_alarms, "the example has a database alarm")
        self.assertEqual(failover_alarm_problems(template), [])

    def test_the_check_catches_an_undesignated_alarm_and_a_value_rds_refuses(self):
        template = sam_env_vars.load_template(EXAMPLE)
        alarm = template["Resources"]["DatabaseLatencyAlarm"]["Properties"]
        alarm["AlarmName"] = {"Fn::Sub": "${AWS::StackName}-db-latency"}
        self.assertTrue(any("not designated" in p for p in failover_alarm_problems(template)))
        tags = template["Resources"]["Database"]["Properties"]["Tags"]
        for tag in tags:
            if tag["Key"] == FAILOVER_ALARMS_TAG:
                tag["Value"] = {"Fn::Sub": "${AWS::StackName}-db-*"}
        problems = failover_alarm_problems(template)
        self.assertTrue(any("RDS refuses" in p for p in problems), problems)
        self.assertFalse(any("not designated" in p for p in problems), "a prefix designates")

    def test_designations_read_as_rds_health_reads_them(self):
        self.assertEqual(designated(" a , b* ,, * "), [("name", "a"), ("prefix", "b")])


if __name__ == "__main__":
    unittest.main()
