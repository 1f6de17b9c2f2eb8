#!/usr/bin/env python3
"""Small helpers for scripts/demo, so the demo needs nothing beyond Python's standard
library and the project virtualenv (no curl, no jq).

    demo_helpers.py get FILE KEY.PATH            print one value of a JSON file
    demo_helpers.py alarm-event STACK INDEX OUT  write the sample alarm event aimed at
                                                 the stack's target group INDEX
    demo_helpers.py break URL ARN INSTANCE       make the emulator report INSTANCE
                                                 unhealthy (Target.FailedHealthChecks)
    demo_helpers.py invoke URL FILE              POST an event to a Lambda Invoke API URL
                                                 and pretty-print the answer
    demo_helpers.py calls URL OPERATION          how many times OPERATION was called
    demo_helpers.py wait-port PORT               wait (60 s max) until 127.0.0.1:PORT listens
    demo_helpers.py notifications QUEUE_URL      print the SNS messages the queue received
    demo_helpers.py phased URL                   replacements take their real phases
    demo_helpers.py instant URL                  replacements finish within the call again
                                                 (Terminating/draining, Pending, initial)
    demo_helpers.py advance URL                  move every replacement one phase on
    demo_helpers.py check URL FILE               invoke, and print one line per check:
                                                 verdict, summary, what it waits for

An invocation fails at once, naming the function, its exit status and the end of its log,
if a process started by scripts/lib/functions.sh exits while it waits
(scripts/lib/function_watch.py). Any failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import function_watch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class HelperError(Exception):
    """A request that failed, said in one line."""


def _request(url: str, body: object | None = None, method: str = "POST") -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            text = resp.read()
    except urllib.error.HTTPError as exc:
        raise HelperError(f"{method} {url}: HTTP {exc.code}: {exc.read().decode('utf-8', 'replace')[:2000]}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise HelperError(f"{method} {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        return json.loads(text or b"null")
    except json.JSONDecodeError as exc:
        raise HelperError(f"{method} {url}: the answer is not JSON ({exc}): {text[:500]!r}") from None


def _invoke(url: str, event: object) -> object:
    """A Lambda invocation: fails at once if a function process exits meanwhile."""
    return function_watch.call(_request, url, event)


def get(path: str, key: str) -> None:
    value: object = json.loads(Path(path).read_text())
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]  # type: ignore[index]
    print(value if isinstance(value, str) else json.dumps(value))


def alarm_event(stack_path: str, index: str, out: str) -> None:
    stack = json.loads(Path(stack_path).read_text())
    event = json.loads((ROOT / "events/target-health/alarm-state-change.json").read_text())
    event["account"], event["region"] = stack["account"], stack["region"]
    dims = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
    dims["TargetGroup"] = stack["stacks"][int(index)]["target_group_full_name"]
    dims["LoadBalancer"] = stack["load_balancer_full_name"]
    Path(out).write_text(json.dumps(event, indent=2))


def break_instance(url: str, arn: str, instance: str) -> None:
    _request(f"{url}/_rebound/target-health", {
        "target_group_arn": arn, "instance_id": instance, "state": "unhealthy",
        "reason": "Target.FailedHealthChecks", "description": "Health checks failed",
    })


def heal(url: str) -> None:
    """Clear every injected target health: the instances serve again."""
    _request(f"{url}/_rebound/target-health", None, method="DELETE")


def invoke(url: str, path: str) -> None:
    print(json.dumps(_invoke(url, json.loads(Path(path).read_text())), indent=2))


def phased(url: str) -> None:
    _request(f"{url}/_rebound/replacement-mode", {"mode": "phased"})


def instant(url: str) -> None:
    _request(f"{url}/_rebound/replacement-mode", {"mode": "instant"})


def advance(url: str) -> None:
    for r in _request(f"{url}/_rebound/advance")["replacements"]:  # type: ignore[index]
        print(f"group {r['auto_scaling_group']}: {r['old_instance_id']} -> {r['new_instance_id']}: now {r['phase']}")


def check(url: str, path: str) -> None:
    report = _invoke(url, json.loads(Path(path).read_text()))
    for c in report.get("checks", []):  # type: ignore[union-attr]
        waiting = f" | waiting for: {c['waiting_for']}" if c.get("waiting_for") else ""
        print(f"verdict: {c['verdict']} | {c['summary']} | actions this time: {len(c['actions'])}{waiting}")


def calls(url: str, operation: str) -> None:
    log = _request(f"{url}/_rebound/requests", method="GET")
    print(sum(1 for r in log if r["operation"] == operation))  # type: ignore[union-attr]


def wait_port(port: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        function_watch.check(context=f" before it listened on 127.0.0.1:{port}")
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise HelperError(f"nothing listens on 127.0.0.1:{port} after 60 s")


def notifications(queue_url: str) -> None:
    import boto3  # from the virtualenv; endpoint and credentials come from the environment

    sqs = boto3.client("sqs")
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return
        for message in got:
            envelope = json.loads(message["Body"])
            attrs = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
            print(f"--- Subject: {envelope.get('Subject')}")
            print(f"    Attributes: {json.dumps(attrs, sort_keys=True)}")
            body = json.loads(envelope["Message"])
            print(f"    JSON body (sqs protocol): schema={body['schema']} state={body['incident']['state']} "
                  f"previous={body['previous_state']} actions={len(body['incident']['actions'])}")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


COMMANDS = {
    "get": get, "alarm-event": alarm_event, "break": break_instance, "heal": heal, "invoke": invoke,
    "calls": calls, "wait-port": wait_port, "notifications": notifications,
    "phased": phased, "instant": instant, "advance": advance, "check": check,
}


def run(commands: dict[str, object], usage: str | None) -> int:
    """Runs the command named by argv[1]: a failure is one line (or the function's report)."""
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(usage, file=sys.stderr)
        return 2
    name = sys.argv[1]
    try:
        commands[name](*sys.argv[2:])  # type: ignore[operator]
    except function_watch.Stopped as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    except HelperError as exc:
        print(f"{Path(sys.argv[0]).name} {name}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a helper of a demo: one line, no traceback
        print(f"{Path(sys.argv[0]).name} {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(COMMANDS, __doc__))
