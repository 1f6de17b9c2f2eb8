#!/usr/bin/env python3
"""Writes the `--env-vars` file for `sam local invoke`, pointing the functions at a
deployed stack.

    scripts/sam-env-vars [--stack-name rebound] [--region R] [--profile P] [--out .rebound/sam-env.json]

`sam local invoke` resolves `!Ref IncidentsTable` to the logical id ("IncidentsTable"),
not to a table, and it can only override variables the template declares. This reads
every function's `Environment.Variables` from template.yaml and gives each one its value
in the deployed stack:

- `!Ref Parameter` -> the stack's current parameter value;
- `!If [Condition, a, b]` -> a or b, the condition evaluated on the stack's parameters
  (`AWS::NoValue` -> empty, which Rebound reads as unset);
- `!Ref Resource` / `!GetAtt Resource.Attr` -> the stack output whose Value is that same
  expression (template.yaml exports every name a function needs);
- `MODE` is always `dry-run`: a local invoke runs with the caller's own credentials,
  never the function's role, and must not make a mutating call.

A variable that cannot be resolved is an error, never left to SAM's placeholder.
Output: {"<LogicalId>": {"VAR": "value", ...}, ...}, the format `--env-vars` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "emulator"))

from provision import CfnLoader  # noqa: E402  (CloudFormation-aware YAML loader)

import yaml  # noqa: E402

FORCED = {"MODE": "dry-run"}


class ResolveError(Exception):
    pass


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def function_variables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's environment as SAM merges it: Globals first, then its own."""
    global_vars = (
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    functions: dict[str, dict[str, Any]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        own = (resource.get("Properties") or {}).get("Environment", {}).get("Variables", {})
        functions[logical_id] = {**global_vars, **own}
    return functions


def _canonical(expr: Any) -> Any:
    """{"Fn::GetAtt": "A.B"} and {"Fn::GetAtt": ["A", "B"]} compare equal."""
    if isinstance(expr, dict) and "Fn::GetAtt" in expr and isinstance(expr["Fn::GetAtt"], str):
        return {"Fn::GetAtt": expr["Fn::GetAtt"].split(".", 1)}
    return expr


def condition_values(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, bool]:
    """The template's conditions for these parameter values (Equals, Not, And, Or,
    Condition); a parameter the stack does not list takes its template default."""

    def value(expr: Any) -> Any:
        if isinstance(expr, dict) and "Ref" in expr:
            name = expr["Ref"]
            return parameters.get(name, template["Parameters"][name].get("Default"))
        return expr

    def truth(expr: Any) -> bool:
        ((fn, args),) = expr.items()
        if fn == "Fn::Equals":
            return str(value(args[0])) == str(value(args[1]))
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::And":
            return all(truth(a) for a in args)
        if fn == "Fn::Or":
            return any(truth(a) for a in args)
        if fn == "Condition":
            return truth(template["Conditions"][args])
        raise ResolveError(f"condition function {fn} is not supported")

    return {name: truth(expr) for name, expr in template.get("Conditions", {}).items()}


def resolve(
    template: dict[str, Any],
    parameters: dict[str, str],
    outputs: dict[str, str],
) -> dict[str, dict[str, str]]:
    """The env-vars document for these stack parameters and outputs."""
    output_for: list[tuple[Any, str]] = [
        (_canonical(spec.get("Value")), name) for name, spec in template.get("Outputs", {}).items()
    ]
    template_parameters = template.get("Parameters", {})
    conditions = condition_values(template, parameters)

    def value(where: str, expr: Any) -> str:
        if isinstance(expr, bool):
            return str(expr).lower()
        if isinstance(expr, (str, int, float)):
            return str(expr)
        if isinstance(expr, dict) and "Fn::If" in expr:
            condition, if_true, if_false = expr["Fn::If"]
            return value(where, if_true if conditions[condition] else if_false)
        ref = expr.get("Ref") if isinstance(expr, dict) else None
        if ref == "AWS::NoValue":
            return ""  # not set in the deployed function; blank is unset for Rebound
        if ref in template_parameters:
            if ref not in parameters:
                raise ResolveError(f"{where}: the stack has no parameter {ref}")
            return parameters[ref]
        output = next((n for v, n in output_for if v == _canonical(expr)), None)
        if output is None:
            raise ResolveError(f"{where}: no output of template.yaml has the value {expr!r}; add one")
        if output not in outputs:
            raise ResolveError(f"{where}: the stack has no output {output} (deployed an older template?)")
        return outputs[output]

    result: dict[str, dict[str, str]] = {}
    for function, variables in function_variables(template).items():
        result[function] = {
            name: FORCED[name] if name in FORCED else value(f"{function}.{name}", expr)
            for name, expr in variables.items()
        }
    return result


def stack_description(stack_name: str, cloudformation: Any) -> tuple[dict[str, str], dict[str, str]]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise ResolveError(f"no stack named {stack_name}")
    stack = stacks[0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return parameters, outputs


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--stack-name", default="rebound")
    args.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    args.add_argument("--region")
    args.add_argument("--profile")
    args.add_argument("--out", type=Path, default=REPO_ROOT / ".rebound" / "sam-env.json")
    opts = args.parse_args()

    import boto3  # only here: the module's functions are tested without AWS

    session = boto3.session.Session(profile_name=opts.profile, region_name=opts.region)
    try:
        parameters, outputs = stack_description(opts.stack_name, session.client("cloudformation"))
        env_vars = resolve(load_template(opts.template), parameters, outputs)
    except ResolveError as exc:
        print(f"sam-env-vars: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - botocore's errors: say what failed, no trace
        print(f"sam-env-vars: cannot read stack {opts.stack_name}: {exc}", file=sys.stderr)
        return 1
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(env_vars, indent=2, sort_keys=True) + "\n")
    functions = ", ".join(sorted(env_vars))
    print(f"wrote {opts.out} for {functions} (stack {opts.stack_name}, MODE=dry-run)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
