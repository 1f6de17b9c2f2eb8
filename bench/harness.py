#!/usr/bin/env python3
"""Measure a Lambda function process as Lambda runs it: init time, warm latency, RSS.

    .venv/bin/python bench/harness.py --name target-health --cmd target/release/target-health \\
        --env-file ENVFILE --cold-starts 20 --noop-event FILE --noop-invocations 200 \\
        [--prepare target-health-break|rds-failover|zone-shift --stack STACK.json [--target-group-arn ARN]] \\
        [--work-event FILE | --work-event-cmd "CMD ARGS"] --work-invocations 200 \\
        [--runtime rust|python] [--cwd DIR] [--handler NAME] [--log FILE] \\
        [--set KEY=VALUE ...] [--first-call-starts N] [--perf-record FILE] [--request-log FILE] \\
        --out results/target-health.json

The function process talks to a Lambda Runtime API served by this process
(bench/runtime_api.py, 127.0.0.1, free port). Its environment is the --env-file
(KEY=VALUE lines, '#' comments) plus the variables Lambda sets
(AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION=$LATEST,
AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128, AWS_LAMBDA_LOG_FORMAT=JSON, _HANDLER,
LAMBDA_TASK_ROOT, TZ, LANG, PATH); nothing else of the caller's environment. Its
stdout and stderr go to --log (default: --out with .log), never to a pipe.

What is measured
- init: --cold-starts times (after --warmup-starts unmeasured ones): t0 just before
  subprocess.Popen, t1 the process's first GET /next; init = t1 - t0. The process is
  killed and reaped after each. Median, p90, min, max in ms (percentiles interpolate
  linearly between ranks).
- warm latency: one new process; each invocation is timed from the moment its event
  is written to the /next connection to the moment its /response (or /error) body has
  been read. --noop-invocations of --noop-event, then --work-invocations "work" events.
  Errors (/error, timeouts, a crash) are counted, never folded into the latencies;
  responses that report failure (a non-empty batchItemFailures) or that a prepare hook
  cannot verify are counted as "failed" / "unverified".
- RSS: VmRSS from /proc/<pid>/status right after the first poll of the warm process
  (rss_after_init_mib) and VmHWM after the last warm invocation (peak_rss_mib).

Work events (one is needed when --work-invocations > 0), checked in this order:
- --prepare target-health-break: before each work invocation (outside the timing), make
  one registered instance of the target group unhealthy through the emulator's control
  API (POST $REBOUND_EMULATOR_URL/_rebound/target-health, reason
  Target.FailedHealthChecks), after clearing the group's earlier overrides; the current
  targets come from boto3 elbv2 DescribeTargetHealth against AWS_ENDPOINT_URL. The event
  is events/target-health/alarm-state-change.json aimed at that target group (as
  scripts/lib/demo_helpers.py alarm-event does), unless --work-event names another file.
  After the invocation (outside the timing) it checks that the response reports a
  succeeded replacement of that instance and that the instance left the target group;
  otherwise the invocation counts as "unverified". Then, still untimed, it invokes the
  function once more with the same alarm (the replacement is healthy at once in the
  emulator), which must resolve the incident, and deletes the resolved incident item
  and the group's and the account's ledgers: so every timed work invocation is the same
  "open an incident and replace" scenario (10 AWS calls) on a table of constant size,
  instead of 200 actions piling onto one ever-growing incident and ledgers. The resolving invocations are reported as settle_resolve_ms.
  Run the function with MODE=enforce, COOLDOWN_SECONDS=0, ACTION_BUDGET_PER_HOUR=1000,
  MAX_IN_FLIGHT_PER_GROUP=1. REBOUND_EMULATOR_URL and AWS_ENDPOINT_URL (and the
  credentials and region) are read from --env-file, then from this environment.
  It implies --streamless-table (below) unless --keep-stream.
- --prepare rds-failover: the same for rds-health: before each work invocation the
  stack's database (--stack, provision.py's db_instance_id) gets its AWS/RDS alarm in
  ALARM since now (events/rds-health/alarm-state-change.json aimed at it); the
  invocation must fail it over (a succeeded reboot-with-failover, the primary moved);
  untimed, the same alarm again must verify and resolve the incident, which is deleted
  with the database's and the account's ledgers, and the emulator forgets the RDS events
  recorded so far (DELETE /_rebound/rds-events),
  so each timed failover is its database's first within the DescribeEvents window.
  Run the function with MODE=enforce, RDS_COOLDOWN_SECONDS=0, ACTION_BUDGET_PER_HOUR=1000.
  Also implies --streamless-table.
- --prepare zone-shift: the same for zone-health: before each work invocation every
  target of the stack's group in one Availability Zone (the smallest zone of two or more
  instances, from Auto Scaling's DescribeAutoScalingGroups) fails its health checks
  (reason Target.Timeout) while the other zone stays healthy, and the event is that
  zone's alarm in ALARM (events/zone-health/alarm-state-change.json aimed at the stack's
  load balancer, first target group and the zone), which confirms the impairment at
  once; the invocation must start a zonal shift (a succeeded start-zonal-shift, and ARC's
  GetManagedResource shows the load balancer shifted away from the zone's ID). Untimed,
  the targets heal and the zone's alarm in OK (alarm-state-change-ok.json, aimed the
  same way) is delivered until the function has cancelled its shifts and resolved the
  incident (at most 3 times), which is deleted with the load balancer's, the zone's, the
  group's and the account's ledgers. Run the function with MODE=enforce,
  ZONE_SETTLE_SECONDS=0, ZONAL_SHIFT_COOLDOWN_SECONDS=0, ACTION_BUDGET_PER_HOUR=1000 on
  a stack provisioned with zonal shift on (provision.py's default). Also implies
  --streamless-table.
- --work-event-cmd CMD: run before each work invocation (outside the timing; split like
  a shell would, no shell; environment = this one plus --env-file); its stdout is the
  event JSON (if it prints nothing, --work-event is used). A non-zero exit aborts.
- --work-event FILE: the same event every time.

--streamless-table: run the function on <INCIDENTS_TABLE>-bench, a copy of the incidents
  table (same keys and indexes) without its DynamoDB stream, created afresh (dropped first
  if it exists) before the first start, so each measured function starts on an empty
  table even when several share one provisioned stack. moto deep-copies a whole table, stream history included, on every
  TransactWriteItems, so with the stream the emulator's time per call and its memory grow
  with every incident written (measured: 6 GB after ~180 incidents, 1 s per invocation).

--set KEY=VALUE (repeatable): a variable of the function process only, over --env-file;
  the hooks keep --env-file's (scripts/bench points the function, and only it, at the TLS
  front with AWS_ENDPOINT_URL and SSL_CERT_FILE).

--first-call-starts N: after the cold starts, N more starts each followed at once by one
  work invocation (prepared, verified and settled by the hook, like the warm ones): the
  first invocation of a new execution environment (first_call_ms, with own_ms) and the
  init time of those starts (first_call_init_ms).

--request-log FILE: one JSON line per timed invocation (no-op, work and first-call),
  written as it ends: {"phase": "noop"|"work"|"first", "index", "handed_out_s", "done_s",
  "latency_ms", "outcome", "problem" (null when it responded and the hook verified it),
  "requests": the emulator's request log of the invocation}. handed_out_s / done_s are
  the event written to the function and its answer read, in seconds on CLOCK_MONOTONIC
  (time.perf_counter() on Linux), the clock of the emulator's started_s / answered_s: so
  bench/time_to_act.py can put the event and the AWS calls on one time line. Needs the
  emulator accounting.

--perf-record FILE: `perf record -e cpu-clock:u --call-graph dwarf` (--perf-freq,
  --perf-call-graph) attached to the warm process for its work invocations only, stopped
  with SIGINT after them (result: "profile").

Emulator accounting (when REBOUND_EMULATOR_URL is known; off with
--no-emulator-accounting): around each timed invocation, untimed, the emulator's request
log is cleared and read back, giving the AWS calls the invocation made
(aws_calls_per_invocation, aws_operations_total), the time the emulator spent serving
them (emulator_ms: the wall time with at least one call outstanding, so calls made in
parallel count once; per operation, summed, in emulator_ms_per_call_by_operation) and the
latency minus that time (own_ms: SDK, HTTP client and handler code). drift compares the median
of the first and last tenth of the latencies.

CPU time (cpu_ms, always): the CPU the function's process (every thread) used from the
event written to the response read, from /proc/<pid>/task/*/schedstat. Unlike own_ms it
does not count the emulator's time outside its request handler (HTTP parsing, garbage
collection of its growing heap) nor waits for a core on a busy machine: the function's
own work alone.

Output (--out), JSON:
  {"name", "runtime": "rust"|"python", "init_ms": {"median","p90","min","max","samples",
   "failures"}, "rss_after_init_mib", "peak_rss_mib",
   "warm_noop_ms": {"median","p90","min","max","mean","samples","errors","failed", ...},
   "warm_work_ms": {...same..., "unverified", "own_ms", "cpu_ms", "emulator_ms", "drift", ...},
   "raw": {...every sample...}, ...}

Exit status: 0 when the measurement ran to the end (function errors are in the JSON and
summarised on stderr), 2 with --fail-on-error when any invocation erred, failed or was
unverified, 1 when the function could not be started at all.

Standard library, plus boto3 for the --prepare hooks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_api import Invocation, RuntimeApi  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ALARM_EVENT = ROOT / "events/target-health/alarm-state-change.json"
RDS_ALARM_EVENT = ROOT / "events/rds-health/alarm-state-change.json"
ZONE_ALARM_EVENT = ROOT / "events/zone-health/alarm-state-change.json"
ZONE_OK_EVENT = ROOT / "events/zone-health/alarm-state-change-ok.json"


def log(msg: str) -> None:
    print(f"harness: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------


def waited_ms(served: list[dict[str, Any]]) -> float:
    """The wall time with at least one AWS call outstanding, in ms: the union of the
    requests' intervals. Calls a function makes in parallel overlap, so the sum of their
    durations would count the same wait twice (and own time, latency minus this, would
    come out negative)."""
    intervals = sorted(
        (r["started_s"], r["started_s"] + r.get("duration_s", 0.0)) for r in served if "started_s" in r
    )
    total = sum(r.get("duration_s", 0.0) for r in served if "started_s" not in r)
    end = float("-inf")
    for start, stop in intervals:
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total * 1000


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("no values")
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summary(values_ms: list[float]) -> dict[str, Any]:
    values = sorted(values_ms)
    if not values:
        return {"median": None, "p90": None, "min": None, "max": None, "mean": None, "samples": 0}
    return {
        "median": round(percentile(values, 0.5), 3),
        "p90": round(percentile(values, 0.9), 3),
        "min": round(values[0], 3),
        "max": round(values[-1], 3),
        "mean": round(sum(values) / len(values), 3),
        "samples": len(values),
    }


# --------------------------------------------------------------------------------------
# process handling
# --------------------------------------------------------------------------------------


def read_env_file(path: str | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if not path:
        return env
    for number, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 2)


class Function:
    """How to start the function process."""

    def __init__(self, args: argparse.Namespace, api: RuntimeApi, file_env: dict[str, str]) -> None:
        argv = shlex.split(args.cmd)
        if not argv:
            raise SystemExit("--cmd is empty")
        executable = argv[0]
        if "/" in executable:
            # abspath, not resolve(): a virtualenv's python is a symlink that must stay one.
            executable = os.path.abspath(executable)
        else:
            found = shutil.which(executable)
            if found is None:
                raise SystemExit(f"--cmd: {executable} not found on PATH")
            executable = found
        if not os.access(executable, os.X_OK):
            raise SystemExit(f"--cmd: {executable} is not executable")
        self.argv = [executable, *argv[1:]]
        self.cwd = str(Path(args.cwd).resolve()) if args.cwd else os.getcwd()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            **file_env,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": args.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "_HANDLER": args.handler,
            "LAMBDA_TASK_ROOT": self.cwd,
        }
        self.log_path = Path(args.log)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "ab", buffering=0)  # noqa: SIM115
        self.section = 0

    def mark(self, text: str) -> None:
        """A separator line in the log; later log_tail() calls show only what follows."""
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        self.log_file.write(f"\n===== harness {stamp}: {text} =====\n".encode())
        self.section = self.log_file.tell()

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.section)
                text = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def popen(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=self.log_file,
            close_fds=True,
        )

    def close(self) -> None:
        self.log_file.close()


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """Kill and reap; the exit status it had if it had already exited, else None."""
    already = process.poll()
    if already is None:
        process.kill()
        process.wait()
    return already


# --------------------------------------------------------------------------------------
# work event hooks
# --------------------------------------------------------------------------------------


class Hook:
    """Gives the event of each work invocation and checks what it did."""

    description = "fixed event"

    def __init__(self, event: bytes | None, description: str | None = None) -> None:
        self.event = event
        if description:
            self.description = description

    def prepare(self) -> bytes:
        if self.event is None:
            raise SystemExit("no work event: give --work-event, --work-event-cmd or --prepare")
        return self.event

    def verify(self, invocation: Invocation) -> str | None:
        """None when fine, else why the invocation is unverified."""
        return None

    def settle(self, invoke: Callable[[bytes], Invocation]) -> str | None:
        """Untimed, after verify: bring the system back to the state the next work
        invocation expects. None when fine, else what went wrong."""
        return None

    def extra_stats(self) -> dict[str, Any]:
        return {}


class CommandHook(Hook):
    def __init__(self, command: str, fallback: bytes | None, env: dict[str, str]) -> None:
        super().__init__(fallback)
        self.argv = shlex.split(command)
        self.env = env
        self.description = f"command: {command}"

    def prepare(self) -> bytes:
        done = subprocess.run(self.argv, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(
                f"--work-event-cmd exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}"
            )
        out = done.stdout.strip()
        if not out:
            return super().prepare()
        json.loads(out)  # must be JSON
        return out


def emulator_control(url: str, method: str, path: str, body: Any = None) -> Any:
    """One call of the emulator's control API (/_rebound/...), its JSON answer."""
    request = urllib.request.Request(
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def aws_clients(env: dict[str, str], region: str, *services: str) -> list[Any]:
    """boto3 clients of the hooks, on the emulator (AWS_ENDPOINT_URL, else
    REBOUND_EMULATOR_URL) with --env-file's region and credentials."""
    import boto3  # only the hooks need it

    endpoint = env.get("AWS_ENDPOINT_URL") or env.get("REBOUND_EMULATOR_URL")
    return [
        boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or region,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )
        for service in services
    ]


def reported_actions(invocation: Invocation) -> list[dict[str, Any]]:
    """The actions every check of the function's report took."""
    report = invocation.response_json()
    actions: list[dict[str, Any]] = []
    if isinstance(report, dict):
        for check in report.get("checks") or []:
            actions.extend(check.get("actions") or [])
    return actions


class TargetHealthBreak(Hook):
    """One registered instance of the target group made unhealthy before each work
    invocation; the invocation must replace exactly that one."""

    def __init__(self, stack_path: str | None, arn: str | None, event_path: str | None, env: dict[str, str]) -> None:
        super().__init__(None)
        stack = json.loads(Path(stack_path).read_text()) if stack_path else None
        if arn is None:
            if stack is None:
                raise SystemExit("--prepare target-health-break needs --stack or --target-group-arn")
            arn = stack["stacks"][0]["target_group_arn"]
        self.arn = arn
        full_name = arn.split(":", 5)[5]
        region, account = arn.split(":")[3], arn.split(":")[4]
        if event_path:
            event = json.loads(Path(event_path).read_text())
        else:
            event = json.loads(ALARM_EVENT.read_text())
            event["account"], event["region"] = account, region
            dims = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
            dims["TargetGroup"] = full_name
            if stack is not None:
                dims["LoadBalancer"] = stack["load_balancer_full_name"]
        self.event = json.dumps(event).encode()
        self.emulator = env.get("REBOUND_EMULATOR_URL") or env.get("AWS_ENDPOINT_URL")
        if not self.emulator:
            raise SystemExit("--prepare target-health-break needs REBOUND_EMULATOR_URL / AWS_ENDPOINT_URL")
        self.elbv2, self.dynamodb = aws_clients(env, region, "elbv2", "dynamodb")
        self.table = env.get("INCIDENTS_TABLE")
        self.broken: str | None = None
        self.group: str | None = None
        self.resolve_ms: list[float] = []
        self.description = (
            f"target-health-break on {arn}: one instance unhealthy -> the alarm opens an incident and "
            "replaces it (timed); then, untimed, the same alarm resolves the incident, which is then deleted"
        )

    def _control(self, method: str, body: Any) -> Any:
        return emulator_control(self.emulator, method, "/_rebound/target-health", body)

    def _targets(self) -> dict[str, str]:
        described = self.elbv2.describe_target_health(TargetGroupArn=self.arn)["TargetHealthDescriptions"]
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in described}

    def prepare(self) -> bytes:
        self._control("DELETE", {"target_group_arn": self.arn})
        targets = self._targets()
        healthy = sorted(i for i, state in targets.items() if state == "healthy")
        if len(healthy) < 2:
            raise SystemExit(f"target-health-break: {self.arn} has {len(healthy)} healthy targets ({targets})")
        self.broken = healthy[0]
        self._control(
            "POST",
            {
                "target_group_arn": self.arn,
                "instance_id": self.broken,
                "state": "unhealthy",
                "reason": "Target.FailedHealthChecks",
                "description": "Health checks failed",
            },
        )
        return self.event

    def verify(self, invocation: Invocation) -> str | None:
        actions = reported_actions(invocation)
        # A typed target ({"type", "id"}) from the Rust function; a bare id from the
        # baseline, which writes the record format from before targets were typed.
        def target_id(action: dict[str, Any]) -> Any:
            target = action.get("target")
            return target.get("id") if isinstance(target, dict) else target

        replaced = [a for a in actions if target_id(a) == self.broken and a.get("outcome") == "succeeded"]
        if replaced:
            scope = replaced[0].get("scope") or replaced[0].get("group")
            self.group = scope.get("id") if isinstance(scope, dict) else scope
        if not replaced:
            return f"no succeeded replacement of {self.broken} in the response: {json.dumps(invocation.response_json())[:300]}"
        if self.broken in self._targets():
            return f"{self.broken} is still registered in the target group after its replacement"
        return None

    def settle(self, invoke: Callable[[bytes], Invocation]) -> str | None:
        """The replacement is healthy at once in the emulator: the same alarm now resolves
        the incident, so every work invocation opens a new one (the incident scenario),
        instead of piling 200 actions onto one ever-growing item."""
        invocation = invoke(self.event)
        if invocation.outcome != "response":
            return f"resolving invocation: {invocation.outcome} {invocation.response_body[:300]!r}"
        self.resolve_ms.append(invocation.latency_ns / 1e6)  # type: ignore[operator]
        report = invocation.response_json() or {}
        checks = report.get("checks") or [{}]
        if checks[0].get("verdict") != "resolve" or checks[0].get("incident_state") != "resolved":
            return f"resolving invocation did not resolve: {json.dumps(report)[:300]}"
        # A resolved incident is never read again by an alarm; dropping it keeps the
        # table (which moto deep-copies on every TransactWriteItems) the same size.
        if self.table and checks[0].get("incident_id"):
            self.dynamodb.delete_item(TableName=self.table, Key={"pk": {"S": f"incident#{checks[0]['incident_id']}"}})
        # So does dropping the group's ledger, which also keeps every work invocation a
        # first replacement: the same group replaced again and again within the hour
        # would otherwise (rightly) be refused as a replacement loop.
        if self.table and self.group:
            forget_ledgers(self.dynamodb, self.table, f"auto-scaling-group#{self.group}")
        return None

    def extra_stats(self) -> dict[str, Any]:
        return {"settle_resolve_ms": summary(self.resolve_ms)}


class RdsFailover(Hook):
    """The stack's managed Multi-AZ database sick before each work invocation (its
    AWS/RDS alarm in ALARM since now); the invocation must fail it over to its standby.
    Then, untimed, the same alarm again verifies the failover (the emulator completes it
    within the call) and resolves the incident, which is deleted: every timed work
    invocation is the same "open an incident and fail over" scenario."""

    def __init__(self, stack_path: str | None, event_path: str | None, env: dict[str, str]) -> None:
        super().__init__(None)
        if not stack_path:
            raise SystemExit("--prepare rds-failover needs --stack")
        stack = json.loads(Path(stack_path).read_text())
        self.db = stack.get("db_instance_id")
        if not self.db:
            raise SystemExit("--prepare rds-failover: the stack has no database (provision.py --database multi-az)")
        text = Path(event_path).read_text() if event_path else RDS_ALARM_EVENT.read_text()
        self.template = json.loads(text.replace("rebound-demo-db", self.db))
        self.template["account"], self.template["region"] = stack["account"], stack["region"]
        self.emulator = env.get("REBOUND_EMULATOR_URL") or env.get("AWS_ENDPOINT_URL")
        self.rds, self.dynamodb = aws_clients(env, stack["region"], "rds", "dynamodb")
        self.table = env.get("INCIDENTS_TABLE")
        self.event = b""
        self.primary: str | None = None
        self.resolve_ms: list[float] = []
        self.description = (
            f"rds-failover on {self.db}: its AWS/RDS alarm in ALARM -> the alarm opens an incident and fails the "
            "database over to its standby (timed); then, untimed, the same alarm verifies and resolves the incident, "
            "which is then deleted"
        )

    def _primary(self) -> str:
        return self.rds.describe_db_instances(DBInstanceIdentifier=self.db)["DBInstances"][0]["AvailabilityZone"]

    def prepare(self) -> bytes:
        self.primary = self._primary()
        event = json.loads(json.dumps(self.template))
        now = dt.datetime.now(dt.timezone.utc)
        event["detail"]["state"]["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"
        self.event = json.dumps(event).encode()
        return self.event

    def verify(self, invocation: Invocation) -> str | None:
        actions = reported_actions(invocation)
        if not any(a.get("kind") == "reboot-with-failover" and a.get("outcome") == "succeeded" for a in actions):
            return f"no succeeded failover of {self.db} in the response: {json.dumps(invocation.response_json())[:300]}"
        if self._primary() == self.primary:
            return f"{self.db}'s primary is still in {self.primary} after its failover"
        return None

    def settle(self, invoke: Callable[[bytes], Invocation]) -> str | None:
        invocation = invoke(self.event)
        if invocation.outcome != "response":
            return f"resolving invocation: {invocation.outcome} {invocation.response_body[:300]!r}"
        self.resolve_ms.append(invocation.latency_ns / 1e6)  # type: ignore[operator]
        report = invocation.response_json() or {}
        checks = report.get("checks") or [{}]
        if checks[0].get("verdict") != "resolve" or checks[0].get("incident_state") != "resolved":
            return f"resolving invocation did not resolve: {json.dumps(report)[:300]}"
        if self.table and checks[0].get("incident_id"):
            self.dynamodb.delete_item(TableName=self.table, Key={"pk": {"S": f"incident#{checks[0]['incident_id']}"}})
        if self.table:
            forget_ledgers(self.dynamodb, self.table, f"db-instance#{self.db}")
        # Failovers of one database are minutes apart in life, so each finds the last one's
        # events out of its window; here they are a fraction of a second apart, and every
        # invocation would read (DescribeEvents) all the events of the ones before it.
        # Forgetting them keeps every timed invocation a first failover in its window.
        emulator_control(self.emulator, "DELETE", "/_rebound/rds-events")
        return None

    def extra_stats(self) -> dict[str, Any]:
        return {"settle_resolve_ms": summary(self.resolve_ms)}


class ZoneShift(Hook):
    """One Availability Zone of the stack's load balancer grey before each work
    invocation (every target of the group there failing its health checks, the other
    zone healthy) and its zone alarm in ALARM: the invocation must shift the load
    balancer's traffic away from it (ARC zonal shift). Then, untimed, the targets heal and
    the zone's alarm returns to OK until the function has cancelled its shifts and
    resolved the incident, which is deleted with the ledgers it wrote: every timed work
    invocation is the same "open a zone incident and shift" scenario."""

    def __init__(self, stack_path: str | None, event_path: str | None, env: dict[str, str]) -> None:
        super().__init__(None)
        if not stack_path:
            raise SystemExit("--prepare zone-shift needs --stack")
        self.stack = json.loads(Path(stack_path).read_text())
        web = self.stack["stacks"][0]
        self.target_group, self.group = web["target_group_arn"], web["auto_scaling_group"]
        self.load_balancer = self.stack["load_balancer_arn"]
        self.alarm = json.loads(Path(event_path).read_text() if event_path else ZONE_ALARM_EVENT.read_text())
        self.ok = json.loads(ZONE_OK_EVENT.read_text())
        self.emulator = env.get("REBOUND_EMULATOR_URL") or env.get("AWS_ENDPOINT_URL")
        self.autoscaling, self.arc, self.dynamodb, ec2 = aws_clients(
            env, self.stack["region"], "autoscaling", "arc-zonal-shift", "dynamodb", "ec2")
        self.zone_ids = {z["ZoneName"]: z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
        self.table = env.get("INCIDENTS_TABLE")
        self.zone: str | None = None
        self.event = b""
        self.resolve_ms: list[float] = []
        self.description = (
            f"zone-shift on {self.load_balancer}: every target of {self.group} in one zone unhealthy and the "
            "zone's alarm in ALARM -> the alarm opens a zone incident and shifts the load balancer (and the "
            "group) away from the zone (timed); then, untimed, the targets heal and the zone's alarm in OK "
            "cancels the shifts and resolves the incident, which is then deleted"
        )

    def _aimed(self, template: dict[str, Any], zone: str) -> bytes:
        event = json.loads(json.dumps(template))
        event["account"], event["region"] = self.stack["account"], self.stack["region"]
        dims = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
        dims["TargetGroup"] = self.stack["stacks"][0]["target_group_full_name"]
        dims["LoadBalancer"] = self.stack["load_balancer_full_name"]
        dims["AvailabilityZone"] = zone
        return json.dumps(event).encode()

    def _heal(self) -> None:
        emulator_control(self.emulator, "DELETE", "/_rebound/target-health", {"target_group_arn": self.target_group})

    def _shifts(self) -> list[dict[str, Any]]:
        return self.arc.get_managed_resource(resourceIdentifier=self.load_balancer).get("zonalShifts") or []

    def prepare(self) -> bytes:
        self._heal()
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group])["AutoScalingGroups"][0]
        zones: dict[str, list[str]] = {}
        for instance in group["Instances"]:
            if instance.get("LifecycleState") == "InService":
                zones.setdefault(instance["AvailabilityZone"], []).append(instance["InstanceId"])
        # The smallest zone of two or more: what it leaves the others is most likely to
        # carry the load without raising the group's capacity first.
        candidates = sorted((len(ids), zone) for zone, ids in zones.items() if len(ids) >= 2)
        if len(zones) < 2 or not candidates:
            raise SystemExit(f"zone-shift: {self.group} has no zone of two instances next to another zone ({zones})")
        self.zone = candidates[0][1]
        for instance in zones[self.zone]:
            emulator_control(self.emulator, "POST", "/_rebound/target-health",
                             {"target_group_arn": self.target_group, "instance_id": instance, "state": "unhealthy",
                              "reason": "Target.Timeout", "description": "Request timed out"})
        self.event = self._aimed(self.alarm, self.zone)
        return self.event

    def verify(self, invocation: Invocation) -> str | None:
        actions = reported_actions(invocation)
        if not any(a.get("kind") == "start-zonal-shift" and a.get("outcome") == "succeeded" for a in actions):
            return f"no succeeded zonal shift away from {self.zone} in the response: {json.dumps(invocation.response_json())[:300]}"
        away = self.zone_ids.get(self.zone or "")
        if not any(s.get("awayFrom") == away and s.get("appliedStatus") == "APPLIED" for s in self._shifts()):
            return f"{self.load_balancer} is not shifted away from {self.zone} ({away}) after the shift"
        return None

    def settle(self, invoke: Callable[[bytes], Invocation]) -> str | None:
        """The zone healthy again: its OK alarm, delivered until the function has ended
        its shifts (a first look) and resolved the incident (the next: the zone takes
        traffic again)."""
        self._heal()
        ok = self._aimed(self.ok, self.zone or "")
        check: dict[str, Any] = {}
        for _ in range(3):
            invocation = invoke(ok)
            if invocation.outcome != "response":
                return f"resolving invocation: {invocation.outcome} {invocation.response_body[:300]!r}"
            self.resolve_ms.append(invocation.latency_ns / 1e6)  # type: ignore[operator]
            report = invocation.response_json() or {}
            check = (report.get("checks") or [{}])[0]
            if check.get("incident_state") == "resolved":
                break
        else:
            return f"the zone's OK alarm did not resolve the incident: {json.dumps(check)[:300]}"
        if self._shifts():
            return f"{self.load_balancer} is still shifted after the incident resolved: {self._shifts()}"
        if self.table and check.get("incident_id"):
            self.dynamodb.delete_item(TableName=self.table, Key={"pk": {"S": f"incident#{check['incident_id']}"}})
        if self.table:
            forget_ledgers(self.dynamodb, self.table, f"load-balancer#{self.load_balancer}",
                           f"availability-zone#{self.load_balancer}#{self.zone}", f"auto-scaling-group#{self.group}")
        return None

    def extra_stats(self) -> dict[str, Any]:
        return {"settle_resolve_ms": summary(self.resolve_ms)}


def forget_ledgers(dynamodb: Any, table: str, *scopes: str) -> None:
    """Drops the ledgers of the resources acted through and the account's ledger. Each
    keeps the hour's actions (cooldowns, loops, the hourly budget); a run of 200 actions
    within minutes would grow both by one entry per invocation, and every invocation reads
    and rewrites them whole (own time grew 2.5 -> 4.4 ms of CPU over a run). Without them
    every timed invocation is the first action in its hour, as an incident mostly is."""
    for key in (*(f"ledger#{scope}" for scope in scopes), "ledger#account#account"):
        dynamodb.delete_item(TableName=table, Key={"pk": {"S": key}})


def streamless_copy(env: dict[str, str]) -> str:
    """Creates <INCIDENTS_TABLE>-bench: same keys and indexes, no stream; returns its name.

    moto deep-copies a whole table, stream history included, on every TransactWriteItems:
    with the stream on, the emulator's time per call and its memory grow with every
    incident written (6 GB after ~180 incidents). The stream only feeds the notifier,
    which is measured on its own, and has no visible effect on write latency in AWS."""
    table = env.get("INCIDENTS_TABLE")
    if not table:
        raise SystemExit("--streamless-table needs INCIDENTS_TABLE in --env-file")
    [dynamodb] = aws_clients(env, "us-east-1", "dynamodb")
    source = dynamodb.describe_table(TableName=table)["Table"]
    name = f"{table}-bench"
    try:
        dynamodb.delete_table(TableName=name)
    except dynamodb.exceptions.ResourceNotFoundException:
        pass
    spec: dict[str, Any] = {
        "TableName": name,
        "KeySchema": source["KeySchema"],
        "AttributeDefinitions": source["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if source.get("GlobalSecondaryIndexes"):
        spec["GlobalSecondaryIndexes"] = [
            {k: index[k] for k in ("IndexName", "KeySchema", "Projection")} for index in source["GlobalSecondaryIndexes"]
        ]
    dynamodb.create_table(**spec)
    return name


class Emulator:
    """The emulator's request log around each timed invocation (untimed): how many AWS
    calls the function made and how long the emulator spent serving them."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _request(self, method: str) -> Any:
        request = urllib.request.Request(f"{self.url}/_rebound/requests", method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def clear(self) -> None:
        self._request("DELETE")

    def since_clear(self) -> list[dict[str, Any]]:
        return self._request("GET")


class RequestLog:
    """--request-log: each timed invocation's AWS calls, as the emulator logged them, with
    the moments the event was handed out and answered (see the module docstring)."""

    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w")  # noqa: SIM115 - closed by close(), after every phase

    def write(self, phase: str, index: int, invocation: Invocation, served: list[dict[str, Any]] | None,
              problem: str | None) -> None:
        def seconds(ns: int | None) -> float | None:
            return None if ns is None else ns / 1e9

        latency = invocation.latency_ns
        record = {
            "phase": phase,
            "index": index,
            "handed_out_s": seconds(invocation.handed_out_ns),
            "done_s": seconds(invocation.done_ns),
            "latency_ms": None if latency is None else round(latency / 1e6, 3),
            "outcome": invocation.outcome,
            "problem": problem if invocation.outcome == "response" else invocation.error_type or invocation.outcome,
            "requests": served,
        }
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class Profiler:
    """`perf record` attached to the warm process for its work invocations only (after
    its init and no-op invocations): user-space samples of this user's own process, which
    perf_event_paranoid=2 allows. Stopped with SIGINT, so perf writes a complete file."""

    def __init__(self, profile: dict[str, Any], pid: int) -> None:
        self.path = profile["out"]
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        argv = [profile.get("perf", "perf"), "record", "-q", "-e", "cpu-clock:u", "-F", str(profile["freq"]),
                "--call-graph", profile["call_graph"], "-p", str(pid), "-o", self.path]
        self.log_path = self.path + ".log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.argv = argv
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        # perf needs a moment to open its events on every thread of the process.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.process.poll() is None:
            if Path(self.path).exists() and Path(self.path).stat().st_size > 0:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        if self.process.poll() is not None:
            raise SystemExit(f"perf record exited with {self.process.returncode}: {Path(self.log_path).read_text()[-1000:]}")
        log(f"profiling pid {pid}: {shlex.join(argv)}")

    def stop(self) -> dict[str, Any]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return {"perf_data": self.path, "command": shlex.join(self.argv), "exit_status": self.process.returncode}


def response_failure(invocation: Invocation) -> str | None:
    """A response that reports failure in its body (partial batch failures)."""
    body = invocation.response_json()
    if isinstance(body, dict) and body.get("batchItemFailures"):
        return f"batchItemFailures: {json.dumps(body['batchItemFailures'])[:200]}"
    return None


# --------------------------------------------------------------------------------------
# phases
# --------------------------------------------------------------------------------------


def cold_starts(fn: Function, api: RuntimeApi, count: int, warmup: int, timeout: float) -> dict[str, Any]:
    samples: list[float] = []
    rss_kib: list[int] = []
    failures: list[str] = []
    for index in range(warmup + count):
        measured = index >= warmup
        label = f"cold start {index - warmup + 1}/{count}" if measured else f"warm-up start {index + 1}/{warmup}"
        fn.mark(label)
        generation = api.new_generation()
        t0 = time.perf_counter_ns()
        process = fn.popen()
        t1 = api.wait_first_poll(generation, timeout, alive=lambda: process.poll() is None)
        rss = proc_status_kib(process.pid, "VmRSS") if t1 is not None else None
        exited = stop(process)
        if t1 is None:
            init_error = api.init_error(generation)
            why = (
                f"init error {init_error.error_type}: {init_error.body[:300]!r}"
                if init_error
                else f"exited with {exited}"
                if exited is not None
                else f"no /next poll within {timeout} s"
            )
            failures.append(f"{label}: {why}")
            log(f"{label} FAILED: {why}\n{fn.log_tail()}")
            continue
        if measured:
            samples.append((t1 - t0) / 1e6)
            if rss is not None:
                rss_kib.append(rss)
    result = summary(samples)
    del result["mean"]
    result["failures"] = len(failures)
    return {
        "init_ms": result,
        "raw": {
            "init_ms": [round(s, 3) for s in samples],
            "rss_after_init_kib": rss_kib,
            "init_failures": failures,
        },
    }


def cpu_ns(pid: int) -> int | None:
    """CPU time the process has used so far, every thread summed, in nanoseconds
    (/proc/<pid>/task/*/schedstat: the scheduler's own count, exact to the nanosecond,
    where /proc/<pid>/stat counts in 10 ms ticks). None once the process is gone."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total


def first_calls(
    fn: Function,
    api: RuntimeApi,
    hook: Hook,
    count: int,
    init_timeout: float,
    invoke_timeout: float,
    emulator: Emulator | None,
    request_log: RequestLog | None = None,
) -> dict[str, Any]:
    """count cold starts, each followed at once by one work invocation (prepared and
    settled by the hook like the warm ones, untimed): the latency of a new execution
    environment's first real invocation, which pays for what init left lazy (the HTTP
    clients' first connections and TLS handshakes, first-use allocations). Also the init
    time of those starts (first_call_init_ms)."""
    inits: list[float] = []
    latencies: list[float] = []
    own: list[float] = []
    errors: dict[str, int] = {}
    problems: list[str] = []
    unverified = 0
    for index in range(count):
        label = f"first-call start {index + 1}/{count}"
        fn.mark(label)
        event = hook.prepare()
        generation = api.new_generation()
        t0 = time.perf_counter_ns()
        process = fn.popen()
        alive: Callable[[], bool] = lambda: process.poll() is None  # noqa: E731
        try:
            t1 = api.wait_first_poll(generation, init_timeout, alive=alive)
            if t1 is None:
                errors["init"] = errors.get("init", 0) + 1
                problems.append(f"{label}: no first poll\n{fn.log_tail(5)}")
                continue
            inits.append((t1 - t0) / 1e6)
            if emulator is not None:
                emulator.clear()
            invocation = api.invoke(event, invoke_timeout, alive=alive)
            served = emulator.since_clear() if emulator is not None else None
            if invocation.outcome != "response":
                kind = invocation.error_type or invocation.outcome or "unknown"
                errors[kind] = errors.get(kind, 0) + 1
                problems.append(f"{label}: {kind}: {invocation.response_body[:300].decode(errors='replace')}")
                if request_log is not None:
                    request_log.write("first", index, invocation, served, None)
                continue
            latency = invocation.latency_ns / 1e6  # type: ignore[operator]
            latencies.append(latency)
            if served is not None:
                own.append(latency - waited_ms(served))
            problem = response_failure(invocation) or hook.verify(invocation)
            if request_log is not None:
                request_log.write("first", index, invocation, served, problem)
            if problem:
                unverified += 1
                problems.append(f"{label}: {problem}")
            problem = hook.settle(lambda body: api.invoke(body, invoke_timeout, alive=alive))
            if problem:
                unverified += 1
                problems.append(f"{label} settle: {problem}")
        finally:
            stop(process)
    stats = summary(latencies)
    stats.update({"errors": sum(errors.values()), "error_kinds": errors, "failed": 0, "unverified": unverified,
                  "attempted": count})
    if emulator is not None:
        stats["own_ms"] = summary(own)
    if problems:
        log(f"first calls: {len(problems)} problem(s); first: {problems[:2]}")
    init = summary(inits)
    del init["mean"]
    return {
        "first_call_ms": stats,
        "first_call_init_ms": init,
        "raw": {"first_call_ms": [round(v, 3) for v in latencies], "first_call_init_ms": [round(v, 3) for v in inits],
                "first_call_problems": problems[:20]},
    }


def warm_phase(
    fn: Function,
    api: RuntimeApi,
    noop_event: bytes | None,
    noop_count: int,
    hook: Hook | None,
    work_count: int,
    init_timeout: float,
    invoke_timeout: float,
    emulator: Emulator | None,
    profile: dict[str, Any] | None = None,
    request_log: RequestLog | None = None,
) -> dict[str, Any]:
    fn.mark("warm process")
    generation = api.new_generation()
    process = fn.popen()
    alive: Callable[[], bool] = lambda: process.poll() is None  # noqa: E731
    out: dict[str, Any] = {"rss_after_init_mib": None, "peak_rss_mib": None, "warm_noop_ms": None, "warm_work_ms": None}
    raw: dict[str, Any] = {}
    try:
        if api.wait_first_poll(generation, init_timeout, alive=alive) is None:
            init_error = api.init_error(generation)
            out["warm_error"] = (
                f"init error {init_error.error_type}: {init_error.body[:300]!r}"
                if init_error
                else f"exited with {process.returncode} before its first poll"
                if process.poll() is not None
                else f"no first poll within {init_timeout} s"
            )
            log(f"warm process did not start: {out['warm_error']}\n{fn.log_tail()}")
            return out
        out["rss_after_init_mib"] = mib(proc_status_kib(process.pid, "VmRSS"))

        def run(label: str, count: int, next_event: Callable[[], bytes], hook: Hook | None) -> None:
            latencies: list[float] = []
            own: list[float] = []
            cpu: list[float] = []
            emulator_ms: list[float] = []
            calls: list[int] = []
            operations: dict[str, int] = {}
            op_ms: dict[str, float] = {}
            error_latencies: list[float] = []
            errors: dict[str, int] = {}
            failed: list[str] = []
            unverified: list[str] = []
            examples: list[str] = []
            for index in range(count):
                if not alive():
                    errors["crashed"] = errors.get("crashed", 0) + (count - index)
                    examples.append(f"#{index + 1}: process exited with {process.returncode}")
                    break
                event = next_event()
                if emulator is not None:
                    emulator.clear()
                cpu_before = cpu_ns(process.pid)
                invocation = api.invoke(event, invoke_timeout, alive=alive)
                cpu_after = cpu_ns(process.pid)
                served = emulator.since_clear() if emulator is not None else None
                if invocation.outcome == "response":
                    latency = invocation.latency_ns / 1e6  # type: ignore[operator]
                    latencies.append(latency)
                    if cpu_before is not None and cpu_after is not None:
                        cpu.append((cpu_after - cpu_before) / 1e6)
                    if served is not None:
                        spent = waited_ms(served)
                        emulator_ms.append(spent)
                        own.append(latency - spent)
                        calls.append(len(served))
                        for r in served:
                            operations[r["operation"]] = operations.get(r["operation"], 0) + 1
                            op_ms[r["operation"]] = op_ms.get(r["operation"], 0.0) + r.get("duration_s", 0.0) * 1000
                    problem = response_failure(invocation)
                    if problem:
                        failed.append(f"#{index + 1}: {problem}")
                    elif hook is not None:
                        problem = hook.verify(invocation)
                        if problem:
                            unverified.append(f"#{index + 1}: {problem}")
                    if request_log is not None:
                        request_log.write(label, index, invocation, served, problem)
                else:
                    if request_log is not None:
                        request_log.write(label, index, invocation, served, None)
                    kind = invocation.error_type or invocation.outcome or "unknown"
                    if invocation.outcome == "error":
                        error_latencies.append(invocation.latency_ns / 1e6)  # type: ignore[operator]
                        kind = f"error:{kind}"
                    errors[kind] = errors.get(kind, 0) + 1
                    if len(examples) < 5:
                        examples.append(f"#{index + 1}: {kind}: {invocation.response_body[:500].decode(errors='replace')}")
                    if invocation.outcome in ("crashed", "timeout"):
                        log(f"{label} #{index + 1}: {invocation.outcome}\n{fn.log_tail()}")
                if hook is not None and alive():
                    problem = hook.settle(lambda body: api.invoke(body, invoke_timeout, alive=alive))
                    if problem:
                        unverified.append(f"#{index + 1} settle: {problem}")
            stats = summary(latencies)
            stats["errors"] = sum(errors.values())
            stats["error_kinds"] = errors
            stats["failed"] = len(failed)
            if hook is not None:
                stats["unverified"] = len(unverified)
            stats["attempted"] = count
            if error_latencies:
                stats["error_latency_ms"] = summary(error_latencies)
            if len(latencies) >= 10:
                tenth = max(1, len(latencies) // 10)
                first = percentile(sorted(latencies[:tenth]), 0.5)
                last = percentile(sorted(latencies[-tenth:]), 0.5)
                stats["drift"] = {"first_tenth_median": round(first, 3), "last_tenth_median": round(last, 3),
                                  "ratio": round(last / first, 2) if first else None}
            if emulator is not None:
                stats["aws_calls_per_invocation"] = summary([float(c) for c in calls]) if calls else None
                stats["aws_operations_total"] = operations
                stats["emulator_ms"] = summary(emulator_ms)
                stats["emulator_ms_per_call_by_operation"] = {
                    op: round(op_ms[op] / operations[op], 3) for op in sorted(op_ms)
                }
                stats["own_ms"] = summary(own)
            if cpu:
                stats["cpu_ms"] = summary(cpu)
            if hook is not None:
                stats.update(hook.extra_stats())
            out[f"warm_{label}_ms"] = stats
            raw[f"warm_{label}_ms"] = [round(v, 3) for v in latencies]
            if emulator is not None:
                raw[f"warm_{label}_emulator_ms"] = [round(v, 3) for v in emulator_ms]
            raw[f"warm_{label}_cpu_ms"] = [round(v, 3) for v in cpu]
            raw[f"warm_{label}_problems"] = (examples + failed + unverified)[:20]
            bad = stats["errors"] + stats["failed"] + stats.get("unverified", 0)
            if bad:
                log(f"{label}: {stats['errors']} errors {errors}, {stats['failed']} failed, "
                    f"{stats.get('unverified', 0)} unverified of {count}; first: {raw[f'warm_{label}_problems'][:3]}")

        if noop_count:
            if noop_event is None:
                raise SystemExit("--noop-invocations needs --noop-event")
            fn.mark(f"{noop_count} no-op invocations")
            run("noop", noop_count, lambda: noop_event, None)
        if work_count:
            assert hook is not None
            fn.mark(f"{work_count} work invocations ({hook.description})")
            profiler = Profiler(profile, process.pid) if profile else None
            try:
                run("work", work_count, hook.prepare, hook)
            finally:
                if profiler is not None:
                    out["profile"] = profiler.stop()
        if alive():
            out["peak_rss_mib"] = mib(proc_status_kib(process.pid, "VmHWM"))
        else:
            out["warm_error"] = f"process exited with {process.returncode} before its peak RSS was read"
    finally:
        stop(process)
        out["raw"] = raw
    return out


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Measure init, warm latency and RSS of a Lambda function process.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--name", required=True, help="function name (AWS_LAMBDA_FUNCTION_NAME, result name)")
    parser.add_argument("--cmd", required=True, help="command line of the function process (split like a shell)")
    parser.add_argument("--runtime", choices=("rust", "python"), help="default: python if --cmd runs awslambdaric, else rust")
    parser.add_argument("--cwd", help="working directory of the process and LAMBDA_TASK_ROOT (default: here)")
    parser.add_argument("--handler", help="_HANDLER (default: bootstrap, or the awslambdaric argument)")
    parser.add_argument("--env-file", help="KEY=VALUE lines for the process (and the prepare hook)")
    parser.add_argument("--cold-starts", type=int, default=20)
    parser.add_argument("--warmup-starts", type=int, default=1, help="unmeasured starts first (warm the page cache); default 1")
    parser.add_argument("--noop-event", help="event file of the no-op invocations")
    parser.add_argument("--noop-invocations", type=int, default=200)
    parser.add_argument("--work-event", help="event file of the work invocations")
    parser.add_argument("--work-event-cmd", help="command printing each work event (run before each, untimed)")
    parser.add_argument("--prepare", choices=("target-health-break", "rds-failover", "zone-shift"),
                        help="built-in hook run before each work invocation")
    parser.add_argument("--stack", help="provision.py output (for --prepare target-health-break, rds-failover and zone-shift)")
    parser.add_argument("--target-group-arn", help="target group for --prepare target-health-break (default: the stack's first)")
    parser.add_argument("--work-invocations", type=int, default=200)
    parser.add_argument("--init-timeout", type=float, default=30.0, help="seconds to wait for the first poll")
    parser.add_argument("--invoke-timeout", type=float, default=35.0, help="seconds to wait for a response")
    parser.add_argument(
        "--streamless-table",
        action="store_true",
        help="run the function on <INCIDENTS_TABLE>-bench, a fresh copy of the table without its stream "
        "(the default with --prepare target-health-break; see streamless_copy)",
    )
    parser.add_argument("--keep-stream", action="store_true", help="with --prepare target-health-break: use INCIDENTS_TABLE itself")
    parser.add_argument(
        "--no-emulator-accounting",
        action="store_true",
        help="do not read the emulator's request log around each invocation (done when REBOUND_EMULATOR_URL is set)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a variable of the function process only (not of the prepare hooks), over --env-file; "
                        "repeatable. E.g. AWS_ENDPOINT_URL=https://... for the TLS front, whose certificate the hooks' "
                        "boto3 would not trust")
    parser.add_argument("--first-call-starts", type=int, default=0,
                        help="cold starts each followed by one timed work invocation (first_call_ms; see first_calls)")
    parser.add_argument("--request-log", metavar="FILE",
                        help="JSON lines: each timed invocation's AWS calls with the event's hand-out time "
                        "(for bench/time_to_act.py)")
    parser.add_argument("--perf-record", metavar="FILE",
                        help="perf record the warm process during its work invocations into FILE (see Profiler)")
    parser.add_argument("--perf-freq", type=int, default=2999, help="perf record sampling frequency (Hz)")
    parser.add_argument("--perf-call-graph", default="dwarf,65528", help="perf record --call-graph (dwarf[,size] or fp)")
    parser.add_argument("--log", help="function log (stdout+stderr), appended; default: --out with .log")
    parser.add_argument("--fail-on-error", action="store_true", help="exit 2 if any invocation erred/failed/was unverified")
    parser.add_argument("--out", required=True, help="result JSON file")
    args = parser.parse_args(argv)
    if args.runtime is None:
        args.runtime = "python" if "awslambdaric" in args.cmd else "rust"
    if args.handler is None:
        parts = shlex.split(args.cmd)
        args.handler = parts[-1] if "awslambdaric" in parts and parts[-1] != "awslambdaric" else "bootstrap"
    if args.log is None:
        args.log = str(Path(args.out).with_suffix(".log"))
    for item in args.set:
        if "=" not in item or not item.split("=", 1)[0]:
            parser.error(f"--set: expected KEY=VALUE, got {item!r}")
    for name in ("cold_starts", "warmup_starts", "noop_invocations", "work_invocations", "first_call_starts"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    file_env = read_env_file(args.env_file)
    hook_env = {**os.environ, **file_env}
    if args.streamless_table or (args.prepare is not None and not args.keep_stream):
        file_env["INCIDENTS_TABLE"] = hook_env["INCIDENTS_TABLE"] = streamless_copy(hook_env)
        log(f"INCIDENTS_TABLE={file_env['INCIDENTS_TABLE']} (a copy without a stream)")
    function_env = {**file_env, **dict(item.split("=", 1) for item in args.set)}
    noop_event = Path(args.noop_event).read_bytes() if args.noop_event else None
    work_event = Path(args.work_event).read_bytes() if args.work_event else None
    for label, body in (("--noop-event", noop_event), ("--work-event", work_event)):
        if body is not None:
            json.loads(body)
    hook: Hook | None = None
    if args.work_invocations or args.first_call_starts:
        if args.prepare == "target-health-break":
            hook = TargetHealthBreak(args.stack, args.target_group_arn, args.work_event, hook_env)
        elif args.prepare == "rds-failover":
            hook = RdsFailover(args.stack, args.work_event, hook_env)
        elif args.prepare == "zone-shift":
            hook = ZoneShift(args.stack, args.work_event, hook_env)
        elif args.work_event_cmd:
            hook = CommandHook(args.work_event_cmd, work_event, hook_env)
        elif work_event is not None:
            hook = Hook(work_event, f"fixed event {args.work_event}")
        else:
            raise SystemExit("--work-invocations or --first-call-starts > 0 needs --work-event, --work-event-cmd or --prepare")

    emulator_url = hook_env.get("REBOUND_EMULATOR_URL")
    emulator = Emulator(emulator_url) if emulator_url and not args.no_emulator_accounting else None
    if args.request_log and emulator is None:
        raise SystemExit("--request-log needs the emulator's request log (REBOUND_EMULATOR_URL, no --no-emulator-accounting)")
    request_log = RequestLog(args.request_log) if args.request_log else None
    api = RuntimeApi(args.name, timeout_ms=30_000).start()
    fn = Function(args, api, function_env)
    started = dt.datetime.now(dt.timezone.utc)
    log(f"{args.name} ({args.runtime}): {shlex.join(fn.argv)} in {fn.cwd}; runtime API {api.address}; log {fn.log_path}")
    try:
        cold = cold_starts(fn, api, args.cold_starts, args.warmup_starts, args.init_timeout)
        log(f"init: {cold['init_ms']}")
        first = None
        if args.first_call_starts:
            assert hook is not None
            first = first_calls(fn, api, hook, args.first_call_starts, args.init_timeout, args.invoke_timeout, emulator,
                                request_log)
            log(f"first calls: {first['first_call_ms']}")
        warm = warm_phase(
            fn, api, noop_event, args.noop_invocations, hook, args.work_invocations, args.init_timeout,
            args.invoke_timeout, emulator,
            {"out": args.perf_record, "freq": args.perf_freq, "call_graph": args.perf_call_graph}
            if args.perf_record else None,
            request_log,
        )
    finally:
        unknown = api.unknown_posts()
        api.stop()
        fn.close()
        if request_log is not None:
            request_log.close()

    raw = {**cold["raw"], **warm.pop("raw", {}), **(first.pop("raw") if first else {})}
    result: dict[str, Any] = {
        "name": args.name,
        "runtime": args.runtime,
        "init_ms": cold["init_ms"],
        "rss_after_init_mib": warm["rss_after_init_mib"],
        "peak_rss_mib": warm["peak_rss_mib"],
        "warm_noop_ms": warm["warm_noop_ms"],
        "warm_work_ms": warm["warm_work_ms"],
        "rss_after_init_cold_median_mib": mib(int(percentile(sorted(raw["rss_after_init_kib"]), 0.5)))
        if raw["rss_after_init_kib"]
        else None,
        "command": shlex.join(fn.argv),
        "cwd": fn.cwd,
        "work_events": hook.description if hook else None,
        "env_keys": sorted(fn.env),
        "log": str(fn.log_path),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "method": {
            "init": "t0 = perf_counter_ns() just before subprocess.Popen; t1 = first GET /next (request parsed)",
            "warm": "event written to /next -> /response body read; errors and timeouts counted apart",
            "percentiles": "linear interpolation between closest ranks",
            "warmup_starts": args.warmup_starts,
        },
        "raw": raw,
    }
    if "warm_error" in warm:
        result["warm_error"] = warm["warm_error"]
    if first is not None:
        result.update(first)
    if "profile" in warm:
        result["profile"] = warm["profile"]
    if unknown:
        result["unknown_runtime_api_posts"] = unknown[:20]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")

    bad = 0
    for key in ("warm_noop_ms", "warm_work_ms", "first_call_ms"):
        stats = result.get(key)
        if stats:
            bad += stats["errors"] + stats.get("failed", 0) + stats.get("unverified", 0)
    brief = {k: result[k] for k in ("init_ms", "rss_after_init_mib", "peak_rss_mib")}
    brief["warm_noop_median_ms"] = (result["warm_noop_ms"] or {}).get("median")
    brief["warm_work_median_ms"] = (result["warm_work_ms"] or {}).get("median")
    log(f"{args.name}: {json.dumps(brief)} -> {args.out}")
    if cold["init_ms"]["samples"] == 0 and args.cold_starts > 0 or "warm_error" in result:
        log(f"{args.name}: the function could not be measured; see {fn.log_path}")
        return 1
    if bad:
        log(f"{args.name}: {bad} invocation(s) erred, failed or were unverified; see the JSON and {fn.log_path}")
        return 2 if args.fail_on_error else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
