"""AWS Health scheduled changes, as EventBridge delivers them (control route
/_rebound/health-events).

moto 5.2.5 has no AWS Health, and AWS Health never asks: it tells. A scheduled change
(an instance's retirement, a reboot for host maintenance, an RDS host's hardware
maintenance) reaches an account as an "AWS Health Event" on its default event bus,
days ahead of its start. What Rebound needs from the emulator is that event, in the
shape EventBridge hands a Lambda target, so a test or the demo can deliver it to
target-health or rds-health: POST builds one, records it and answers it; GET lists what
was emitted, oldest first; DELETE forgets them; reset forgets them too.

The shape is the AWS Health user guide's ("Reference: AWS Health events Amazon
EventBridge schema") and the samples' in events/*/health-*.json: the envelope's `time`
in ISO 8601 (`2026-12-01T09:12:44Z`), the detail's `startTime`, `endTime` and
`lastUpdatedTime` in the RFC 1123 form AWS writes (`Sat, 05 Dec 2026 02:00:00 GMT`),
the event ARN as the Health API builds it
(`arn:aws:health:<region>::event/<SERVICE>/<CODE>/<CODE>_<ID>`), one page per event.

Everything runs under server.py's global lock; nothing here touches moto.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from email.utils import format_datetime
from typing import Any

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

# The services whose scheduled changes Rebound acts on, and what their entities are.
SERVICES = {"EC2": "instance ids", "RDS": "DB instance identifiers"}

# The Health API's event status codes (EventStatusCode).
STATUSES = ("upcoming", "open", "closed")

# How far ahead AWS announces a scheduled change when the caller gives no start (it
# announces most about two weeks ahead; a few days keeps a test's window near), and how
# long the window lasts when the caller gives no end.
DEFAULT_LEAD = dt.timedelta(days=3)
DEFAULT_DURATION = dt.timedelta(hours=2)

# The Health API's pattern for an event type code (EventType.code), after the
# `AWS_<SERVICE>_` every code of a service starts with.
_CODE_TAIL = re.compile(r"[A-Z0-9_]+")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")

# What AWS writes in `latestDescription` for the codes of the samples; any other code
# gets the generic text. `{start}` and `{end}` are the window, as the detail writes it.
_DESCRIPTIONS = {
    "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED": (
        "EC2 has detected degradation of the underlying hardware hosting one or more of your Amazon EC2 "
        "instances in the {region} region. Because of this degradation the instances could already be "
        "unreachable. The instances listed as affected resources are scheduled for retirement: after {start} "
        "an instance backed by Amazon EBS is stopped and an instance backed by instance store is terminated. "
        "To move an instance to healthy hardware before then, stop and start it, or replace it."
    ),
    "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED": (
        "One or more of your Amazon EC2 instances in the {region} region is scheduled to be rebooted for "
        "required maintenance between {start} and {end}. The reboot usually takes a few minutes; data on "
        "instance store volumes is kept. You can reboot the instance yourself before the window to complete "
        "the maintenance, or reschedule the event to another time before its deadline."
    ),
    "AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED": (
        "Amazon RDS needs to perform maintenance on the hardware that hosts one or more of your DB instances "
        "in the {region} region. The maintenance is scheduled between {start} and {end}. A Single-AZ DB "
        "instance is unavailable for a few minutes during the maintenance; a Multi-AZ DB instance fails over "
        "to its standby, which keeps the interruption to the time the failover takes."
    ),
}
_GENERIC_DESCRIPTION = (
    "A scheduled change ({code}) affects one or more of your {service} resources in the {region} region "
    "between {start} and {end}. The affected resources are listed in this event."
)

# Every event emitted so far, oldest first.
HEALTH_EVENTS: list[dict[str, Any]] = []


def reset_state() -> None:
    HEALTH_EVENTS.clear()


def list_health_events() -> list[dict[str, Any]]:
    return [dict(e) for e in HEALTH_EVENTS]


def clear_health_events() -> int:
    """Forgets every event emitted so far; answers how many."""
    forgotten = len(HEALTH_EVENTS)
    HEALTH_EVENTS.clear()
    return forgotten


def rfc1123(moment: dt.datetime) -> str:
    """`Sat, 05 Dec 2026 02:00:00 GMT`: how AWS Health writes the detail's times."""
    return format_datetime(moment.astimezone(dt.timezone.utc).replace(microsecond=0), usegmt=True)


def iso8601(moment: dt.datetime) -> str:
    """`2026-12-01T09:12:44Z`: how EventBridge writes the envelope's `time`."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(field: str, value: Any) -> dt.datetime:
    """An ISO 8601 time from the request; one without an offset is taken as UTC (AWS
    Health's times are all UTC)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be an ISO 8601 time, e.g. 2026-12-05T02:00:00Z; got {value!r}")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field} must be an ISO 8601 time, e.g. 2026-12-05T02:00:00Z; got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def validate(body: dict[str, Any], now: dt.datetime, default_account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """The request's fields checked and completed with their defaults; a ValueError
    names the first field that is wrong. The account defaults to the one moto answers
    requests without an account of their own in (server.py knows it), the region to
    us-east-1, as moto's do."""
    service = body.get("service")
    if service not in SERVICES:
        raise ValueError(f"service must be one of {', '.join(SERVICES)}; got {service!r}")
    code = body.get("event_type_code")
    prefix = f"AWS_{service}_"
    if not isinstance(code, str) or not code.startswith(prefix) or not _CODE_TAIL.fullmatch(code[len(prefix):]):
        raise ValueError(
            f"event_type_code must be an AWS Health event type code of {service} ({prefix}…, upper case, "
            f"e.g. {prefix}{'HARDWARE_MAINTENANCE' if service == 'RDS' else 'INSTANCE_RETIREMENT'}_SCHEDULED); "
            f"got {code!r}"
        )
    entities = body.get("entities")
    if not isinstance(entities, list) or not entities or not all(isinstance(e, str) and e for e in entities):
        raise ValueError(f"entities must be a non-empty list of {SERVICES[service]} (strings); got {entities!r}")
    start = parse_time("start_time", body["start_time"]) if "start_time" in body else now + DEFAULT_LEAD
    end = parse_time("end_time", body["end_time"]) if "end_time" in body else start + DEFAULT_DURATION
    if end <= start:
        raise ValueError(f"end_time must be after start_time ({iso8601(start)}); got {iso8601(end)}")
    status = body.get("status", "upcoming")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    account = body.get("account", default_account)
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise ValueError(f"account must be a 12-digit account id; got {account!r}")
    region = body.get("region", DEFAULT_REGION)
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValueError(f"region must be a region name such as us-east-1; got {region!r}")
    return {
        "service": service, "code": code, "entities": list(entities), "start": start, "end": end,
        "status": status, "account": account, "region": region,
    }


def _event_id() -> str:
    """The id part of an event ARN, in the shape of the API reference's example
    (`…_ABC123-DEF456`)."""
    digits = uuid.uuid4().hex[:12].upper()
    return f"{digits[:6]}-{digits[6:]}"


def build_event(request: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The EventBridge envelope of one AWS Health scheduled change, as a Lambda target
    receives it (the samples' shape, field for field)."""
    service, code, region, account = request["service"], request["code"], request["region"], request["account"]
    start, end = rfc1123(request["start"]), rfc1123(request["end"])
    updated = rfc1123(now)
    description = _DESCRIPTIONS.get(code, _GENERIC_DESCRIPTION).format(
        code=code, service=service, region=region, start=start, end=end
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": account,
        "time": iso8601(now),
        "region": region,
        "resources": list(request["entities"]),
        "detail": {
            "eventArn": f"arn:aws:health:{region}::event/{service}/{code}/{code}_{_event_id()}",
            "service": service,
            "eventTypeCode": code,
            "eventTypeCategory": "scheduledChange",
            "eventScopeCode": "ACCOUNT_SPECIFIC",
            # A communication's id, its page appended (one page here).
            "communicationId": f"{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}-1",
            "startTime": start,
            "endTime": end,
            "lastUpdatedTime": updated,
            "statusCode": request["status"],
            "eventRegion": region,
            "eventDescription": [{"language": "en_US", "latestDescription": description}],
            "affectedEntities": [
                {"entityValue": entity, "lastUpdatedTime": updated, "status": "PENDING"}
                for entity in request["entities"]
            ],
            "affectedAccount": account,
            "page": "1",
            "totalPages": "1",
            "backupEvent": "false",
        },
    }


def emit(
    body: dict[str, Any], default_account: str = DEFAULT_ACCOUNT, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Validates a request, builds its event and records it: what AWS Health would
    have put on the account's default event bus."""
    now = now or dt.datetime.now(dt.timezone.utc)
    event = build_event(validate(body, now, default_account), now)
    HEALTH_EVENTS.append(event)
    return event


__all__ = [
    "SERVICES",
    "STATUSES",
    "reset_state",
    "list_health_events",
    "clear_health_events",
    "emit",
    "build_event",
    "validate",
    "rfc1123",
    "iso8601",
]
