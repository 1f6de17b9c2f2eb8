#!/usr/bin/env python3
"""Time to act: how long each function takes, from its first AWS call, to make the call
that acts, and how many round trips to AWS it waits for on the way (scripts/bench).

    .venv/bin/python bench/time_to_act.py --env-file target/bench/function.env \\
        --stack target/bench/stack.json --bin-dir target/release --out target/bench/time_to_act.json \\
        [--latency-ms 20] [--invocations 20] [--first-calls 10] [--functions target-health,...] \\
        [--no-tls] [--work-dir target/bench/time_to_act]

On loopback an AWS call costs the emulator's processing and nothing else, so a function
that waits for ten answers one after another looks as fast as one that waits for four.
Here the emulator gives every AWS request a round trip (POST /_rebound/latency, --latency-ms,
default 20 ms; set for the run and put back after), and each function's work invocations
run through bench/harness.py (its prepare hooks: every work invocation opens an incident
and acts; `--request-log` keeps each invocation's AWS calls as the emulator logged them).
From each invocation's calls:

- time to act = arrival of the acting call (ACTING below: the call that changes what is
  broken) − arrival of the invocation's first AWS call;
- event to act = arrival of the acting call − the moment the event was handed to the
  function (the Runtime API and the emulator both read CLOCK_MONOTONIC): time to act plus
  what the function does before its first call, connections it opens included;
- dependent round trips to act = the longest chain of calls ending at the acting call in
  which each call arrived after the previous one's answer (the emulator's answered_s):
  calls in flight together are one round. Each call's round is the longest such chain
  ending at it, so the calls of one round all overlapped each other; the calls per round
  show what ran in parallel;
- of the time to act, the time waiting for answers (the union of the calls' intervals) and
  the rest, the function's own (handler code, SDK, HTTP client); the emulator's processing
  is in the waiting, beside the simulated round trips (one per round before the act).

Warm: one process per implementation (the Rust function and its Python + boto3 baseline,
bench/baseline/, where there is one), --invocations timed work invocations after one
untimed (the process's first delivery opens its connections). Over TLS (Rust only; off
with --no-tls): the emulator behind bench/tls_front.py with the same latency for each new
connection's TCP + TLS 1.3 handshake (two round trips before the first request), the
function trusting the front's throw-away CA, each AWS service on a port of its own
(AWS_ENDPOINT_URL_<SERVICE>; --shared-endpoint: one for all), as each has a host of its
own in AWS, so a cold function opens a connection per service it calls (a service whose
per-service variable the function does not read shares AWS_ENDPOINT_URL's port);
--first-calls fresh processes each given one
work event (cold: its first delivery) and a warm process, for PREWARM_CONNECTIONS=false
(lazy: the first calls open the connections) and true (opened during init). A handshake
is timed from this process against the front (connect + TLS handshake, --handshakes
times), and the report states the target "cold ≤ warm + one handshake" (event to act,
medians) with PASS or FAIL: reported, never asserted.

Only invocations that acted and that the hook verified (the instance replaced, the
database failed over, the zone shifted) are counted; the others are reported as excluded.
Nothing about the expected rounds is assumed: the scenario measures whatever the binary does.

Output (--out): {"latency_ms", "invocations", "first_calls", "handshake": {...},
"functions": {NAME: {"acting_operations", "has_baseline", "rust": RUN, "baseline": RUN |
null, "tls": {"lazy"|"prewarm": {"cold": RUN, "warm": RUN, "init_ms", "target"}}}},
"method"}, where RUN = {"samples", "excluded", "time_to_act_ms", "event_to_act_ms",
"rounds_to_act", "calls_to_act", "rounds_total", "invocation_ms", "waiting_ms",
"own_ms", "emulator_ms", "pattern", "patterns_seen", "raw"} (summaries: median, p90, min,
max, mean, samples). The harness outputs and request logs stay in --work-dir.

Standard library (the harness's hooks use boto3).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import read_env_file, summary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("target-health", "rds-health", "zone-health", "incident-notifier")

# The calls that act: what changes the broken thing (or, for the notifier, tells people).
ACTING = {
    "target-health": ("SetInstanceHealth", "TerminateInstanceInAutoScalingGroup"),
    "rds-health": ("RebootDBInstance",),
    # UpdateZonalShift: a shift already in place, extended instead of started.
    "zone-health": ("StartZonalShift", "UpdateZonalShift"),
    "incident-notifier": ("Publish",),
}


# The SDK service ids of what the functions call. Over TLS each gets a port of the front of
# its own (AWS_ENDPOINT_URL_<SERVICE>), as each AWS service has a host of its own: a
# function then keeps a connection per service, and a cold one opens one per service.
SERVICE_IDS = ("DynamoDB", "Elastic Load Balancing v2", "Auto Scaling", "RDS", "SNS", "SQS", "CloudWatch",
               "ARC Zonal Shift", "EC2", "CodeDeploy", "CloudFormation", "S3")


def endpoint_variable(service_id: str) -> str:
    """The SDKs' name for a service's own endpoint: AWS_ENDPOINT_URL_AUTO_SCALING."""
    return "AWS_ENDPOINT_URL_" + service_id.upper().replace(" ", "_").replace("-", "_")


def work_args(function: str, stack: str) -> list[str]:
    """The harness's work scenario of each function: scripts/bench's harness_args (the
    prepare hooks), without the no-op event."""
    return {
        "target-health": ["--prepare", "target-health-break", "--stack", stack],
        "rds-health": ["--prepare", "rds-failover", "--stack", stack],
        "zone-health": ["--prepare", "zone-shift", "--stack", stack],
        "incident-notifier": ["--work-event", "events/incident-notifier/stream-incident-opened.json"],
    }[function]


def baseline_module(function: str) -> str | None:
    module = function.replace("-", "_")
    return module if (ROOT / "bench/baseline" / f"{module}.py").exists() else None


def log(message: str) -> None:
    print(f"time_to_act: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# one invocation's calls
# --------------------------------------------------------------------------------------


def answered(call: dict[str, Any]) -> float:
    """When the call's answer was ready (older logs: its end of write)."""
    if call.get("answered_s") is not None:
        return float(call["answered_s"])
    return float(call["started_s"]) + float(call.get("duration_s", 0.0))


def rounds_of(calls: list[dict[str, Any]]) -> list[int]:
    """Each call's round: the length of the longest chain of calls ending at it in which
    every call arrived after the previous one's answer. Two calls of one round never
    follow each other, so they were in flight together. calls sorted by arrival."""
    depth: list[int] = []
    for i, call in enumerate(calls):
        before = [depth[j] for j in range(i) if answered(calls[j]) <= call["started_s"]]
        depth.append(1 + max(before, default=0))
    return depth


def union_ms(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total * 1000


def analyse(record: dict[str, Any], acting: tuple[str, ...], latency_ms: float) -> dict[str, Any]:
    """One invocation: its time to act, rounds and calls per round; {"excluded": why}
    when it does not count."""
    if record.get("outcome") != "response":
        return {"excluded": "error"}
    if record.get("problem"):
        return {"excluded": "unverified"}
    calls = sorted((c for c in record.get("requests") or [] if c.get("started_s") is not None),
                   key=lambda c: c["started_s"])
    act_index = next((i for i, c in enumerate(calls) if c["operation"] in acting), None)
    if act_index is None:
        return {"excluded": "no acting call"}
    depth = rounds_of(calls)
    first, act = calls[0], calls[act_index]
    arrived = act["started_s"]
    # Waiting for answers between the first call and the act: the union of the calls'
    # intervals up to the act's arrival (parallel calls count once).
    waiting = union_ms([(c["started_s"], min(answered(c), arrived)) for c in calls[:act_index]])
    to_act = (arrived - first["started_s"]) * 1000
    rounds_to_act = depth[act_index]
    pattern: list[list[str]] = [[] for _ in range(max(depth))]
    for call, level in zip(calls, depth):
        pattern[level - 1].append(call["operation"] + (" (acts)" if call is act else ""))
    handed_out = record.get("handed_out_s")
    return {
        "time_to_act_ms": to_act,
        "event_to_act_ms": None if handed_out is None else (arrived - handed_out) * 1000,
        "rounds_to_act": rounds_to_act,
        "rounds_total": max(depth),
        "calls_to_act": act_index + 1,
        "calls_total": len(calls),
        "invocation_ms": record.get("latency_ms"),
        "waiting_ms": waiting,
        "own_ms": to_act - waiting,
        # What waiting holds beside the simulated round trips of the rounds before the act.
        "emulator_ms": max(0.0, waiting - (rounds_to_act - 1) * latency_ms),
        "pattern": [sorted(names) for names in pattern],
    }


def summarise(records: list[dict[str, Any]], acting: tuple[str, ...], latency_ms: float) -> dict[str, Any]:
    analysed = [analyse(r, acting, latency_ms) for r in records]
    counted = [a for a in analysed if "excluded" not in a]
    excluded = Counter(a["excluded"] for a in analysed if "excluded" in a)
    out: dict[str, Any] = {"samples": len(counted), "attempted": len(records), "excluded": dict(excluded)}
    for key in ("time_to_act_ms", "event_to_act_ms", "rounds_to_act", "rounds_total", "calls_to_act",
                "invocation_ms", "waiting_ms", "own_ms", "emulator_ms"):
        values = [a[key] for a in counted if a.get(key) is not None]
        out[key] = summary(values)
    # The calls per round most invocations made (timing may split or join a round now and
    # then; patterns_seen says how often each shape came).
    shapes = Counter(json.dumps(a["pattern"]) for a in counted)
    if shapes:
        common, seen = shapes.most_common(1)[0]
        out["pattern"] = json.loads(common)
        out["pattern_share"] = round(seen / len(counted), 2)
        out["patterns_seen"] = len(shapes)
    else:
        out["pattern"], out["pattern_share"], out["patterns_seen"] = None, None, 0
    out["raw"] = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in a.items() if k != "pattern"}
                  for a in analysed]
    return out


def read_request_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------------------
# running the harness
# --------------------------------------------------------------------------------------


def run_harness(name: str, run: str, cmd: str, args: argparse.Namespace, extra: list[str], work_dir: Path,
                cwd: str | None = None) -> tuple[Path, dict[str, Any] | None]:
    """bench/harness.py as function `name` with no cold starts and no no-op invocations:
    just the work (plus whatever extra says), into work_dir/<run>.json; answers the
    request log's path and the harness output."""
    out = work_dir / f"{run}.json"
    request_log = work_dir / f"{run}.requests.jsonl"
    request_log.unlink(missing_ok=True)
    argv = [sys.executable, str(ROOT / "bench/harness.py"), "--name", name, "--cmd", cmd,
            "--env-file", args.env_file, "--cold-starts", "0", "--warmup-starts", "0", "--noop-invocations", "0",
            *(["--cwd", cwd] if cwd else []), *extra, "--request-log", str(request_log), "--out", str(out)]
    log(f"{run}: {shlex.join(argv[1:])}")
    done = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL)
    if done.returncode not in (0, 2):
        log(f"{run}: the harness exited with {done.returncode}")
    result = json.loads(out.read_text()) if out.exists() else None
    return request_log, result


def warm_records(path: Path) -> list[dict[str, Any]]:
    """The warm process's work invocations after its first (that one opened the
    process's connections: it is a first delivery, not a warm one)."""
    return [r for r in read_request_log(path) if r["phase"] == "work" and r["index"] >= 1]


def cold_records(path: Path) -> list[dict[str, Any]]:
    return [r for r in read_request_log(path) if r["phase"] == "first"]


# --------------------------------------------------------------------------------------
# the emulator and the TLS front
# --------------------------------------------------------------------------------------


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, method=method, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


class TlsFront:
    """bench/tls_front.py in its own process (as scripts/bench runs it), with the same
    latency for each new connection's handshakes; one port per service unless shared."""

    def __init__(self, upstream: str, directory: Path, latency_ms: float, shared: bool) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.out = directory / "front.out"
        # Files, not pipes, that nobody would drain; closed in stop().
        self.files = [open(self.out, "wb"), open(directory / "front.log", "wb")]  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench/tls_front.py"), "--upstream", upstream, "--dir", str(directory),
             "--latency-ms", str(latency_ms), "--listeners", str(1 if shared else 1 + len(SERVICE_IDS)),
             "--exit-with-parent"],
            stdin=subprocess.DEVNULL, stdout=self.files[0], stderr=self.files[1])
        deadline = time.monotonic() + 30
        printed: dict[str, str] = {}
        # REBOUND_TLS_CA is the last line the front prints.
        while time.monotonic() < deadline and self.process.poll() is None and "REBOUND_TLS_CA" not in printed:
            time.sleep(0.1)
            printed = dict(line.split("=", 1) for line in self.out.read_text().splitlines() if "=" in line)
        self.url = printed.get("REBOUND_TLS_URL")
        # The first port serves every service not named below (AWS_ENDPOINT_URL).
        self.service_endpoints = {} if shared else dict(
            zip(map(endpoint_variable, SERVICE_IDS), printed.get("REBOUND_TLS_URLS", "").split(",")[1:]))
        if not self.url or (not shared and len(self.service_endpoints) != len(SERVICE_IDS)):
            self.stop()
            why = (directory / "front.log").read_text()[-2000:]
            raise SystemExit(f"time_to_act: the TLS front did not start: {why}")
        self.ca = directory / "ca.pem"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for file in self.files:
            file.close()


def time_handshakes(url: str, ca: Path, count: int) -> dict[str, Any]:
    """connect + TLS handshake against the front, from this process (Python's ssl, not
    rustls: the crypto costs about the same; the simulated round trips are the same)."""
    where = urlsplit(url)
    context = ssl.create_default_context(cafile=str(ca))
    samples: list[float] = []
    version = None
    for _ in range(count):
        started = time.perf_counter()
        with socket.create_connection((where.hostname, where.port), timeout=30) as raw:
            with context.wrap_socket(raw, server_hostname=where.hostname) as tls:
                samples.append((time.perf_counter() - started) * 1000)
                version = tls.version()
    stats = summary(samples)
    stats["tls_version"] = version
    return stats


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def measure_function(function: str, args: argparse.Namespace, work_dir: Path, front: TlsFront | None,
                     handshake_ms: float | None) -> dict[str, Any]:
    acting = ACTING[function]
    work = work_args(function, args.stack)
    binary = str(Path(args.bin_dir) / function)
    warm = ["--work-invocations", str(args.invocations + 1), *work]
    result: dict[str, Any] = {"acting_operations": list(acting), "has_baseline": baseline_module(function) is not None}

    path, _ = run_harness(function, function, binary, args, warm, work_dir)
    result["rust"] = summarise(warm_records(path), acting, args.latency_ms)
    module = baseline_module(function)
    result["baseline"] = None
    if module is not None:
        path, _ = run_harness(function, f"baseline-{function}", f"{sys.executable} -m awslambdaric {module}.handler",
                              args, warm, work_dir, cwd=str(ROOT / "bench/baseline"))
        result["baseline"] = summarise(warm_records(path), acting, args.latency_ms)

    if front is not None:
        result["tls"] = {}
        for mode, prewarm in (("lazy", "false"), ("prewarm", "true")):
            endpoints = [f"--set={name}={url}" for name, url in front.service_endpoints.items()]
            extra = ["--set", f"AWS_ENDPOINT_URL={front.url}", *endpoints, "--set", f"SSL_CERT_FILE={front.ca}",
                     "--set", f"PREWARM_CONNECTIONS={prewarm}", "--first-call-starts", str(args.first_calls), *warm]
            path, harness_out = run_harness(function, f"{function}-tls-{mode}", binary, args, extra, work_dir)
            cold = summarise(cold_records(path), acting, args.latency_ms)
            hot = summarise(warm_records(path), acting, args.latency_ms)
            result["tls"][mode] = {
                "cold": cold,
                "warm": hot,
                "init_ms": (harness_out or {}).get("first_call_init_ms"),
                "target": cold_target(cold, hot, handshake_ms),
            }
    return result


def cold_target(cold: dict[str, Any], warm: dict[str, Any], handshake_ms: float | None) -> dict[str, Any]:
    """cold ≤ warm + one handshake, on the medians of event to act."""
    c = cold["event_to_act_ms"].get("median")
    w = warm["event_to_act_ms"].get("median")
    if c is None or w is None or handshake_ms is None:
        return {"cold_ms": c, "warm_ms": w, "handshake_ms": handshake_ms, "limit_ms": None, "status": None}
    limit = w + handshake_ms
    return {"cold_ms": c, "warm_ms": w, "handshake_ms": handshake_ms, "limit_ms": round(limit, 3),
            "excess_ms": round(c - limit, 3), "status": "PASS" if c <= limit else "FAIL"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--env-file", required=True, help="the functions' environment (scripts/bench's function.env)")
    parser.add_argument("--stack", required=True, help="provision.py output (the prepare hooks' stack)")
    parser.add_argument("--bin-dir", required=True, help="where the release binaries are (target/release)")
    parser.add_argument("--out", required=True, type=Path, help="result JSON")
    parser.add_argument("--work-dir", type=Path, help="harness outputs and request logs (default: --out without .json)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="simulated round trip per AWS call (default 20)")
    parser.add_argument("--invocations", type=int, default=20, help="timed warm work invocations per run (default 20)")
    parser.add_argument("--first-calls", type=int, default=10,
                        help="fresh processes per TLS mode, each timed on its first work event (default 10)")
    parser.add_argument("--handshakes", type=int, default=20,
                        help="TLS handshakes timed against the front (default 20)")
    parser.add_argument("--functions", default=",".join(FUNCTIONS), help="comma-separated (default: all four)")
    parser.add_argument("--no-tls", action="store_true", help="skip the cold vs warm measurement over TLS")
    parser.add_argument("--shared-endpoint", action="store_true",
                        help="over TLS, one endpoint for every service (as scripts/bench's TLS steps) instead of one "
                        "per service")
    args = parser.parse_args(argv)
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    unknown = [f for f in functions if f not in ACTING]
    if unknown:
        parser.error(f"unknown function(s) {unknown}; known: {', '.join(FUNCTIONS)}")
    if args.invocations < 1 or args.first_calls < 0 or args.latency_ms < 0:
        parser.error("--invocations must be >= 1, --first-calls and --latency-ms >= 0")
    # The Runtime API's hand-out time and the emulator's arrivals are compared directly.
    clock = time.get_clock_info("perf_counter").implementation
    if "CLOCK_MONOTONIC" not in clock:
        log(f"perf_counter is {clock}, not CLOCK_MONOTONIC: event-to-act figures are not comparable across processes")
    env = {**read_env_file(args.env_file), **os.environ}
    emulator = env.get("REBOUND_EMULATOR_URL") or env.get("AWS_ENDPOINT_URL")
    if not emulator:
        raise SystemExit("time_to_act: no REBOUND_EMULATOR_URL (environment or --env-file)")
    emulator = emulator.rstrip("/")
    # The harness reads the emulator's URL from its environment (the prepare hooks, the
    # request log): make sure it is there when only the env file names it.
    os.environ.setdefault("REBOUND_EMULATOR_URL", emulator)
    work_dir = args.work_dir or args.out.with_suffix("")
    work_dir.mkdir(parents=True, exist_ok=True)

    before = control(emulator, "GET", "/_rebound/latency")["ms"]
    control(emulator, "POST", "/_rebound/latency", {"ms": args.latency_ms})
    front = None
    document: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "invocations": args.invocations,
        "first_calls": 0 if args.no_tls else args.first_calls,
        "clock": clock,
        "handshake": None,
        "functions": {},
    }
    started = time.monotonic()
    try:
        handshake_ms = None
        if not args.no_tls:
            front = TlsFront(emulator, work_dir / "tls", args.latency_ms, args.shared_endpoint)
            document["tls_endpoints"] = "shared" if args.shared_endpoint else "per service"
            document["handshake"] = time_handshakes(front.url, front.ca, args.handshakes)
            document["handshake"]["simulated_round_trips_ms"] = 2 * args.latency_ms
            handshake_ms = document["handshake"]["median"]
            log(f"TLS handshake through the front: {document['handshake']}")
        for function in functions:
            document["functions"][function] = measure_function(function, args, work_dir, front, handshake_ms)
    finally:
        if front is not None:
            front.stop()
        control(emulator, "POST", "/_rebound/latency", {"ms": before})
    document["wall_s"] = round(time.monotonic() - started, 1)
    document["method"] = {
        "time_to_act": "arrival of the acting call - arrival of the invocation's first AWS call (emulator's log)",
        "event_to_act": "arrival of the acting call - event handed to the function (Runtime API), CLOCK_MONOTONIC",
        "rounds": "longest chain of calls, each arriving after the previous one's answered_s, ending at the act",
        "warm": "one process; its first work invocation untimed",
        "cold": "a fresh process per sample, timed on its first work event",
        "handshake": "connect + TLS handshake from Python against bench/tls_front.py, whose new connections wait "
                     "two simulated round trips (TCP + TLS 1.3) before the handshake",
        "percentiles": "linear interpolation between closest ranks",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    log(f"wrote {args.out} in {document['wall_s']} s")
    print_brief(document)
    return 0


def print_brief(document: dict[str, Any]) -> None:
    """One line per function and implementation on stdout (the progress is on stderr)."""
    def median(run: Any, key: str) -> Any:
        return ((run or {}).get(key) or {}).get("median")

    print(f"time to act, {document['latency_ms']:g} ms per AWS call (medians):")
    for function, result in document["functions"].items():
        runs = [("rust", result.get("rust")), ("baseline", result.get("baseline"))]
        for mode, entry in (result.get("tls") or {}).items():
            runs += [(f"tls {mode} cold", entry.get("cold")), (f"tls {mode} warm", entry.get("warm"))]
        for label, run in runs:
            if run is None:
                continue
            print(f"  {function:18} {label:17} rounds {median(run, 'rounds_to_act')}, time to act "
                  f"{median(run, 'time_to_act_ms')} ms, event to act {median(run, 'event_to_act_ms')} ms "
                  f"({run['samples']} of {run['attempted']})")
        for mode, entry in (result.get("tls") or {}).items():
            target = entry.get("target") or {}
            print(f"  {function:18} tls {mode}: cold <= warm + one handshake: {target.get('status')} "
                  f"({target.get('cold_ms')} vs {target.get('limit_ms')} ms)")


if __name__ == "__main__":
    sys.exit(main())
