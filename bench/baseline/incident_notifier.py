"""Baseline for the benchmark: incident-notifier as a user would write it in Python + boto3.

Handler ``incident_notifier.handler``, run with the Lambda Runtime Interface Client
(``python -m awslambdaric incident_notifier.handler``). Same behaviour and AWS calls as
the Rust function (shared/src/handlers/notifier.rs, shared/src/aws/sns.rs): for each
stream record whose NewImage is an incident (``kind`` = ``incident``) and whose state
changed, one sns.publish with MessageStructure=json (the e-mail text, the subject for
SMS, the JSON document as ``default`` for every other protocol), a Subject of at most
100 characters and the message attributes severity, resource_type, state and
resource_id; records are
published in order and the first failure is reported (ReportBatchItemFailures), so
nothing after it is published twice.
"""

from __future__ import annotations

import json
import logging
import os
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer

# Client and configuration once per cold start, as a typical user would.
sns = boto3.client("sns")
TOPIC_ARN = os.environ["NOTIFY_TOPIC_ARN"]

MAX_SUBJECT_CHARS = 100
MESSAGE_SCHEMA = "rebound.incident-state-change/1"
SEVERITY = {"escalated": "critical", "open": "warning", "remediating": "warning", "resolved": "info", "suppressed": "info"}

deserializer = TypeDeserializer()
logger = logging.getLogger()
logger.setLevel(logging.INFO)


def plain(value):
    """Decimals (how boto3 reads DynamoDB numbers) back to int/float for JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def short_name(resource_id: str) -> str:
    tail = resource_id.rsplit(":", 1)[-1]
    parts = tail.split("/")
    return parts[1] if len(parts) > 1 and parts[1] else tail


def debug_name(kebab: str) -> str:
    """How the Rust notifier prints an enum value ({:?}): unhealthy -> Unhealthy."""
    return "".join(part.capitalize() for part in kebab.split("-"))


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notification(incident: dict, previous: str | None) -> dict:
    state = incident["state"]
    latest = incident["timeline"][-1]["detail"] if incident.get("timeline") else ""
    resource = incident["resource"]
    subject = truncate(
        f"[Rebound] {state.upper()} {resource['type']} {short_name(resource['id'])}: {latest}", MAX_SUBJECT_CHARS
    )
    text = (
        f"Incident {incident['id']} is now {state}{f' (was {previous})' if previous else ''}.\n\n"
        f"Resource:  {resource['type']} {resource['id']}\nOpened:    {incident['opened_at']}\n"
        f"Trigger:   {incident['trigger']}\n"
    )
    if incident.get("time_to_recover_s") is not None:
        text += f"Recovered: in {incident['time_to_recover_s']} s\n"
    text += f"\nLatest: {latest}\n"
    evidence = [t for t in (incident.get("evidence") or {}).get("targets", []) if t.get("reason")]
    if evidence:
        text += "\nEvidence:\n" + "\n".join(f"  - {t['instance_id']} {debug_name(t['state'])}: {t['reason']}" for t in evidence) + "\n"
    if incident.get("actions"):
        text += "\nActions:\n"
        for a in incident["actions"]:
            detail = f" ({a['detail']})" if a.get("detail") else ""
            text += f"  - {debug_name(a['kind'])} {a['target']} in {a.get('group', '')}: {a['outcome']}{detail}\n"
    text += f"\nTimeline: rebound incidents show {incident['id']}\n"
    machine = json.dumps({"schema": MESSAGE_SCHEMA, "previous_state": previous, "incident": incident})
    return {"subject": subject, "text": text, "json": machine, "state": state, "resource_type": resource["type"],
            "resource_id": resource["id"]}


def publish(n: dict) -> None:
    message = {"default": n["json"], "email": n["text"], "sms": n["subject"]}
    sns.publish(
        TopicArn=TOPIC_ARN,
        Subject=n["subject"],
        MessageStructure="json",
        Message=json.dumps(message),
        MessageAttributes={
            "severity": {"DataType": "String", "StringValue": SEVERITY[n["state"]]},
            "resource_type": {"DataType": "String", "StringValue": n["resource_type"]},
            "state": {"DataType": "String", "StringValue": n["state"]},
            "resource_id": {"DataType": "String", "StringValue": n["resource_id"]},
        },
    )


def handler(event, context):
    failures = []
    published = 0
    for record in event.get("Records", []):
        change = record.get("dynamodb") or {}
        new_image = change.get("NewImage") or {}
        try:
            if new_image.get("kind", {}).get("S") != "incident":
                continue
            incident = {
                k: plain(deserializer.deserialize(v))
                for k, v in new_image.items()
                if k not in ("pk", "kind", "expires_at")
            }
            old_state = (change.get("OldImage") or {}).get("state", {}).get("S")
            if old_state == incident["state"]:
                continue
            publish(notification(incident, old_state))
            published += 1
            logger.info("notified: %s %s", incident["id"], incident["state"])
        except Exception as err:  # report the record for retry, stop here
            logger.warning("record %s not delivered: %s", record.get("eventID"), err)
            failures.append({"itemIdentifier": change.get("SequenceNumber")})
            break
    return {"batchItemFailures": failures}
