#!/usr/bin/env python3
"""Checks on the HA example stack (examples/ha-stack/template.yaml) that cfn-lint cannot
make, run by scripts/lint-example.

    .venv/bin/python scripts/lib/example_checks.py [-v]

- An FIS experiment that stops an instance of an Auto Scaling group starts it again
  after a while (`startInstancesAfterDuration`) and completes when the group terminated
  it meanwhile (`completeIfInstancesTerminated: "true"`): the group replaces a stopped
  instance, and without the parameter FIS ends the experiment failed although the stack
  healed, which a drill then reports.
"""

from __future__ import annotations

import sys
import unittest
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts" / "lib"))

import sam_env_vars  # noqa: E402  (the CloudFormation-aware YAML loader)

EXAMPLE = REPO_ROOT / "examples" / "ha-stack" / "template.yaml"
GROUP_TAG = "aws:autoscaling:groupName"


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


if __name__ == "__main__":
    unittest.main()
