"""Patches to moto's in-process backends that make it behave like real AWS where
Rebound depends on the difference.

Every patch here is listed, with the real-AWS behaviour it models, in
emulator/README.md ("Fidelity layer"). Each one wraps or replaces a single moto
method; nothing else in moto is touched. `install()` is idempotent and is called
once by server.py before the first request.

All mutation of moto state happens while server.py holds its global request lock,
so the helpers here do not lock on their own.

Replacement mode ("instant" or "phased", /_rebound/replacement-mode): in instant mode
an Auto Scaling replacement happens inside the call that causes it, as before. In
phased mode the old instance stays `Terminating` (its targets `draining`) and the new
one `Pending` (not registered) until /_rebound/advance moves them on; see
`start_replacement` and `advance`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    TerminateInstanceActivity,
    autoscaling_backends,
    make_int,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import InvalidInstanceIdError
from moto.ec2.models.instances import InstanceBackend
from moto.elbv2.exceptions import ValidationError as ElbValidationError
from moto.elbv2.models import ELBv2Backend, FakeTargetGroup, elbv2_backends
from moto.elbv2.responses import ELBV2Response

# --------------------------------------------------------------------------------------
# Injected target health (control endpoint /_rebound/target-health)
# --------------------------------------------------------------------------------------

TARGET_STATES = ("healthy", "unhealthy", "initial", "draining", "unused", "unavailable")

# What the real ELB API reports for each state when the caller gives no reason, so an
# override looks like a real DescribeTargetHealth answer (reason codes are what
# Rebound records as evidence).
DEFAULT_REASONS: dict[str, tuple[str | None, str | None]] = {
    "healthy": (None, None),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unused": ("Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"),
    "unavailable": ("Target.HealthCheckDisabled", "Health checks are disabled"),
}

# (target_group_arn, instance_id) -> {"state", "reason", "description"}
HEALTH_OVERRIDES: dict[tuple[str, str], dict[str, str | None]] = {}


def find_target_group(target_group_arn: str) -> FakeTargetGroup | None:
    """Look a target group up by ARN in the backend of the ARN's account/region."""
    parts = target_group_arn.split(":")
    if len(parts) < 6 or parts[2] != "elasticloadbalancing":
        return None
    region, account = parts[3], parts[4]
    try:
        return elbv2_backends[account][region].target_groups.get(target_group_arn)
    except Exception:  # unknown region/account: no such target group
        return None


def validate_health_override(
    target_group_arn: Any, instance_id: Any, state: Any, reason: Any = None, description: Any = None
) -> dict[str, Any]:
    """Check one override request and return it normalised (defaults filled in).
    Raises ValueError with a message meant for the caller of the control endpoint."""
    if not isinstance(target_group_arn, str) or not target_group_arn:
        raise ValueError("target_group_arn (string) is required")
    if not isinstance(instance_id, str) or not instance_id:
        raise ValueError("instance_id (string) is required")
    if state not in TARGET_STATES:
        raise ValueError(f"state must be one of {', '.join(TARGET_STATES)}; got {state!r}")
    for field, value in (("reason", reason), ("description", description)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{field} must be a string when given")
    tg = find_target_group(target_group_arn)
    if tg is None:
        raise ValueError(f"target group {target_group_arn!r} does not exist")
    if instance_id not in tg.targets:
        raise ValueError(
            f"instance {instance_id!r} is not a registered target of {target_group_arn!r} "
            f"(registered: {sorted(tg.targets)})"
        )
    default_reason, default_description = DEFAULT_REASONS[state]
    return {
        "target_group_arn": target_group_arn,
        "instance_id": instance_id,
        "state": state,
        "reason": reason if reason is not None else default_reason,
        "description": description if description is not None else default_description,
    }


def store_health_override(override: dict[str, Any]) -> None:
    """Store an override returned by validate_health_override."""
    HEALTH_OVERRIDES[(override["target_group_arn"], override["instance_id"])] = {
        "state": override["state"],
        "reason": override["reason"],
        "description": override["description"],
    }


def list_health_overrides() -> list[dict[str, Any]]:
    return [
        {"target_group_arn": arn, "instance_id": iid, **ov}
        for (arn, iid), ov in HEALTH_OVERRIDES.items()
    ]


def clear_health_overrides(target_group_arn: str | None = None, instance_id: str | None = None) -> int:
    """Clear one override (arn + instance), all overrides of a target group (arn only),
    or everything (neither). Returns how many were removed."""
    keys = [
        k
        for k in HEALTH_OVERRIDES
        if (target_group_arn is None or k[0] == target_group_arn)
        and (instance_id is None or k[1] == instance_id)
    ]
    for k in keys:
        del HEALTH_OVERRIDES[k]
    return len(keys)


def reset_state() -> None:
    CONSOLE_OUTPUTS.clear()
    HEALTH_OVERRIDES.clear()
    LIFECYCLE_HEALTH.clear()
    REPLACEMENTS.clear()
    _MODE["mode"] = "instant"
    RDS_IN_PROGRESS.clear()
    RDS_EVENTS.clear()
    _RDS_MODE["mode"] = "instant"
    _GRACE["respected"] = False


# --------------------------------------------------------------------------------------
# An instance's own console output (control endpoint /_rebound/console-output)
# --------------------------------------------------------------------------------------

# moto answers GetConsoleOutput with one sample boot log for every instance; real EC2
# returns each instance's own console, and refuses it to a caller without the
# permission (UnauthorizedOperation) or for an instance it cannot serve. The control
# sets either, per instance.

# instance_id -> {"output": str} or {"error_code": str, "message": str}
CONSOLE_OUTPUTS: dict[str, dict[str, str]] = {}


def set_console_output(instance_id: Any, output: Any = None, error_code: Any = None,
                       message: Any = None) -> dict[str, Any]:
    """What GetConsoleOutput answers for one instance: its output, or an error."""
    if not isinstance(instance_id, str) or not instance_id.startswith("i-"):
        raise ValueError("instance_id (an instance id, i-...) is required")
    if (output is None) == (error_code is None):
        raise ValueError("give exactly one of output (string) and error_code (string)")
    if output is not None:
        if not isinstance(output, str):
            raise ValueError("output must be a string")
        CONSOLE_OUTPUTS[instance_id] = {"output": output}
    else:
        if not isinstance(error_code, str) or not error_code:
            raise ValueError("error_code must be an EC2 error code, e.g. UnauthorizedOperation")
        if message is not None and not isinstance(message, str):
            raise ValueError("message must be a string")
        CONSOLE_OUTPUTS[instance_id] = {
            "error_code": error_code,
            "message": message or "You are not authorized to perform this operation.",
        }
    return {"instance_id": instance_id, **CONSOLE_OUTPUTS[instance_id]}


def clear_console_outputs(instance_id: Any = None) -> int:
    if instance_id is None:
        cleared = len(CONSOLE_OUTPUTS)
        CONSOLE_OUTPUTS.clear()
        return cleared
    return 1 if CONSOLE_OUTPUTS.pop(instance_id, None) is not None else 0


def list_console_outputs() -> list[dict[str, str]]:
    return [{"instance_id": i, **v} for i, v in sorted(CONSOLE_OUTPUTS.items())]


def _patch_console_output() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.responses.general import General
    from moto.ec2.utils import Base64EncodedString

    orig = General.get_console_output

    def get_console_output(self: General) -> ActionResult:
        """The instance's own output or error when one was set, else moto's sample."""
        instance_id = self._get_param("InstanceId")
        answer = CONSOLE_OUTPUTS.get(instance_id)
        if answer is None:
            return orig(self)
        if "error_code" in answer:
            raise EC2ClientError(answer["error_code"], answer["message"])
        instance = self.ec2_backend.get_instance(instance_id)
        return ActionResult({
            "InstanceId": instance.id,
            "Timestamp": utcnow(),
            "Output": Base64EncodedString.from_raw_string(answer["output"]),
        })

    General.get_console_output = get_console_output  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------
# Health-check grace period (control endpoint /_rebound/grace-period)
# --------------------------------------------------------------------------------------

# Off by default: provisioned instances are seconds old, so with it on every
# SetInstanceHealth inside the stack's grace period would be ignored, as AWS would.
_GRACE = {"respected": False}


def set_grace_period_respected(respected: Any) -> bool:
    if not isinstance(respected, bool):
        raise ValueError("respected must be true or false")
    _GRACE["respected"] = respected
    return respected


def get_grace_period_respected() -> bool:
    return _GRACE["respected"]


def inside_grace_period(backend: AutoScalingBackend, instance_id: str) -> bool:
    """True when SetInstanceHealth(ShouldRespectGracePeriod=true) would be accepted and
    ignored: the instance launched less than the group's HealthCheckGracePeriod ago."""
    if not _GRACE["respected"]:
        return False
    try:
        group, state = _find_instance_state(backend, instance_id)
    except AutoscalingClientError:
        return False
    grace = int(getattr(group, "health_check_grace_period", 0) or 0)
    launched = getattr(state.instance, "launch_time", None)
    if grace <= 0 or launched is None:
        return False
    if isinstance(launched, str):
        from datetime import datetime

        launched = datetime.fromisoformat(launched.replace("Z", "+00:00"))
    now = utcnow()
    if launched.tzinfo is not None and now.tzinfo is None:
        launched = launched.replace(tzinfo=None)
    return (now - launched).total_seconds() < grace


def _forget_target(target_group_arn: str, instance_id: str) -> None:
    """A target left a target group: whatever the layer reported for it goes too."""
    HEALTH_OVERRIDES.pop((target_group_arn, instance_id), None)
    LIFECYCLE_HEALTH.pop((target_group_arn, instance_id), None)


def _forget_target_group(target_group_arn: str) -> None:
    for table in (HEALTH_OVERRIDES, LIFECYCLE_HEALTH):
        for key in [k for k in table if k[0] == target_group_arn]:
            del table[key]


# --------------------------------------------------------------------------------------
# Replacement over time (control endpoints /_rebound/replacement-mode, /_rebound/advance,
# /_rebound/replacements)
# --------------------------------------------------------------------------------------

REPLACEMENT_MODES = ("instant", "phased")
_MODE = {"mode": "instant"}

# What DescribeTargetHealth reports for a target while the layer moves it through a
# phased replacement: (target_group_arn, instance_id) -> "draining" | "initial".
# "draining" wins over an injected override (the target is leaving whatever its
# health); an injected override wins over "initial".
LIFECYCLE_HEALTH: dict[tuple[str, str], str] = {}

# Replacements / launches in progress, oldest first. Each:
# {"account", "region", "auto_scaling_group", "old_instance_id" (None for a plain
#  launch), "new_instance_id", "phase": "terminating" | "pending" | "registering"}
REPLACEMENTS: list[dict[str, Any]] = []

# Lifecycle states that count towards desired capacity (a real group counts Pending
# instances it launched; Terminating and Standby ones it does not).
_COUNTED = ("InService", "Pending")


def get_replacement_mode() -> str:
    return _MODE["mode"]


def set_replacement_mode(mode: Any) -> str:
    if mode not in REPLACEMENT_MODES:
        raise ValueError(f"mode must be one of {', '.join(REPLACEMENT_MODES)}; got {mode!r}")
    _MODE["mode"] = mode
    return mode


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("auto_scaling_group", "old_instance_id", "new_instance_id", "phase")}


def list_replacements() -> list[dict[str, Any]]:
    return [_public(r) for r in REPLACEMENTS]


def _all_autoscaling_backends() -> list[AutoScalingBackend]:
    return [backend for _account, _region, backend in autoscaling_backends.iter_backends()]


def _record_group(record: dict[str, Any]) -> tuple[AutoScalingBackend | None, FakeAutoScalingGroup | None]:
    try:
        backend = autoscaling_backends[record["account"]][record["region"]]
    except Exception:
        return None, None
    return backend, backend.autoscaling_groups.get(record["auto_scaling_group"])


def _state_of(group: FakeAutoScalingGroup, instance_id: str | None) -> InstanceState | None:
    if instance_id is None:
        return None
    for st in group.instance_states:
        if st.instance.id == instance_id:
            return st
    return None


def advance(group_name: str | None = None) -> list[dict[str, Any]]:
    """Move every replacement in progress (of one group, or all) one phase on:
    terminating/pending -> registering (old instance terminated and deregistered, new
    one InService and registered, reporting `initial`) -> done (new target `healthy`).
    Returns the moved ones with their new phase. Raises ValueError for an unknown group."""
    if group_name is not None and not any(
        group_name in b.autoscaling_groups for b in _all_autoscaling_backends()
    ):
        raise ValueError(f"no Auto Scaling group named {group_name!r}")
    moved: list[dict[str, Any]] = []
    for record in list(REPLACEMENTS):
        if group_name is not None and record["auto_scaling_group"] != group_name:
            continue
        backend, group = _record_group(record)
        if backend is None or group is None:
            REPLACEMENTS.remove(record)  # the group was deleted meanwhile
            continue
        if record["phase"] in ("terminating", "pending"):
            _finish_old_instance(backend, group, record["old_instance_id"])
            new_state = _state_of(group, record["new_instance_id"])
            if new_state is None or new_state.instance.state != "running":
                record["phase"] = "done"  # scaled in or terminated meanwhile
            else:
                new_state.lifecycle_state = "InService"
                if _add_to_lb_suspended(group):
                    _skip_registration(group, new_state.instance.id)
                for arn in _register_instance(backend, group, new_state):
                    LIFECYCLE_HEALTH[(arn, new_state.instance.id)] = "initial"
                record["phase"] = "registering"
        elif record["phase"] == "registering":
            for key in [k for k, v in LIFECYCLE_HEALTH.items() if k[1] == record["new_instance_id"] and v == "initial"]:
                del LIFECYCLE_HEALTH[key]
            record["phase"] = "done"
        if record["phase"] == "done":
            REPLACEMENTS.remove(record)
        moved.append(_public(record))
    return moved


def _finish_old_instance(backend: AutoScalingBackend, group: FakeAutoScalingGroup, instance_id: str | None) -> None:
    """End of draining: deregister the old instance from the group's target groups,
    terminate it, and drop it from the group."""
    if instance_id is None:
        return
    for tg in _existing_target_groups(backend, group):
        if instance_id in tg.targets:
            tg.deregister([{"Id": instance_id}])
        _registered(group).discard((tg.arn, instance_id))
    for key in [k for k in LIFECYCLE_HEALTH if k[1] == instance_id]:
        del LIFECYCLE_HEALTH[key]
    state = _state_of(group, instance_id)
    if state is not None:
        group.instance_states = [s for s in group.instance_states if s is not state]
    instance = backend.ec2_backend.get_instance_by_id(instance_id)
    if instance is not None and instance.state not in ("terminated", "shutting-down"):
        backend.ec2_backend.terminate_instances([instance_id])


def start_replacement(backend: AutoScalingBackend, group: FakeAutoScalingGroup, state: InstanceState) -> None:
    """Phased replacement, first phase: the old instance becomes Terminating (its
    targets draining), a new one is launched Pending and not registered."""
    iid = state.instance.id
    state.lifecycle_state = "Terminating"
    state.health_status = "Unhealthy"
    for tg in _existing_target_groups(backend, group):
        if iid in tg.targets:
            LIFECYCLE_HEALTH[(tg.arn, iid)] = "draining"
    launched = _launch(group, 1)
    for new_state in launched:
        for record in REPLACEMENTS:
            if record["new_instance_id"] == new_state.instance.id:
                record["old_instance_id"] = iid
                record["phase"] = "terminating"


def _launch(group: FakeAutoScalingGroup, count: int) -> list[InstanceState]:
    before = {id(s) for s in group.instance_states}
    group.replace_autoscaling_group_instances(count, group.get_propagated_tags())
    return [s for s in group.instance_states if id(s) not in before]


# --------------------------------------------------------------------------------------
# Target group membership of Auto Scaling groups
# --------------------------------------------------------------------------------------


def _traffic_sources(group: FakeAutoScalingGroup) -> list[dict[str, str]]:
    if not hasattr(group, "_rebound_traffic_sources"):
        group._rebound_traffic_sources = []  # type: ignore[attr-defined]
    return group._rebound_traffic_sources  # type: ignore[attr-defined,no-any-return]


def _registered(group: FakeAutoScalingGroup) -> set[tuple[str, str]]:
    """(target_group_arn, instance_id) pairs this group registered, so an instance is
    registered once per target group (on launch / attach / exit from standby) and a
    target someone deregistered by hand is not put back at the next capacity change."""
    if not hasattr(group, "_rebound_registered"):
        group._rebound_registered = set()  # type: ignore[attr-defined]
    return group._rebound_registered  # type: ignore[attr-defined,no-any-return]


def _skip_registration(group: FakeAutoScalingGroup, instance_id: str) -> None:
    """An instance launched (or brought InService) while AddToLoadBalancer is
    suspended: AWS never adds it to the group's target groups, even after a resume.
    Mark it as done for every current target group; one attached later still gets it
    (attaching registers every InService member)."""
    registered = _registered(group)
    for arn in _group_target_group_arns(group):
        registered.add((arn, instance_id))


def _add_to_lb_suspended(group: FakeAutoScalingGroup) -> bool:
    return any(p["ProcessName"] == "AddToLoadBalancer" for p in group.suspended_processes)


def _group_target_group_arns(group: FakeAutoScalingGroup) -> list[str]:
    """TargetGroupARNs plus the elbv2 traffic sources, without duplicates."""
    arns = list(group.target_group_arns or [])
    for ts in _traffic_sources(group):
        if ts["Type"] == "elbv2" and ts["Identifier"] not in arns:
            arns.append(ts["Identifier"])
    return arns


def _existing_target_groups(backend: AutoScalingBackend, group: FakeAutoScalingGroup) -> list[FakeTargetGroup]:
    """The group's target groups that still exist (a deleted one stays in
    TargetGroupARNs, as in AWS, and is skipped)."""
    found = []
    for arn in _group_target_group_arns(group):
        tg = backend.elbv2_backend.target_groups.get(arn)
        if tg is not None:
            found.append(tg)
    return found


def _register_instance(backend: AutoScalingBackend, group: FakeAutoScalingGroup, state: InstanceState) -> list[str]:
    """Register one InService instance in every (existing) target group of its group
    it is not registered in yet. Returns the ARNs it was registered in."""
    iid = state.instance.id
    if state.instance.state != "running":
        return []
    done = []
    registered = _registered(group)
    for tg in _existing_target_groups(backend, group):
        if (tg.arn, iid) in registered:
            continue
        tg.register([{"Id": iid, "Port": tg.port}])
        registered.add((tg.arn, iid))
        done.append(tg.arn)
    return done


# --------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------

# Zonal shift (zonal_shift.py installs these): "avoided_zones"(group) -> zone names the
# group must not launch into (the zone of a shift in effect on the group), and
# "hold_replacement"(group, state) -> whether an Unhealthy instance stays unreplaced
# (ImpairedZoneHealthCheckBehavior IgnoreUnhealthy, instance in the shifted zone).
ZONAL_HOOKS: dict[str, Any] = {}


def _subnet_zone(ec2_backend: Any, subnet_id: str) -> str | None:
    try:
        return ec2_backend.get_subnet(subnet_id).availability_zone  # type: ignore[no-any-return]
    except Exception:
        return None


def _avoided_zones(group: FakeAutoScalingGroup) -> set[str]:
    hook = ZONAL_HOOKS.get("avoided_zones")
    return set(hook(group)) if hook else set()


def _held_by_zonal_shift(group: FakeAutoScalingGroup, state: InstanceState) -> bool:
    hook = ZONAL_HOOKS.get("hold_replacement")
    return bool(hook(group, state)) if hook else False


_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    _patch_elbv2()
    _patch_autoscaling()
    _patch_set_instance_health_response()
    _add_instance_refresh_api()
    _add_traffic_sources_api()
    _patch_rds()
    _patch_drills()
    _patch_console_output()
    _index_instances()


# DescribeTargetGroups answers at most this many target groups a call (its PageSize's
# range is 1-400), and as many when PageSize is not given.
TARGET_GROUPS_PAGE_MAX = 400


def _describe_target_groups_in_pages(self: ELBV2Response) -> ActionResult:
    """DescribeTargetGroups one page at a time, as AWS answers it: at most PageSize
    (1-400, default 400) target groups in name order, and a NextMarker while more are
    left; moto answers every target group in one call whatever the PageSize, so an
    account-wide listing costs one call here where AWS takes one per 400. The marker is
    the last name of the page, as moto's own DescribeLoadBalancers pages do."""
    page_size = self._get_int_param("PageSize", TARGET_GROUPS_PAGE_MAX)
    if not 1 <= page_size <= TARGET_GROUPS_PAGE_MAX:
        bound = "greater than or equal to 1" if page_size < 1 else f"less than or equal to {TARGET_GROUPS_PAGE_MAX}"
        raise ElbValidationError(
            f"1 validation error detected: Value '{page_size}' at 'pageSize' failed to satisfy constraint: "
            f"Member must have value {bound}"
        )
    target_groups = list(
        self.elbv2_backend.describe_target_groups(
            self._get_param("LoadBalancerArn"), self._get_param("TargetGroupArns", []), self._get_param("Names", [])
        )
    )
    marker = self._get_param("Marker")
    start = 0
    if marker:
        names = [tg.name for tg in target_groups]
        if marker not in names:
            raise ElbValidationError("The marker is not valid")
        start = names.index(marker) + 1
    page = target_groups[start : start + page_size]
    more = len(target_groups) > start + page_size
    return ActionResult({"TargetGroups": page, "NextMarker": page[-1].name if more else None})


def _patch_elbv2() -> None:
    orig_describe = ELBv2Backend.describe_target_health
    orig_delete_tg = ELBv2Backend.delete_target_group

    def describe_target_health(self: ELBv2Backend, target_group_arn: str, targets: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
        """moto reports every registered running target `healthy`. Apply, to registered
        targets only (a deregistered target reports what moto says): `draining` for a
        target whose instance is being replaced (phased mode), else the injected
        override, else `initial` for a replacement that has just been registered."""
        results = orig_describe(self, target_group_arn, targets)
        tg = self.target_groups.get(target_group_arn)
        for status in results:
            key = (target_group_arn, status.instance_id)
            if tg is None or status.instance_id not in tg.targets:
                continue
            lifecycle = LIFECYCLE_HEALTH.get(key)
            override = HEALTH_OVERRIDES.get(key)
            if status.status == "unused":
                continue  # moto's own answer for a stopped instance (Target.InvalidState), as AWS
            if lifecycle != "draining" and _subnet_blocked(self.ec2_backend, status.instance_id):
                status.status = "unhealthy"
                status.reason, status.description = BLOCKED_REASON
                continue
            if lifecycle == "draining" or (lifecycle and not override):
                status.status = lifecycle
                status.reason, status.description = DEFAULT_REASONS[lifecycle]
            elif override:
                status.status = override["state"]
                status.reason = override["reason"]
                status.description = override["description"]
        return results

    def delete_target_group(self: ELBv2Backend, target_group_arn: str) -> FakeTargetGroup:
        """moto already answers like AWS (ResourceInUse while a listener or rule uses
        it; allowed while an Auto Scaling group still lists it, which keeps the dangling
        ARN). Forget the layer's state for it, so nothing reports a deleted group."""
        deleted = orig_delete_tg(self, target_group_arn)
        _forget_target_group(target_group_arn)
        return deleted

    ELBv2Backend.describe_target_health = describe_target_health  # type: ignore[method-assign]
    ELBv2Backend.delete_target_group = delete_target_group  # type: ignore[method-assign]
    ELBV2Response.describe_target_groups = _describe_target_groups_in_pages  # type: ignore[method-assign]

    # A target that leaves the group loses its injected health: a new registration of
    # the same id (never happens with real instance ids) must start clean, and the
    # replacement instance must report healthy.
    orig_deregister = FakeTargetGroup.deregister
    orig_deregister_terminated = FakeTargetGroup.deregister_terminated_instances

    def deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        orig_deregister(self, targets)
        for t in targets:
            _forget_target(self.arn, t["Id"])

    def deregister_terminated_instances(self: FakeTargetGroup, instance_ids: list[str]) -> None:
        orig_deregister_terminated(self, instance_ids)
        for iid in instance_ids:
            _forget_target(self.arn, iid)

    FakeTargetGroup.deregister = deregister  # type: ignore[method-assign]
    FakeTargetGroup.deregister_terminated_instances = deregister_terminated_instances  # type: ignore[method-assign]


def _find_instance_state(backend: AutoScalingBackend, instance_id: str):  # type: ignore[no-untyped-def]
    """moto uses a bare next() here, which turns an unknown instance into an HTTP 500;
    real Auto Scaling answers ValidationError."""
    for group in backend.autoscaling_groups.values():
        for state in group.instance_states:
            if state.instance.id == instance_id:
                return group, state
    raise ValidationError(f"Instance Id not found - No managed instance found for instance id {instance_id}")


# A real group replaces an unhealthy instance only through the ReplaceUnhealthy process,
# which itself needs Launch and Terminate.
_REPLACE_BLOCKERS = {"ReplaceUnhealthy", "Launch", "Terminate"}

_INVALID_TARGET_GROUPS = "Provided Target Groups may not be valid. Please ensure they exist and try again."


def _check_target_groups_exist(backend: AutoScalingBackend, arns: list[str]) -> None:
    for arn in arns or []:
        if arn not in backend.elbv2_backend.target_groups:
            raise ValidationError(_INVALID_TARGET_GROUPS)


def _detach_target_group(backend: AutoScalingBackend, group: FakeAutoScalingGroup, arn: str) -> None:
    """Deregister the group's instances from one target group; a deleted target group
    (or a target already gone) is skipped instead of failing the call."""
    tg = backend.elbv2_backend.target_groups.get(arn)
    for st in group.instance_states:
        iid = st.instance.id
        _registered(group).discard((arn, iid))
        if tg is not None and iid in tg.targets:
            tg.deregister([{"Id": iid}])


def _patch_set_instance_health_response() -> None:
    orig = AutoScalingResponse.set_instance_health

    def set_instance_health(self: AutoScalingResponse) -> ActionResult:
        """SetInstanceHealth with ShouldRespectGracePeriod (AWS's default: true) on an
        instance still inside its group's grace period is accepted and changes nothing."""
        respect = self._get_bool_param("ShouldRespectGracePeriod", True)
        instance_id = self._get_param("InstanceId")
        if respect and inside_grace_period(self.autoscaling_backend, instance_id):
            return EmptyResult()
        return orig(self)

    AutoScalingResponse.set_instance_health = set_instance_health  # type: ignore[method-assign]


def _patch_autoscaling() -> None:
    orig_terminate = AutoScalingBackend.terminate_instance
    orig_notify_terminate = AutoScalingBackend.notify_terminate_instances
    orig_create = AutoScalingBackend.create_auto_scaling_group
    orig_delete = AutoScalingBackend.delete_auto_scaling_group
    orig_attach_tgs = AutoScalingBackend.attach_load_balancer_target_groups
    orig_enter_standby = AutoScalingBackend.enter_standby_instances
    orig_exit_standby = AutoScalingBackend.exit_standby_instances
    orig_launch = FakeAutoScalingGroup.replace_autoscaling_group_instances
    orig_group_set_desired = FakeAutoScalingGroup.set_desired_capacity
    orig_group_update = FakeAutoScalingGroup.update

    def terminate_instance(self: AutoScalingBackend, instance_id: str, should_decrement: bool):  # type: ignore[no-untyped-def]
        """TerminateInstanceInAutoScalingGroup. moto already launches the replacement
        (ShouldDecrementDesiredCapacity=false) and registers it, but leaves the
        terminated instance registered in the target groups, where it then reports
        `healthy` forever. Real ELB deregisters it (draining). In phased mode the
        replacement (no decrement) goes through start_replacement instead."""
        group, state = _find_instance_state(self, instance_id)
        if state.lifecycle_state == "Terminating":
            # Already on its way out (phased mode): no second replacement.
            return TerminateInstanceActivity(state.instance, group.desired_capacity)
        if _MODE["mode"] == "phased" and not should_decrement:
            original_size = group.desired_capacity
            start_replacement(self, group, state)
            return TerminateInstanceActivity(state.instance, original_size)
        activity = orig_terminate(self, instance_id, should_decrement)
        self.elbv2_backend.notify_terminate_instances([instance_id])
        return activity

    def set_instance_health(self: AutoScalingBackend, instance_id: str, health_status: str) -> None:
        """SetInstanceHealth. moto only records the status; a real group terminates an
        Unhealthy InService instance and launches a replacement (desired capacity kept),
        unless ReplaceUnhealthy/Launch/Terminate is suspended. Instant mode: done
        synchronously; phased mode: start_replacement."""
        group, state = _find_instance_state(self, instance_id)
        if state.lifecycle_state == "Terminating":
            return  # already being replaced; stays Unhealthy
        state.health_status = health_status
        if health_status != "Unhealthy" or state.lifecycle_state != "InService":
            return
        suspended = {p["ProcessName"] for p in group.suspended_processes}
        if suspended & _REPLACE_BLOCKERS:
            return  # stays InService + Unhealthy, exactly what Rebound's guard must see
        if _held_by_zonal_shift(group, state):
            return  # IgnoreUnhealthy in the zone the group is shifted away from
        if _MODE["mode"] == "phased":
            start_replacement(self, group, state)
        else:
            terminate_instance(self, instance_id, should_decrement=False)

    def update_attached_target_groups(self: AutoScalingBackend, group_name: str) -> None:
        """Replaces moto's, which re-registers every member (Standby, Pending and
        Terminating ones included) at each capacity change, never deregisters, and
        fails with TargetGroupNotFound once one of the group's target groups is
        deleted. Here, for every existing target group of TargetGroupARNs and the elbv2
        traffic sources: register InService members once (see _registered and
        _skip_registration), deregister Standby members and terminated instances."""
        group = self.autoscaling_groups[group_name]
        registered = _registered(group)
        for tg in _existing_target_groups(self, group):
            for st in group.instance_states:
                if st.lifecycle_state.startswith("Standby"):
                    registered.discard((tg.arn, st.instance.id))
                    if st.instance.id in tg.targets:
                        tg.deregister([{"Id": st.instance.id}])
            gone = [
                iid
                for iid in tg.targets
                if (inst := self.ec2_backend.get_instance_by_id(iid)) is not None
                and inst.state in ("terminated", "shutting-down")
            ]
            if gone:
                tg.deregister_terminated_instances(gone)
        for st in group.instance_states:
            if st.lifecycle_state == "InService":
                _register_instance(self, group, st)

    def notify_terminate_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
        """ec2:TerminateInstances on a group member: moto launches the replacement but
        never registers it with the group's target groups. Real ASG does."""
        orig_notify_terminate(self, instance_ids)
        for name in list(self.autoscaling_groups):
            update_attached_target_groups(self, name)

    def create_auto_scaling_group(self: AutoScalingBackend, *args: Any, **kwargs: Any) -> FakeAutoScalingGroup:
        """moto turns a missing HealthCheckGracePeriod, and an explicit 0, into 300;
        the API's default is 0 and 0 is a valid value. A target group that does not
        exist fails the call up front (AWS: ValidationError) instead of half-way."""
        _check_target_groups_exist(self, kwargs.get("target_group_arns") or [])
        group = orig_create(self, *args, **kwargs)
        period = kwargs.get("health_check_period")
        group.health_check_grace_period = make_int(period) if period is not None else 0
        return group

    def delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
        """Finish the group's phased replacements first (moto would leave a Terminating
        instance running, since it no longer counts towards capacity)."""
        group = self.autoscaling_groups.get(group_name)
        if group is not None:
            for st in [s for s in group.instance_states if s.lifecycle_state == "Terminating"]:
                _finish_old_instance(self, group, st.instance.id)
            REPLACEMENTS[:] = [
                r
                for r in REPLACEMENTS
                if (r["account"], r["region"], r["auto_scaling_group"]) != (self.account_id, self.region_name, group_name)
            ]
        orig_delete(self, group_name)

    def attach_load_balancer_target_groups(self: AutoScalingBackend, group_name: str, target_group_arns: list[str]) -> None:
        _group_or_error(self, group_name)
        _check_target_groups_exist(self, target_group_arns)
        orig_attach_tgs(self, group_name, target_group_arns)

    def detach_load_balancer_target_groups(self: AutoScalingBackend, group_name: str, target_group_arns: list[str]) -> None:
        """moto fails (TargetGroupNotFound / InvalidTarget) on a deleted target group or
        a target already deregistered; AWS detaches. A target group that is still an
        elbv2 traffic source of the group keeps its targets."""
        group = _group_or_error(self, group_name)
        group.target_group_arns = [x for x in group.target_group_arns if x not in target_group_arns]
        still = set(_group_target_group_arns(group))
        for arn in target_group_arns:
            if arn not in still:
                _detach_target_group(self, group, arn)

    def _check_standby(self: AutoScalingBackend, group_name: str, instance_ids: list[str], wanted: str) -> None:
        group = _group_or_error(self, group_name)
        for iid in instance_ids:
            other, state = _find_instance_state(self, iid)
            if other is not group:
                raise ValidationError(f"The instance {iid} is not part of Auto Scaling group {group_name}.")
            if state.lifecycle_state != wanted:
                raise ValidationError(f"The instance {iid} is not in {wanted}.")

    def enter_standby_instances(self: AutoScalingBackend, group_name: str, instance_ids: list[str], should_decrement: bool):  # type: ignore[no-untyped-def]
        """moto sets Standby (and launches a replacement unless decremented) but keeps
        the instance registered and `healthy`; AWS deregisters it from the group's
        target groups (update_attached_target_groups does) and only accepts InService
        instances."""
        _check_standby(self, group_name, instance_ids, "InService")
        return orig_enter_standby(self, group_name, instance_ids, should_decrement)

    def exit_standby_instances(self: AutoScalingBackend, group_name: str, instance_ids: list[str]):  # type: ignore[no-untyped-def]
        _check_standby(self, group_name, instance_ids, "Standby")
        return orig_exit_standby(self, group_name, instance_ids)

    def active_instances(self: FakeAutoScalingGroup) -> list[InstanceState]:
        """What counts towards desired capacity: moto counts InService only, so a
        Pending instance (phased mode) would be launched again at the next capacity
        change. AWS counts Pending ones too."""
        return [x for x in self.instance_states if x.lifecycle_state in _COUNTED]

    def group_set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
        """Hide Terminating instances from moto's capacity logic: they do not count,
        and a scale-in must not pick them (they are already leaving)."""
        hidden = [s for s in self.instance_states if s.lifecycle_state == "Terminating"]
        if not hidden:
            orig_group_set_desired(self, new_capacity)
            return
        original = list(self.instance_states)
        visible = [s for s in original if s not in hidden]
        self.instance_states = list(visible)
        try:
            orig_group_set_desired(self, new_capacity)
        finally:
            after = self.instance_states
            removed = {id(s) for s in visible} - {id(s) for s in after}
            added = [s for s in after if id(s) not in {id(v) for v in visible}]
            self.instance_states = [s for s in original if id(s) not in removed] + added

    def group_update(self: FakeAutoScalingGroup, *args: Any, **kwargs: Any) -> None:
        """moto's UpdateAutoScalingGroup drops the MixedInstancesPolicy whenever the
        request does not repeat it (e.g. an update of MaxSize only); AWS keeps it."""
        names = ("availability_zones", "desired_capacity", "max_size", "min_size", "launch_config_name",
                 "launch_template", "vpc_zone_identifier", "health_check_period", "health_check_type",
                 "new_instances_protected_from_scale_in", "mixed_instances_policy")
        given = dict(zip(names, args), **kwargs)
        keep = None
        if not given.get("mixed_instances_policy") and not given.get("launch_template") and not given.get("launch_config_name"):
            keep = self.mixed_instances_policy
        orig_group_update(self, *args, **kwargs)
        if keep is not None:
            self.mixed_instances_policy = keep

    def _balanced_launch(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
        """moto launches every instance into the first subnet of VPCZoneIdentifier.
        A real group balances across its Availability Zones: put each new instance
        in the subnet with the fewest InService (or Pending) instances. A group with
        zonal shift enabled that is shifted away from a zone launches only into its
        other zones (all of them, if the shift would leave none)."""
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        avoided = _avoided_zones(self) if len(subnets) > 1 else set()
        if avoided:
            ec2 = self.autoscaling_backend.ec2_backend
            allowed = [s for s in subnets if _subnet_zone(ec2, s) not in avoided]
            subnets = allowed or subnets
        if len(subnets) <= 1 and not avoided:
            orig_launch(self, count_needed, propagated_tags)
            return
        current = Counter(st.instance.subnet_id for st in self.active_instances())
        plan: Counter[str] = Counter()
        for _ in range(count_needed):
            target = min(subnets, key=lambda s: (current[s] + plan[s], subnets.index(s)))
            plan[target] += 1
        saved = self.vpc_zone_identifier
        try:
            for subnet in subnets:
                if plan[subnet]:
                    self.vpc_zone_identifier = subnet
                    orig_launch(self, plan[subnet], dict(propagated_tags))
        finally:
            self.vpc_zone_identifier = saved

    def replace_autoscaling_group_instances(
        self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]
    ) -> None:
        """Every launch of the group (creation, scale-out, replacement): spread over the
        AZs; remember instances launched while AddToLoadBalancer is suspended (never
        registered); in phased mode start them Pending, with a launch in progress that
        /_rebound/advance moves on. A group's initial instances (CreateAutoScalingGroup)
        are InService at once in both modes, so a freshly provisioned stack is settled."""
        before = {id(s) for s in self.instance_states}
        _balanced_launch(self, count_needed, propagated_tags)
        new = [s for s in self.instance_states if id(s) not in before]
        no_lb = _add_to_lb_suspended(self)
        creating = self.autoscaling_backend.autoscaling_groups.get(self.name) is not self
        for st in new:
            if no_lb:
                _skip_registration(self, st.instance.id)
            if _MODE["mode"] == "phased" and not creating:
                st.lifecycle_state = "Pending"
                REPLACEMENTS.append({
                    "account": self.account_id,
                    "region": self.region,
                    "auto_scaling_group": self.name,
                    "old_instance_id": None,
                    "new_instance_id": st.instance.id,
                    "phase": "pending",
                })

    orig_describe_instances = AutoScalingResponse.describe_auto_scaling_instances

    def describe_auto_scaling_instances(self: AutoScalingResponse) -> ActionResult:
        """Real DescribeAutoScalingInstances spells HealthStatus in capitals (HEALTHY /
        UNHEALTHY) while DescribeAutoScalingGroups says Healthy / Unhealthy; moto uses
        the latter in both. Model the quirk so code comparing it exactly fails here too."""
        result = orig_describe_instances(self)
        states = result.result["AutoScalingInstances"]  # type: ignore[index]
        result.result["AutoScalingInstances"] = [  # type: ignore[index]
            {
                "InstanceId": st.instance_id,
                "InstanceType": st.instance_type,
                "AutoScalingGroupName": st.auto_scaling_group_name,
                "AvailabilityZone": st.availability_zone,
                "LifecycleState": st.lifecycle_state,
                "HealthStatus": str(st.health_status).upper(),
                # moto's own property raises AttributeError for launch-template groups.
                "LaunchConfigurationName": getattr(st, "launch_configuration_name", None),
                "LaunchTemplate": st.launch_template,
                "ProtectedFromScaleIn": bool(st.protected_from_scale_in),
            }
            for st in states
        ]
        return result

    AutoScalingResponse.describe_auto_scaling_instances = describe_auto_scaling_instances  # type: ignore[method-assign]
    AutoScalingBackend.terminate_instance = terminate_instance  # type: ignore[method-assign]
    AutoScalingBackend.set_instance_health = set_instance_health  # type: ignore[method-assign]
    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups  # type: ignore[method-assign]
    AutoScalingBackend.notify_terminate_instances = notify_terminate_instances  # type: ignore[method-assign]
    AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingBackend.attach_load_balancer_target_groups = attach_load_balancer_target_groups  # type: ignore[method-assign]
    AutoScalingBackend.detach_load_balancer_target_groups = detach_load_balancer_target_groups  # type: ignore[method-assign]
    AutoScalingBackend.enter_standby_instances = enter_standby_instances  # type: ignore[method-assign]
    AutoScalingBackend.exit_standby_instances = exit_standby_instances  # type: ignore[method-assign]
    FakeAutoScalingGroup.active_instances = active_instances  # type: ignore[method-assign]
    FakeAutoScalingGroup.set_desired_capacity = group_set_desired_capacity  # type: ignore[method-assign]
    FakeAutoScalingGroup.update = group_update  # type: ignore[method-assign]
    FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances  # type: ignore[method-assign]

# --------------------------------------------------------------------------------------
# Instance refreshes: moto 5.2.5 has no StartInstanceRefresh / DescribeInstanceRefreshes /
# CancelInstanceRefresh. Rebound only needs to know whether one is running (safety
# invariant 4), so a refresh stays InProgress until cancelled; no instance is replaced.
# --------------------------------------------------------------------------------------

_ACTIVE_REFRESH = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


def _refreshes(backend: AutoScalingBackend) -> dict[str, list[dict[str, Any]]]:
    # Stored on the backend object so that a moto reset (which rebuilds backends)
    # forgets them too.
    if not hasattr(backend, "_rebound_refreshes"):
        backend._rebound_refreshes = {}  # type: ignore[attr-defined]
    return backend._rebound_refreshes  # type: ignore[attr-defined,no-any-return]


def _group_or_error(backend: AutoScalingBackend, name: str | None) -> FakeAutoScalingGroup:
    if not name or name not in backend.autoscaling_groups:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    return backend.autoscaling_groups[name]


def _add_instance_refresh_api() -> None:
    def start_instance_refresh(self: AutoScalingResponse) -> ActionResult:
        name = self._get_param("AutoScalingGroupName")
        group = _group_or_error(self.autoscaling_backend, name)
        history = _refreshes(self.autoscaling_backend).setdefault(name, [])
        if any(r["Status"] in _ACTIVE_REFRESH for r in history):
            raise AutoscalingClientError(
                "InstanceRefreshInProgress",
                "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
            )
        refresh = {
            "InstanceRefreshId": str(uuid.uuid4()),
            "AutoScalingGroupName": name,
            "Status": "InProgress",
            "StatusReason": "Waiting for instances to warm up before continuing.",
            "StartTime": utcnow(),
            "PercentageComplete": 0,
            "InstancesToUpdate": len(group.instance_states),
            "Strategy": self._get_param("Strategy") or "Rolling",
            "Preferences": self._get_param("Preferences") or {},
        }
        history.insert(0, refresh)  # newest first, like the real API
        return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})

    def describe_instance_refreshes(self: AutoScalingResponse) -> ActionResult:
        name = self._get_param("AutoScalingGroupName")
        ids = self._get_param("InstanceRefreshIds", [])
        history = _refreshes(self.autoscaling_backend).get(name, [])
        found = [r for r in history if not ids or r["InstanceRefreshId"] in ids]
        return ActionResult({"InstanceRefreshes": found})

    def cancel_instance_refresh(self: AutoScalingResponse) -> ActionResult:
        name = self._get_param("AutoScalingGroupName")
        _group_or_error(self.autoscaling_backend, name)
        for r in _refreshes(self.autoscaling_backend).get(name, []):
            if r["Status"] in _ACTIVE_REFRESH:
                r["Status"] = "Cancelled"
                r["StatusReason"] = "Cancelled by user request."
                r["EndTime"] = utcnow()
                return ActionResult({"InstanceRefreshId": r["InstanceRefreshId"]})
        raise AutoscalingClientError(
            "ActiveInstanceRefreshNotFound",
            f"No in progress or pending Instance Refresh found for Auto Scaling group {name}",
        )

    AutoScalingResponse.start_instance_refresh = start_instance_refresh  # type: ignore[attr-defined]
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes  # type: ignore[attr-defined]
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh  # type: ignore[attr-defined]



# --------------------------------------------------------------------------------------
# Traffic sources: moto 5.2.5 has no AttachTrafficSources / DetachTrafficSources /
# DescribeTrafficSources, ignores CreateAutoScalingGroup's TrafficSources and shows no
# TrafficSources in DescribeAutoScalingGroups. An `elbv2` traffic source is a target
# group whose membership follows the group exactly like one in TargetGroupARNs; the
# two lists are kept apart, as in AWS (both APIs can be used on one group).
# --------------------------------------------------------------------------------------

_TRAFFIC_SOURCE_TYPES = ("elbv2", "elb", "vpc-lattice")


def _parse_traffic_sources(backend: AutoScalingBackend, raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("TrafficSources must list at least one traffic source")
    sources = []
    for item in raw:
        identifier = item.get("Identifier") if isinstance(item, dict) else None
        kind = item.get("Type") if isinstance(item, dict) else None
        if not identifier:
            raise ValidationError("TrafficSources.member.Identifier is required")
        if not kind:
            # Type is optional for ARNs; AWS infers it.
            if ":targetgroup/" in identifier and ":elasticloadbalancing:" in identifier:
                kind = "elbv2"
            elif ":vpc-lattice:" in identifier:
                kind = "vpc-lattice"
            else:
                raise ValidationError(f"Type is required for traffic source {identifier}")
        if kind not in _TRAFFIC_SOURCE_TYPES:
            raise ValidationError(f"Invalid traffic source type {kind}; valid types: {', '.join(_TRAFFIC_SOURCE_TYPES)}")
        if kind == "elbv2" and identifier not in backend.elbv2_backend.target_groups:
            raise ValidationError(_INVALID_TARGET_GROUPS)
        sources.append({"Identifier": identifier, "Type": kind})
    return sources


def _attach_traffic_sources(backend: AutoScalingBackend, group: FakeAutoScalingGroup, sources: list[dict[str, str]]) -> None:
    current = _traffic_sources(group)
    for source in sources:
        if source not in current:
            current.append(source)
    backend.update_attached_target_groups(group.name)


def _add_traffic_sources_api() -> None:
    def traffic_sources(self: FakeAutoScalingGroup) -> list[dict[str, str]]:
        return [dict(ts) for ts in _traffic_sources(self)]

    # DescribeAutoScalingGroups serialises the attribute `traffic_sources`.
    FakeAutoScalingGroup.traffic_sources = property(traffic_sources)  # type: ignore[attr-defined]

    orig_create = AutoScalingResponse.create_auto_scaling_group

    def create_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
        raw = self._get_param("TrafficSources")
        sources = _parse_traffic_sources(self.autoscaling_backend, raw) if raw else []
        result = orig_create(self)
        if sources:
            backend = self.autoscaling_backend
            _attach_traffic_sources(backend, backend.autoscaling_groups[self._get_param("AutoScalingGroupName")], sources)
        return result

    def attach_traffic_sources(self: AutoScalingResponse) -> ActionResult:
        backend = self.autoscaling_backend
        group = _group_or_error(backend, self._get_param("AutoScalingGroupName"))
        _attach_traffic_sources(backend, group, _parse_traffic_sources(backend, self._get_param("TrafficSources")))
        return EmptyResult()

    def detach_traffic_sources(self: AutoScalingResponse) -> ActionResult:
        """Deregisters the group's instances from a detached elbv2 traffic source
        (unless it is also in TargetGroupARNs). Detaching one that is not attached is
        a no-op; a deleted target group is fine."""
        backend = self.autoscaling_backend
        group = _group_or_error(backend, self._get_param("AutoScalingGroupName"))
        raw = self._get_param("TrafficSources")
        if not isinstance(raw, list) or not raw:
            raise ValidationError("TrafficSources must list at least one traffic source")
        identifiers = {item.get("Identifier") for item in raw if isinstance(item, dict)}
        current = _traffic_sources(group)
        leaving = [ts for ts in current if ts["Identifier"] in identifiers]
        current[:] = [ts for ts in current if ts not in leaving]
        still = set(_group_target_group_arns(group))
        for ts in leaving:
            if ts["Type"] == "elbv2" and ts["Identifier"] not in still:
                _detach_target_group(backend, group, ts["Identifier"])
        return EmptyResult()

    def describe_traffic_sources(self: AutoScalingResponse) -> ActionResult:
        """State is `InService` for an elbv2 source of a group with ELB health checks
        once a member is registered in it, else `Added` (attachment is instantaneous)."""
        backend = self.autoscaling_backend
        group = _group_or_error(backend, self._get_param("AutoScalingGroupName"))
        kind = self._get_param("TrafficSourceType")
        members = {st.instance.id for st in group.instance_states}
        found = []
        for ts in _traffic_sources(group):
            if kind and ts["Type"] != kind:
                continue
            state = "Added"
            tg = backend.elbv2_backend.target_groups.get(ts["Identifier"]) if ts["Type"] == "elbv2" else None
            if tg is not None and "ELB" in (group.health_check_type or "") and members & set(tg.targets):
                state = "InService"
            found.append({"TrafficSource": ts["Identifier"], "State": state, **ts})
        return ActionResult({"TrafficSources": found})

    AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingResponse.attach_traffic_sources = attach_traffic_sources  # type: ignore[attr-defined]
    AutoScalingResponse.detach_traffic_sources = detach_traffic_sources  # type: ignore[attr-defined]
    AutoScalingResponse.describe_traffic_sources = describe_traffic_sources  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------
# RDS: forced failover of a Multi-AZ DB instance. moto 5.2.5 accepts
# RebootDBInstance(ForceFailover=true) and does nothing (not even on a single-AZ
# instance), and leaves SecondaryAvailabilityZone empty. Here a Multi-AZ instance has a
# standby in another AZ; a forced failover passes through `rebooting`, swaps primary and
# standby, and records RDS-EVENT-0013 then RDS-EVENT-0049 (instant mode: within the
# call; phased mode: the swap and 0049 on /_rebound/rds-advance); on a single-AZ
# instance it fails with InvalidParameterCombination, on one not `available` with
# InvalidDBInstanceState, as AWS answers.
# --------------------------------------------------------------------------------------

RDS_MODES = ("instant", "phased")
_RDS_MODE = {"mode": "instant"}

# Reboots in progress (phased mode): (account, region, db id) -> "failover" | "reboot".
RDS_IN_PROGRESS: dict[tuple[str, str, str], str] = {}

# Every RDS event the layer recorded, with its id (DescribeEvents returns none): what
# EventBridge would have delivered. Oldest first.
RDS_EVENTS: list[dict[str, Any]] = []

# The real events' ids, categories and messages.
_RDS_EVENT_TEXT = {
    "RDS-EVENT-0006": ("availability", "DB instance restarted"),
    "RDS-EVENT-0013": ("failover", "A Multi-AZ failover that resulted in the promotion of a standby instance has started."),
    "RDS-EVENT-0049": ("failover", "Multi-AZ instance failover completed."),
}

_SINGLE_AZ_FAILOVER = (
    "Reboot with failover is not supported for a DB instance that is not Multi-AZ. "
    "Modify the DB instance to be Multi-AZ, or reboot it without failover."
)


class _RdsEvent:
    """Shaped like moto's rds Event, so DescribeEvents serialises it the same way."""

    def __init__(self, db: Any, category: str, message: str) -> None:
        self.source_identifier = db.db_instance_identifier
        self.source_type = "db-instance"
        self.message = message
        self.event_categories = [category]
        self.source_arn = db.arn
        self.date = utcnow()


def get_rds_mode() -> str:
    return _RDS_MODE["mode"]


def set_rds_mode(mode: Any) -> str:
    if mode not in RDS_MODES:
        raise ValueError(f"mode must be one of {', '.join(RDS_MODES)}; got {mode!r}")
    _RDS_MODE["mode"] = mode
    return mode


def list_rds_events() -> list[dict[str, Any]]:
    return [dict(e) for e in RDS_EVENTS]


def _rds_backends() -> list[Any]:
    from moto.rds.models import rds_backends

    return [backend for _account, _region, backend in rds_backends.iter_backends()]


def _find_db(db_id: str) -> tuple[Any, Any] | tuple[None, None]:
    for backend in _rds_backends():
        db = backend.databases.get(db_id.lower())
        if db is not None:
            return backend, db
    return None, None


def _record_rds_event(backend: Any, db: Any, event_id: str) -> None:
    category, message = _RDS_EVENT_TEXT[event_id]
    event = _RdsEvent(db, category, message)
    backend.events.append(event)
    RDS_EVENTS.append({
        "db_instance_identifier": db.db_instance_identifier,
        "event_id": event_id,
        "categories": [category],
        "message": message,
        # As EventBridge writes it: 2026-11-26T10:16:21.418Z.
        "date": event.date.strftime("%Y-%m-%dT%H:%M:%S.") + f"{event.date.microsecond // 1000:03d}Z",
        "source_arn": db.arn,
        "account": db.account_id,
        "region": db.region,
    })


def _other_az(az: str) -> str:
    """A standby zone in the same region, other than the primary's."""
    return az[:-1] + ("b" if az.endswith("a") else "a")


def _finish_reboot(backend: Any, db: Any, kind: str) -> None:
    if kind == "failover":
        standby = db.secondary_availability_zone
        if standby:
            db._rebound_standby_az = db.availability_zone
            db.availability_zone = standby
        _record_rds_event(backend, db, "RDS-EVENT-0049")
    else:
        _record_rds_event(backend, db, "RDS-EVENT-0006")
    db.status = "available"


def reboot_db_instance(backend: Any, db_id: str, force_failover: bool) -> Any:
    """RebootDBInstance as AWS answers it. Returns the instance as the answer shows it
    (`rebooting`, the zones before the failover)."""
    import copy

    from moto.rds.exceptions import DBInstanceNotFoundError, RDSClientError

    db = backend.databases.get((db_id or "").lower())
    if db is None:
        raise DBInstanceNotFoundError(db_id)
    if force_failover and not db.multi_az:
        raise RDSClientError("InvalidParameterCombination", _SINGLE_AZ_FAILOVER)
    if db.status != "available":
        raise RDSClientError("InvalidDBInstanceState", f"DB instance {db.db_instance_identifier} is not in available state.")
    kind = "failover" if force_failover else "reboot"
    if force_failover:
        _record_rds_event(backend, db, "RDS-EVENT-0013")
    db.status = "rebooting"
    answer = copy.copy(db)
    if _RDS_MODE["mode"] == "instant":
        _finish_reboot(backend, db, kind)
    else:
        RDS_IN_PROGRESS[(db.account_id, db.region, db.db_instance_identifier)] = kind
    return answer


def rds_advance(db_id: str | None = None) -> list[dict[str, Any]]:
    """Finish the reboots and failovers in progress (of one instance, or all): back to
    `available`, primary and standby swapped for a failover, 0049 (or 0006) recorded."""
    if db_id is not None and _find_db(db_id)[1] is None:
        raise ValueError(f"no DB instance named {db_id!r}")
    done = []
    for key, kind in list(RDS_IN_PROGRESS.items()):
        account, region, name = key
        if db_id is not None and name != db_id.lower():
            continue
        del RDS_IN_PROGRESS[key]
        from moto.rds.models import rds_backends

        backend = rds_backends[account][region]
        db = backend.databases.get(name)
        if db is None:
            continue  # deleted meanwhile
        _finish_reboot(backend, db, kind)
        done.append({
            "db_instance_identifier": name,
            "kind": kind,
            "status": db.status,
            "availability_zone": db.availability_zone,
            "secondary_availability_zone": db.secondary_availability_zone,
        })
    return done


def set_db_status(db_id: Any, status: Any) -> dict[str, Any]:
    """Make DescribeDBInstances report `status` for an instance (backing-up, modifying,
    storage-full, …) until it is set again."""
    if not isinstance(db_id, str) or not db_id:
        raise ValueError("db_instance_identifier (string) is required")
    if not isinstance(status, str) or not status:
        raise ValueError("status (string, e.g. backing-up) is required")
    _backend, db = _find_db(db_id)
    if db is None:
        raise ValueError(f"no DB instance named {db_id!r}")
    db.status = status
    return {"db_instance_identifier": db.db_instance_identifier, "status": db.status}


def _patch_rds() -> None:
    from moto.rds.models import DBInstance
    from moto.rds.responses import RDSResponse

    def get_standby(self: Any) -> str | None:
        if not getattr(self, "multi_az", False) or getattr(self, "db_cluster_identifier", None):
            return None
        return getattr(self, "_rebound_standby_az", None) or _other_az(self.availability_zone)

    def set_standby(self: Any, value: str | None) -> None:
        self._rebound_standby_az = value

    # moto leaves SecondaryAvailabilityZone empty; a Multi-AZ instance has its standby
    # in another zone of the region.
    DBInstance.secondary_availability_zone = property(get_standby, set_standby)  # type: ignore[attr-defined]

    def response_reboot(self: RDSResponse) -> ActionResult:
        force = self.params.get("ForceFailover")
        if isinstance(force, str):
            force = force.lower() == "true"
        db = reboot_db_instance(self.backend, self.params.get("DBInstanceIdentifier"), bool(force))
        return ActionResult({"DBInstance": db})

    RDSResponse.reboot_db_instance = response_reboot  # type: ignore[method-assign]

    def response_describe_events(self: RDSResponse) -> ActionResult:
        params = self.params
        events = self.backend.describe_events(
            source_identifier=params.get("SourceIdentifier"), source_type=params.get("SourceType")
        )
        page, marker = describe_events_page(
            events,
            start=params.get("StartTime"),
            end=params.get("EndTime"),
            duration=params.get("Duration"),
            categories=params.get("EventCategories"),
            max_records=params.get("MaxRecords"),
            marker=params.get("Marker"),
            now=utcnow(),
        )
        result: dict[str, Any] = {"Events": page}
        if marker is not None:
            result["Marker"] = marker
        return ActionResult(result)

    RDSResponse.describe_events = response_describe_events  # type: ignore[method-assign]


# DescribeEvents, as RDS answers it (moto 5.2.5 ignores all of this and returns every
# event it ever recorded): the window is StartTime..EndTime, or the last Duration
# minutes (default 60) up to EndTime or now; only the asked EventCategories; oldest
# first, MaxRecords (20-100, default 100) per page, a Marker to the next page.
_DESCRIBE_EVENTS_DEFAULT_MINUTES = 60
_MAX_RECORDS_RANGE = (20, 100)


def _naive_utc(value: Any) -> dt.datetime:
    """A request's timestamp (already parsed, or ISO 8601 text) or an event's date, as the
    naive UTC datetime moto keeps."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            from moto.rds.exceptions import InvalidParameterValue

            raise InvalidParameterValue(f"Invalid timestamp: {value}")
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def describe_events_page(
    events: list[Any],
    *,
    start: Any = None,
    end: Any = None,
    duration: Any = None,
    categories: Any = None,
    max_records: Any = None,
    marker: Any = None,
    now: dt.datetime,
) -> tuple[list[Any], str | None]:
    from moto.rds.exceptions import InvalidParameterValue

    def whole(name: str, value: Any) -> int | None:
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidParameterValue(f"Invalid value for {name}: {value}")

    until = _naive_utc(end) if end else _naive_utc(now)
    if start:
        since = _naive_utc(start)
    else:
        minutes = whole("Duration", duration)
        since = until - dt.timedelta(minutes=_DESCRIBE_EVENTS_DEFAULT_MINUTES if minutes is None else minutes)
    wanted = {c.lower() for c in categories} if categories else None
    selected = sorted(
        (
            e
            for e in events
            if since <= _naive_utc(e.date) <= until
            and (wanted is None or any(c.lower() in wanted for c in e.event_categories))
        ),
        key=lambda e: _naive_utc(e.date),
    )
    limit = whole("MaxRecords", max_records)
    low, high = _MAX_RECORDS_RANGE
    if limit is None:
        limit = high
    elif not low <= limit <= high:
        raise InvalidParameterValue(f"Invalid value for MaxRecords: {limit}, valid values are {low} to {high}")
    offset = 0
    if marker:
        try:
            offset = int(str(marker).removeprefix("events-"))
        except ValueError:
            raise InvalidParameterValue(f"Invalid Marker: {marker}")
    page = selected[offset : offset + limit]
    following = offset + limit
    return page, (f"events-{following}" if following < len(selected) else None)


def clear_rds_events() -> int:
    """Forgets every RDS event recorded so far (the layer's list and moto's): the
    benchmark's way to make each timed failover its database's first in the window."""
    forgotten = len(RDS_EVENTS)
    RDS_EVENTS.clear()
    for backend in _rds_backends():
        backend.events.clear()
    return forgotten


# --------------------------------------------------------------------------------------
# Resilience drills (`rebound drill`): what stopping a group's instance and blocking an
# Availability Zone's subnets with a network ACL do.
#
# Stop: moto already reports a stopped instance's target `unused` / Target.InvalidState,
# as ELB does; the Auto Scaling group's EC2 health check then finds the instance not
# running and replaces it (AWS marks it Unhealthy and launches a replacement, desired
# capacity kept). moto's group never notices. Here the EC2 health check runs as the
# StopInstances call returns: the replacement is instant or phased like any other, and
# does not happen while HealthCheck, ReplaceUnhealthy, Launch or Terminate is suspended.
#
# Network ACLs: moto stores them but carries no traffic. A subnet whose network ACL has
# no ingress `allow` entry (a new custom ACL: AWS gives it only the implicit deny-all,
# which is how the AZ failure lab and `rebound drill az` cut a zone off) stops the load
# balancer's health checks of its instances: they report `unhealthy` / Target.Timeout.
# --------------------------------------------------------------------------------------

BLOCKED_REASON = ("Target.Timeout", "Request timed out")

# An Auto Scaling group's EC2 health check does not replace anything while one of these
# is suspended.
_EC2_HEALTH_CHECK_BLOCKERS = _REPLACE_BLOCKERS | {"HealthCheck"}


def _subnet_blocked(ec2_backend: Any, instance_id: str) -> bool:
    """The instance's subnet is associated with a network ACL that allows no inbound
    traffic."""
    if ec2_backend is None:
        return False
    instance = ec2_backend.get_instance_by_id(instance_id)
    subnet_id = getattr(instance, "subnet_id", None)
    if not subnet_id:
        return False
    for acl in ec2_backend.network_acls.values():
        if any(assoc.subnet_id == subnet_id for assoc in acl._associations.values()):
            return not any(
                entry.rule_action == "allow" and str(entry.egress).lower() != "true"
                for entry in acl.network_acl_entries
            )
    return False


def _ec2_health_check(account_id: str, region: str, instance_ids: list[str]) -> None:
    """The EC2 health check of the groups owning these (just stopped) instances: an
    InService member that is not running is marked Unhealthy and replaced."""
    try:
        backend = autoscaling_backends[account_id][region]
    except Exception:
        return
    for group in list(backend.autoscaling_groups.values()):
        suspended = {p["ProcessName"] for p in group.suspended_processes}
        for state in list(group.instance_states):
            if state.instance.id not in instance_ids or state.lifecycle_state != "InService":
                continue
            if suspended & _EC2_HEALTH_CHECK_BLOCKERS:
                continue  # AWS does not even mark it while HealthCheck is suspended
            state.health_status = "Unhealthy"
            if _held_by_zonal_shift(group, state):
                continue  # IgnoreUnhealthy in the zone the group is shifted away from
            if _MODE["mode"] == "phased":
                start_replacement(backend, group, state)
            else:
                backend.terminate_instance(state.instance.id, should_decrement=False)


def _patch_drills() -> None:
    from moto.ec2.models import EC2Backend

    orig_stop = EC2Backend.stop_instances

    def stop_instances(self: Any, instance_ids: list[str]) -> Any:
        stopped = orig_stop(self, instance_ids)
        _ec2_health_check(self.account_id, self.region_name, [instance.id for instance, _ in stopped])
        return stopped

    EC2Backend.stop_instances = stop_instances  # type: ignore[method-assign]


__all__ = [
    "TARGET_STATES",
    "install",
    "reset_state",
    "validate_health_override",
    "store_health_override",
    "list_health_overrides",
    "clear_health_overrides",
    "REPLACEMENT_MODES",
    "get_replacement_mode",
    "set_replacement_mode",
    "list_replacements",
    "advance",
    "RDS_MODES",
    "get_rds_mode",
    "set_rds_mode",
    "rds_advance",
    "set_db_status",
    "list_rds_events",
    "clear_rds_events",
    "describe_events_page",
]


# --------------------------------------------------------------------------------------
# Instance lookups by id in constant time (performance only: answers are unchanged)
# --------------------------------------------------------------------------------------


def _index_instances() -> None:
    """moto finds an instance by id by copying every reservation of the region and
    scanning them (InstanceBackend.get_instance_by_id, get_instance), and looks one up
    for every target of every DescribeTargetHealth, every registration and every host
    count the layer computes: at 1,000 Auto Scaling groups (10,000 target groups) one
    DescribeTargetHealth took tens of milliseconds and provisioning grew quadratically.
    Both lookups go through an index of instance id -> (reservation, instance) instead.
    moto never removes a reservation nor an instance from one (terminated instances
    stay), and only adds reservations; a hit is still checked against moto's own state,
    and a miss rebuilds the index once before answering as moto would."""

    def indexed(backend: InstanceBackend, instance_id: str) -> Any:
        index: dict[str, tuple[Any, Any]] = backend.__dict__.setdefault("_rebound_instance_index", {})

        def current(hit: tuple[Any, Any] | None) -> Any:
            if hit is None:
                return None
            reservation, instance = hit
            if backend.reservations.get(reservation.id) is not reservation:
                return None
            return instance if any(i is instance for i in reservation.instances) else None

        found = current(index.get(instance_id))
        if found is None:
            index.clear()
            for reservation in backend.reservations.values():
                for instance in reservation.instances:
                    index[instance.id] = (reservation, instance)
            found = current(index.get(instance_id))
        return found

    def get_instance_by_id(self: InstanceBackend, instance_id: str) -> Any:
        return indexed(self, instance_id)

    def get_instance(self: InstanceBackend, instance_id: str) -> Any:
        instance = indexed(self, instance_id)
        if instance is None:
            raise InvalidInstanceIdError(instance_id)
        return instance

    InstanceBackend.get_instance_by_id = get_instance_by_id  # type: ignore[method-assign]
    InstanceBackend.get_instance = get_instance  # type: ignore[method-assign]
