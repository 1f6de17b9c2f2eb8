#!/usr/bin/env python3
"""Check that the Python baselines really work against the emulator and make the same
AWS calls as the Rust functions for the same events.

    .venv/bin/python bench/baseline/check.py --endpoint "$REBOUND_EMULATOR_URL" \\
        [--rust-dir target/release] [--skip-rust]

awslambdaric comes from requirements-bench.txt, which scripts/bench installs into .venv
(bench_venv_ensure in scripts/lib/venv.sh); requirements-dev.txt does not have it.

For each implementation (the Rust release binaries, then the baselines under
awslambdaric) it provisions a fresh stack (emulator/provision.py), starts target-health
and incident-notifier on a local Lambda Runtime API (bench/runtime_api.py) and runs:

  ignored        alarm on another metric             -> no AWS call
  open+replace   one instance unhealthy, alarm       -> incident opened, instance replaced
  replace again  another instance unhealthy, alarm   -> the open incident replaces it too
  resolve        all healthy, alarm                  -> incident resolved, resource freed
  healthy        all healthy, no incident, alarm     -> DescribeTargetHealth + GetItem
  notify         the incident table's stream records (emulator/stream_pump.py
                 --print-event) to incident-notifier  -> one SNS message per state change,
                 read back from the stack's SQS queue

The AWS operations of each step come from the emulator's request log. Each check
prints PASS/FAIL; the Rust and baseline operation sequences must be identical. Ends
with "N passed, N failed"; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from runtime_api import RuntimeApi  # noqa: E402

PYTHON = str(ROOT / ".venv/bin/python")
RESULTS: list[tuple[bool, str]] = []


def check(ok: bool, what: str, detail: Any = "") -> bool:
    RESULTS.append((ok, what))
    print(f"{'PASS' if ok else 'FAIL'} {what}" + ("" if ok or detail == "" else f": {detail}"), flush=True)
    return ok


def control(url: str, path: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def operations(url: str) -> list[str]:
    return [r["operation"] for r in control(url, "/_rebound/requests")]


class Process:
    """One function process on its own Runtime API."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.api = RuntimeApi(name).start()
        self.log = open(log, "ab")  # noqa: SIM115
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": ":UTC", **env,
            "AWS_LAMBDA_RUNTIME_API": self.api.address, "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_FORMAT": "JSON", "_HANDLER": argv[-1], "LAMBDA_TASK_ROOT": str(cwd),
        }
        generation = self.api.new_generation()
        self.process = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        if self.api.wait_first_poll(generation, 30, alive=lambda: self.process.poll() is None) is None:
            self.close()
            raise RuntimeError(f"{name} did not start; see {log}")

    def invoke(self, event: Any) -> tuple[str | None, Any]:
        invocation = self.api.invoke(json.dumps(event).encode(), 35, alive=lambda: self.process.poll() is None)
        return invocation.outcome, invocation.response_json()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.api.stop()
        self.log.close()


def run_implementation(label: str, url: str, rust_dir: Path, workdir: Path) -> dict[str, Any]:
    env = {
        "AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }
    os.environ.update(env)
    import boto3

    name = f"chk-{label}-{uuid.uuid4().hex[:6]}"
    stack = json.loads(subprocess.run(
        [PYTHON, str(ROOT / "emulator/provision.py"), "--endpoint", url, "--name", name],
        check=True, capture_output=True, text=True,
    ).stdout)
    tg = stack["stacks"][0]
    arn = tg["target_group_arn"]
    env |= {"INCIDENTS_TABLE": stack["incidents_table"], "NOTIFY_TOPIC_ARN": stack["topic_arn"]}
    th_env = env | {"MODE": "enforce", "COOLDOWN_SECONDS": "0", "ACTION_BUDGET_PER_HOUR": "10000", "MAX_IN_FLIGHT_PER_GROUP": "1"}
    if label == "rust":
        th = Process("target-health", [str(rust_dir / "target-health")], ROOT, th_env, workdir / f"{label}-target-health.log")
    else:
        th = Process("target-health", [PYTHON, "-m", "awslambdaric", "target_health.handler"], HERE, th_env,
                     workdir / f"{label}-target-health.log")

    elbv2 = boto3.client("elbv2")
    dynamodb = boto3.client("dynamodb")
    alarm = json.loads((ROOT / "events/target-health/alarm-state-change.json").read_text())
    alarm["account"], alarm["region"] = stack["account"], stack["region"]
    dims = alarm["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
    dims["TargetGroup"], dims["LoadBalancer"] = tg["target_group_full_name"], stack["load_balancer_full_name"]
    other = json.loads((ROOT / "events/target-health/alarm-other-metric.json").read_text())

    def registered() -> list[str]:
        return sorted(d["Target"]["Id"] for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"])

    def resource_record() -> dict:
        return dynamodb.get_item(TableName=stack["incidents_table"], Key={"pk": {"S": f"resource#target-group#{arn}"}},
                                 ConsistentRead=True).get("Item") or {}

    def step(event: Any) -> tuple[str | None, Any, list[str]]:
        control(url, "/_rebound/requests", "DELETE")
        outcome, body = th.invoke(event)
        return outcome, body, operations(url)

    ops: dict[str, list[str]] = {}
    try:
        outcome, body, ops["ignored"] = step(other)
        check(outcome == "response" and body.get("status") == "ignored" and ops["ignored"] == [],
              f"{label}: another metric's alarm is ignored without a call", (outcome, body, ops["ignored"]))

        incident_id = None
        for scenario in ("open+replace", "replace again"):
            victim = registered()[0]
            control(url, "/_rebound/target-health", "POST", {"target_group_arn": arn, "instance_id": victim,
                                                           "state": "unhealthy", "reason": "Target.FailedHealthChecks"})
            outcome, body, ops[scenario] = step(alarm)
            checks = (body or {}).get("checks") or [{}]
            actions = checks[0].get("actions") or []
            replaced = any(a.get("target") == victim and a.get("outcome") == "succeeded" for a in actions)
            now_registered = registered()
            check(outcome == "response" and replaced and victim not in now_registered and len(now_registered) == 4,
                  f"{label}: {scenario}: {victim} replaced, 4 targets again", (outcome, body, now_registered))
            incident_id = incident_id or checks[0].get("incident_id")
            check(checks[0].get("incident_id") == incident_id and checks[0].get("incident_state") == "remediating",
                  f"{label}: {scenario}: one incident, remediating", checks[0])
        stored = dynamodb.get_item(TableName=stack["incidents_table"], Key={"pk": {"S": f"incident#{incident_id}"}},
                                   ConsistentRead=True).get("Item") or {}
        check(stored.get("state", {}).get("S") == "remediating" and len(stored.get("actions", {}).get("L", [])) == 2
              and stored.get("version", {}).get("N") == "4",
              f"{label}: stored incident has 2 actions at version 4", {k: stored.get(k) for k in ("state", "version")})

        outcome, body, ops["resolve"] = step(alarm)
        checks = (body or {}).get("checks") or [{}]
        check(outcome == "response" and checks[0].get("verdict") == "resolve" and checks[0].get("incident_state") == "resolved"
              and "open_incident_id" not in resource_record(),
              f"{label}: all healthy -> incident resolved and resource freed", (outcome, body))
        outcome, body, ops["healthy"] = step(alarm)
        check(outcome == "response" and ((body or {}).get("checks") or [{}])[0].get("verdict") == "healthy",
              f"{label}: all healthy, no incident -> nothing recorded", (outcome, body))
    finally:
        th.close()

    # The notifier on the stream records the writes above produced.
    printed = subprocess.run(
        [PYTHON, str(ROOT / "emulator/stream_pump.py"), "--endpoint", url, "--stream-arn", stack["incidents_stream_arn"],
         "--once", "--print-event", "--batch-size", "100"],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    batches = [json.loads(line) for line in printed if line.strip()]
    if label == "rust":
        notifier = Process("incident-notifier", [str(rust_dir / "incident-notifier")], ROOT, env, workdir / f"{label}-notifier.log")
    else:
        notifier = Process("incident-notifier", [PYTHON, "-m", "awslambdaric", "incident_notifier.handler"], HERE, env,
                           workdir / f"{label}-notifier.log")
    sqs = boto3.client("sqs")
    try:
        control(url, "/_rebound/requests", "DELETE")
        answers = [notifier.invoke(batch) for batch in batches]
        ops["notify"] = operations(url)
        check(bool(batches) and all(o == "response" and not (b or {}).get("batchItemFailures") for o, b in answers),
              f"{label}: notifier took {sum(len(b['Records']) for b in batches)} stream records without failure", answers)
    finally:
        notifier.close()
    messages = []
    while True:
        got = sqs.receive_message(QueueUrl=stack["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        for message in got:
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"])
            messages.append({
                "subject": envelope.get("Subject"),
                "attributes": {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
                "state": body["incident"]["state"], "previous": body["previous_state"], "schema": body["schema"],
                "actions": len(body["incident"]["actions"]),
            })
            sqs.delete_message(QueueUrl=stack["queue_url"], ReceiptHandle=message["ReceiptHandle"])
    states = [(m["previous"], m["state"]) for m in messages]
    check(states == [(None, "remediating"), ("remediating", "resolved")]
          and all(len(m["subject"]) <= 100 and set(m["attributes"]) == {"severity", "resource_type", "state", "resource_id"} for m in messages),
          f"{label}: SNS -> SQS: one message per state change (opened as remediating, then resolved)", messages)
    return {"ops": ops, "messages": messages, "stack": name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=os.environ.get("REBOUND_EMULATOR_URL"), help="emulator URL")
    parser.add_argument("--rust-dir", type=Path, default=ROOT / "target/release")
    parser.add_argument("--skip-rust", action="store_true", help="check the baselines alone")
    parser.add_argument("--workdir", type=Path, default=None, help="where the function logs go (default: a temp dir)")
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("--endpoint (or REBOUND_EMULATOR_URL) is required")
    workdir = args.workdir or Path(f"/tmp/rebound-baseline-check-{os.getpid()}")
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs = {}
    if not args.skip_rust:
        runs["rust"] = run_implementation("rust", args.endpoint, args.rust_dir, workdir)
    runs["baseline"] = run_implementation("baseline", args.endpoint, args.rust_dir, workdir)
    if "rust" in runs:
        for scenario, rust_ops in runs["rust"]["ops"].items():
            base_ops = runs["baseline"]["ops"].get(scenario)
            check(rust_ops == base_ops, f"same AWS calls in the same order: {scenario} ({len(rust_ops)} calls)",
                  {"rust": rust_ops, "baseline": base_ops})
        strip = lambda ms: [{k: v for k, v in m.items() if k != "subject"} for m in ms]  # noqa: E731
        check(strip(runs["rust"]["messages"]) == strip(runs["baseline"]["messages"]),
              "same SNS messages (attributes, states, schema)", {k: r["messages"] for k, r in runs.items()})
    for label, r in runs.items():
        print(f"{label} operations: " + json.dumps(r["ops"]))
    passed = sum(1 for ok, _ in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"logs in {workdir}; {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
