"""Baseline for the benchmark: target-health as a user would write it in Python + boto3.

Handler ``target_health.handler``, run with the Lambda Runtime Interface Client
(``python -m awslambdaric target_health.handler``). It makes the same AWS calls as the
Rust function (shared/src/handlers/target_health.rs, shared/src/aws/*.rs) for the same
events, in the same order:

    DescribeTargetHealth
    if unhealthy targets and not a systemic failure (all, or above the limit, unhealthy):
        DescribeAutoScalingInstances, DescribeAutoScalingGroups,
        DescribeInstanceRefreshes (per managed group)
    GetItem resource#target-group#<arn>; GetItem incident#<id> if one is open
    decide
    replace: TransactWriteItems (claim + incident put, or incident put + resource
             update: the write-ahead), UpdateItem budget#<hour>, SetInstanceHealth,
             PutItem outcome (version condition)
    resolve: TransactWriteItems (incident put + release of the resource)

The policy is the Rust one cut down to what the benchmark scenarios exercise: alarm
events (EventBridge state change or alarm action), blast radius, reason codes, opt-in
tag, suspended processes, instance refresh, already-replacing, in service, cooldown,
in-flight limit and the hourly budget. Not here: the scheduled sweep (ignored) and the
settling of overdue write-ahead actions. Items use the Rust layout (pk, kind, serde
field names) so either implementation can read what the other wrote.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random

import boto3
from botocore.exceptions import ClientError

# Clients and configuration once per cold start, as a typical user would.
elbv2 = boto3.client("elbv2")
autoscaling = boto3.client("autoscaling")
dynamodb = boto3.client("dynamodb")

TABLE = os.environ["INCIDENTS_TABLE"]
MODE = os.environ.get("MODE", "dry-run")
MANAGED_TAG_KEY = os.environ.get("MANAGED_TAG_KEY", "rebound:managed")
REPLACEMENT = os.environ.get("REPLACEMENT_METHOD", "set-instance-health")
MAX_UNHEALTHY_PERCENT = int(os.environ.get("MAX_UNHEALTHY_PERCENT", "50"))
MAX_IN_FLIGHT = int(os.environ.get("MAX_IN_FLIGHT_PER_GROUP", "1"))
COOLDOWN = dt.timedelta(seconds=int(os.environ.get("COOLDOWN_SECONDS", "600")))
BUDGET_PER_HOUR = int(os.environ.get("ACTION_BUDGET_PER_HOUR", "10"))
RETENTION = dt.timedelta(days=int(os.environ.get("INCIDENT_RETENTION_DAYS", "90")))

FAILURE_REASONS = {"Target.FailedHealthChecks", "Target.ResponseCodeMismatch", "Target.Timeout"}
HEALING_PROCESSES = {"Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy"}
ACTIVE_REFRESH = {"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"}
MAX_WRITE_ATTEMPTS = 5

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- DynamoDB attribute values (the incident is a plain dict of str/int/bool/None) ---


def to_av(value):
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_av(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_av(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value)}")


def from_av(av):
    (kind, value), = av.items()
    if kind == "NULL":
        return None
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "L":
        return [from_av(v) for v in value]
    if kind == "M":
        return {k: from_av(v) for k, v in value.items()}
    return value  # S, BOOL


def incident_item(incident: dict) -> dict:
    item = {k: to_av(v) for k, v in incident.items()}
    item["pk"] = {"S": f"incident#{incident['id']}"}
    item["kind"] = {"S": "incident"}
    if incident.get("resolved_at"):
        item["expires_at"] = {"N": str(int((parse_iso(incident["resolved_at"]) + RETENTION).timestamp()))}
    return item


def conditional_failure(err: ClientError) -> bool:
    code = err.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = err.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or "ConditionalCheckFailed" in str(err)
    return False


# --- the event -----------------------------------------------------------------------


def parse_event(event):
    """(target group ARN, alarm name) or (None, reason it is ignored)."""
    if not isinstance(event, dict):
        return None, "unrecognised event shape"
    if "detail-type" in event:
        if event.get("source") != "aws.cloudwatch" or event["detail-type"] != "CloudWatch Alarm State Change":
            return None, f"EventBridge event {event['detail-type']!r} is not handled by this baseline"
        detail = event.get("detail") or {}
        alarm_arn = (event.get("resources") or [""])[0]
        region, account = event.get("region"), event.get("account")
    elif "alarmData" in event:
        detail = event["alarmData"]
        alarm_arn, region, account = event.get("alarmArn", ""), event.get("region"), event.get("accountId")
    else:
        return None, "unrecognised event shape"
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        m = (metric.get("metricStat") or {}).get("metric") or {}
        if m.get("namespace") == "AWS/ApplicationELB" and m.get("name") == "UnHealthyHostCount":
            full_name = (m.get("dimensions") or {}).get("TargetGroup")
            if not full_name:
                raise ValueError(f"alarm {detail.get('alarmName')!r} has no TargetGroup dimension")
            parts = alarm_arn.split(":")
            partition = parts[1] if len(parts) > 1 and parts[1] else "aws"
            region = region or (parts[3] if len(parts) > 3 else None)
            account = account or (parts[4] if len(parts) > 4 else None)
            arn = f"arn:{partition}:elasticloadbalancing:{region}:{account}:{full_name}"
            return arn, detail.get("alarmName", "")
    return None, f"alarm {detail.get('alarmName')!r} is not on AWS/ApplicationELB UnHealthyHostCount"


# --- observation -----------------------------------------------------------------------


def observe(arn: str):
    targets = []
    for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
        target_id = d["Target"]["Id"]
        if not target_id.startswith("i-"):
            continue
        health = d.get("TargetHealth") or {}
        targets.append({
            "instance_id": target_id,
            "port": d["Target"].get("Port"),
            "state": health.get("State", "unknown").replace(".", "-"),
            "reason": health.get("Reason"),
            "description": health.get("Description"),
        })
    unhealthy = [t["instance_id"] for t in targets if t["state"] in ("unhealthy", "unhealthy-draining")]
    serving = sum(1 for t in targets if t["state"] in ("healthy", "unhealthy", "unhealthy-draining"))
    # A failure too wide to act on (all, or more than the limit, unhealthy) is escalated
    # on the targets alone: no Auto Scaling call.
    systemic = bool(unhealthy) and (len(unhealthy) == serving or len(unhealthy) * 100 > MAX_UNHEALTHY_PERCENT * serving)
    groups = []
    if unhealthy and not systemic:
        names = set()
        for start in range(0, len(unhealthy), 50):
            described = autoscaling.describe_auto_scaling_instances(InstanceIds=unhealthy[start:start + 50])
            names.update(i["AutoScalingGroupName"] for i in described["AutoScalingInstances"])
        if names:
            for group in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=sorted(names))["AutoScalingGroups"]:
                tags = {t["Key"]: t.get("Value", "") for t in group.get("Tags", [])}
                refreshing = False
                if tags.get(MANAGED_TAG_KEY) == "true":  # only managed groups are ever acted on
                    refreshes = autoscaling.describe_instance_refreshes(AutoScalingGroupName=group["AutoScalingGroupName"])
                    refreshing = any(r.get("Status") in ACTIVE_REFRESH for r in refreshes.get("InstanceRefreshes", []))
                groups.append({
                    "name": group["AutoScalingGroupName"],
                    "tags": tags,
                    "suspended": [p["ProcessName"] for p in group.get("SuspendedProcesses", [])],
                    "instances": {i["InstanceId"]: i for i in group.get("Instances", [])},
                    "refreshing": refreshing,
                })
    return targets, groups


def in_flight(instance: dict) -> bool:
    return instance.get("LifecycleState") != "InService" or instance.get("HealthStatus", "").lower() == "unhealthy"


# --- policy ----------------------------------------------------------------------------


def decide(targets, groups, incident, last_action_at, now):
    """(verdict, [(instance, group)], [refusal text], summary), as policy::decide."""
    total = sum(1 for t in targets if t["state"] in ("healthy", "unhealthy", "unhealthy-draining"))
    unhealthy = [t for t in targets if t["state"] in ("unhealthy", "unhealthy-draining")]
    summary = f"{len(unhealthy)} of {total} targets unhealthy"
    if not unhealthy:
        if incident is None:
            return "healthy", [], [], summary
        if any(t["state"] == "initial" for t in targets) or total == 0:
            return "recovering", [], [], summary
        return "resolve", [], [], summary
    if len(unhealthy) == total:
        return "escalate", [], [f"all {len(unhealthy)} targets are unhealthy: the load balancer is failing open"], summary
    if len(unhealthy) * 100 > MAX_UNHEALTHY_PERCENT * total:
        return "escalate", [], [f"{len(unhealthy)} of {total} targets unhealthy is above the {MAX_UNHEALTHY_PERCENT}% blast-radius limit"], summary

    actions = (incident or {}).get("actions") or []
    last = [a for a in [last_action_at] if a] + [parse_iso(a["requested_at"]) for a in actions if a["outcome"] != "refused"]
    replacements, refusals, picked = [], [], {}
    for target in unhealthy:
        instance = target["instance_id"]
        if target["state"] != "unhealthy" or target["reason"] not in FAILURE_REASONS:
            refusals.append(f"{instance} is unhealthy for {target['reason']}, which is not a failure of the instance")
            continue
        group = next((g for g in groups if instance in g["instances"]), None)
        if group is None:
            refusals.append(f"{instance} belongs to no Auto Scaling group")
            continue
        if group["tags"].get(MANAGED_TAG_KEY) != "true":
            refusals.append(f"group {group['name']} is not managed (tag {MANAGED_TAG_KEY}=true missing): observed only")
            continue
        suspended = [p for p in group["suspended"] if p in HEALING_PROCESSES]
        if suspended:
            refusals.append(f"group {group['name']} cannot heal: {', '.join(suspended)} suspended")
            continue
        if group["refreshing"]:
            refusals.append(f"group {group['name']} cannot heal: an instance refresh is in progress")
            continue
        if any(a["target"] == instance and a["outcome"] not in ("failed", "refused") for a in actions):
            refusals.append(f"{instance} already has a replacement requested")
            continue
        if in_flight(group["instances"][instance]):
            refusals.append(f"{instance} is not InService/Healthy: the group is already handling it")
            continue
        if last and now < max(last) + COOLDOWN:
            refusals.append(f"resource in cooldown until {iso(max(last) + COOLDOWN)}")
            continue
        flying = sum(1 for i in group["instances"].values() if in_flight(i)) + picked.get(group["name"], 0)
        if flying >= MAX_IN_FLIGHT:
            refusals.append(f"group {group['name']} has {flying} replacement(s) in flight, the limit is {MAX_IN_FLIGHT}")
            continue
        picked[group["name"]] = picked.get(group["name"], 0) + 1
        replacements.append((instance, group["name"]))
    if replacements:
        return "replace", replacements, refusals, summary
    escalates = any("blast-radius" in r or "failing open" in r for r in refusals)
    return ("escalate" if escalates else "hold"), [], refusals, summary


# --- the incident store ------------------------------------------------------------------


def note(incident, now, event, detail):
    incident["timeline"].append({"at": iso(now), "event": event, "detail": detail})
    incident["updated_at"] = iso(now)


def transition(incident, now, state, why):
    if incident["state"] == state:
        return
    note(incident, now, state, why)
    incident["state"] = state
    if state == "resolved":
        incident["resolved_at"] = iso(now)
        incident["time_to_recover_s"] = int((now - parse_iso(incident["opened_at"])).total_seconds())


def create(incident, action_at) -> bool:
    """TransactWriteItems: claim the resource (one open incident) and put the incident."""
    incident["version"] = 1
    resource_key = f"resource#target-group#{incident['resource']['id']}"
    expression = "SET open_incident_id = :id, #kind = :resource"
    values = {":id": {"S": incident["id"]}, ":resource": {"S": "resource"}}
    if action_at is not None:
        expression += ", last_action_at = :at"
        values[":at"] = {"S": action_at.isoformat()}
    try:
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {
                "TableName": TABLE, "Key": {"pk": {"S": resource_key}},
                "ConditionExpression": "attribute_not_exists(open_incident_id)",
                "UpdateExpression": expression,
                "ExpressionAttributeNames": {"#kind": "kind"},
                "ExpressionAttributeValues": values,
            }},
            {"Put": {
                "TableName": TABLE, "Item": incident_item(incident),
                "ConditionExpression": "attribute_not_exists(pk)",
            }},
        ])
        return True
    except ClientError as err:
        if conditional_failure(err):
            incident["version"] = 0
            return False
        raise


def update(incident, action_at) -> bool:
    """Optimistic write of a stored incident; with an action or a release, the
    resource record moves in the same transaction."""
    expected = incident["version"]
    incident["version"] = expected + 1
    releases = incident["state"] == "resolved"
    try:
        if action_at is None and not releases:
            dynamodb.put_item(
                TableName=TABLE, Item=incident_item(incident),
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected)}},
            )
        else:
            sets = ["#kind = :resource"]
            values = {":resource": {"S": "resource"}}
            resource_update = {
                "TableName": TABLE, "Key": {"pk": {"S": f"resource#target-group#{incident['resource']['id']}"}},
                "ExpressionAttributeNames": {"#kind": "kind"},
            }
            if action_at is not None:
                sets.append("last_action_at = :at")
                values[":at"] = {"S": action_at.isoformat()}
            expression = "SET " + ", ".join(sets)
            if releases:
                expression += " REMOVE open_incident_id"
                resource_update["ConditionExpression"] = "open_incident_id = :id"
                values[":id"] = {"S": incident["id"]}
            resource_update["UpdateExpression"] = expression
            resource_update["ExpressionAttributeValues"] = values
            dynamodb.transact_write_items(TransactItems=[
                {"Put": {
                    "TableName": TABLE, "Item": incident_item(incident),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": {"N": str(expected)}},
                }},
                {"Update": resource_update},
            ])
        return True
    except ClientError as err:
        incident["version"] = expected
        if conditional_failure(err):
            return False
        raise


def persist(incident, is_new, action_at) -> bool:
    return create(incident, action_at) if is_new else update(incident, action_at)


def reserve_action(now) -> bool:
    if BUDGET_PER_HOUR == 0:
        return False
    try:
        dynamodb.update_item(
            TableName=TABLE, Key={"pk": {"S": f"budget#{now.strftime('%Y-%m-%dT%H')}"}},
            UpdateExpression="SET used = if_not_exists(used, :zero) + :one, #kind = :budget, expires_at = :expires",
            ConditionExpression="attribute_not_exists(used) OR used < :limit",
            ExpressionAttributeNames={"#kind": "kind"},
            ExpressionAttributeValues={
                ":zero": {"N": "0"}, ":one": {"N": "1"}, ":limit": {"N": str(BUDGET_PER_HOUR)},
                ":budget": {"S": "budget"}, ":expires": {"N": str(int((now + dt.timedelta(days=2)).timestamp()))},
            },
        )
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def replace(instance: str) -> None:
    if REPLACEMENT == "terminate":
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=False)
    else:
        autoscaling.set_instance_health(InstanceId=instance, HealthStatus="Unhealthy", ShouldRespectGracePeriod=True)


# --- the handler -------------------------------------------------------------------------


def remediate(incident, is_new, replacements, summary, now):
    dry_run = MODE != "enforce"
    kind = "terminate-instance" if REPLACEMENT == "terminate" else "set-instance-health"
    first = len(incident["actions"])
    for instance, group in replacements:
        action = {"kind": kind, "target": instance, "group": group, "requested_at": iso(now),
                  "outcome": "simulated" if dry_run else "pending", "dry_run": dry_run}
        if dry_run:
            action["detail"] = "dry-run: no call made"
        incident["actions"].append(action)
    intent = ", ".join(f"replace {i} in {g}" for i, g in replacements)
    if dry_run:
        note(incident, now, "dry-run", f"would {intent} ({summary})")
        return incident["actions"][first:] if persist(incident, is_new, None) else None
    transition(incident, now, "remediating", f"{summary}: {intent}")
    if not persist(incident, is_new, now):  # write-ahead
        return None
    failure = None
    budget_used_up = False
    for offset, (instance, group) in enumerate(replacements):
        action = incident["actions"][first + offset]
        if not reserve_action(now):
            budget_used_up = True
            action["outcome"], action["detail"] = "refused", "account-wide hourly action budget used up"
        else:
            try:
                replace(instance)
                action["outcome"] = "succeeded"
                logger.info("replacement requested: %s in %s (incident %s)", instance, group, incident["id"])
            except ClientError as err:
                failure = failure or err
                action["outcome"], action["detail"] = "failed", str(err)
        action["completed_at"] = iso(now_utc())
    results = incident["actions"][first:]
    if budget_used_up:
        transition(incident, now, "escalated", f"account-wide action budget of {BUDGET_PER_HOUR} per hour is used up")
    record_outcomes(incident, results)
    if failure:
        raise failure
    return results


def record_outcomes(incident, results):
    for _ in range(MAX_WRITE_ATTEMPTS):
        if update(incident, None):
            return
        fresh = load(incident["id"])
        if fresh is None:
            raise RuntimeError(f"incident {incident['id']} vanished while recording outcomes")
        for result in results:
            for stored in fresh["actions"]:
                if stored["target"] == result["target"] and stored["requested_at"] == result["requested_at"]:
                    stored.update(result)
        incident.clear()
        incident.update(fresh)
    raise RuntimeError(f"contention on {incident['resource']['id']}")


def load(incident_id):
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"incident#{incident_id}"}}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    incident = {k: from_av(v) for k, v in item.items() if k not in ("pk", "kind", "expires_at")}
    return incident


def check(arn: str, trigger: str):
    targets, groups = observe(arn)
    resource_key = f"resource#target-group#{arn}"
    for _ in range(MAX_WRITE_ATTEMPTS):
        now = now_utc()
        record = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": resource_key}}, ConsistentRead=True).get("Item") or {}
        open_id = record.get("open_incident_id", {}).get("S")
        last_action_at = parse_iso(record["last_action_at"]["S"]) if "last_action_at" in record else None
        incident = load(open_id) if open_id else None
        verdict, replacements, refusals, summary = decide(targets, groups, incident, last_action_at, now)
        report = {"target_group": arn, "verdict": verdict, "summary": summary,
                  "incident_id": incident and incident["id"], "incident_state": incident and incident["state"],
                  "actions": [], "refusals": refusals}
        if verdict in ("healthy", "recovering") or (verdict == "resolve" and incident is None):
            return report
        is_new = incident is None
        if is_new:
            incident = {
                "id": f"inc-{now.strftime('%Y%m%dT%H%M%SZ')}-{random.getrandbits(32):08x}",
                "resource": {"type": "target-group", "id": arn},
                "state": "open", "opened_at": iso(now), "updated_at": iso(now), "trigger": trigger,
                "evidence": {"targets": targets, "auto_scaling_groups": [g["name"] for g in groups]},
                "actions": [], "timeline": [{"at": iso(now), "event": "opened", "detail": summary}], "version": 0,
            }
        report["incident_id"] = incident["id"]
        if verdict == "replace":
            actions = remediate(incident, is_new, replacements, summary, now)
            written = actions is not None
            report["actions"] = actions or []
        else:
            changed = False
            if verdict == "resolve":
                transition(incident, now, "resolved", f"verified: {summary}")
                changed = True
            elif verdict == "escalate":
                changed = incident["state"] != "escalated"
                transition(incident, now, "escalated", "; ".join(refusals))
            else:
                news = [r for r in refusals if "already has a replacement" not in r and "already handling it" not in r]
                detail = "; ".join(news)
                last = incident["timeline"][-1]
                if news and not (last["event"] == "held" and last["detail"] == detail):
                    note(incident, now, "held", detail)
                    changed = True
            written = persist(incident, is_new, None) if (is_new or changed) else True
        if not written:
            continue  # another delivery got there first: read again
        if is_new:
            logger.info("incident opened: %s on %s (%s)", incident["id"], arn, incident["state"])
        report["incident_state"] = incident["state"]
        return report
    raise RuntimeError(f"contention on {arn}: {MAX_WRITE_ATTEMPTS} attempts")


def handler(event, context):
    arn, why = parse_event(event)
    if arn is None:
        logger.info("event ignored: %s", why)
        return {"status": "ignored", "reason": why, "checks": []}
    return {"status": "checked", "checks": [check(arn, f"alarm:{why}")]}
