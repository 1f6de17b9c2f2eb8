"""Patches to moto's in-process backends that make it behave like real AWS where
Rebound depends on the difference.

Every patch here is listed, with the real-AWS behaviour it models, in
emulator/README.md ("Fidelity layer"). Each one wraps or replaces a single moto
method; nothing else in moto is touched. `install()` is idempotent and is called
once by server.py before the first request.

All mutation of moto state happens while server.py holds its global request lock,
so the helpers here do not lock on their own.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.elbv2.models import ELBv2Backend, FakeTargetGroup, elbv2_backends

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
    HEALTH_OVERRIDES.clear()


# --------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------

_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    _patch_elbv2()
    _patch_autoscaling()
    _add_instance_refresh_api()


def _patch_elbv2() -> None:
    orig_describe = ELBv2Backend.describe_target_health

    def describe_target_health(self: ELBv2Backend, target_group_arn: str, targets: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
        """moto reports every registered running target `healthy`; apply the injected
        state to registered targets only (a deregistered target reports what moto says)."""
        results = orig_describe(self, target_group_arn, targets)
        tg = self.target_groups.get(target_group_arn)
        for status in results:
            override = HEALTH_OVERRIDES.get((target_group_arn, status.instance_id))
            if override and tg is not None and status.instance_id in tg.targets:
                status.status = override["state"]
                status.reason = override["reason"]
                status.description = override["description"]
        return results

    ELBv2Backend.describe_target_health = describe_target_health  # type: ignore[method-assign]

    # A target that leaves the group loses its injected health: a new registration of
    # the same id (never happens with real instance ids) must start clean, and the
    # replacement instance must report healthy.
    orig_deregister = FakeTargetGroup.deregister
    orig_deregister_terminated = FakeTargetGroup.deregister_terminated_instances

    def deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        orig_deregister(self, targets)
        for t in targets:
            HEALTH_OVERRIDES.pop((self.arn, t["Id"]), None)

    def deregister_terminated_instances(self: FakeTargetGroup, instance_ids: list[str]) -> None:
        orig_deregister_terminated(self, instance_ids)
        for iid in instance_ids:
            HEALTH_OVERRIDES.pop((self.arn, iid), None)

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


def _patch_autoscaling() -> None:
    orig_terminate = AutoScalingBackend.terminate_instance
    orig_update_tgs = AutoScalingBackend.update_attached_target_groups
    orig_notify_terminate = AutoScalingBackend.notify_terminate_instances
    orig_launch = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def terminate_instance(self: AutoScalingBackend, instance_id: str, should_decrement: bool):  # type: ignore[no-untyped-def]
        """TerminateInstanceInAutoScalingGroup. moto already launches the replacement
        (ShouldDecrementDesiredCapacity=false) and registers it, but leaves the
        terminated instance registered in the target groups, where it then reports
        `healthy` forever. Real ELB deregisters it (draining)."""
        _find_instance_state(self, instance_id)
        activity = orig_terminate(self, instance_id, should_decrement)
        self.elbv2_backend.notify_terminate_instances([instance_id])
        return activity

    def set_instance_health(self: AutoScalingBackend, instance_id: str, health_status: str) -> None:
        """SetInstanceHealth. moto only records the status; a real group terminates an
        Unhealthy InService instance and launches a replacement (desired capacity kept),
        unless ReplaceUnhealthy/Launch/Terminate is suspended. Done synchronously."""
        group, state = _find_instance_state(self, instance_id)
        state.health_status = health_status
        if health_status != "Unhealthy" or state.lifecycle_state != "InService":
            return
        suspended = {p["ProcessName"] for p in group.suspended_processes}
        if suspended & _REPLACE_BLOCKERS:
            return  # stays InService + Unhealthy, exactly what Rebound's guard must see
        terminate_instance(self, instance_id, should_decrement=False)

    def update_attached_target_groups(self: AutoScalingBackend, group_name: str) -> None:
        """moto only ever registers group members; after a scale-in the terminated
        instances stay registered (and `healthy`). Deregister terminated instances."""
        orig_update_tgs(self, group_name)
        group = self.autoscaling_groups[group_name]
        for arn in group.target_group_arns:
            tg = self.elbv2_backend.target_groups.get(arn)
            if tg is None:
                continue
            gone = [
                iid
                for iid in tg.targets
                if (inst := self.ec2_backend.get_instance_by_id(iid)) is not None
                and inst.state in ("terminated", "shutting-down")
            ]
            if gone:
                tg.deregister_terminated_instances(gone)

    def notify_terminate_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
        """ec2:TerminateInstances on a group member: moto launches the replacement but
        never registers it with the group's target groups. Real ASG does."""
        orig_notify_terminate(self, instance_ids)
        for name in list(self.autoscaling_groups):
            update_attached_target_groups(self, name)

    def replace_autoscaling_group_instances(
        self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]
    ) -> None:
        """moto launches every instance into the first subnet of VPCZoneIdentifier.
        A real group balances across its Availability Zones: put each new instance
        in the subnet with the fewest InService instances."""
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        if len(subnets) <= 1:
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


__all__ = [
    "TARGET_STATES",
    "install",
    "reset_state",
    "validate_health_override",
    "store_health_override",
    "list_health_overrides",
    "clear_health_overrides",
]
