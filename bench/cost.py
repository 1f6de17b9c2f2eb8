#!/usr/bin/env python3
"""What Rebound costs a month on AWS, from what the benchmark measured (issue 20.4).

    python3 bench/cost.py --results bench/results.json [--logs target/bench]
    python3 bench/cost.py --results target/bench            # a scripts/bench results directory
    python3 bench/cost.py --self-test
    python3 bench/cost.py --cpu-probe --env-file F --stack F --cmd BIN --out target/bench/cpu_probe.json

bench/report.py calls ``add_to_report(lines, document, directory)``: it inserts the
"## Cost" section before the report's Findings and puts the headline totals in
``document["cost"]`` (bench/results.json). Standalone, the script prints the same
section (``--markdown``/``--json`` write it). Standard library only.

The model
---------
- A month is 30 days (720 hours). Every sweeping function (the template's ``Type:
  Schedule`` events: target-health, rds-health, zone-health) runs once per
  SweepSchedule period (template default rate(5 minutes): 8,640 sweeps a month each).
- 10 incidents a day (300 a month), each the scenario the harness times for
  target-health: an UnHealthyHostCount alarm opens an incident and replaces one
  instance (the work invocation), then one more invocation resolves it (the harness's
  untimed settle invocation, ``settle_resolve_ms``; its DynamoDB calls are the calls
  scenario "sweep: recovery verified → resolved"). Every write of the incident item
  (TransactWriteItems or PutItem by the store) is one stream record that passes the
  notifier's filter, and one incident-notifier invocation (an upper bound: the 1 s
  batching window may merge two) that publishes once (an upper bound: a write that
  changes no state publishes nothing). The notifier starts cold once per incident.
- Fleets of 100, 1,000 and 10,000 target groups: only target-health's sweep grows with
  them in the model (rds-health's and zone-health's sweeps are priced from their calls
  scenarios, one database and one load balancer; their durations are not measured).
- Lambda bills every invocation's duration rounded up to 1 ms, times the configured
  memory; init is billed too (provided.al2023 always; managed runtimes since 2025-08-01).
  Durations are the harness's medians, measured on x86_64 against the local emulator
  (moto answers each call in a few ms; real AWS takes longer, and the sweep overlaps
  its calls) and are used for arm64 unchanged (not measured on arm64).
- Memory and CPU: Lambda gives a function CPU in proportion to memory, one vCPU at
  1,769 MB. The model: duration(MB) = (wall − CPU) + CPU × max(1, 1769 / MB), with wall
  and CPU measured on an unthrottled core. It is an upper bound: CPU and waits overlap
  in a concurrent sweep, and a burst shorter than the CPU quota of one scheduler period
  runs at full speed (``--cpu-probe`` measures that on this machine).
- Prices: bench/prices.json (us-east-1, list prices, first tier), WITHOUT free tiers.
- DynamoDB request units from the measured calls: GetItem (strongly consistent) 1 RRU,
  BatchGetItem 1 RRU per item, Query on a global secondary index 0.5 RRU (items ≤ 4 KB);
  PutItem 1 WRU per KB of the incident item plus 1 per KB per index it is in;
  TransactWriteItems 2 WRUs per KB per item (the incident, the resource record and the
  ledgers) plus the index writes; UpdateItem/DeleteItem 1 WRU. The incident item's size
  comes from the stream fixtures in events/incident-notifier/ (an estimate).
- Logs: the bytes each function wrote per work invocation, measured from the harness's
  logs (``<function>.log``: stdout and stderr, EMF lines included) when a results
  directory is given; the sweep's EMF line from ``sweep.log``; Lambda's own platform
  records per invocation and the sweep's one tracing line are estimates (labelled).

Inputs (all optional; what is missing reads "not measured" and its cost is left out and
flagged, never invented)
---------------------------------------------------------------------------------------
- harness outputs (``<function>.json`` or results.json ``functions``): ``init_ms.median``,
  ``peak_rss_mib``, ``warm_work_ms.{median, cpu_ms.median, own_ms.median, samples}``,
  ``warm_work_ms.aws_operations_total`` (calls per work invocation =
  total ÷ samples), ``settle_resolve_ms.median``;
- ``calls.json`` (results.json ``calls``): the calls of the resolve, rds sweep and zone
  sweep scenarios;
- ``sweep.json`` (results.json ``sweep``): ``{"sizes": [SIZE, ...]}``, where SIZE is
  ``{"target_groups": N, "steady"|"again"|"first": SWEEP, "peak_rss_mib"?: MiB}`` and SWEEP
  is, per sweep (the first of steady, again, first present is priced: "steady" = a
  healthy fleet with nothing open, what most sweeps are; "again" has 1 % of the target
  groups holding open incidents, "first" opens them):

    ``wall_s``          wall time of the sweep (s)                          required
    ``api_calls``       {operation: calls in the sweep}                     required
    ``cpu_s``           CPU time of the function process (s)                optional:
                        without it the model uses ``own_s`` (wall − emulator
                        time) as an upper bound of the CPU time, and says so
    ``own_s``           wall − the emulator's busy time (s)                 optional
    ``get_metric_data_metrics``  metrics requested over the sweep's
                        GetMetricData calls (1 per target group, up to 500
                        per call)                                           optional:
                        without it and with GetMetricData calls, the model
                        counts one metric per target group (derived); with
                        no GetMetricData call, none
    ``log_bytes``       bytes the sweep logged (stdout + stderr)           optional
    ``peak_rss_mib``    the process's peak RSS during the sweep             optional

  Sizes 100, 1,000 and 10,000 are priced from their own entries; a fleet size without
  one is extrapolated linearly from the two largest measured sizes, and labelled so.
- ``<function>.log`` (harness logs) and ``sweep.log`` in the results directory, or the
  measured log bytes kept in an earlier results.json (``cost.inputs.log_bytes``);
- ``cpu_probe.json`` (this script's ``--cpu-probe``);
- template.yaml (MemorySize, Architectures, Timeout, SweepSchedule, LogRetentionDays,
  IncidentRetentionDays, alarms, dashboards, KMS keys, indexes, Tracing) and the sweep's
  deadline margin (shared/src/shell.rs DEADLINE_MARGIN).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT / "bench/prices.json"
TEMPLATE = ROOT / "template.yaml"
NOT_MEASURED = "not measured"

MONTH_DAYS = 30
HOURS_PER_MONTH = MONTH_DAYS * 24
INCIDENTS_PER_DAY = 10
FLEETS = (100, 1_000, 10_000)
MEMORY_SIZES = (128, 256, 512, 1024)
ONE_VCPU_MB = 1769
RSS_HEADROOM = 2.0
ARCHES = ("x86_64", "arm64")

WATCHERS = ("target-health", "rds-health", "zone-health")
NOTIFIER = "incident-notifier"
BASELINE = "baseline-"
# DynamoDB calls a sweep makes for the incidents it finds open (all but the listing Query).
HELD_INCIDENT_OPS = ("GetItem", "BatchGetItem", "TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem")
RESOLVE_SCENARIO = "sweep: recovery verified → resolved"
RDS_SWEEP_SCENARIO = "rds sweep: healthy database, nothing open"
ZONE_SWEEP_SCENARIO = "zone sweep: every zone healthy, nothing open"

# Assumptions (not measured); each is named where it is used and listed in the report.
BATCH_GET_ITEMS = 2  # the ledgers a decision reads: the group's and the account's
LEDGERS_PER_TRANSACTION = 2  # ledger puts in a TransactWriteItems (upper bound)
RESOURCE_RECORD_KB = 1  # the resource record and a ledger item: under 1 KB each
QUERY_RRU = 0.5  # an eventually consistent Query of the (sparse, mostly empty) open-incidents index
INCIDENT_METRICS = ("IncidentsOpened", "ActionsTaken", "TimeToRecoverSeconds", "NotificationsPublished")
# Estimates (not measured), labelled as such wherever they are used.
PLATFORM_LOG_BYTES = 600  # Lambda's platform.start + platform.report records (LogFormat: JSON)
SWEEP_LINE_BYTES = 300  # the sweep's "sweep" tracing line, which rebound-bench does not capture
DEADLINE_MARGIN_DEFAULT_S = 5


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------


def get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def usd(value: float | None) -> str:
    if value is None:
        return NOT_MEASURED
    if value == 0:
        return "$0"
    if value >= 10:
        return f"${value:,.2f}"
    if value >= 0.1:
        return f"${value:.3f}"
    if value >= 0.0001:
        return f"${value:.4f}"
    return "< $0.0001"


def ms(value: float | None) -> str:
    if value is None:
        return NOT_MEASURED
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out + [""]


def fig(value: Any, how: str, source: str) -> dict[str, Any]:
    """An input with its provenance: how = measured | derived | extrapolated | modelled |
    assumption | estimate | template | not measured."""
    return {"value": value, "how": how if value is not None or how == NOT_MEASURED else NOT_MEASURED, "source": source}


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


def load_document(path: Path) -> tuple[dict[str, Any], Path | None]:
    """A results.json document, or one assembled from a scripts/bench results directory."""
    if path.is_dir():
        functions = {}
        for item in sorted(path.glob("*.json")):
            data = load_json(item)
            if isinstance(data, dict) and "name" in data and "init_ms" in data:
                functions[data["name"]] = data
        earlier = load_json(path / "results.json") or {}
        return {"source": str(path), "functions": functions, "calls": load_json(path / "calls.json"),
                "sweep": load_json(path / "sweep.json"), "date": earlier.get("date"),
                "commit": earlier.get("commit")}, path
    data = load_json(path)
    if not isinstance(data, dict):
        raise SystemExit(f"cost: {path} is neither a results directory nor a results.json")
    return {**data, "source": f"{path} (measured in {data.get('source') or '?'})"}, None


def template_facts(path: Path = TEMPLATE) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError:
        return {}

    def first(pattern: str, cast: Any = str) -> Any:
        match = re.search(pattern, text, re.MULTILINE)
        return cast(match.group(1)) if match else None

    alarms = re.findall(r"^  (\w+):\n    Type: AWS::CloudWatch::Alarm\n(    Condition: \w+\n)?", text, re.MULTILINE)
    schedule = re.search(r"^  SweepSchedule:\n(?:    .*\n)*?    Default: rate\((\d+) (minute|minutes|hour|hours)\)",
                         text, re.MULTILINE)
    period_min = None
    if schedule:
        period_min = int(schedule.group(1)) * (60 if schedule.group(2).startswith("hour") else 1)
    tracing = re.findall(r"^\s+Tracing:\s*(\w+)", text, re.MULTILINE)
    memory = sorted({int(m) for m in re.findall(r"^\s+MemorySize:\s*(\d+)", text, re.MULTILINE)})
    return {
        "memory_mb": memory[0] if len(memory) == 1 else None,
        "memory_sizes": memory,
        "architecture": first(r"^\s+Architectures:\n\s+- (\w+)"),
        "timeout_s": first(r"^Globals:\n(?:.*\n)*?\s+Timeout:\s*(\d+)", int),
        "sweep_period_min": period_min,
        "sweeping_functions": len(re.findall(r"^\s+Type: Schedule\b", text, re.MULTILINE)),
        "log_retention_days": first(r"^  LogRetentionDays:\n(?:    .*\n)*?    Default: (\d+)", int),
        "incident_retention_days": first(r"^  IncidentRetentionDays:\n(?:    .*\n)*?    Default: (\d+)", int),
        "alarms": sum(1 for _, cond in alarms if not cond),
        "conditional_alarms": sum(1 for _, cond in alarms if cond),
        "dashboards": len(re.findall(r"Type: AWS::CloudWatch::Dashboard", text)),
        "kms_keys": len(re.findall(r"Type: AWS::KMS::Key", text)),
        "billing_mode": first(r"^\s+BillingMode:\s*(\w+)"),
        "table_indexes": len(re.findall(r"^\s+- IndexName:", text, re.MULTILINE)),
        "pitr": bool(re.search(r"PointInTimeRecoveryEnabled:\s*true", text)),
        "tracing_active": any(t.lower() == "active" for t in tracing),
    }


def deadline_margin() -> dict[str, Any]:
    try:
        text = (ROOT / "shared/src/shell.rs").read_text()
        match = re.search(r"DEADLINE_MARGIN: Duration = Duration::from_secs\((\d+)\)", text)
    except OSError:
        match = None
    if match:
        return fig(int(match.group(1)), "template", "shared/src/shell.rs DEADLINE_MARGIN")
    return fig(DEADLINE_MARGIN_DEFAULT_S, "assumption", "DEADLINE_MARGIN not found in shared/src/shell.rs")


def dynamo_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (its item-size rules, close enough)."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = len(raw.lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return len(raw) * 3 // 4
    if kind == "M":
        return 3 + sum(len(k.encode()) + dynamo_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(dynamo_size(v) + 1 for v in raw)
    return sum(len(str(v)) for v in raw)


def incident_item_kb() -> dict[str, Any]:
    sizes = []
    for path in sorted((ROOT / "events/incident-notifier").glob("stream-incident-*.json")):
        for record in get(load_json(path), "Records") or []:
            image = get(record, "dynamodb", "NewImage")
            if isinstance(image, dict):
                sizes.append(sum(len(k.encode()) + dynamo_size(v) for k, v in image.items()))
    if not sizes:
        return fig(2.0, "assumption", "no stream fixture in events/incident-notifier/: 2 KB assumed")
    return fig(max(sizes) / 1024, "estimate",
               f"largest incident image in events/incident-notifier/ fixtures ({max(sizes)} B)")


def function_figures(result: dict[str, Any] | None, name: str) -> dict[str, Any]:
    src = f"{name}: warm_work_ms"
    if not isinstance(result, dict):
        empty = fig(None, NOT_MEASURED, f"no harness output for {name}")
        return {"work_ms": empty, "cpu_ms": empty, "settle_ms": empty, "init_ms": empty, "peak_rss_mib": empty,
                "own_ms": empty, "calls": empty, "emulator_ms_per_call": empty}
    work = result.get("warm_work_ms") or {}
    samples = work.get("samples") or 0
    totals = work.get("aws_operations_total") or {}
    calls = {op: n / samples for op, n in totals.items()} if samples else None
    return {
        "work_ms": fig(work.get("median"), "measured", f"{src}.median"),
        "cpu_ms": fig(get(work, "cpu_ms", "median"), "measured", f"{src}.cpu_ms.median"),
        "own_ms": fig(get(work, "own_ms", "median"), "measured", f"{src}.own_ms.median"),
        "settle_ms": fig(get(work, "settle_resolve_ms", "median") or get(result, "settle_resolve_ms", "median"),
                         "measured", f"{src}.settle_resolve_ms.median"),
        "init_ms": fig(get(result, "init_ms", "median"), "measured", f"{name}: init_ms.median"),
        "peak_rss_mib": fig(result.get("peak_rss_mib"), "measured", f"{name}: peak_rss_mib"),
        "calls": fig(calls, "measured", f"{src}.aws_operations_total ÷ samples ({samples})"),
        "emulator_ms_per_call": fig(work.get("emulator_ms_per_call_by_operation"), "measured",
                                    f"{src}.emulator_ms_per_call_by_operation"),
    }


def harness_log_bytes(path: Path) -> dict[str, Any] | None:
    """Bytes the function wrote per invocation in the harness log's work and no-op
    sections, and the EMF metric names of the work section."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    out: dict[str, Any] = {}
    section, count, total, names = None, 0, 0, set()

    def close() -> None:
        if section and count:
            out[section] = total / count
            if section == "work":
                out["work_emf_metrics"] = sorted(names)

    for line in lines:
        header = re.match(r"^===== harness \S+: (\d+) (work|no-op) invocations", line)
        if line.startswith("===== harness "):
            close()
            section = header.group(2) if header else None
            count, total, names = (int(header.group(1)) if header else 0), 0, set()
            continue
        if section and line:
            total += len(line.encode()) + 1
            if section == "work" and line.startswith("{") and '"_aws"' in line:
                try:
                    for metric in get(json.loads(line), "_aws", "CloudWatchMetrics")[0]["Metrics"]:
                        names.add(metric["Name"])
                except (ValueError, TypeError, KeyError, IndexError):
                    pass
    close()
    return out or None


def sweep_log_bytes(path: Path) -> dict[str, float]:
    """Bytes of EMF lines per sweep in rebound-bench's sweep.log, by target groups (each
    size logs a header, then one line per sweep: first and again)."""
    out: dict[str, float] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return out
    size, per = None, []
    for line in lines + ["sweep: end"]:
        header = re.match(r"^sweep: (\d+) groups × (\d+) target groups", line)
        if header or line == "sweep: end":
            if size and per:
                out[str(size)] = sum(per) / len(per)
            size, per = (int(header.group(1)) * int(header.group(2)) if header else None), []
        elif size and line.startswith("{"):
            per.append(len(line.encode()) + 1)
    return out


def log_inputs(logs_dir: Path | None, earlier: Any) -> dict[str, Any]:
    """Measured log bytes: from the harness logs when there is a results directory, else
    those an earlier run kept in results.json (cost.inputs.log_bytes)."""
    measured: dict[str, Any] = {}
    if logs_dir is not None:
        for path in sorted(logs_dir.glob("*.log")):
            if path.stem in ("sweep", "calls", "storm"):
                continue
            got = harness_log_bytes(path)
            if got:
                measured[path.stem] = {**got, "source": str(path)}
        sweep = sweep_log_bytes(logs_dir / "sweep.log")
        if sweep:
            measured["sweep"] = {"emf_bytes_by_target_groups": sweep, "source": str(logs_dir / "sweep.log")}
    if not measured and isinstance(earlier, dict):
        measured = {k: {**v, "source": f"results.json cost.inputs.log_bytes ({v.get('source')})"}
                    for k, v in earlier.items() if isinstance(v, dict)}
    return measured


def sweep_runs(sweep: Any) -> list[dict[str, Any]]:
    runs = []
    for size in get(sweep, "sizes") or []:
        key = next((k for k in ("steady", "again", "first") if isinstance(size.get(k), dict)), None)
        tgs = size.get("target_groups")
        if key is None or not tgs or get(size, key, "wall_s") is None:
            continue
        run = size[key]
        cpu, cpu_how = run.get("cpu_s"), "measured"
        if cpu is None:
            cpu, cpu_how = run.get("own_s"), "own time (wall − emulator), an upper bound of CPU"
        calls = dict(run.get("api_calls") or {})
        held = size.get("unhealthy_target_groups") or 0
        if key != "steady" and held:
            # At 10 incidents a day an incident is rarely open during a sweep; the
            # measured sweep keeps 1 % of the fleet open. Its reads and writes of those
            # incidents are left out (the incidents' own calls are priced per incident);
            # the free Describe calls and the wall time stay as measured.
            calls = {op: n for op, n in calls.items() if op not in HELD_INCIDENT_OPS}
        runs.append({
            "target_groups": tgs, "sweep": key, "wall_s": run["wall_s"], "cpu_s": cpu, "cpu_how": cpu_how,
            "calls": calls, "held_incidents": held if key != "steady" else 0,
            "gmd_metrics": run.get("get_metric_data_metrics"),
            "log_bytes": run.get("log_bytes"),
            "peak_rss_mib": run.get("peak_rss_mib", size.get("peak_rss_mib")),
            "emulator_ms_per_dth": emulator_ms_per_call(run, "DescribeTargetHealth"),
            "how": "measured",
        })
    return sorted(runs, key=lambda r: r["target_groups"])


def emulator_ms_per_call(run: dict[str, Any], op: str) -> float | None:
    busy, calls = get(run, "emulator_busy_s_by_operation", op), get(run, "api_calls", op)
    return None if busy is None or not calls else busy * 1000 / calls


def sweep_at(runs: list[dict[str, Any]], tgs: int) -> dict[str, Any] | None:
    """The sweep at this fleet size: measured, or extrapolated linearly (labelled)."""
    for run in runs:
        if run["target_groups"] == tgs:
            return run
    if not runs:
        return None
    if len(runs) == 1:
        (a,) = runs
        k = tgs / a["target_groups"]

        def scale(x: Any) -> Any:
            return None if x is None else x * k

        how = f"extrapolated: scaled in proportion from the {a['target_groups']:,}-TG measurement"
        return {**a, "target_groups": tgs, "wall_s": scale(a["wall_s"]), "cpu_s": scale(a["cpu_s"]),
                "calls": {op: n * k for op, n in a["calls"].items()}, "gmd_metrics": scale(a["gmd_metrics"]),
                "log_bytes": scale(a["log_bytes"]), "peak_rss_mib": None, "how": how}
    a, b = runs[-2], runs[-1]
    if tgs < b["target_groups"]:
        a, b = runs[0], runs[1]
    span = b["target_groups"] - a["target_groups"]

    def line(x: Any, y: Any) -> Any:
        if x is None or y is None:
            return None
        return max(0.0, y + (y - x) / span * (tgs - b["target_groups"]))

    ops = set(a["calls"]) | set(b["calls"])
    return {**b, "target_groups": tgs, "wall_s": line(a["wall_s"], b["wall_s"]), "cpu_s": line(a["cpu_s"], b["cpu_s"]),
            "calls": {op: line(a["calls"].get(op, 0), b["calls"].get(op, 0)) for op in ops},
            "gmd_metrics": line(a["gmd_metrics"], b["gmd_metrics"]), "log_bytes": line(a["log_bytes"], b["log_bytes"]),
            "peak_rss_mib": None,
            "how": f"extrapolated linearly from the {a['target_groups']:,}- and {b['target_groups']:,}-TG measurements"}


def scenario_calls(calls: Any, name: str) -> dict[str, Any]:
    for scenario in calls if isinstance(calls, list) else []:
        if scenario.get("scenario") == name:
            return fig(dict(scenario.get("calls") or {}), "measured", f"calls.json scenario \"{name}\"")
    return fig(None, NOT_MEASURED, f"calls.json has no scenario \"{name}\"")


def gather(document: dict[str, Any], logs_dir: Path | None, template: Path = TEMPLATE) -> dict[str, Any]:
    functions = document.get("functions") or {}
    tpl = template_facts(template)
    period = tpl.get("sweep_period_min")
    sweeps = fig(None if not period else MONTH_DAYS * 24 * 60 // period, "template",
                 f"template.yaml SweepSchedule default rate({period} minutes), {MONTH_DAYS}-day month")
    logs = log_inputs(logs_dir, get(document, "cost", "inputs", "log_bytes"))
    return {
        "source": document.get("source"),
        "date": document.get("date"),
        "commit": document.get("commit"),
        "template": tpl,
        "sweeps_per_month": sweeps,
        "incidents_per_month": fig(INCIDENTS_PER_DAY * MONTH_DAYS, "assumption",
                                   f"{INCIDENTS_PER_DAY} incidents a day × {MONTH_DAYS} days"),
        "deadline_margin_s": deadline_margin(),
        "incident_item_kb": incident_item_kb(),
        "functions": {name: function_figures(functions.get(name), name)
                      for name in (*WATCHERS, NOTIFIER, *(BASELINE + n for n in (*WATCHERS, NOTIFIER)))},
        "sweep_runs": sweep_runs(document.get("sweep")),
        "resolve_calls": scenario_calls(document.get("calls"), RESOLVE_SCENARIO),
        "rds_sweep_calls": scenario_calls(document.get("calls"), RDS_SWEEP_SCENARIO),
        "zone_sweep_calls": scenario_calls(document.get("calls"), ZONE_SWEEP_SCENARIO),
        "log_bytes": logs,
        "logs_commit": get(load_json(logs_dir / "results.json"), "commit") if logs_dir else None,
    }


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------


def duration_ms(wall_ms: float | None, cpu_ms: float | None, memory_mb: int) -> float | None:
    """Wall time at this memory size: the time not on the CPU is kept, the CPU time is
    stretched by the share of a vCPU the memory size buys (none above 1,769 MB)."""
    if wall_ms is None:
        return None
    cpu = min(cpu_ms or 0.0, wall_ms)
    return (wall_ms - cpu) + cpu * max(1.0, ONE_VCPU_MB / memory_mb)


def dynamo_units(calls: dict[str, float], item_kb: float, indexes: int) -> tuple[float, float]:
    """(RRU, WRU) of these calls, by the rules in the module docstring."""
    kb = max(1, math.ceil(item_kb))
    rru = (calls.get("GetItem", 0) + calls.get("BatchGetItem", 0) * BATCH_GET_ITEMS
           + (calls.get("Query", 0) + calls.get("Scan", 0)) * QUERY_RRU)
    transaction = 2 * (kb + RESOURCE_RECORD_KB + LEDGERS_PER_TRANSACTION * RESOURCE_RECORD_KB) + indexes * kb
    wru = (calls.get("PutItem", 0) * kb * (1 + indexes) + calls.get("TransactWriteItems", 0) * transaction
           + calls.get("UpdateItem", 0) + calls.get("DeleteItem", 0))
    return rru, wru


def price(prices: dict[str, Any], key: str) -> float:
    entry = prices["prices"][key]
    return entry["usd"] / entry["per"]


def log_bytes_for(inputs: dict[str, Any], name: str, kind: str) -> tuple[float | None, str]:
    entry = get(inputs, "log_bytes", name)
    value = get(entry, kind)
    if value is None:
        return None, NOT_MEASURED
    return value, f"measured ({entry.get('source')})"


def workload(inputs: dict[str, Any], tgs: int, impl: str) -> list[dict[str, Any]]:
    """The month's invocations of one implementation at one fleet size: each a class with
    its count, wall and CPU time per invocation (ms), calls per invocation, log bytes per
    invocation and init per cold start."""
    fns = inputs["functions"]
    prefix = "" if impl == "rust" else BASELINE
    sweeps = inputs["sweeps_per_month"]["value"]
    incidents = inputs["incidents_per_month"]["value"]
    classes: list[dict[str, Any]] = []

    # target-health's sweep
    th = fns[prefix + "target-health"]
    run = sweep_at(inputs["sweep_runs"], tgs)
    if impl == "rust":
        if run is None:
            classes.append({"label": "target-health sweep", "count": sweeps, "wall_ms": None, "cpu_ms": None,
                            "calls": {}, "log_bytes": None, "how": NOT_MEASURED, "sweep": True})
        else:
            emf = get(inputs, "log_bytes", "sweep", "emf_bytes_by_target_groups", str(tgs))
            if run.get("log_bytes") is not None:
                log, log_how = run["log_bytes"], "measured (sweep.json log_bytes)"
            elif emf is not None:
                log, log_how = emf + SWEEP_LINE_BYTES, "EMF line measured (sweep.log) + the sweep line, estimated"
            else:
                log, log_how = SWEEP_LINE_BYTES + 450, "estimate (the sweep line and one EMF line)"
            calls = dict(run["calls"])
            gmd = run["gmd_metrics"]
            gmd_how = "measured (get_metric_data_metrics)"
            if gmd is None:
                gmd = float(tgs) if calls.get("GetMetricData") else 0.0
                gmd_how = ("derived: one metric per target group" if calls.get("GetMetricData")
                           else "measured: the sweep makes no GetMetricData call")
            classes.append({"label": "target-health sweep", "count": sweeps, "wall_ms": run["wall_s"] * 1000,
                            "cpu_ms": None if run["cpu_s"] is None else run["cpu_s"] * 1000, "cpu_how": run["cpu_how"],
                            "calls": calls, "gmd_metrics": gmd, "gmd_how": gmd_how, "log_bytes": log,
                            "log_how": log_how, "sweep": True,
                            "how": f"{run['how']} ({run['sweep']} sweep"
                                   + ("; its DynamoDB calls for the incidents it held open left out"
                                      if run.get("held_incidents") else "") + ")",
                            "peak_rss_mib": run.get("peak_rss_mib")})
    else:
        # The baseline has no sweep (bench/baseline/target_health.py ignores the
        # schedule). Modelled: one DescribeTargetHealth per target group, one after the
        # other, each taking the emulator's time per call in the Rust sweep at this size
        # plus the baseline's own and CPU time per call in its measured work invocation.
        calls_per_work = sum((th["calls"]["value"] or {}).values()) or None
        emu = None if run is None else run.get("emulator_ms_per_dth")
        if emu is None:  # a sweep without DescribeTargetHealth calls: the baseline's own call's time
            emu = (th["emulator_ms_per_call"]["value"] or {}).get("DescribeTargetHealth")
        own, cpu = th["own_ms"]["value"], th["cpu_ms"]["value"]
        if calls_per_work and own is not None and cpu is not None and emu is not None:
            wall = tgs * (emu + own / calls_per_work)
            classes.append({"label": "target-health sweep (modelled: DescribeTargetHealth per target group)",
                            "count": sweeps, "wall_ms": wall, "cpu_ms": tgs * cpu / calls_per_work,
                            "cpu_how": "baseline CPU per call × target groups", "calls": {"DescribeTargetHealth": tgs},
                            "gmd_metrics": 0.0, "gmd_how": "modelled: none", "log_bytes": 0.0,
                            "log_how": "modelled: logs nothing when healthy (platform records only)",
                            "how": "modelled", "sweep": True})
        else:
            classes.append({"label": "target-health sweep (modelled)", "count": sweeps, "wall_ms": None, "cpu_ms": None,
                            "calls": {}, "log_bytes": None, "how": NOT_MEASURED, "sweep": True})

    # rds-health's and zone-health's sweeps: calls measured (one database, one load
    # balancer), durations not measured.
    for fn, key in (("rds-health", "rds_sweep_calls"), ("zone-health", "zone_sweep_calls")):
        if impl == "baseline" and fn == "zone-health":
            label = "zone-health sweep (no Python baseline)"
        else:
            label = f"{fn} sweep"
        classes.append({"label": label, "count": sweeps, "wall_ms": None, "cpu_ms": None,
                        "calls": inputs[key]["value"] or {}, "log_bytes": None, "how": "calls measured; duration "
                        + NOT_MEASURED, "sweep": True})

    # the incidents
    item_calls = th["calls"]["value"]
    classes.append({"label": "target-health alarm: open the incident and replace", "count": incidents,
                    "wall_ms": th["work_ms"]["value"], "cpu_ms": th["cpu_ms"]["value"], "calls": item_calls or {},
                    "log_bytes": log_bytes_for(inputs, prefix + "target-health", "work")[0],
                    "log_how": log_bytes_for(inputs, prefix + "target-health", "work")[1]
                    + " (with the resolving invocation's lines)", "how": "measured"})
    share = None
    if th["work_ms"]["value"] and th["cpu_ms"]["value"] is not None:
        share = th["cpu_ms"]["value"] / th["work_ms"]["value"]
    settle = th["settle_ms"]["value"]
    classes.append({"label": "target-health: resolve the incident", "count": incidents, "wall_ms": settle,
                    "cpu_ms": None if settle is None or share is None else settle * share,
                    "cpu_how": "assumed: the work invocation's CPU share",
                    "calls": inputs["resolve_calls"]["value"] or {},
                    "log_bytes": 0.0, "log_how": "counted with the alarm invocation", "how": "measured"})
    writes = None
    if item_calls is not None and inputs["resolve_calls"]["value"] is not None:
        resolve = inputs["resolve_calls"]["value"]
        writes = sum(c.get(op, 0) for c in (item_calls, resolve) for op in ("TransactWriteItems", "PutItem"))
    nt = fns[prefix + NOTIFIER]
    classes.append({"label": "incident-notifier: one stream record",
                    "count": None if writes is None else incidents * writes,
                    "wall_ms": nt["work_ms"]["value"], "cpu_ms": nt["cpu_ms"]["value"],
                    "calls": nt["calls"]["value"] or {},
                    "log_bytes": log_bytes_for(inputs, prefix + NOTIFIER, "work")[0],
                    "log_how": log_bytes_for(inputs, prefix + NOTIFIER, "work")[1],
                    "cold_starts": incidents, "init_ms": nt["init_ms"]["value"],
                    "how": "measured" if writes is not None else "stream records " + NOT_MEASURED,
                    "records_per_incident": writes})
    return classes


def memory_for(inputs: dict[str, Any], impl: str) -> int:
    """The template's memory for Rust; for the baseline, the smallest of MEMORY_SIZES
    with 2× headroom over its measured peak RSS (Python needs more than 128 MB)."""
    if impl == "rust":
        return inputs["template"].get("memory_mb") or 128
    peaks = [f["peak_rss_mib"]["value"] for n, f in inputs["functions"].items() if n.startswith(BASELINE)]
    peaks = [p for p in peaks if p is not None]
    if not peaks:
        return 128
    need = max(peaks) * RSS_HEADROOM
    return next((mb for mb in MEMORY_SIZES if mb >= need), MEMORY_SIZES[-1])


def monthly(inputs: dict[str, Any], prices: dict[str, Any], tgs: int, arch: str, impl: str,
            memory_mb: int | None = None, stretch: bool = True) -> dict[str, Any]:
    """One month's bill, by component: {"usd": float, "missing": [what is left out]}.
    stretch=False prices the measured durations as they are (no CPU stretch for the
    memory size: what the CPU probe saw at these CPU densities)."""
    memory_mb = memory_mb or memory_for(inputs, impl)
    tpl = inputs["template"]
    classes = workload(inputs, tgs, impl)
    kb = inputs["incident_item_kb"]["value"]
    indexes = tpl.get("table_indexes") or 0
    missing: dict[str, list[str]] = {
        k: [] for k in ("requests", "compute", "dynamodb", "get_metric_data", "logs", "sns")}
    requests = gbs = rru = wru = metrics = publishes = log_bytes = 0.0
    timeout_ms = (tpl.get("timeout_s") or 0) * 1000 or None
    capped: list[str] = []
    for c in classes:
        count = c["count"]
        if count is None:
            for left in missing.values():
                left.append(c["label"])
            continue
        requests += count
        d = duration_ms(c["wall_ms"], c.get("cpu_ms") if stretch else 0.0, memory_mb)
        if d is not None and timeout_ms and d > timeout_ms:
            # Lambda stops the invocation at its Timeout (the sweep itself stops starting
            # checks DEADLINE_MARGIN before): billed to the Timeout, the rest undone.
            d = timeout_ms
            capped.append(c["label"])
        if d is None:
            missing["compute"].append(c["label"])
        else:
            gbs += count * math.ceil(d) / 1000 * memory_mb / 1024
        if c.get("cold_starts") and c.get("init_ms") is not None:
            gbs += c["cold_starts"] * math.ceil(c["init_ms"]) / 1000 * memory_mb / 1024
        r, w = dynamo_units(c["calls"], kb, indexes)
        rru, wru = rru + count * r, wru + count * w
        metrics += count * (c.get("gmd_metrics") or 0.0)
        publishes += count * c["calls"].get("Publish", 0)
        if c.get("log_bytes") is None:
            missing["logs"].append(c["label"])
        else:
            log_bytes += count * c["log_bytes"]
        log_bytes += count * PLATFORM_LOG_BYTES
    incidents = inputs["incidents_per_month"]["value"]
    stored_gb = incidents * (tpl.get("incident_retention_days") or 90) / MONTH_DAYS * kb * 2 / 1024 / 1024
    dynamodb = (rru * price(prices, "dynamodb.on_demand.read_request_unit")
                + wru * price(prices, "dynamodb.on_demand.write_request_unit")
                + stored_gb * price(prices, "dynamodb.storage")
                + (stored_gb * price(prices, "dynamodb.pitr") if tpl.get("pitr") else 0.0))
    gb = log_bytes / 1024**3
    retention = (tpl.get("log_retention_days") or 30) / MONTH_DAYS
    logs = gb * price(prices, "cloudwatch.logs.ingestion") + gb * retention * price(prices, "cloudwatch.logs.storage")
    emails = publishes  # one e-mail subscription (AlertEmail set)
    sns = publishes * price(prices, "sns.publish") + emails * price(prices, "sns.email")
    alarms = (tpl.get("alarms") or 0) * price(prices, "cloudwatch.alarm.standard")
    custom = custom_metric_months(inputs, impl) * price(prices, "cloudwatch.custom_metric")
    other = (custom + (tpl.get("dashboards") or 0) * price(prices, "cloudwatch.dashboard")
             + (tpl.get("kms_keys") or 0) * price(prices, "kms.customer_managed_key"))
    if tpl.get("tracing_active"):
        other += requests * price(prices, "xray.traces_recorded")
    parts = {
        "requests": requests * price(prices, "lambda.requests"),
        "compute": gbs * price(prices, f"lambda.duration.{arch}"),
        "dynamodb": dynamodb,
        "get_metric_data": metrics * price(prices, "cloudwatch.get_metric_data"),
        "alarms": alarms,
        "logs": logs,
        "sns": sns,
        "other": other,
    }
    out = {k: {"usd": v, "missing": missing.get(k, [])} for k, v in parts.items()}
    out["total"] = {"usd": sum(parts.values()),
                    "missing": sorted({m for k in missing for m in missing[k]})}
    changed = ("requests", "compute", "dynamodb", "get_metric_data", "logs", "sns")
    out["implementation"] = {"usd": sum(parts[k] for k in changed),
                             "missing": sorted({m for k in changed for m in missing.get(k, [])})}
    out["capped_at_timeout"] = capped
    out["usage"] = {"memory_mb": memory_mb, "arch": arch, "requests": requests, "gb_seconds": gbs, "rru": rru,
                    "wru": wru, "get_metric_data_metrics": metrics, "sns_publishes": publishes, "log_gb": gb}
    return out


def custom_metric_months(inputs: dict[str, Any], impl: str) -> float:
    """SweepsCompleted of each sweeping function all month; the incident metrics in the
    hours with an incident (each incident in an hour of its own: an upper bound). The
    same for the baseline, which emits none (its logs have no EMF line), as a cost of the
    stack: the heartbeat alarms and the dashboard read them."""
    del impl
    names = set(get(inputs, "log_bytes", "target-health", "work_emf_metrics") or [])
    names |= set(get(inputs, "log_bytes", NOTIFIER, "work_emf_metrics") or [])
    if not names:
        names = set(INCIDENT_METRICS)
    hours = min(1.0, inputs["incidents_per_month"]["value"] / HOURS_PER_MONTH)
    return (inputs["template"].get("sweeping_functions") or 0) + len(names) * hours


# --------------------------------------------------------------------------------------
# memory sizes
# --------------------------------------------------------------------------------------


def memory_study(inputs: dict[str, Any], prices: dict[str, Any], impl: str = "rust") -> dict[str, Any]:
    """Durations and cost at each memory size; the cheapest that keeps 2× RSS headroom
    and target-health's sweep within its deadline."""
    tpl = inputs["template"]
    deadline = None
    if tpl.get("timeout_s"):
        deadline = (tpl["timeout_s"] - inputs["deadline_margin_s"]["value"]) * 1000
    prefix = "" if impl == "rust" else BASELINE
    names = [prefix + n for n in (*WATCHERS, NOTIFIER)]
    peaks = {n: inputs["functions"][n]["peak_rss_mib"]["value"] for n in names if n in inputs["functions"]}
    rows = []
    for mb in MEMORY_SIZES:
        row: dict[str, Any] = {"memory_mb": mb, "sweep_ms": {}, "fits_deadline": {}, "cost": {}, "total": {}}
        known = [p for p in peaks.values() if p is not None]
        sweep_peaks = [r["peak_rss_mib"] for r in inputs["sweep_runs"] if r.get("peak_rss_mib")]
        peak = max(known + sweep_peaks) if known or sweep_peaks else None
        row["peak_rss_mib"] = peak
        row["headroom"] = None if not peak else mb / peak
        for tgs in FLEETS:
            sweep = next((c for c in workload(inputs, tgs, impl) if c.get("sweep")), None)
            d = duration_ms(sweep["wall_ms"], sweep.get("cpu_ms"), mb) if sweep else None
            row["sweep_ms"][tgs] = d
            row["fits_deadline"][tgs] = None if d is None or deadline is None else d <= deadline
            bill = monthly(inputs, prices, tgs, tpl.get("architecture") or "arm64", impl, mb)
            row["cost"][tgs] = bill["compute"]["usd"]
            row["total"][tgs] = bill["total"]["usd"]
            row.setdefault("cost_unstretched", {})[tgs] = monthly(
                inputs, prices, tgs, tpl.get("architecture") or "arm64", impl, mb, stretch=False)["compute"]["usd"]
        row["per_invocation_ms"] = {c["label"]: duration_ms(c["wall_ms"], c.get("cpu_ms"), mb)
                                    for c in workload(inputs, FLEETS[0], impl) if not c.get("sweep")}
        rows.append(row)
    fits_somewhere = {tgs: any(r["fits_deadline"][tgs] for r in rows) for tgs in FLEETS}
    candidates = [r for r in rows
                  if (r["headroom"] is None or r["headroom"] >= RSS_HEADROOM)
                  and all(r["fits_deadline"][tgs] is not False for tgs in FLEETS if fits_somewhere[tgs])]
    reference = FLEETS[1]
    best = min(candidates, key=lambda r: (r["cost"][reference], r["memory_mb"])) if candidates else None
    return {"rows": rows, "deadline_ms": deadline, "peaks": peaks, "impl": impl,
            "recommended_mb": None if best is None else best["memory_mb"],
            "no_fit": [tgs for tgs in FLEETS if not fits_somewhere[tgs] and rows[0]["sweep_ms"][tgs] is not None],
            "reference_fleet": reference}


# --------------------------------------------------------------------------------------
# the CPU probe: a cgroup CPU quota per memory size on a real function process
# --------------------------------------------------------------------------------------


def cgroup_dir(name: str) -> tuple[Path, str] | None:
    """A new cgroup with the CPU controller: (its directory, "v2" | "v1"), or None."""
    v2 = Path("/sys/fs/cgroup")
    if "cpu" in (v2 / "cgroup.controllers").read_text().split() if (v2 / "cgroup.controllers").exists() else False:
        path = v2 / name
        path.mkdir(exist_ok=True)
        return path, "v2"
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists():
        path = v1 / name
        path.mkdir(exist_ok=True)
        return path, "v1"
    return None


def set_quota(path: Path, version: str, share: float | None, period_us: int) -> None:
    quota = "max" if share is None else str(max(1000, int(share * period_us)))
    if version == "v2":
        (path / "cpu.max").write_text(f"{quota} {period_us}\n")
    else:
        (path / "cpu.cfs_period_us").write_text(f"{period_us}\n")
        (path / "cpu.cfs_quota_us").write_text(("-1" if quota == "max" else quota) + "\n")


def cpu_stat(path: Path, version: str) -> dict[str, float]:
    """The cgroup's CFS counters: periods, throttled periods, throttled time (ms)."""
    try:
        raw = dict(line.split() for line in (path / "cpu.stat").read_text().splitlines() if len(line.split()) == 2)
    except OSError:
        return {}
    throttled_ms = (int(raw.get("throttled_usec", 0)) / 1000 if version == "v2"
                    else int(raw.get("throttled_time", 0)) / 1e6)
    return {"periods": int(raw.get("nr_periods", 0)), "throttled": int(raw.get("nr_throttled", 0)),
            "throttled_ms": throttled_ms}


def cpu_probe(cmd: str, env_file: str, stack: str, out: Path, prepare: str = "target-health-break",
              sweep_event: str | None = None, noop_event: str = "events/target-health/alarm-other-metric.json",
              invocations: int = 60, periods_us: tuple[int, ...] = (100_000, 20_000)) -> dict[str, Any]:
    """Runs the function under bench/harness.py with its process alone in a cgroup whose
    CPU quota is MB/1769 of one core, for each memory size and CFS period (the harness
    and the emulator stay outside it): its work invocations (the --prepare hook's), and,
    with sweep_event, sweeps of whatever the stack's emulator holds. Compares the time
    the quota added to the function's own time (latency − emulator time) with what the
    model adds (CPU × (1769/MB − 1)). Needs root and the emulator with a provisioned
    stack (scripts/bench has both while it measures the functions)."""
    made = cgroup_dir(f"rebound-cost-probe-{os.getpid()}")
    if made is None:
        raise SystemExit("cost: no writable cgroup CPU controller (/sys/fs/cgroup)")
    path, version = made
    procs = path / "cgroup.procs"
    workloads = [("work", ["--prepare", prepare, "--stack", stack])]
    if sweep_event:
        workloads.append(("sweep", ["--work-event", sweep_event]))
    probes: list[dict[str, Any]] = []
    try:
        for label, args in workloads:
            results: list[dict[str, Any]] = []
            for period in periods_us:
                for mb in (None, *MEMORY_SIZES):
                    share = None if mb is None else min(1.0, mb / ONE_VCPU_MB)
                    set_quota(path, version, share, period)
                    before = cpu_stat(path, version)
                    with tempfile.TemporaryDirectory() as tmp:
                        result_path = Path(tmp) / "probe.json"
                        wrapped = f"/bin/sh -c {shlex.quote(f'echo $$ > {procs} && exec {cmd}')}"
                        argv = [sys.executable, str(ROOT / "bench/harness.py"), "--name", f"cpu-probe-{label}",
                                "--cmd", wrapped, "--env-file", env_file, "--cold-starts", "0", "--warmup-starts", "0",
                                "--noop-invocations", "0", "--noop-event", noop_event,
                                "--work-invocations", str(invocations), *args, "--out", str(result_path),
                                "--log", str(Path(tmp) / "probe.log")]
                        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800,
                                              check=False)
                        data = load_json(result_path) if done.returncode == 0 else None
                    after = cpu_stat(path, version)
                    work = get(data, "warm_work_ms") or {}
                    results.append({
                        "period_us": period, "memory_mb": mb, "cpu_share": share,
                        "work_ms_median": work.get("median"), "own_ms_median": get(work, "own_ms", "median"),
                        "cpu_ms_median": get(work, "cpu_ms", "median"),
                        "emulator_ms_median": get(work, "emulator_ms", "median"), "samples": work.get("samples"),
                        **({} if not before else {
                            "throttled_periods": after.get("throttled", 0) - before.get("throttled", 0),
                            "periods": after.get("periods", 0) - before.get("periods", 0),
                            "throttled_ms": round(after.get("throttled_ms", 0) - before.get("throttled_ms", 0), 1)}),
                        "error": None if data else (done.stderr or "")[-500:]})
                    print(f"cpu-probe {label}: period {period // 1000} ms, {mb or 'unlimited'} MB: work "
                          f"{work.get('median')} ms, own {get(work, 'own_ms', 'median')} ms", file=sys.stderr)
            for period in periods_us:
                free = next((r for r in results if r["period_us"] == period and r["memory_mb"] is None), None)
                if not free or free["own_ms_median"] is None or free["cpu_ms_median"] is None:
                    continue
                for r in results:
                    if r["period_us"] != period or r["memory_mb"] is None:
                        continue
                    stretch = max(1.0, ONE_VCPU_MB / r["memory_mb"]) - 1
                    r["model_added_ms"] = free["cpu_ms_median"] * stretch
                    if r["own_ms_median"] is not None:
                        r["measured_added_ms"] = r["own_ms_median"] - free["own_ms_median"]
            probes.append({"label": label, "results": results})
    finally:
        try:
            path.rmdir()
        except OSError as err:
            print(f"cost: could not remove {path}: {err}", file=sys.stderr)
    probe = {"cmd": cmd, "prepare": prepare, "sweep_event": sweep_event, "invocations": invocations,
             "cgroup": version,
             "method": "bench/harness.py work invocations with the function process alone in a cgroup of CPU "
                       "quota MB/1769 × period; added time = own time (latency − emulator time) minus the unlimited "
                       "row's; the model adds CPU × (1769/MB − 1) with the unlimited row's CPU time",
             "probes": probes}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(probe, indent=2) + "\n")
    return probe


# --------------------------------------------------------------------------------------
# the report section
# --------------------------------------------------------------------------------------

COMPONENTS = [("requests", "Lambda requests"), ("compute", "Lambda compute (GB-s)"), ("dynamodb", "DynamoDB"),
              ("get_metric_data", "CloudWatch GetMetricData"), ("alarms", "CloudWatch alarms"),
              ("logs", "CloudWatch Logs"), ("sns", "SNS"), ("other", "other: custom metrics, dashboard, KMS key"),
              ("total", "**total**"),
              ("implementation", "of which the implementation changes (all but alarms and other)")]


def cell(part: dict[str, Any]) -> str:
    if part["missing"] and not part["usd"]:
        return NOT_MEASURED
    text = usd(part["usd"])
    return text + (" †" if part["missing"] else "")


def render(document: dict[str, Any], logs_dir: Path | None = None, prices_path: Path = PRICES,
           template: Path = TEMPLATE, probe: Any = None) -> tuple[list[str], dict[str, Any]]:
    prices = load_json(prices_path)
    lines = ["## Cost", ""]
    if not isinstance(prices, dict) or "prices" not in prices:
        return lines + [f"Not computed: no prices ({prices_path}).", ""], {"error": f"no prices at {prices_path}"}
    inputs = gather(document, logs_dir, template)
    tpl = inputs["template"]
    arch = tpl.get("architecture") or "arm64"
    mem = memory_for(inputs, "rust")
    base_mem = memory_for(inputs, "baseline")
    sweeps = inputs["sweeps_per_month"]["value"]
    lines += [
        f"What Rebound costs a month in us-east-1 at list prices of {prices.get('as_of')} ({prices_path.name}: each",
        "price with its source below), computed by `bench/cost.py` from this run's measurements. A month is",
        f"{MONTH_DAYS} days: each of the template's {tpl.get('sweeping_functions')} sweeps runs "
        f"{sweeps:,} times (every {tpl.get('sweep_period_min')} minutes); {INCIDENTS_PER_DAY} incidents a day, each",
        "an alarm that opens an incident and replaces an instance, one invocation that resolves it and one",
        "notifier invocation per write of the incident item. **No free tier is applied.** Rust at the",
        f"template's {mem} MB ({arch} is the template's architecture); the Python + boto3 baseline at {base_mem} MB,",
        ("the smallest size with 2× headroom over its peak RSS." if any(
            f["peak_rss_mib"]["value"] for n, f in inputs["functions"].items() if n.startswith(BASELINE))
         else "(its peak RSS is not measured)."),
        "Durations are the harness's medians (x86_64, local",
        "emulator), stretched for the memory size's CPU share (see *Memory size*), the same for both",
        "architectures. † = part of the cost is left out because an input was not measured (listed under",
        "the table). Everything else the model assumes is under *Assumptions*.",
        "",
    ]
    summary: dict[str, Any] = {"prices_as_of": prices.get("as_of"), "prices": str(prices_path.relative_to(ROOT))
                               if prices_path.is_relative_to(ROOT) else str(prices_path),
                               "month_days": MONTH_DAYS, "sweeps_per_month": sweeps,
                               "incidents_per_month": inputs["incidents_per_month"]["value"],
                               "memory_mb": {"rust": mem, "baseline": base_mem}, "fleets": {}}
    triage_projected = gmd_seen = False
    gmd_largest: list[int] = []
    for tgs in FLEETS:
        bills = {(impl, a): monthly(inputs, prices, tgs, a, impl) for impl in ("rust", "baseline") for a in ARCHES}
        sweep = next(c for c in workload(inputs, tgs, "rust") if c.get("sweep"))
        lines += [f"### {tgs:,} target groups", "",
                  f"target-health's sweep: {sweep['how']}; {ms(sweep['wall_ms'])} wall, "
                  f"{ms(duration_ms(sweep['wall_ms'], sweep.get('cpu_ms'), mem))} at {mem} MB."
                  if sweep["wall_ms"] is not None else f"target-health's sweep: {NOT_MEASURED}."]
        capped = sorted({c for b in bills.values() for c in b["capped_at_timeout"]})
        if capped:
            lines[-1] += (f" **Beyond the Timeout ({tpl.get('timeout_s')} s)**: " + ", ".join(capped)
                          + " — billed to the Timeout; the checks after the deadline are left to the next sweep, "
                          "so this fleet size is not covered every sweep.")
        lines += [""]
        rows = []
        for key, label in COMPONENTS:
            rows.append([label] + [cell(bills[(impl, a)][key]) for impl in ("rust", "baseline") for a in ARCHES])
        header = ["monthly", f"Rust x86_64 ({mem} MB)", f"Rust arm64 ({mem} MB)",
                  f"Python x86_64 ({base_mem} MB)", f"Python arm64 ({base_mem} MB)"]
        lines += table(header, rows)
        missing = sorted({m for b in bills.values() for m in b["total"]["missing"]})
        if missing:
            by_part = []
            for key, label in COMPONENTS[:-2]:
                left = sorted({m for b in bills.values() for m in b[key]["missing"]})
                if left:
                    by_part.append(f"{label} of {', '.join(left)}")
            lines += ["† Left out, not measured: " + "; ".join(by_part) + ".", ""]
        gmd_seen = gmd_seen or any(b["get_metric_data"]["usd"] > 0 for b in bills.values())
        ours = bills[("rust", arch)]
        gmd = ours["get_metric_data"]["usd"] or sweeps * tgs * price(prices, "cloudwatch.get_metric_data")
        if all(gmd > ours[k]["usd"] for k, _ in COMPONENTS[:-2] if k != "get_metric_data"):
            gmd_largest.append(tgs)
        fleet = {f"{impl}_{a}": round(b["total"]["usd"], 4) for (impl, a), b in bills.items()}
        fleet.update({f"{impl}_{a}_implementation": round(b["implementation"]["usd"], 4)
                      for (impl, a), b in bills.items()})
        fleet["rust_arm64_compute_unstretched"] = round(
            monthly(inputs, prices, tgs, "arm64", "rust", stretch=False)["compute"]["usd"], 4)
        fleet["incomplete"] = missing
        fleet["capped_at_timeout"] = capped
        if sweep.get("gmd_metrics") == 0 and "no GetMetricData" in sweep.get("gmd_how", ""):
            triage_projected = True
            projected = sweeps * tgs * price(prices, "cloudwatch.get_metric_data")
            fleet["triage_get_metric_data_projected"] = round(projected, 4)
            lines += [f"With the planned triage sweep (GetMetricData for UnHealthyHostCount of every target group, "
                      f"then DescribeTargetHealth only for the non-zero ones): + **{usd(projected)}** of GetMetricData "
                      f"({tgs:,} metrics × {sweeps:,} sweeps; projected from the design, not measured), total "
                      f"{usd(bills[('rust', arch)]['total']['usd'] + projected)} on {arch}; its Lambda time is not "
                      "measured yet.", ""]
        summary["fleets"][str(tgs)] = fleet
    if triage_projected or gmd_seen:
        lines += ["DescribeTargetHealth and every other Elastic Load Balancing, Auto Scaling, RDS and zonal-shift "
                  "call is free; GetMetricData is $0.01 per 1,000 metrics. Triage by GetMetricData trades free, "
                  "rate-limited calls for a charge that grows with the fleet and the sweep rate"
                  + (": it would be the largest line of the bill at " + ", ".join(f"{t:,}" for t in gmd_largest)
                     + " target groups" if gmd_largest else "") + ".", ""]

    study = memory_study(inputs, prices, "rust")
    base_study = memory_study(inputs, prices, "baseline")
    probe = probe if probe is not None else (load_json(logs_dir / "cpu_probe.json") if logs_dir else None)
    if probe is None:
        probe = get(document, "cost", "cpu_probe")
    lines += memory_lines(study, base_study, inputs, probe)
    summary["recommendation"] = {"memory_mb": study["recommended_mb"], "template_memory_mb": mem,
                                 "baseline_memory_mb": base_study["recommended_mb"],
                                 "sweep_deadline_ms": study["deadline_ms"],
                                 "no_memory_size_fits_sweep_at": study["no_fit"]}
    lines += probe_lines(probe)
    if isinstance(probe, dict):
        summary["cpu_probe"] = probe

    lines += price_lines(prices)
    lines += input_lines(inputs)
    summary["inputs"] = {"log_bytes": inputs["log_bytes"],
                         "incident_item_kb": round(inputs["incident_item_kb"]["value"], 3),
                         "sweep_sizes_measured": [r["target_groups"] for r in inputs["sweep_runs"]]}
    return lines, summary


def probe_verdict(probe: Any, memory_mb: int) -> str | None:
    """What the CPU probe measured at this memory size, next to what the model adds."""
    parts = []
    for p in get(probe, "probes") or []:
        for r in p.get("results") or []:
            if r.get("memory_mb") == memory_mb and r.get("measured_added_ms") is not None and r.get("model_added_ms"):
                parts.append(f"{p['label']}, {r['period_us'] // 1000} ms period: {r['measured_added_ms']:+.2f} ms "
                             f"measured where the model adds +{r['model_added_ms']:.1f} ms")
    return "; ".join(parts) or None


def memory_lines(study: dict[str, Any], base: dict[str, Any], inputs: dict[str, Any], probe: Any = None) -> list[str]:
    tpl = inputs["template"]
    ref = study["reference_fleet"]
    lines = ["### Memory size", "",
             f"Lambda gives CPU in proportion to memory (1,769 MB = one vCPU). Model: duration = (wall − CPU) + "
             f"CPU × max(1, 1769 / MB), from each invocation's measured wall and CPU time (the sweep's CPU: "
             f"{next((r['cpu_how'] for r in inputs['sweep_runs']), NOT_MEASURED)}). Deadline of the sweep: the "
             f"template's Timeout {tpl.get('timeout_s')} s minus the sweep's margin "
             f"{inputs['deadline_margin_s']['value']} s. Costs: Rust on {tpl.get('architecture')}, all functions at "
             "that memory size (the template sets one MemorySize for all).", ""]
    header = ["memory", "RSS headroom"] + [f"sweep at {t:,} TGs" for t in FLEETS] + \
             [f"Lambda compute, {t:,} TGs" for t in FLEETS] + [f"total, {ref:,} TGs"]
    rows = []
    for r in study["rows"]:
        sweep_cells = []
        for t in FLEETS:
            d = r["sweep_ms"][t]
            fits = r["fits_deadline"][t]
            sweep_cells.append(ms(d) + ("" if fits is None else (" ✓" if fits else " ✗ deadline")))
        head = NOT_MEASURED if r["headroom"] is None else f"{r['headroom']:.1f}×"
        rows.append([f"{r['memory_mb']} MB" + (" (template)" if r["memory_mb"] == tpl.get("memory_mb") else ""), head]
                    + sweep_cells + [usd(r["cost"][t]) for t in FLEETS] + [usd(r["total"][ref])])
    lines += table(header, rows)
    labels = list(study["rows"][0]["per_invocation_ms"])
    lines += table(["invocation (model)"] + [f"{mb} MB" for mb in MEMORY_SIZES],
                   [[label] + [ms(r["per_invocation_ms"][label]) for r in study["rows"]] for label in labels])
    peak = study["rows"][0]["peak_rss_mib"]
    rec = study["recommended_mb"]
    text = [f"**Recommendation: MemorySize {rec} MB**" if rec else "**Recommendation: none** (no size meets the rules)"]
    if rec:
        cheapest = min(study["rows"], key=lambda r: r["cost"][ref])
        text.append(f"— the cheapest size with ≥ {RSS_HEADROOM:g}× headroom over the largest measured peak RSS "
                    f"({f'{peak:.1f} MiB' if peak else NOT_MEASURED}) that keeps every sweep that can meet its "
                    "deadline within it"
                    + (f" (it is also the cheapest of all: {cheapest['memory_mb']} MB)"
                       if cheapest["memory_mb"] == rec else "") + ".")
        if rec == tpl.get("memory_mb"):
            text.append("The template already sets it.")
        sweep = next((c for c in workload(inputs, ref, "rust") if c.get("sweep")), None)
        if sweep and sweep["wall_ms"] and (sweep.get("cpu_ms") or 0) < sweep["wall_ms"] / 2:
            text.append("Waiting on AWS is most of every invocation, and more memory does not shorten a wait: above "
                        f"{rec} MB the bill grows almost in proportion to the memory.")
        row = next(r for r in study["rows"] if r["memory_mb"] == rec)
        text.append(f"The model's CPU stretch is the worst case: without it (the measured durations as they are) "
                    f"Lambda compute at {rec} MB is " + ", ".join(
                        f"{usd(row['cost_unstretched'][t])} (model {usd(row['cost'][t])}) at {t:,} TGs" for t in FLEETS)
                    + ".")
        verdict = probe_verdict(probe, rec)
        text.append(f"The CPU check below ran the function under the CPU quota of {rec} MB: {verdict}. At these CPU "
                    "densities (a few ms of CPU per 100 ms of wall time) the quota seldom binds and the medians do "
                    "not move: the measured durations are the nearer figure, the model's stretch an upper bound. On "
                    "AWS the sweep's answers overlap more (SweepConcurrency calls in flight), so its CPU density "
                    f"could reach the {rec} MB quota ({rec / ONE_VCPU_MB * 100:.1f} % of a core); measure the sweep "
                    "there before counting on the "
                    "lower figure at 1,000 target groups and more." if verdict else
                    "The CPU check below (not run here) measures which is nearer.")
    if study["no_fit"]:
        text.append("At " + ", ".join(f"{t:,}" for t in study["no_fit"]) + " target groups no memory size brings "
                    "today's sweep within its deadline: its time is waiting on DescribeTargetHealth calls, not CPU. "
                    "That needs the triage sweep (or more sweep concurrency), not memory; the sweep defers what is "
                    "left when its deadline nears.")
    if not any(r.get("peak_rss_mib") for r in inputs["sweep_runs"]):
        text.append("The sweep's own peak RSS at 1,000 and 10,000 target groups is not measured (rebound-bench runs "
                    "the handler in its own process): the headroom is over the functions' harness peaks.")
    base_peaks = [p for p in base["peaks"].values() if p is not None]
    if base["recommended_mb"] and base_peaks:
        text.append(f"The Python baseline needs {base['recommended_mb']} MB by the same rules "
                    f"(peak RSS {max(base_peaks):.1f} MiB).")
    lines += [" ".join(text), ""]
    return lines


def probe_lines(probe: Any) -> list[str]:
    lines = ["### CPU scaling check (cgroup CPU quota)", ""]
    if not isinstance(probe, dict) or not probe.get("probes"):
        return lines + [NOT_MEASURED + " (`python3 bench/cost.py --cpu-probe …`).", ""]
    lines += [f"`{probe.get('cmd')}` under `bench/harness.py`, {probe.get('invocations')} invocations per row, its "
              f"process alone in a cgroup ({probe.get('cgroup')}) whose CPU quota is MB/1769 of one core per CFS "
              "period (the harness and the emulator outside it). **Added** = the function's own time (latency − "
              "the emulator's time) minus the unlimited row's; the model adds CPU × (1769/MB − 1). Lambda does not "
              "document its scheduler period; Linux's default is 100 ms.", ""]
    rows = []
    for p in probe["probes"]:
        for r in p["results"]:
            added, model = r.get("measured_added_ms"), r.get("model_added_ms")
            throttled = "—" if r.get("throttled_periods") is None else \
                f"{r['throttled_periods']} of {r['periods']} ({r['throttled_ms']:.0f} ms)"
            rows.append([p["label"], f"{r['period_us'] // 1000} ms",
                         "unlimited" if r["memory_mb"] is None else f"{r['memory_mb']} MB",
                         "100 %" if r["cpu_share"] is None else f"{r['cpu_share'] * 100:.1f} %",
                         ms(r.get("work_ms_median")), ms(r.get("own_ms_median")), ms(r.get("cpu_ms_median")),
                         "—" if added is None else f"{added:+.2f} ms", "—" if model is None else f"+{model:.2f} ms",
                         throttled])
    lines += table(["invocation", "CFS period", "memory", "CPU quota", "latency, median", "own, median",
                    "CPU, median", "added (measured)", "added (model)", "periods throttled"], rows)
    return lines


def price_lines(prices: dict[str, Any]) -> list[str]:
    lines = [f"### Prices (us-east-1, as of {prices.get('as_of')})", "", prices.get("about", ""), ""]
    rows = []
    for key, p in prices["prices"].items():
        per = p["per"]
        amount = f"${p['usd']:g}" + (f" per {per:,} {p['unit']}" if per != 1 else f" per {p['unit']}")
        rows.append([f"`{key}`", amount, p.get("free_tier", ""), p.get("source", "")])
    return lines + table(["item", "price", "free tier (not applied)", "source"], rows)


def input_lines(inputs: dict[str, Any]) -> list[str]:
    lines = ["### Inputs and assumptions", "",
             f"Measurements from {inputs.get('source') or '?'} (commit {str(inputs.get('commit') or '?')[:10]}, "
             f"{str(inputs.get('date') or '?')[:10]}); log bytes from "
             + (", ".join(sorted({str(v.get('source', '?')).rsplit('/', 1)[0] for v in inputs['log_bytes'].values()}))
                or NOT_MEASURED) + (f" (commit {inputs['logs_commit'][:10]})" if inputs.get("logs_commit") else "")
             + ".", ""]
    rows = []
    tpl = inputs["template"]
    rows.append(["template", f"MemorySize {tpl.get('memory_mb')} MB, {tpl.get('architecture')}, Timeout "
                 f"{tpl.get('timeout_s')} s, sweeps every {tpl.get('sweep_period_min')} min × "
                 f"{tpl.get('sweeping_functions')} functions, logs kept {tpl.get('log_retention_days')} days, "
                 f"{tpl.get('alarms')} alarms (+{tpl.get('conditional_alarms')} optional, not counted), "
                 f"{tpl.get('dashboards')} dashboard, {tpl.get('kms_keys')} KMS key, table {tpl.get('billing_mode')} "
                 f"with {tpl.get('table_indexes')} indexes, PITR {'on' if tpl.get('pitr') else 'off'}, X-Ray "
                 f"{'on' if tpl.get('tracing_active') else 'off'}", "template.yaml"])
    for key in ("sweeps_per_month", "incidents_per_month", "deadline_margin_s", "incident_item_kb"):
        f = inputs[key]
        value = f["value"]
        shown = f"{value:.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)
        rows.append([key.replace("_", " "), shown, f"{f['how']}: {f['source']}"])
    for name, figures in inputs["functions"].items():
        parts = []
        for key in ("work_ms", "cpu_ms", "settle_ms", "init_ms"):
            parts.append(f"{key.replace('_ms', '')} {ms(figures[key]['value'])}")
        peak = figures["peak_rss_mib"]["value"]
        parts.append(f"peak RSS {NOT_MEASURED if peak is None else f'{peak:.1f} MiB'}")
        calls = figures["calls"]["value"]
        if calls:
            parts.append("calls " + ", ".join(f"{op} {n:g}" for op, n in sorted(calls.items())))
        logs = get(inputs, "log_bytes", name)
        work_log = None if not logs else logs.get("work")
        parts.append(f"logs {NOT_MEASURED if work_log is None else f'{work_log:.0f} B per work invocation'}")
        rows.append([name, "; ".join(parts), figures["work_ms"]["how"]])
    for run in inputs["sweep_runs"]:
        rows.append([f"sweep, {run['target_groups']:,} TGs ({run['sweep']})",
                     f"wall {ms(run['wall_s'] * 1000)}, "
                     f"CPU {ms(None if run['cpu_s'] is None else run['cpu_s'] * 1000)}, "
                     f"{sum(run['calls'].values()):,.0f} calls", f"measured; CPU: {run['cpu_how']}"])
    if not inputs["sweep_runs"]:
        rows.append(["sweep", NOT_MEASURED, "no sweep.json"])
    for key in ("resolve_calls", "rds_sweep_calls", "zone_sweep_calls"):
        f = inputs[key]
        rows.append([key.replace("_", " "), NOT_MEASURED if f["value"] is None else ", ".join(
            f"{op} {n}" for op, n in sorted(f["value"].items())), f"{f['how']}: {f['source']}"])
    lines += table(["input", "value", "provenance"], rows)
    lines += ["Assumptions (not measured): "
              f"BatchGetItem reads {BATCH_GET_ITEMS} items; a TransactWriteItems writes the incident, the resource "
              f"record and {LEDGERS_PER_TRANSACTION} ledgers (≤ {RESOURCE_RECORD_KB} KB each), and the incident's "
              f"index entries; a Query of the open-incidents index costs {QUERY_RRU} RRU; every read item is ≤ 4 KB; "
              "the table keeps each incident for IncidentRetentionDays after it closes (twice: table and "
              "incidents-by-time index); log storage holds LogRetentionDays of ingestion, uncompressed (an upper "
              "bound: CloudWatch stores it compressed); one e-mail subscription receives every notification; the "
              "notifier starts cold once per incident, the sweeping functions never (they run every few minutes); "
              "custom metrics: SweepsCompleted all month per sweeping function, the incident metrics in an hour of "
              "their own per incident; arm64 runs as long as the measured x86_64. Estimates: Lambda's platform "
              f"records {PLATFORM_LOG_BYTES} B per invocation; the sweep's tracing line {SWEEP_LINE_BYTES} B. Free: "
              "EventBridge schedules and AWS service events, DynamoDB stream reads by Lambda, every Describe/List "
              "call. Not modelled: S3 (one evidence object per replacement), SQS (dead letters), KMS requests "
              "(cents at most).", ""]
    return lines


def add_to_report(lines: list[str], document: dict[str, Any], directory: Path | None) -> None:
    """bench/report.py's hook: the Cost section before the Findings, the totals in
    document["cost"]. Never raises: a failure reads as such in the report."""
    try:
        section, summary = render(document, directory)
    except Exception as err:  # noqa: BLE001 - the report renders whatever happens here
        section, summary = ["## Cost", "", f"Not computed: {type(err).__name__}: {err}", ""], {"error": repr(err)}
    at = lines.index("## Findings") if "## Findings" in lines else len(lines)
    lines[at:at] = section
    document["cost"] = summary


# --------------------------------------------------------------------------------------
# self-test
# --------------------------------------------------------------------------------------


class Tests(unittest.TestCase):
    def document(self) -> dict[str, Any]:
        def fn(name: str, work: float, cpu: float, calls: dict[str, int], rss: float) -> dict[str, Any]:
            return {"name": name, "init_ms": {"median": 2.0}, "peak_rss_mib": rss,
                    "warm_work_ms": {"median": work, "samples": 10, "cpu_ms": {"median": cpu},
                                     "own_ms": {"median": cpu},
                                     "aws_operations_total": {k: v * 10 for k, v in calls.items()}},
                    "settle_resolve_ms": {"median": work / 2}}

        th = {"DescribeTargetHealth": 1, "GetItem": 2, "TransactWriteItems": 1, "PutItem": 1, "BatchGetItem": 1}
        run = {"wall_s": 1.0, "own_s": 0.1, "api_calls": {"DescribeTargetHealth": 100, "Query": 1}}
        big = {"wall_s": 10.0, "own_s": 1.0, "api_calls": {"DescribeTargetHealth": 1000, "Query": 1}}
        return {"functions": {"target-health": fn("target-health", 30, 3, th, 8),
                              "incident-notifier": fn("incident-notifier", 5, 0.5, {"Publish": 1}, 6),
                              "baseline-target-health": fn("baseline-target-health", 45, 12, th, 68),
                              "baseline-incident-notifier": fn("baseline-incident-notifier", 10, 2, {"Publish": 1},
                                                               60)},
                "calls": [{"scenario": RESOLVE_SCENARIO, "calls": {"TransactWriteItems": 1, "Query": 1}}],
                "sweep": {"sizes": [{"target_groups": 100, "again": run}, {"target_groups": 1000, "again": big}]}}

    def test_duration_model(self) -> None:
        self.assertAlmostEqual(duration_ms(10, 1, 1769), 10)
        self.assertAlmostEqual(duration_ms(10, 1, 4096), 10)
        self.assertAlmostEqual(duration_ms(10, 1, 128), 9 + 1769 / 128)
        self.assertIsNone(duration_ms(None, 1, 128))

    def test_dynamo_units(self) -> None:
        reads = dynamo_units({"GetItem": 2, "BatchGetItem": 1, "Query": 1}, 1.2, 2)
        self.assertEqual(reads, (2 + BATCH_GET_ITEMS + 0.5, 0))
        _, wru = dynamo_units({"TransactWriteItems": 1, "PutItem": 1}, 1.2, 2)
        self.assertEqual(wru, 2 * (2 + 1 + LEDGERS_PER_TRANSACTION) + 2 * 2 + 2 * 3)

    def test_extrapolation_is_linear_and_labelled(self) -> None:
        runs = sweep_runs(self.document()["sweep"])
        ten = sweep_at(runs, 10_000)
        self.assertAlmostEqual(ten["wall_s"], 100.0)
        self.assertAlmostEqual(ten["calls"]["DescribeTargetHealth"], 10_000)
        self.assertIn("extrapolated", ten["how"])
        self.assertEqual(sweep_at(runs, 100)["how"], "measured")

    def test_renders_with_and_without_inputs(self) -> None:
        for document in (self.document(), {}, {"functions": {}, "sweep": None, "calls": None}):
            lines, summary = render(document)
            self.assertEqual(lines[0], "## Cost")
            self.assertIn("fleets", summary)
            self.assertEqual(set(summary["fleets"]), {str(t) for t in FLEETS})

    def test_missing_inputs_are_flagged_not_invented(self) -> None:
        inputs = gather({}, None)
        bill = monthly(inputs, load_json(PRICES), 100, "arm64", "rust")
        self.assertIn("target-health sweep", bill["compute"]["missing"])
        self.assertEqual(bill["get_metric_data"]["usd"], 0)

    def test_get_metric_data_measured_field_is_used(self) -> None:
        document = self.document()
        document["sweep"]["sizes"].append({"target_groups": 10_000, "steady": {
            "wall_s": 2.0, "cpu_s": 0.2, "api_calls": {"GetMetricData": 20, "DescribeTargetHealth": 3},
            "get_metric_data_metrics": 10_000}})
        bill = monthly(gather(document, None), load_json(PRICES), 10_000, "arm64", "rust")
        self.assertAlmostEqual(bill["get_metric_data"]["usd"], 8640 * 10_000 * 0.01 / 1000)

    def test_memory_recommendation_keeps_headroom(self) -> None:
        study = memory_study(gather(self.document(), None), load_json(PRICES), "baseline")
        self.assertGreaterEqual(study["recommended_mb"], 2 * 68)

    def test_report_hook_inserts_before_findings(self) -> None:
        lines, document = ["# r", "## Findings", "None."], self.document()
        add_to_report(lines, document, None)
        self.assertLess(lines.index("## Cost"), lines.index("## Findings"))
        self.assertIn("cost", document)


# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench/results.json",
                        help="a results.json, or a scripts/bench results directory (default bench/results.json)")
    parser.add_argument("--logs", type=Path, help="directory of the harness logs (<function>.log, sweep.log)")
    parser.add_argument("--prices", type=Path, default=PRICES)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--probe", type=Path, help="a --cpu-probe output to show (default: cpu_probe.json in --logs)")
    parser.add_argument("--markdown", type=Path, help="write the section here instead of printing it")
    parser.add_argument("--json", type=Path, help="write the summary (what report.py puts in results.json 'cost')")
    parser.add_argument("--self-test", action="store_true", help="run the unit tests")
    parser.add_argument("--cpu-probe", action="store_true", help="measure CPU scaling under cgroup CPU quotas")
    parser.add_argument("--cmd", help="--cpu-probe: the function binary")
    parser.add_argument("--env-file", help="--cpu-probe: the harness --env-file (scripts/bench: function.env)")
    parser.add_argument("--stack", help="--cpu-probe: provision.py's output (scripts/bench: stack.json)")
    parser.add_argument("--prepare", default="target-health-break", help="--cpu-probe: the harness --prepare hook")
    parser.add_argument("--sweep-event",
                        help="--cpu-probe: also time sweeps (e.g. events/target-health/scheduled-sweep.json)")
    parser.add_argument("--invocations", type=int, default=60, help="--cpu-probe: work invocations per quota")
    parser.add_argument("--out", type=Path, help="--cpu-probe: where to write its JSON")
    args = parser.parse_args(argv)
    if args.self_test:
        result = unittest.main(module=__name__, argv=["cost"], exit=False, verbosity=2).result
        return 0 if result.wasSuccessful() else 1
    if args.cpu_probe:
        if not (args.cmd and args.env_file and args.stack and args.out):
            parser.error("--cpu-probe needs --cmd, --env-file, --stack and --out")
        cpu_probe(args.cmd, args.env_file, args.stack, args.out, args.prepare, args.sweep_event,
                  invocations=args.invocations)
        return 0
    document, directory = load_document(args.results)
    logs = args.logs or directory
    probe = load_json(args.probe) if args.probe else None
    lines, summary = render(document, logs, args.prices, args.template, probe)
    text = "\n".join(lines)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    else:
        print(text)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
