#!/usr/bin/env python3
"""Applies the SAM transform to a template offline and writes the CloudFormation result.

    .venv/bin/python scripts/lib/sam_transform.py template.yaml out.json [--region us-east-1]

cfn-lint 1.x validates a SAM template against SAM's own schemas without transforming it,
so what SAM generates (the functions' IAM roles with their policies, event source
mappings, rules, permissions) is never linted as CloudFormation: an IAM action typo in
`Policies` passes. This runs the same translator `sam deploy` relies on
(aws-sam-translator, a dependency of aws-sam-cli), with no AWS call: local CodeUri paths
become a placeholder S3 location (as `sam validate` does) and no managed policy name is
looked up (the template uses none), then cfn-lint and checkov read the result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Isolated from the caller's AWS configuration: the session only names a region.
for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(name, None)

from boto3.session import Session  # noqa: E402
from samtranslator.parser import parser  # noqa: E402
from samtranslator.public.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.translator import Translator  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

PLACEHOLDER_CODE = "s3://rebound-placeholder-bucket/code.zip"


def local_code_to_s3(template: dict[str, Any]) -> None:
    """CodeUri: . (built by `sam build`) is no S3 URI; the translator wants one."""
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = PLACEHOLDER_CODE
    for resource in template.get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            props = resource.get("Properties") or {}
            if isinstance(props.get("CodeUri"), str):
                props["CodeUri"] = PLACEHOLDER_CODE


def transform(template_path: Path, region: str) -> dict[str, Any]:
    template = yaml_parse(template_path.read_text())
    local_code_to_s3(template)
    translator = Translator(
        managed_policy_map=None,
        sam_parser=parser.Parser(),
        plugins=[],
        boto_session=Session(region_name=region),
    )
    return translator.translate(
        sam_template=template,
        parameter_values={},
        get_managed_policy_map=lambda: {},
    )


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("template", type=Path)
    args.add_argument("out", type=Path)
    args.add_argument("--region", default="us-east-1")
    opts = args.parse_args()
    try:
        result = transform(opts.template, opts.region)
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in exc.causes)
        print(f"sam_transform: {opts.template} is not a valid SAM template: {exc} {causes}", file=sys.stderr)
        return 1
    opts.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
