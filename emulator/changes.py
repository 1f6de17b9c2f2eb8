"""Changes in flight: a CloudFormation stack's status and CodeDeploy deployments, as
target-health reads them to hold a group someone is changing (guard `change-in-flight`).

moto 5.2.5 models both services, with three gaps this module closes:

  * a stack's status never leaves `CREATE_COMPLETE` / `UPDATE_COMPLETE` (moto applies a
    change within the call): `/_rebound/cloudformation/stack-status` sets the status
    DescribeStacks reports (any status of the API's `StackStatus` enum) until set again
    or the stack is updated or deleted;
  * a deployment's status never leaves `Created`: `/_rebound/codedeploy/deployment-status`
    sets it (any `DeploymentStatus`), with `startTime` when it starts and
    `completeTime` when it ends, as BatchGetDeployments reports them;
  * GetDeploymentGroup answers `autoScalingGroups` as `[{}]` (moto keeps the names as
    strings and serialises them as the API's `AutoScalingGroup` structures): here each
    is `{"name", "hook"}`, the hook named as CodeDeploy names the lifecycle hook it
    installs (`CodeDeploy-managed-automatic-launch-deployment-hook-<group>-<id>`).

Deployment IDs are AWS's shape, `d-` and nine upper-case letters or digits (moto uses a
UUID). BatchGetDeploymentGroups is not implemented (moto answers 500); target-health
reads deployment groups with GetDeploymentGroup.

Everything runs under server.py's global lock; the state is moto's own (reset with it).
"""

from __future__ import annotations

import random
import string
from typing import Any

# The API's StackStatus enum (CloudFormation 2010-05-15).
STACK_STATUSES = (
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE",
    "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS",
    "IMPORT_IN_PROGRESS", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED", "IMPORT_ROLLBACK_COMPLETE",
)

# The API's DeploymentStatus enum (CodeDeploy 2014-10-06).
DEPLOYMENT_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready")
_ENDED = ("Succeeded", "Failed", "Stopped")


def _cloudformation_backends() -> list[Any]:
    from moto.cloudformation.models import cloudformation_backends

    return [backend for account in cloudformation_backends.values() for backend in account.values()]


def _codedeploy_backends() -> list[Any]:
    from moto.codedeploy.models import codedeploy_backends

    return [backend for account in codedeploy_backends.values() for backend in account.values()]


def set_stack_status(stack_name: Any, status: Any) -> dict[str, Any]:
    """DescribeStacks reports `status` for the stack named (or with that id)."""
    if not isinstance(stack_name, str) or not stack_name:
        raise ValueError("stack_name must be a stack's name or id (string)")
    if status not in STACK_STATUSES:
        raise ValueError(f"status must be one of {', '.join(STACK_STATUSES)}")
    for backend in _cloudformation_backends():
        for stack in backend.stacks.values():
            if stack_name in (stack.name, stack.stack_id):
                stack.status = status
                return {"stack_name": stack.name, "stack_id": stack.stack_id, "status": status}
    raise ValueError(f"no stack {stack_name}")


def set_deployment_status(deployment_id: Any, status: Any) -> dict[str, Any]:
    """BatchGetDeployments / GetDeployment / ListDeployments see the deployment in
    `status`."""
    from moto.core.utils import utcnow

    if not isinstance(deployment_id, str) or not deployment_id:
        raise ValueError("deployment_id must be a deployment's id (string)")
    if status not in DEPLOYMENT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(DEPLOYMENT_STATUSES)}")
    for backend in _codedeploy_backends():
        deployment = backend.deployments.get(deployment_id)
        if deployment is None:
            continue
        deployment.status = status
        if status not in ("Created", "Queued") and deployment.start_time is None:
            deployment.start_time = utcnow()
        deployment.complete_time = utcnow() if status in _ENDED else None
        return {
            "deployment_id": deployment_id,
            "application_name": deployment.application_name,
            "deployment_group_name": deployment.deployment_group_name,
            "status": status,
        }
    raise ValueError(f"no deployment {deployment_id}")


def _deployment_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "d-" + "".join(random.choice(alphabet) for _ in range(9))  # noqa: S311 - not a secret


_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    from moto.codedeploy import models, responses

    original_init = models.DeploymentInfo.__init__

    def deployment_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.deployment_id = _deployment_id()

    models.DeploymentInfo.__init__ = deployment_init  # type: ignore[method-assign]

    original_group_info = responses._deployment_group_info

    def deployment_group_info(deployment_group: Any) -> dict[str, Any]:
        info = original_group_info(deployment_group)
        info["autoScalingGroups"] = [
            group if isinstance(group, dict) else {
                "name": group,
                "hook": "CodeDeploy-managed-automatic-launch-deployment-hook-"
                f"{deployment_group.deployment_group_name}-{deployment_group.deployment_group_id[:8]}",
            }
            for group in deployment_group.auto_scaling_groups or []
        ]
        return info

    responses._deployment_group_info = deployment_group_info
