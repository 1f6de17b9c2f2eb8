"""Amazon Application Recovery Controller (ARC) zonal shift, which moto 5.2.5 does not
implement (every request answered 500), and the two settings that make a resource a
zonal-shift managed resource:

  * the load balancer attribute `zonal_shift.config.enabled` (moto accepts and returns
    it once set; here DescribeLoadBalancerAttributes also reports its default, "false",
    for Application and Network Load Balancers, and the value must be true or false);
  * the Auto Scaling group's `AvailabilityZoneImpairmentPolicy` (ZonalShiftEnabled,
    ImpairedZoneHealthCheckBehavior), which moto ignores: accepted by
    CreateAutoScalingGroup / UpdateAutoScalingGroup and returned by
    DescribeAutoScalingGroups.

The API is REST-JSON (service `arc-zonal-shift`, routes and shapes from botocore's
`arc-zonal-shift` 2022-10-30 model). Everything runs under server.py's global lock; the
state lives here, per account and region, and `reset_state` forgets it.

Managed resources are Application / Network Load Balancers whose
`zonal_shift.config.enabled` is "true" and Auto Scaling groups whose impairment policy
has ZonalShiftEnabled (AWS registers exactly those with ARC). A resource's zones are its
subnets' zones, named in the API by AZ ID (use1-az1), mapped from zone names the way
DescribeAvailabilityZones reports them (moto's table).

Time: shifts expire by wall-clock time, read through `now()`, which
/_rebound/zonal-shift/clock can move forward; /_rebound/zonal-shift/expiry sets one
shift's expiry.

What a shift does here:
  * a load balancer: nothing to target health (AWS keeps health-checking the shifted
    zone's targets, so DescribeTargetHealth reports them as they are); the shift shows in
    GetManagedResource / ListManagedResources `appliedWeights` (0.0 for the zone of the
    shift in effect, 1.0 for the others);
  * an Auto Scaling group with ZonalShiftEnabled, shifted itself (any shift in effect on
    the group's ARN): its launches (scale-out, replacements in both replacement modes)
    go only to its other zones, and with ImpairedZoneHealthCheckBehavior IgnoreUnhealthy
    an instance in the shifted zone marked Unhealthy (SetInstanceHealth, the EC2 health
    check of a stopped instance) is not replaced. A shift on the load balancer in front
    of the group does not change the group (AWS documents the group reacting to its own
    zonal shift only).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

SERVICE = "arc-zonal-shift"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

SHIFT_STATUSES = ("ACTIVE", "EXPIRED", "CANCELED")
AUTOSHIFT_STATUSES = ("ACTIVE", "COMPLETED")
AUTOSHIFT_CONFIG_STATUSES = ("ENABLED", "DISABLED")
PRACTICE_OUTCOMES = ("FAILED", "INTERRUPTED", "PENDING", "SUCCEEDED", "CAPACITY_CHECK_FAILED")
# "customer-initiated zonal shifts > autoshifts > practice run zonal shifts"
CUSTOMER_TYPES = ("ZONAL_SHIFT", "FIS_EXPERIMENT")
PRACTICE_RUN_SECONDS = 30 * 60
MAX_EXPIRES_SECONDS = 72 * 3600
IMPAIRED_ZONE_BEHAVIORS = ("IgnoreUnhealthy", "ReplaceUnhealthy")
LB_ATTRIBUTE = "zonal_shift.config.enabled"

_EXPIRES_IN = re.compile(r"^([1-9][0-9]*)(m|h)$")
_SHIFT_ID = re.compile(r"^[A-Za-z0-9-]{6,36}$")
_WINDOW = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([0-9]{2}):([0-9]{2})-(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([0-9]{2}):([0-9]{2})$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:([a-z0-9-]+):([0-9]{12}):alarm:(.+)$")


class ZonalShiftError(Exception):
    """An API error: `code` is the error shape (ValidationException, ConflictException,
    ResourceNotFoundException, ...), `extra` its other members (reason, zonalShiftId)."""

    STATUS = {
        "ValidationException": 400,
        "ConflictException": 409,
        "ResourceNotFoundException": 404,
        "AccessDeniedException": 403,
        "ThrottlingException": 429,
        "InternalServerException": 500,
    }

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = {k: v for k, v in extra.items() if v is not None}
        self.status = self.STATUS.get(code, 400)


def _validation(message: str, reason: str | None = None) -> ZonalShiftError:
    return ZonalShiftError("ValidationException", message, reason=reason)


def _conflict(message: str, reason: str, zonal_shift_id: str | None = None) -> ZonalShiftError:
    return ZonalShiftError("ConflictException", message, reason=reason, zonalShiftId=zonal_shift_id)


def _not_found(message: str = "The input requested a resource that was not found.") -> ZonalShiftError:
    return ZonalShiftError("ResourceNotFoundException", message)


# --------------------------------------------------------------------------------------
# State and time
# --------------------------------------------------------------------------------------

_CLOCK = {"offset": 0.0}


class RegionState:
    def __init__(self) -> None:
        # Every zonal shift ever started (ZONAL_SHIFT, PRACTICE_RUN, FIS_EXPERIMENT), oldest first.
        self.shifts: list[dict[str, Any]] = []
        # Autoshifts: {"awayFrom", "startTime", "endTime", "status", "resources": [arn, ...]}.
        self.autoshifts: list[dict[str, Any]] = []
        self.practice_configs: dict[str, dict[str, Any]] = {}
        self.autoshift_status: dict[str, str] = {}
        self.observer_status = "DISABLED"


_STATE: dict[tuple[str, str], RegionState] = {}


def now() -> float:
    return time.time() + _CLOCK["offset"]


def state_for(account: str, region: str) -> RegionState:
    key = (account, region)
    if key not in _STATE:
        _STATE[key] = RegionState()
    return _STATE[key]


def reset_state() -> None:
    _STATE.clear()
    _CLOCK["offset"] = 0.0


def advance_clock(seconds: Any) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError("advance_seconds must be a number of seconds >= 0")
    _CLOCK["offset"] += float(seconds)
    return _CLOCK["offset"]


def clock() -> dict[str, Any]:
    return {"offset_seconds": _CLOCK["offset"], "now": now()}


def control_advance_clock(body: dict[str, Any]) -> dict[str, Any]:
    advance_clock(body.get("advance_seconds"))
    for state in _STATE.values():
        _refresh(state)
    return clock()


def _refresh(state: RegionState) -> None:
    """Shifts whose expiry time has passed are EXPIRED (a practice run that ran its
    course SUCCEEDED)."""
    at = now()
    for shift in state.shifts:
        if shift["status"] == "ACTIVE" and shift["expiryTime"] <= at:
            shift["status"] = "EXPIRED"
            if shift["shiftType"] == "PRACTICE_RUN" and shift.get("practiceRunOutcome") == "PENDING":
                shift["practiceRunOutcome"] = "SUCCEEDED"


# --------------------------------------------------------------------------------------
# Zones and resources
# --------------------------------------------------------------------------------------


def zone_ids(account: str, region: str) -> dict[str, str]:
    """Zone name -> AZ ID, as DescribeAvailabilityZones reports them."""
    from moto.ec2.models import ec2_backends

    try:
        zones = ec2_backends[account][region].describe_availability_zones()
    except Exception:
        return {}
    return {z.name: z.zone_id for z in zones}


class Resource:
    def __init__(self, arn: str, name: str, kind: str, zone_names: list[str], managed: bool, obj: Any) -> None:
        self.arn = arn
        self.name = name
        self.kind = kind  # "load-balancer" | "auto-scaling-group"
        self.zone_names = zone_names
        self.managed = managed
        self.obj = obj


def _lb_resource(lb: Any) -> Resource:
    zones = sorted({s.availability_zone for s in lb.subnets})
    managed = lb.type in ("application", "network") and lb.attrs.get(LB_ATTRIBUTE) == "true"
    return Resource(lb.arn, lb.name, "load-balancer", zones, managed, lb)


def group_zones(group: Any) -> list[str]:
    subnets = [s for s in (group.vpc_zone_identifier or "").split(",") if s]
    zones: list[str] = []
    ec2 = group.autoscaling_backend.ec2_backend
    for subnet_id in subnets:
        try:
            zone = ec2.get_subnet(subnet_id).availability_zone
        except Exception:
            continue
        if zone not in zones:
            zones.append(zone)
    if not zones:
        zones = list(group.availability_zones or [])
    return sorted(zones)


def impairment_policy(group: Any) -> dict[str, Any] | None:
    return getattr(group, "_rebound_az_impairment_policy", None)


def _group_resource(group: Any) -> Resource:
    policy = impairment_policy(group) or {}
    return Resource(group.arn, group.name, "auto-scaling-group", group_zones(group),
                    bool(policy.get("ZonalShiftEnabled")), group)


def _backends(account: str, region: str) -> tuple[Any, Any]:
    from moto.autoscaling.models import autoscaling_backends
    from moto.elbv2.models import elbv2_backends

    try:
        return elbv2_backends[account][region], autoscaling_backends[account][region]
    except Exception:
        return None, None


def _check_identifier(identifier: Any, field: str = "resourceIdentifier") -> str:
    if identifier is None or identifier == "":
        raise _validation(f"{field} is required.", "MissingValue")
    if not isinstance(identifier, str) or not 8 <= len(identifier) <= 1024:
        raise _validation(f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
                          "Member must have length between 8 and 1024")
    return identifier


def find_resource(account: str, region: str, identifier: Any, managed_only: bool = True) -> Resource:
    """The managed resource an ARN names. A string that is not an ARN of a supported
    resource type (Application / Network Load Balancer, Auto Scaling group) is a
    ValidationException (InvalidResourceIdentifier); a supported ARN that names nothing,
    or a resource not registered for zonal shift, is ResourceNotFoundException."""
    arn = _check_identifier(identifier)
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise _validation(f"Invalid resource identifier {arn}", "InvalidResourceIdentifier")
    service, arn_region, arn_account, rest = parts[2], parts[3], parts[4], ":".join(parts[5:])
    if service == "elasticloadbalancing" and (rest.startswith("loadbalancer/app/") or rest.startswith("loadbalancer/net/")):
        kind = "load-balancer"
    elif service == "autoscaling" and rest.startswith("autoScalingGroup:") and "autoScalingGroupName/" in rest:
        kind = "auto-scaling-group"
    else:
        raise _validation(f"Invalid resource identifier {arn}: not a supported resource type",
                          "InvalidResourceIdentifier")
    if (arn_region, arn_account) != (region, account):
        raise _not_found()
    elbv2, autoscaling = _backends(account, region)
    resource = None
    if kind == "load-balancer" and elbv2 is not None:
        lb = elbv2.load_balancers.get(arn)
        if lb is not None:
            resource = _lb_resource(lb)
    elif kind == "auto-scaling-group" and autoscaling is not None:
        name = rest.split("autoScalingGroupName/", 1)[1]
        group = autoscaling.autoscaling_groups.get(name)
        if group is not None and group.arn == arn:
            resource = _group_resource(group)
    if resource is None or (managed_only and not resource.managed):
        raise _not_found()
    return resource


def managed_resources(account: str, region: str) -> list[Resource]:
    elbv2, autoscaling = _backends(account, region)
    found = []
    if elbv2 is not None:
        found += [r for r in (_lb_resource(lb) for lb in elbv2.load_balancers.values()) if r.managed]
    if autoscaling is not None:
        found += [r for r in (_group_resource(g) for g in autoscaling.autoscaling_groups.values()) if r.managed]
    return found


def _resource_zone_ids(account: str, region: str, resource: Resource) -> list[str]:
    mapping = zone_ids(account, region)
    return [mapping[z] for z in resource.zone_names if z in mapping]


def _check_away_from(account: str, region: str, resource: Resource, away_from: Any) -> str:
    """`awayFrom` must be an AZ ID (use1-az1) of the region (else InvalidAz) and one of
    the resource's zones (else UnsupportedAz)."""
    if away_from is None or away_from == "":
        raise _validation("awayFrom is required.", "MissingValue")
    if not isinstance(away_from, str) or len(away_from) > 20:
        raise _validation(f"Invalid Availability Zone {away_from}", "InvalidAz")
    if away_from not in zone_ids(account, region).values():
        raise _validation(f"{away_from} is not a valid Availability Zone ID in {region}", "InvalidAz")
    if away_from not in _resource_zone_ids(account, region, resource):
        raise _validation(f"Resource {resource.arn} is not deployed in Availability Zone {away_from}",
                          "UnsupportedAz")
    return away_from


def _check_expires_in(expires_in: Any) -> int:
    if expires_in is None or expires_in == "":
        raise _validation("expiresIn is required.", "MissingValue")
    match = _EXPIRES_IN.match(expires_in) if isinstance(expires_in, str) and 2 <= len(expires_in) <= 5 else None
    if match is None:
        raise _validation(f"Invalid expiresIn {expires_in!r}: a whole number followed by m (minutes) or h (hours)",
                          "InvalidExpiresIn")
    seconds = int(match.group(1)) * (60 if match.group(2) == "m" else 3600)
    if seconds > MAX_EXPIRES_SECONDS:
        raise _validation(f"Invalid expiresIn {expires_in}: a zonal shift can be active for at most 3 days (72h)",
                          "InvalidExpiresIn")
    return seconds


def _check_comment(comment: Any, required: bool) -> str | None:
    if comment is None:
        if required:
            raise _validation("comment is required.", "MissingValue")
        return None
    if not isinstance(comment, str) or len(comment) > 128:
        raise _validation("1 validation error detected: Value at 'comment' failed to satisfy constraint: "
                          "Member must have length less than or equal to 128")
    return comment


# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------


def _zonal_shift(shift: dict[str, Any]) -> dict[str, Any]:
    return {k: shift[k] for k in ("zonalShiftId", "resourceIdentifier", "awayFrom", "expiryTime", "startTime",
                                  "status", "comment")}


def _summary(shift: dict[str, Any]) -> dict[str, Any]:
    out = _zonal_shift(shift)
    out["shiftType"] = shift["shiftType"]
    if shift.get("practiceRunOutcome"):
        out["practiceRunOutcome"] = shift["practiceRunOutcome"]
    return out


def _in_effect(state: RegionState, arn: str) -> list[tuple[str, dict[str, Any]]]:
    """The shifts in progress on a resource, highest precedence first:
    ("shift", zonal shift) for customer / FIS shifts, then ("autoshift", autoshift),
    then ("shift", practice run)."""
    active = [s for s in state.shifts if s["resourceIdentifier"] == arn and s["status"] == "ACTIVE"]
    customer = [("shift", s) for s in active if s["shiftType"] in CUSTOMER_TYPES]
    autos = [("autoshift", a) for a in state.autoshifts if a["status"] == "ACTIVE" and arn in a["resources"]]
    practice = [("shift", s) for s in active if s["shiftType"] == "PRACTICE_RUN"]
    return customer + autos + practice


def applied_away_from(account: str, region: str, arn: str) -> str | None:
    """The AZ ID the shift in effect on a resource moves traffic away from, if any."""
    state = state_for(account, region)
    _refresh(state)
    ordered = _in_effect(state, arn)
    return ordered[0][1]["awayFrom"] if ordered else None


def _resource_view(account: str, region: str, resource: Resource) -> dict[str, Any]:
    state = state_for(account, region)
    ordered = _in_effect(state, resource.arn)
    applied = ordered[0][1] if ordered else None
    weights = {az: 1.0 for az in _resource_zone_ids(account, region, resource)}
    if applied is not None and applied["awayFrom"] in weights:
        weights[applied["awayFrom"]] = 0.0
    shifts, autoshifts = [], []
    for kind, item in ordered:
        status = "APPLIED" if item is applied else "NOT_APPLIED"
        if kind == "shift":
            entry = {"appliedStatus": status, **_summary(item)}
            entry.pop("status", None)
            shifts.append(entry)
        else:
            autoshifts.append({"appliedStatus": status, "awayFrom": item["awayFrom"], "startTime": item["startTime"]})
    return {
        "arn": resource.arn,
        "name": resource.name,
        "appliedWeights": weights,
        "zonalShifts": shifts,
        "autoshifts": autoshifts,
        "zonalAutoshiftStatus": state.autoshift_status.get(resource.arn, "DISABLED"),
    }


# --------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------


class Call:
    def __init__(self, account: str, region: str, body: dict[str, Any], query: dict[str, str], label: str | None):
        self.account = account
        self.region = region
        self.body = body
        self.query = query
        self.label = label

    @property
    def state(self) -> RegionState:
        st = state_for(self.account, self.region)
        _refresh(st)
        return st


def _find_shift(call: Call, shift_id: str | None) -> dict[str, Any]:
    if not shift_id or not _SHIFT_ID.match(shift_id):
        raise _validation(f"Invalid zonal shift id {shift_id!r}")
    for shift in call.state.shifts:
        if shift["zonalShiftId"] == shift_id:
            return shift
    raise _not_found(f"No zonal shift with id {shift_id}")


def _new_shift(call: Call, resource: Resource, away_from: str, seconds: int, comment: str, shift_type: str,
               outcome: str | None = None) -> dict[str, Any]:
    start = now()
    shift = {
        "zonalShiftId": str(uuid.uuid4()),
        "resourceIdentifier": resource.arn,
        "awayFrom": away_from,
        "startTime": start,
        "expiryTime": start + seconds,
        "status": "ACTIVE",
        "comment": comment,
        "shiftType": shift_type,
    }
    if outcome:
        shift["practiceRunOutcome"] = outcome
    call.state.shifts.append(shift)
    return shift


def start_zonal_shift(call: Call, shift_type: str = "ZONAL_SHIFT") -> tuple[int, dict[str, Any]]:
    body = call.body
    resource = find_resource(call.account, call.region, body.get("resourceIdentifier"))
    away_from = _check_away_from(call.account, call.region, resource, body.get("awayFrom"))
    seconds = _check_expires_in(body.get("expiresIn"))
    comment = _check_comment(body.get("comment"), required=True)
    for shift in call.state.shifts:
        if (shift["resourceIdentifier"] == resource.arn and shift["status"] == "ACTIVE"
                and shift["shiftType"] in CUSTOMER_TYPES):
            if shift["awayFrom"] == away_from:
                raise _conflict(f"A zonal shift away from {away_from} is already active for {resource.arn}",
                                "ZonalShiftAlreadyExists", shift["zonalShiftId"])
            raise _conflict(f"A zonal shift away from {shift['awayFrom']} is already active for {resource.arn}; "
                            "a resource can be shifted away from one Availability Zone at a time",
                            "SimultaneousZonalShiftsConflict", shift["zonalShiftId"])
    shift = _new_shift(call, resource, away_from, seconds, comment or "", shift_type)
    return 201, _zonal_shift(shift)


def update_zonal_shift(call: Call) -> tuple[int, dict[str, Any]]:
    shift = _find_shift(call, call.label)
    comment = _check_comment(call.body.get("comment"), required=False)
    expires_in = call.body.get("expiresIn")
    if comment is None and expires_in is None:
        raise _validation("Specify a comment or expiresIn to update.", "MissingValue")
    seconds = _check_expires_in(expires_in) if expires_in is not None else None
    if shift["shiftType"] == "FIS_EXPERIMENT":
        raise _validation("A zonal shift started by an AWS FIS experiment cannot be updated",
                          "FISExperimentUpdateNotAllowed")
    if shift["status"] != "ACTIVE":
        raise _conflict(f"Zonal shift {shift['zonalShiftId']} is not active", "ZonalShiftStatusNotActive",
                        shift["zonalShiftId"])
    if comment is not None:
        shift["comment"] = comment
    if seconds is not None:
        shift["expiryTime"] = now() + seconds
    return 200, _zonal_shift(shift)


def cancel_zonal_shift(call: Call) -> tuple[int, dict[str, Any]]:
    shift = _find_shift(call, call.label)
    if shift["status"] != "ACTIVE":
        raise _conflict(f"Zonal shift {shift['zonalShiftId']} is not active", "ZonalShiftStatusNotActive",
                        shift["zonalShiftId"])
    shift["status"] = "CANCELED"
    if shift["shiftType"] == "PRACTICE_RUN":
        shift["practiceRunOutcome"] = "INTERRUPTED"
    return 200, _zonal_shift(shift)


def _int_query(call: Call, name: str, low: int, high: int, default: int) -> int:
    raw = call.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _validation(f"1 validation error detected: Value '{raw}' at '{name}' failed to satisfy constraint: "
                          "Member must be an integer") from None
    if not low <= value <= high:
        raise _validation(f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
                          f"Member must have value between {low} and {high}")
    return value


def _page(call: Call, items: list[Any]) -> tuple[list[Any], str | None]:
    limit = _int_query(call, "maxResults", 1, 100, 100)
    offset = 0
    token = call.query.get("nextToken")
    if token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
            if offset < 0:
                raise ValueError
        except Exception:
            raise _validation("Invalid nextToken", "InvalidToken") from None
    page = items[offset:offset + limit]
    following = offset + limit
    token_out = base64.urlsafe_b64encode(json.dumps({"offset": following}).encode()).decode() \
        if following < len(items) else None
    return page, token_out


def list_zonal_shifts(call: Call) -> tuple[int, dict[str, Any]]:
    status = call.query.get("status")
    if status is not None and status not in SHIFT_STATUSES:
        raise _validation(f"Invalid status {status}; valid values: {', '.join(SHIFT_STATUSES)}", "InvalidStatus")
    resource = call.query.get("resourceIdentifier")
    if resource is not None:
        _check_identifier(resource)
    shifts = [s for s in reversed(call.state.shifts)
              if (status is None or s["status"] == status) and (resource is None or s["resourceIdentifier"] == resource)]
    page, token = _page(call, shifts)
    out: dict[str, Any] = {"items": [_summary(s) for s in page]}
    if token:
        out["nextToken"] = token
    return 200, out


def get_managed_resource(call: Call) -> tuple[int, dict[str, Any]]:
    resource = find_resource(call.account, call.region, call.label)
    view = _resource_view(call.account, call.region, resource)
    config = call.state.practice_configs.get(resource.arn)
    if config is not None:
        view["practiceRunConfiguration"] = config
    return 200, view


def list_managed_resources(call: Call) -> tuple[int, dict[str, Any]]:
    state = call.state
    resources = managed_resources(call.account, call.region)
    page, token = _page(call, resources)
    items = []
    for resource in page:
        view = _resource_view(call.account, call.region, resource)
        view["availabilityZones"] = _resource_zone_ids(call.account, call.region, resource)
        view["practiceRunStatus"] = "ENABLED" if resource.arn in state.practice_configs else "DISABLED"
        items.append(view)
    out: dict[str, Any] = {"items": items}
    if token:
        out["nextToken"] = token
    return 200, out


def list_autoshifts(call: Call) -> tuple[int, dict[str, Any]]:
    status = call.query.get("status", "ACTIVE")
    if status not in AUTOSHIFT_STATUSES:
        raise _validation(f"Invalid status {status}; valid values: {', '.join(AUTOSHIFT_STATUSES)}", "InvalidStatus")
    found = [a for a in reversed(call.state.autoshifts) if a["status"] == status]
    page, token = _page(call, found)
    items = []
    for autoshift in page:
        item = {"awayFrom": autoshift["awayFrom"], "startTime": autoshift["startTime"], "status": autoshift["status"]}
        if autoshift.get("endTime") is not None:
            item["endTime"] = autoshift["endTime"]
        items.append(item)
    out: dict[str, Any] = {"items": items}
    if token:
        out["nextToken"] = token
    return 200, out


# ---- practice runs and their configuration ----------------------------------------------


def _check_conditions(value: Any, field: str, low: int, call: Call) -> list[dict[str, str]]:
    if value is None:
        value = []
    if not isinstance(value, list) or not low <= len(value) <= 10:
        raise _validation(f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
                          f"Member must have length between {low} and 10")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise _validation(f"{field} must list control conditions", "InvalidAlarmCondition")
        if item.get("type") != "CLOUDWATCH":
            raise _validation(f"Invalid control condition type {item.get('type')!r}; valid: CLOUDWATCH",
                              "InvalidConditionType")
        alarm = item.get("alarmIdentifier")
        if not isinstance(alarm, str) or not 8 <= len(alarm) <= 1024 or not _ALARM_ARN.match(alarm):
            raise _validation(f"Invalid alarm identifier {alarm!r}: a CloudWatch alarm ARN is required",
                              "InvalidAlarmCondition")
        out.append({"type": "CLOUDWATCH", "alarmIdentifier": alarm})
    return out


def _check_strings(value: Any, field: str, pattern: re.Pattern[str], reason: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 15:
        raise _validation(f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
                          "Member must have length less than or equal to 15", reason)
    for item in value:
        if not isinstance(item, str) or not pattern.match(item):
            raise _validation(f"Invalid {field} entry {item!r}", reason)
    return list(value)


def _practice_config(call: Call, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    base = dict(existing or {})
    if existing is None or "outcomeAlarms" in body:
        base["outcomeAlarms"] = _check_conditions(body.get("outcomeAlarms"), "outcomeAlarms", 1, call)
    if "blockingAlarms" in body or existing is None:
        base["blockingAlarms"] = _check_conditions(body.get("blockingAlarms"), "blockingAlarms", 0, call)
    if "blockedWindows" in body or existing is None:
        base["blockedWindows"] = _check_strings(body.get("blockedWindows"), "blockedWindows", _WINDOW,
                                                "InvalidPracticeBlocker")
    if "blockedDates" in body or existing is None:
        base["blockedDates"] = _check_strings(body.get("blockedDates"), "blockedDates", _DATE, "InvalidPracticeBlocker")
    if "allowedWindows" in body or existing is None:
        base["allowedWindows"] = _check_strings(body.get("allowedWindows"), "allowedWindows", _WINDOW,
                                                "InvalidPracticeAllowedWindow")
    if base.get("allowedWindows") and base.get("blockedWindows"):
        raise _validation("Specify allowed windows or blocked windows for practice runs, not both",
                          "InvalidPracticeWindows")
    return {k: v for k, v in base.items() if v or k == "outcomeAlarms"}


def create_practice_run_configuration(call: Call) -> tuple[int, dict[str, Any]]:
    resource = find_resource(call.account, call.region, call.body.get("resourceIdentifier"))
    state = call.state
    if resource.arn in state.practice_configs:
        raise _conflict(f"A practice run configuration already exists for {resource.arn}",
                        "PracticeConfigurationAlreadyExists")
    config = _practice_config(call, call.body, None)
    state.practice_configs[resource.arn] = config
    return 201, {"arn": resource.arn, "name": resource.name,
                 "zonalAutoshiftStatus": state.autoshift_status.get(resource.arn, "DISABLED"),
                 "practiceRunConfiguration": config}


def update_practice_run_configuration(call: Call) -> tuple[int, dict[str, Any]]:
    resource = find_resource(call.account, call.region, call.label)
    state = call.state
    existing = state.practice_configs.get(resource.arn)
    if existing is None:
        raise _conflict(f"No practice run configuration exists for {resource.arn}", "PracticeConfigurationDoesNotExist")
    config = _practice_config(call, call.body, existing)
    state.practice_configs[resource.arn] = config
    return 200, {"arn": resource.arn, "name": resource.name,
                 "zonalAutoshiftStatus": state.autoshift_status.get(resource.arn, "DISABLED"),
                 "practiceRunConfiguration": config}


def delete_practice_run_configuration(call: Call) -> tuple[int, dict[str, Any]]:
    resource = find_resource(call.account, call.region, call.label)
    state = call.state
    if resource.arn not in state.practice_configs:
        raise _conflict(f"No practice run configuration exists for {resource.arn}", "PracticeConfigurationDoesNotExist")
    if state.autoshift_status.get(resource.arn) == "ENABLED":
        raise _conflict("Disable zonal autoshift before deleting the practice run configuration", "AutoShiftEnabled")
    del state.practice_configs[resource.arn]
    return 200, {"arn": resource.arn, "name": resource.name, "zonalAutoshiftStatus": "DISABLED"}


def update_zonal_autoshift_configuration(call: Call) -> tuple[int, dict[str, Any]]:
    resource = find_resource(call.account, call.region, call.label)
    status = call.body.get("zonalAutoshiftStatus")
    if status is None:
        raise _validation("zonalAutoshiftStatus is required.", "MissingValue")
    if status not in AUTOSHIFT_CONFIG_STATUSES:
        raise _validation(f"Invalid zonalAutoshiftStatus {status!r}; valid: ENABLED, DISABLED", "InvalidStatus")
    state = call.state
    if status == "ENABLED" and resource.arn not in state.practice_configs:
        raise _conflict("Create a practice run configuration before enabling zonal autoshift",
                        "PracticeConfigurationDoesNotExist")
    state.autoshift_status[resource.arn] = status
    if status == "DISABLED":  # an autoshift ends for a resource whose autoshift is disabled
        for autoshift in state.autoshifts:
            if autoshift["status"] == "ACTIVE" and resource.arn in autoshift["resources"]:
                autoshift["resources"].remove(resource.arn)
    return 200, {"resourceIdentifier": resource.arn, "zonalAutoshiftStatus": status}


def _alarm_state(call: Call, alarm_arn: str) -> str | None:
    from moto.cloudwatch.models import cloudwatch_backends

    match = _ALARM_ARN.match(alarm_arn)
    if match is None:
        return None
    region, account, name = match.groups()
    try:
        alarm = cloudwatch_backends[account][region].alarms.get(name)
    except Exception:
        return None
    return alarm.state_value if alarm is not None else None


def _in_window(window: str, at: dt.datetime) -> bool:
    match = _WINDOW.match(window)
    if match is None:
        return False
    d1, h1, m1, d2, h2, m2 = match.groups()
    week = 7 * 24 * 60
    start = _DAYS.index(d1) * 24 * 60 + int(h1) * 60 + int(m1)
    end = _DAYS.index(d2) * 24 * 60 + int(h2) * 60 + int(m2)
    minute = at.weekday() * 24 * 60 + at.hour * 60 + at.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end % week


def _start_practice_run(call: Call, resource: Resource, away_from: str, comment: str) -> dict[str, Any]:
    """StartPracticeRun's checks, in order, and the PRACTICE_RUN shift (30 minutes,
    outcome PENDING)."""
    state = call.state
    config = state.practice_configs.get(resource.arn)
    if config is None:
        raise _conflict(f"No practice run configuration exists for {resource.arn}", "PracticeConfigurationDoesNotExist")
    if any(kind == "autoshift" for kind, _ in _in_effect(state, resource.arn)):
        raise _conflict(f"A zonal autoshift is active for {resource.arn}", "ZonalAutoshiftActive")
    for shift in state.shifts:
        if shift["resourceIdentifier"] == resource.arn and shift["status"] == "ACTIVE":
            raise _conflict(f"A zonal shift is already active for {resource.arn}", "SimultaneousZonalShiftsConflict",
                            shift["zonalShiftId"])
    at = dt.datetime.fromtimestamp(now(), dt.timezone.utc)
    if at.strftime("%Y-%m-%d") in config.get("blockedDates", []):
        raise _conflict("Practice runs are blocked today", "PracticeInBlockedDates")
    if any(_in_window(w, at) for w in config.get("blockedWindows", [])):
        raise _conflict("Practice runs are blocked in this window", "PracticeInBlockedWindows")
    allowed = config.get("allowedWindows", [])
    if allowed and not any(_in_window(w, at) for w in allowed):
        raise _conflict("Practice runs are allowed only in the configured windows", "PracticeOutsideAllowedWindows")
    if any(_alarm_state(call, c["alarmIdentifier"]) == "ALARM" for c in config.get("blockingAlarms", [])):
        raise _conflict("A blocking alarm is in the ALARM state", "PracticeBlockingAlarmsRed")
    if any(_alarm_state(call, c["alarmIdentifier"]) == "ALARM" for c in config.get("outcomeAlarms", [])):
        raise _conflict("An outcome alarm is in the ALARM state", "PracticeOutcomeAlarmsRed")
    return _new_shift(call, resource, away_from, PRACTICE_RUN_SECONDS, comment, "PRACTICE_RUN", "PENDING")


def start_practice_run(call: Call) -> tuple[int, dict[str, Any]]:
    body = call.body
    resource = find_resource(call.account, call.region, body.get("resourceIdentifier"))
    away_from = _check_away_from(call.account, call.region, resource, body.get("awayFrom"))
    comment = _check_comment(body.get("comment"), required=True)
    shift = _start_practice_run(call, resource, away_from, comment or "")
    return 200, _zonal_shift(shift)


def cancel_practice_run(call: Call) -> tuple[int, dict[str, Any]]:
    shift = _find_shift(call, call.label)
    if shift["shiftType"] != "PRACTICE_RUN":
        raise _validation(f"Zonal shift {shift['zonalShiftId']} is not a practice run; use CancelZonalShift",
                          "UnsupportedPracticeCancelShiftType")
    if shift["status"] != "ACTIVE":
        raise _conflict(f"Practice run {shift['zonalShiftId']} is not active", "ZonalShiftStatusNotActive",
                        shift["zonalShiftId"])
    shift["status"] = "CANCELED"
    shift["practiceRunOutcome"] = "INTERRUPTED"
    return 200, _zonal_shift(shift)


def get_observer_status(call: Call) -> tuple[int, dict[str, Any]]:
    return 200, {"status": call.state.observer_status}


def update_observer_status(call: Call) -> tuple[int, dict[str, Any]]:
    status = call.body.get("status")
    if status not in AUTOSHIFT_CONFIG_STATUSES:
        raise _validation(f"Invalid status {status!r}; valid: ENABLED, DISABLED", "InvalidStatus")
    call.state.observer_status = status
    return 200, {"status": status}


# --------------------------------------------------------------------------------------
# REST-JSON routing
# --------------------------------------------------------------------------------------

# (method, path regex, operation, handler); `label` is the one path label, if any.
ROUTES: list[tuple[str, re.Pattern[str], str, Any]] = [
    ("POST", re.compile(r"^/zonalshifts$"), "StartZonalShift", start_zonal_shift),
    ("GET", re.compile(r"^/zonalshifts$"), "ListZonalShifts", list_zonal_shifts),
    ("PATCH", re.compile(r"^/zonalshifts/(?P<label>[^/]+)$"), "UpdateZonalShift", update_zonal_shift),
    ("DELETE", re.compile(r"^/zonalshifts/(?P<label>[^/]+)$"), "CancelZonalShift", cancel_zonal_shift),
    ("GET", re.compile(r"^/managedresources$"), "ListManagedResources", list_managed_resources),
    ("GET", re.compile(r"^/managedresources/(?P<label>[^/]+)$"), "GetManagedResource", get_managed_resource),
    ("PUT", re.compile(r"^/managedresources/(?P<label>[^/]+)$"), "UpdateZonalAutoshiftConfiguration",
     update_zonal_autoshift_configuration),
    ("GET", re.compile(r"^/autoshifts$"), "ListAutoshifts", list_autoshifts),
    ("POST", re.compile(r"^/practiceruns$"), "StartPracticeRun", start_practice_run),
    ("DELETE", re.compile(r"^/practiceruns/(?P<label>[^/]+)$"), "CancelPracticeRun", cancel_practice_run),
    ("POST", re.compile(r"^/configuration$"), "CreatePracticeRunConfiguration", create_practice_run_configuration),
    ("PATCH", re.compile(r"^/configuration/(?P<label>[^/]+)$"), "UpdatePracticeRunConfiguration",
     update_practice_run_configuration),
    ("DELETE", re.compile(r"^/configuration/(?P<label>[^/]+)$"), "DeletePracticeRunConfiguration",
     delete_practice_run_configuration),
    ("GET", re.compile(r"^/autoshift-observer-notification$"), "GetAutoshiftObserverNotificationStatus",
     get_observer_status),
    ("PUT", re.compile(r"^/autoshift-observer-notification$"), "UpdateAutoshiftObserverNotificationStatus",
     update_observer_status),
]


def _raw_path(environ: dict[str, Any]) -> str:
    """The path as sent (percent-encoded): a label such as an Auto Scaling group ARN
    carries an encoded '/', which PATH_INFO has already decoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if "://" in raw.split("?", 1)[0]:
            raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1]
        return raw.split("?", 1)[0]
    from urllib.parse import quote

    return quote(environ.get("PATH_INFO", ""), safe="/")


def route(environ: dict[str, Any]) -> tuple[str, Any, str | None] | None:
    """(operation, handler, decoded label) for a request, or None."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = _raw_path(environ).rstrip("/") or "/"
    for verb, pattern, operation, handler in ROUTES:
        match = pattern.match(path)
        if match and verb == method:
            label = match.groupdict().get("label")
            return operation, handler, unquote(label) if label is not None else None
    return None


def operation_of(environ: dict[str, Any]) -> str | None:
    found = route(environ)
    return found[0] if found else None


Answer = tuple[int, list[tuple[str, str]], bytes]


def _encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def error_answer(code: str, message: str, status: int | None = None, **extra: Any) -> Answer:
    """A REST-JSON error: `x-amzn-ErrorType` names the error shape, the body carries
    `message` and the shape's other members."""
    final = status if status is not None else ZonalShiftError.STATUS.get(code, 400)
    body = {"message": message, **{k: v for k, v in extra.items() if v is not None}}
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("x-amzn-ErrorType", code),
    ]
    return final, headers, _encode(body)


def handle(environ: dict[str, Any], body: bytes, account: str, region: str) -> Answer:
    found = route(environ)
    if found is None:
        return error_answer("UnknownOperationException",
                            f"No operation for {environ.get('REQUEST_METHOD')} {_raw_path(environ)}", 404)
    _operation, handler, label = found
    parsed: Any = {}
    if body and body.strip():
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            return error_answer("SerializationException", f"Body is not valid JSON: {exc}", 400)
        if not isinstance(parsed, dict):
            return error_answer("SerializationException", "The body must be a JSON object", 400)
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    call = Call(account, region, parsed, query, label)
    try:
        status, payload = handler(call)
    except ZonalShiftError as err:
        return error_answer(err.code, err.message, err.status, **err.extra)
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
    return status, headers, _encode(payload)


# --------------------------------------------------------------------------------------
# Control endpoints (/_rebound/zonal-shift/...): what AWS does on its own
# --------------------------------------------------------------------------------------


def _control_region(body: dict[str, Any], arn: str | None = None) -> tuple[str, str]:
    if arn and isinstance(arn, str) and arn.count(":") >= 5:
        parts = arn.split(":")
        return parts[4], parts[3]
    return body.get("account", DEFAULT_ACCOUNT), body.get("region", DEFAULT_REGION)


def _api_error_text(err: ZonalShiftError) -> str:
    reason = err.extra.get("reason")
    return f"{err.code}{f' ({reason})' if reason else ''}: {err.message}"


def control_start_autoshift(body: dict[str, Any]) -> dict[str, Any]:
    """AWS starts an autoshift away from an AZ: it applies to every managed resource in
    that zone with zonal autoshift ENABLED, or to the one `resource_identifier` (which
    must have it ENABLED). One ACTIVE autoshift per AZ; starting it again adds resources."""
    arn = body.get("resource_identifier")
    account, region = _control_region(body, arn)
    state = state_for(account, region)
    _refresh(state)
    away_from = body.get("away_from")
    if not isinstance(away_from, str) or away_from not in zone_ids(account, region).values():
        raise ValueError(f"away_from must be an AZ ID of {region} ({', '.join(sorted(zone_ids(account, region).values()))})")
    if arn is not None:
        try:
            candidates = [find_resource(account, region, arn)]
        except ZonalShiftError as err:
            raise ValueError(_api_error_text(err)) from None
        if state.autoshift_status.get(arn) != "ENABLED":
            raise ValueError(f"zonal autoshift is not ENABLED for {arn} (UpdateZonalAutoshiftConfiguration)")
        if away_from not in _resource_zone_ids(account, region, candidates[0]):
            raise ValueError(f"{arn} is not deployed in {away_from}")
    else:
        candidates = [r for r in managed_resources(account, region)
                      if state.autoshift_status.get(r.arn) == "ENABLED"
                      and away_from in _resource_zone_ids(account, region, r)]
    autoshift = next((a for a in state.autoshifts if a["status"] == "ACTIVE" and a["awayFrom"] == away_from), None)
    if autoshift is None:
        autoshift = {"awayFrom": away_from, "startTime": now(), "endTime": None, "status": "ACTIVE", "resources": []}
        state.autoshifts.append(autoshift)
    for resource in candidates:
        if resource.arn not in autoshift["resources"]:
            autoshift["resources"].append(resource.arn)
        # An autoshift interrupts a practice run on the resource.
        for shift in state.shifts:
            if (shift["resourceIdentifier"] == resource.arn and shift["status"] == "ACTIVE"
                    and shift["shiftType"] == "PRACTICE_RUN"):
                shift["status"] = "CANCELED"
                shift["practiceRunOutcome"] = "INTERRUPTED"
    return {"autoshift": _public_autoshift(autoshift)}


def control_end_autoshift(body: dict[str, Any]) -> dict[str, Any]:
    account, region = _control_region(body)
    state = state_for(account, region)
    away_from = body.get("away_from")
    autoshift = next((a for a in state.autoshifts if a["status"] == "ACTIVE" and a["awayFrom"] == away_from), None)
    if autoshift is None:
        raise ValueError(f"no ACTIVE autoshift away from {away_from!r}")
    autoshift["status"] = "COMPLETED"
    autoshift["endTime"] = now()
    return {"autoshift": _public_autoshift(autoshift)}


def _public_autoshift(autoshift: dict[str, Any]) -> dict[str, Any]:
    return {"away_from": autoshift["awayFrom"], "status": autoshift["status"], "start_time": autoshift["startTime"],
            "end_time": autoshift["endTime"], "resources": list(autoshift["resources"])}


def control_start_shift(body: dict[str, Any], shift_type: str) -> dict[str, Any]:
    """A shift AWS starts: a scheduled practice run (StartPracticeRun's checks, 30
    minutes) or an AWS FIS experiment's zonal shift (StartZonalShift's checks)."""
    arn = body.get("resource_identifier")
    account, region = _control_region(body, arn)
    call = Call(account, region, {}, {}, None)
    try:
        resource = find_resource(account, region, arn)
        away_from = _check_away_from(account, region, resource, body.get("away_from"))
        if shift_type == "PRACTICE_RUN":
            comment = _check_comment(body.get("comment", "Zonal autoshift practice run"), required=True)
            shift = _start_practice_run(call, resource, away_from, comment or "")
        else:
            call.body = {"resourceIdentifier": arn, "awayFrom": away_from,
                         "expiresIn": body.get("expires_in", "1h"),
                         "comment": body.get("comment", "AWS FIS experiment")}
            _status, answer = start_zonal_shift(call, shift_type="FIS_EXPERIMENT")
            shift = next(s for s in call.state.shifts if s["zonalShiftId"] == answer["zonalShiftId"])
    except ZonalShiftError as err:
        raise ValueError(_api_error_text(err)) from None
    return {"zonal_shift": _summary(shift)}


def control_end_practice_run(body: dict[str, Any]) -> dict[str, Any]:
    """End a practice run with an outcome: SUCCEEDED (it ran its course: EXPIRED), or
    FAILED / INTERRUPTED / CAPACITY_CHECK_FAILED (stopped: CANCELED)."""
    shift = _control_find_shift(body)
    outcome = body.get("outcome", "SUCCEEDED")
    if outcome not in ("SUCCEEDED", "FAILED", "INTERRUPTED", "CAPACITY_CHECK_FAILED"):
        raise ValueError("outcome must be SUCCEEDED, FAILED, INTERRUPTED or CAPACITY_CHECK_FAILED")
    if shift["shiftType"] != "PRACTICE_RUN" or shift["status"] != "ACTIVE":
        raise ValueError(f"{shift['zonalShiftId']} is not an ACTIVE practice run")
    shift["practiceRunOutcome"] = outcome
    if outcome == "SUCCEEDED":
        shift["status"] = "EXPIRED"
        shift["expiryTime"] = min(shift["expiryTime"], now())
    else:
        shift["status"] = "CANCELED"
    return {"zonal_shift": _summary(shift)}


def _control_find_shift(body: dict[str, Any]) -> dict[str, Any]:
    shift_id = body.get("zonal_shift_id")
    if not isinstance(shift_id, str) or not shift_id:
        raise ValueError("zonal_shift_id (string) is required")
    for state in _STATE.values():
        _refresh(state)
        for shift in state.shifts:
            if shift["zonalShiftId"] == shift_id:
                return shift
    raise ValueError(f"no zonal shift {shift_id!r}")


def control_set_expiry(body: dict[str, Any]) -> dict[str, Any]:
    """Set one ACTIVE shift's expiry to now + expires_in_seconds (0 or less: it expires now)."""
    shift = _control_find_shift(body)
    seconds = body.get("expires_in_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError("expires_in_seconds (number) is required")
    if shift["status"] != "ACTIVE":
        raise ValueError(f"{shift['zonalShiftId']} is {shift['status']}, not ACTIVE")
    shift["expiryTime"] = now() + float(seconds)
    for state in _STATE.values():
        _refresh(state)
    return {"zonal_shift": _summary(shift)}


# --------------------------------------------------------------------------------------
# The Auto Scaling group and the load balancer (patches to moto, and fidelity's hooks)
# --------------------------------------------------------------------------------------


def avoided_zones(group: Any) -> set[str]:
    """Zone names a group with ZonalShiftEnabled must not launch into: the zone of the
    shift in effect on the group itself."""
    policy = impairment_policy(group) or {}
    if not policy.get("ZonalShiftEnabled"):
        return set()
    away = applied_away_from(group.account_id, group.region, group.arn)
    if away is None:
        return set()
    names = {zone_id: name for name, zone_id in zone_ids(group.account_id, group.region).items()}
    return {names[away]} if away in names else set()


def hold_replacement(group: Any, state: Any) -> bool:
    """IgnoreUnhealthy: an unhealthy instance in the shifted zone is not replaced."""
    policy = impairment_policy(group) or {}
    if policy.get("ImpairedZoneHealthCheckBehavior") != "IgnoreUnhealthy":
        return False
    zone = getattr(state.instance, "availability_zone", None)
    return zone in avoided_zones(group)


def _parse_policy(raw: Any) -> dict[str, Any]:
    from moto.autoscaling.exceptions import ValidationError

    if not isinstance(raw, dict):
        raise ValidationError("AvailabilityZoneImpairmentPolicy must be a structure")
    out: dict[str, Any] = {}
    enabled = raw.get("ZonalShiftEnabled")
    if enabled is not None:
        if isinstance(enabled, str):
            if enabled.lower() not in ("true", "false"):
                raise ValidationError(f"1 validation error detected: Value '{enabled}' at "
                                      "'availabilityZoneImpairmentPolicy.zonalShiftEnabled' failed to satisfy "
                                      "constraint: Member must be a boolean")
            enabled = enabled.lower() == "true"
        out["ZonalShiftEnabled"] = bool(enabled)
    behavior = raw.get("ImpairedZoneHealthCheckBehavior")
    if behavior is not None:
        if behavior not in IMPAIRED_ZONE_BEHAVIORS:
            raise ValidationError(f"1 validation error detected: Value '{behavior}' at "
                                  "'availabilityZoneImpairmentPolicy.impairedZoneHealthCheckBehavior' failed to "
                                  "satisfy constraint: Member must satisfy enum value set: "
                                  f"[{', '.join(IMPAIRED_ZONE_BEHAVIORS)}]")
        out["ImpairedZoneHealthCheckBehavior"] = behavior
    return out


_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    import fidelity

    fidelity.ZONAL_HOOKS["avoided_zones"] = avoided_zones
    fidelity.ZONAL_HOOKS["hold_replacement"] = hold_replacement
    _patch_load_balancer_attribute()
    _patch_impairment_policy()


def _patch_load_balancer_attribute() -> None:
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

    orig_init = FakeLoadBalancer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        """AWS reports zonal_shift.config.enabled (default false) for ALBs and NLBs."""
        orig_init(self, *args, **kwargs)
        if self.type in ("application", "network"):
            self.attrs.setdefault(LB_ATTRIBUTE, "false")

    orig_modify = ELBv2Backend.modify_load_balancer_attributes

    def modify(self: Any, arn: str, attrs: dict[str, Any]) -> dict[str, Any]:
        balancer = self.load_balancers.get(arn)
        if balancer is not None and LB_ATTRIBUTE in attrs:
            if balancer.type not in ("application", "network"):
                raise ELBClientError("InvalidConfigurationRequest", f"Key {LB_ATTRIBUTE} not valid")
            if str(attrs[LB_ATTRIBUTE]).lower() not in ("true", "false"):
                raise ELBClientError("InvalidConfigurationRequest",
                                     f"{LB_ATTRIBUTE} must be true or false, not {attrs[LB_ATTRIBUTE]!r}")
            attrs = {**attrs, LB_ATTRIBUTE: str(attrs[LB_ATTRIBUTE]).lower()}
        return orig_modify(self, arn, attrs)  # type: ignore[no-any-return]

    FakeLoadBalancer.__init__ = init  # type: ignore[method-assign]
    ELBv2Backend.modify_load_balancer_attributes = modify  # type: ignore[method-assign]


def _patch_impairment_policy() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.autoscaling.responses import AutoScalingResponse

    def policy(self: Any) -> dict[str, Any] | None:
        current = getattr(self, "_rebound_az_impairment_policy", None)
        return dict(current) if current else None

    # DescribeAutoScalingGroups serialises the attribute by its model name.
    FakeAutoScalingGroup.availability_zone_impairment_policy = property(policy)  # type: ignore[attr-defined]

    orig_create = AutoScalingResponse.create_auto_scaling_group
    orig_update = AutoScalingResponse.update_auto_scaling_group

    def create(self: AutoScalingResponse) -> Any:
        raw = self._get_param("AvailabilityZoneImpairmentPolicy")
        parsed = _parse_policy(raw) if raw is not None else None
        result = orig_create(self)
        if parsed is not None:
            group = self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")]
            group._rebound_az_impairment_policy = parsed
        return result

    def update(self: AutoScalingResponse) -> Any:
        raw = self._get_param("AvailabilityZoneImpairmentPolicy")
        parsed = _parse_policy(raw) if raw is not None else None
        result = orig_update(self)
        if parsed is not None:
            group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
            if group is not None:
                current = dict(getattr(group, "_rebound_az_impairment_policy", None) or {})
                current.update(parsed)
                group._rebound_az_impairment_policy = current
        return result

    AutoScalingResponse.create_auto_scaling_group = create  # type: ignore[method-assign]
    AutoScalingResponse.update_auto_scaling_group = update  # type: ignore[method-assign]


__all__ = [
    "SERVICE",
    "install",
    "reset_state",
    "handle",
    "operation_of",
    "error_answer",
    "advance_clock",
    "control_advance_clock",
    "clock",
    "control_start_autoshift",
    "control_end_autoshift",
    "control_start_shift",
    "control_end_practice_run",
    "control_set_expiry",
    "avoided_zones",
    "hold_replacement",
]
