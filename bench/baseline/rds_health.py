"""Baseline for the benchmark: rds-health as a user would write it in Python + boto3.

Handler ``rds_health.handler``, run with the Lambda Runtime Interface Client
(``python -m awslambdaric rds_health.handler``). It makes the same AWS calls as the Rust
function (shared/src/handlers/rds_health.rs, shared/src/aws/rds.rs, the workflow) for
the benchmark's events, in the same order:

    DescribeDBInstances
    if a failover may be decided (an ALARM, and no failover asked for yet):
        DescribeEvents (RDS's own failovers within the cooldown count against a new one)
    GetItem resource#db-instance#<id>; GetItem incident#<id> if one is open
    if a failover may be decided: BatchGetItem of the instance's and the account's ledgers
    decide
    fail over: TransactWriteItems (claim + incident put + both ledgers: the write-ahead),
               RebootDBInstance(ForceFailover=true), PutItem outcome (version condition)
    resolve:   TransactWriteItems (incident put + release of the resource record, with
               the recovery time the dependency hold reads)

The policy is the Rust one cut down to what the benchmark exercises: the AWS/RDS alarm
(EventBridge state change or alarm action), managed tag, Multi-AZ, status available,
RDS's recent failover events, cooldown and the hourly budget from the ledgers, and the
verified recovery (available, primary moved to the other zone). Not here: the RDS event
table, clusters, the schedule (ignored). Items use the Rust layout (pk, kind, serde
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
rds = boto3.client("rds")
dynamodb = boto3.client("dynamodb")

TABLE = os.environ["INCIDENTS_TABLE"]
MODE = os.environ.get("MODE", "dry-run")
MANAGED_TAG_KEY = os.environ.get("MANAGED_TAG_KEY", "rebound:managed")
COOLDOWN = dt.timedelta(seconds=int(os.environ.get("RDS_COOLDOWN_SECONDS", "1800")))
BUDGET_PER_HOUR = int(os.environ.get("ACTION_BUDGET_PER_HOUR", "10"))
RETENTION = dt.timedelta(days=int(os.environ.get("INCIDENT_RETENTION_DAYS", "90")))
ACCOUNT_LEDGER = "ledger#account#account"

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


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
    return value


def incident_item(incident: dict) -> dict:
    item = {k: to_av(v) for k, v in incident.items()}
    item["pk"] = {"S": f"incident#{incident['id']}"}
    item["kind"] = {"S": "incident"}
    if incident.get("resolved_at"):
        item["expires_at"] = {"N": str(int((parse_iso(incident["resolved_at"]) + RETENTION).timestamp()))}
    else:
        item["open"] = {"S": "open"}
    return item


def parse_event(event):
    """(DB instance id, alarm name, ALARM?) or (None, reason it is ignored, False)."""
    if not isinstance(event, dict):
        return None, "unrecognised event shape", False
    if "detail-type" in event:
        if event.get("source") != "aws.cloudwatch" or event["detail-type"] != "CloudWatch Alarm State Change":
            return None, f"EventBridge event {event['detail-type']!r} is not handled by this baseline", False
        detail = event.get("detail") or {}
    elif "alarmData" in event:
        detail = event["alarmData"]
    else:
        return None, "unrecognised event shape", False
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        m = (metric.get("metricStat") or {}).get("metric") or {}
        if m.get("namespace") == "AWS/RDS" and (m.get("dimensions") or {}).get("DBInstanceIdentifier"):
            firing = (detail.get("state") or {}).get("value") == "ALARM"
            return m["dimensions"]["DBInstanceIdentifier"], detail.get("alarmName", ""), firing
    return None, f"alarm {detail.get('alarmName')!r} is not on an AWS/RDS metric of one DB instance", False


def describe(db_id: str) -> dict | None:
    try:
        db = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
    except ClientError as err:
        if err.response["Error"]["Code"] == "DBInstanceNotFound":
            return None
        raise
    return {
        "status": db.get("DBInstanceStatus", ""),
        "multi_az": bool(db.get("MultiAZ")),
        "primary_az": db.get("AvailabilityZone"),
        "standby_az": db.get("SecondaryAvailabilityZone") or None,
        "tags": {t["Key"]: t.get("Value", "") for t in db.get("TagList", [])},
    }


def recent_failover(db_id: str, now: dt.datetime) -> dt.datetime | None:
    minutes = max(1, -(-int(COOLDOWN.total_seconds()) // 60))
    events = rds.describe_events(SourceIdentifier=db_id, SourceType="db-instance", Duration=minutes, MaxRecords=100)
    dates = [e["Date"] for e in events.get("Events", []) if "failover" in e.get("EventCategories", [])]
    recent = [d for d in dates if d > now - COOLDOWN]
    return max(recent) if recent else None


def ledgers(db_id: str) -> dict:
    keys = [f"ledger#db-instance#{db_id}", ACCOUNT_LEDGER]
    got = dynamodb.batch_get_item(RequestItems={TABLE: {
        "Keys": [{"pk": {"S": k}} for k in keys], "ConsistentRead": True,
    }})["Responses"].get(TABLE, [])
    found = {item["pk"]["S"]: {k: from_av(v) for k, v in item.items() if k not in ("pk", "kind", "expires_at")}
             for item in got}
    return {k: found.get(k, {"entries": [], "version": 0}) for k in keys}


def ledger_put(key: str, ledger: dict, entry: dict, now: dt.datetime) -> dict:
    horizon = now - dt.timedelta(hours=24)
    entries = [e for e in ledger["entries"] if parse_iso(e["at"]) > horizon] + [entry]
    item = {"pk": {"S": key}, "kind": {"S": "ledger"}, "entries": to_av(entries),
            "version": {"N": str(ledger["version"] + 1)},
            "expires_at": {"N": str(int((now + dt.timedelta(days=2)).timestamp()))}}
    put = {"TableName": TABLE, "Item": item}
    if ledger["version"] == 0:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :expected"
        put["ExpressionAttributeValues"] = {":expected": {"N": str(ledger["version"])}}
    return {"Put": put}


def decide(db, incident, events_at, books, now):
    """(verdict, refusal, summary), as policy::rds::decide for the benchmark's cases."""
    summary = f"{db['id']} is {db['status']}, " + (
        f"Multi-AZ, primary in {db['primary_az']}, standby in {db['standby_az']}" if db["multi_az"]
        else f"single-AZ in {db['primary_az']}")
    asked = incident and any(a["kind"] == "reboot-with-failover" and a["outcome"] in ("pending", "succeeded")
                             for a in incident["actions"])
    if asked:
        before = incident["evidence"]["database"].get("before_failover") or incident["evidence"]["database"]["detected"]
        if db["status"] == "available" and db["primary_az"] != before.get("primary_az"):
            return "resolve", None, summary
        return "recovering", None, summary
    if db["tags"].get(MANAGED_TAG_KEY) != "true":
        return "hold", f"database {db['id']} is not managed (tag {MANAGED_TAG_KEY}=true missing): observed only", summary
    if not db["multi_az"]:
        return "escalate", f"{db['id']} has no standby to fail over to (not Multi-AZ)", summary
    if db["status"] != "available":
        return "hold", f"{db['id']} is {db['status']}, not available", summary
    if events_at is not None:
        return "hold", f"{db['id']} failed over at {events_at.isoformat()} (RDS events)", summary
    last = [parse_iso(e["at"]) for e in books[f"ledger#db-instance#{db['id']}"]["entries"]]
    if last and now < max(last) + COOLDOWN:
        return "hold", f"{db['id']} in cooldown until {iso(max(last) + COOLDOWN)}", summary
    spent = [e for e in books[ACCOUNT_LEDGER]["entries"] if parse_iso(e["at"]) > now - dt.timedelta(hours=1)]
    if len(spent) >= BUDGET_PER_HOUR:
        return "escalate", f"account-wide action budget of {BUDGET_PER_HOUR} per rolling hour is used up", summary
    return "failover", None, summary


def placement(db, now):
    return {"status": db["status"], "multi_az": db["multi_az"], "primary_az": db["primary_az"],
            "standby_az": db["standby_az"], "at": iso(now)}


def check(db_id: str, trigger: str, firing: bool):
    observed = describe(db_id)
    if observed is None:
        return {"verdict": "gone"}
    db = {"id": db_id, **observed}
    resource_key = f"resource#db-instance#{db_id}"
    record = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": resource_key}}, ConsistentRead=True).get("Item") or {}
    open_id = record.get("open_incident_id", {}).get("S")
    incident = None
    if open_id:
        item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"incident#{open_id}"}}, ConsistentRead=True)["Item"]
        incident = {k: from_av(v) for k, v in item.items() if k not in ("pk", "kind", "expires_at", "open")}
    now = now_utc()
    asked = incident and any(a["outcome"] in ("pending", "succeeded") for a in incident["actions"])
    may_fail_over = firing and not asked
    events_at = recent_failover(db_id, now) if may_fail_over else None
    books = ledgers(db_id) if may_fail_over and db["tags"].get(MANAGED_TAG_KEY) == "true" else None
    verdict, refusal, summary = decide(db, incident, events_at, books, now)
    report = {"resource": {"type": "db-instance", "id": db_id}, "verdict": verdict, "summary": summary,
              "refusals": [refusal] if refusal else [], "actions": []}
    if verdict in ("recovering",) or (incident is None and verdict == "resolve"):
        return report
    if verdict == "resolve":
        incident["state"] = "resolved"
        incident["resolved_at"] = iso(now)
        incident["time_to_recover_s"] = int((now - parse_iso(incident["opened_at"])).total_seconds())
        incident["evidence"]["database"]["after_failover"] = placement(db, now)
        incident["timeline"].append({"at": iso(now), "event": "resolved", "detail": f"verified: {summary}"})
        expected = incident["version"]
        incident["version"] = expected + 1
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": incident_item(incident), "ConditionExpression": "version = :expected",
                     "ExpressionAttributeValues": {":expected": {"N": str(expected)}}}},
            {"Update": {"TableName": TABLE, "Key": {"pk": {"S": resource_key}},
                        "ConditionExpression": "open_incident_id = :id",
                        "UpdateExpression": "SET #kind = :resource, last_incident_id = :id, last_recovered_at = :recovered REMOVE open_incident_id",
                        "ExpressionAttributeNames": {"#kind": "kind"},
                        "ExpressionAttributeValues": {":id": {"S": incident["id"]}, ":resource": {"S": "resource"},
                                                      ":recovered": {"S": now.isoformat()}}}},
        ])
        report["incident_state"] = "resolved"
        return report
    if incident is not None:
        return report  # the benchmark's other cases write nothing new
    incident = {
        "id": f"inc-{now.strftime('%Y%m%dT%H%M%SZ')}-{random.getrandbits(32):08x}",
        "resource": {"type": "db-instance", "id": db_id}, "state": "open", "opened_at": iso(now),
        "updated_at": iso(now), "trigger": trigger,
        "evidence": {"targets": [], "auto_scaling_groups": [], "database": {
            "detected": placement(db, now), "wants_failover": firing, "events": []}},
        "actions": [], "timeline": [{"at": iso(now), "event": "opened", "detail": summary}], "version": 1,
    }
    items = [{"Update": {"TableName": TABLE, "Key": {"pk": {"S": resource_key}},
                         "ConditionExpression": "attribute_not_exists(open_incident_id)",
                         "UpdateExpression": "SET open_incident_id = :id, #kind = :resource",
                         "ExpressionAttributeNames": {"#kind": "kind"},
                         "ExpressionAttributeValues": {":id": {"S": incident["id"]}, ":resource": {"S": "resource"}}}}]
    acting = verdict == "failover" and MODE == "enforce"
    if verdict == "failover":
        action = {"kind": "reboot-with-failover", "target": {"type": "db-instance", "id": db_id},
                  "scope": {"type": "db-instance", "id": db_id}, "requested_at": iso(now),
                  "outcome": "pending" if acting else "simulated", "dry_run": not acting}
        incident["actions"].append(action)
        incident["evidence"]["database"]["before_failover"] = placement(db, now)
        if acting:
            incident["state"] = "remediating"
            incident["timeline"].append({"at": iso(now), "event": "remediating",
                                         "detail": f"{summary}: fail {db_id} over to its standby"})
            entry = {"at": iso(now), "target": db_id, "incident": incident["id"]}
            for key, ledger in books.items():
                items.append(ledger_put(key, ledger, entry, now))
    elif verdict == "escalate":
        incident["state"] = "escalated"
        incident["timeline"].append({"at": iso(now), "event": "escalated", "detail": refusal})
    items.insert(0, {"Put": {"TableName": TABLE, "Item": incident_item(incident),
                             "ConditionExpression": "attribute_not_exists(pk)"}})
    dynamodb.transact_write_items(TransactItems=items)
    if acting:
        action = incident["actions"][-1]
        try:
            rds.reboot_db_instance(DBInstanceIdentifier=db_id, ForceFailover=True)
            action["outcome"] = "succeeded"
        except ClientError as err:
            action["outcome"], action["detail"] = "failed", str(err)
        action["completed_at"] = iso(now_utc())
        expected = incident["version"]
        incident["version"] = expected + 1
        dynamodb.put_item(TableName=TABLE, Item=incident_item(incident), ConditionExpression="version = :expected",
                          ExpressionAttributeValues={":expected": {"N": str(expected)}})
        report["actions"] = [action]
    report["incident_id"], report["incident_state"] = incident["id"], incident["state"]
    return report


def handler(event, context):
    db_id, why, firing = parse_event(event)
    if db_id is None:
        logger.info("event ignored: %s", why)
        return {"status": "ignored", "reason": why, "checks": []}
    return {"status": "checked", "checks": [check(db_id, f"alarm:{why}", firing)]}
