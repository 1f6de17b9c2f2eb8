#!/usr/bin/env bash
# `scripts/bench --fuzz`: every parser of external input under libFuzzer, then the
# property tests with large case counts. Nothing here is part of CI (minutes of CPU).
#
#   REBOUND_FUZZ_RUNS            inputs per event target (target_health_event,
#                                stream_event); the item and config targets get a quarter
#                                each. Default 1,000,000.
#   REBOUND_FUZZ_PROPTEST_CASES  cases per property test. Default 10,000.
#
# The JSON targets take raw bytes (mostly not JSON at all) or, chosen by the input's
# first byte, a sample event from events/ mutated by the input's bytes (structure-aware:
# nearly every such input is an event of a real shape with a few parts changed); each
# target reports how many inputs reached each stage (fuzz/src/lib.rs, Tally). Every run
# starts from seeds made from events/ (a fresh corpus, so runs do not depend on each
# other) with fuzz/json.dict, a fixed seed,
# release build with debug assertions and overflow checks on, no sanitizer (the project
# has no unsafe code; a sanitizer build of the AWS SDK would take far longer). A crash is
# a panic, an overflow or a failed check in fuzz/src/lib.rs, kept with its input under
# target/bench/fuzz/artifacts/. Installs cargo-fuzz (pinned) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh
# shellcheck source=scripts/lib/cargo_tools.sh
source scripts/lib/cargo_tools.sh
# shellcheck source=scripts/lib/target_dir.sh
source scripts/lib/target_dir.sh

RUNS="${REBOUND_FUZZ_RUNS:-1000000}"
# The nightly fuzz build apart from the stable one: <target dir>/fuzz (cargo's target
# directory: CARGO_TARGET_DIR, .cargo/config.toml or ./target).
FUZZ_TARGET_DIR="$(cargo_target_dir)/fuzz"
CASES="${REBOUND_FUZZ_PROPTEST_CASES:-10000}"
OUT="$ROOT/target/bench/fuzz"
step() { printf '\n==> %s\n' "$*"; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "scripts/bench --fuzz: needs the nightly toolchain (rustup toolchain list)" >&2
    exit 1
fi
rm -rf "$OUT" && mkdir -p "$OUT"
venv_ensure

step "cargo-fuzz $CARGO_FUZZ_VERSION"
cargo_tool_ensure cargo-fuzz "$CARGO_FUZZ_VERSION" nightly

FUZZ_FLAGS=(--fuzz-dir fuzz -O --debug-assertions --sanitizer none)

step "Build the fuzz targets (nightly, release, debug assertions, no sanitizer)"
CARGO_TARGET_DIR="$FUZZ_TARGET_DIR" cargo +nightly fuzz build "${FUZZ_FLAGS[@]}"

step "Seed corpora from events/"
"$REBOUND_PYTHON" - "$OUT/seeds" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
events = pathlib.Path("events")
def put(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
# JSON targets read their first byte as the mode (fuzz/src/lib.rs, json_input): even =
# the rest is raw JSON, odd = the rest chooses mutations of a built-in sample event.
def put_json(target, name, data):
    put(target, "raw-" + name, b"\x00" + data)
for target in ("target_health_event", "stream_event", "dynamodb_item"):
    for n, choices in enumerate([b"", b"\x01\x02\x03", b"\x05\x00\x00\x04\x01"]):
        put(target, f"mutated-{n}", b"\x01" + choices)
for f in sorted((events / "target-health").glob("*.json")):
    put_json("target_health_event", f.name, f.read_bytes())
for f in sorted((events / "incident-notifier").glob("*.json")):
    put_json("stream_event", f.name, f.read_bytes())
    for n, record in enumerate(json.loads(f.read_text())["Records"]):
        for image in ("NewImage", "OldImage"):
            if image in record["dynamodb"]:
                put_json("dynamodb_item", f"{f.stem}-{n}-{image}.json", json.dumps(record["dynamodb"][image]).encode())
put("config_env", "template-defaults.env", b"\n".join([
    b"INCIDENTS_TABLE=rebound-IncidentsTable-1", b"NOTIFY_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:t",
    b"MODE=dry-run", b"MANAGED_TAG_KEY=rebound:managed", b"REPLACEMENT_METHOD=set-instance-health",
    b"MAX_UNHEALTHY_PERCENT=50", b"MAX_IN_FLIGHT_PER_GROUP=1", b"COOLDOWN_SECONDS=600",
    b"ACTION_BUDGET_PER_HOUR=10", b"PENDING_ACTION_TIMEOUT_SECONDS=300", b"RECOVERY_TIMEOUT_SECONDS=900",
    b"REPLACEMENT_LOOP_WINDOW_SECONDS=3600", b"REPLACEMENT_LOOP_LIMIT=3", b"SWEEP_CONCURRENCY=8",
    b"INCIDENT_RETENTION_DAYS=90"]))
PY

declare -A TARGET_RUNS=(
    [target_health_event]="$RUNS"
    [stream_event]="$RUNS"
    [dynamodb_item]="$((RUNS / 4))"
    [config_env]="$((RUNS / 4))"
)
crashed=0
for target in target_health_event stream_event dynamodb_item config_env; do
    runs="${TARGET_RUNS[$target]}"
    step "Fuzz $target: $runs inputs"
    corpus="$OUT/corpus/$target" artifacts="$OUT/artifacts/$target/"
    mkdir -p "$corpus" "$artifacts"
    start=$(date +%s.%N)
    status=0
    # -close_fd_mask=3: the handlers' metric lines would flood the log; libFuzzer keeps
    # its own copy of stderr for its report.
    REBOUND_FUZZ_STATS="$OUT/$target.stages.json" CARGO_TARGET_DIR="$FUZZ_TARGET_DIR" cargo +nightly fuzz run "${FUZZ_FLAGS[@]}" "$target" "$corpus" "$OUT/seeds/$target" -- \
        -runs="$runs" -seed=1 -dict=fuzz/json.dict -timeout=10 -rss_limit_mb=2048 \
        -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$artifacts" \
        >"$OUT/$target.log" 2>&1 || status=$?
    end=$(date +%s.%N)
    tail -n 4 "$OUT/$target.log"
    ((status == 0)) || crashed=1
    "$REBOUND_PYTHON" - "$OUT" "$target" "$runs" "$status" "$start" "$end" <<'PY'
import json, pathlib, re, sys
out, target, runs, status, start, end = sys.argv[1:]
log = (pathlib.Path(out) / f"{target}.log").read_text(errors="replace")
done = re.findall(r"Done (\d+) runs in (\d+) second", log)
execs = re.findall(r"stat::number_of_executed_units:\s+(\d+)", log)
artifacts = sorted(p.name for p in (pathlib.Path(out) / "artifacts" / target).iterdir())
stages_file = pathlib.Path(out) / f"{target}.stages.json"
stages = json.loads(stages_file.read_text()) if stages_file.exists() else {}
result = {
    "target": target, "requested_runs": int(runs),
    "inputs_tried": int(execs[-1]) if execs else (int(done[-1][0]) if done else None),
    "crashes": len([a for a in artifacts if re.match(r"(crash|leak|timeout|oom|slow-unit)-", a)]),
    "artifacts": artifacts, "exit_status": int(status), "seconds": round(float(end) - float(start), 1),
    "stages": stages,
}
(pathlib.Path(out) / f"{target}.json").write_text(json.dumps(result, indent=2) + "\n")
PY
done

step "Property tests: $CASES cases each"
start=$(date +%s.%N)
status=0
PROPTEST_CASES="$CASES" cargo nextest run -p rebound-shared --locked --no-fail-fast properties \
    >"$OUT/proptest.log" 2>&1 || status=$?
end=$(date +%s.%N)
grep -E "Summary|FAIL" "$OUT/proptest.log" || true
((status == 0)) || crashed=1

step "Summary"
"$REBOUND_PYTHON" - "$OUT" "$CASES" "$status" "$start" "$end" <<'PY'
import json, pathlib, re, subprocess, sys
out, cases, status, start, end = sys.argv[1:]
out = pathlib.Path(out)
targets = [json.loads((out / f"{t}.json").read_text())
           for t in ("target_health_event", "stream_event", "dynamodb_item", "config_env")]
log = (out / "proptest.log").read_text(errors="replace")
summary = re.findall(r"Summary \[.*?\] (\d+) tests? run: (\d+) passed", log)
properties = int(summary[-1][0]) if summary else None
version = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
report = {
    "fuzz_targets": targets,
    "fuzz_inputs_tried": sum(t["inputs_tried"] or 0 for t in targets),
    "fuzz_crashes": sum(t["crashes"] for t in targets) + sum(1 for t in targets if t["exit_status"] != 0 and not t["crashes"]),
    "proptest": {"cases_per_property": int(cases), "property_tests": properties,
                 "failed": int(status) != 0, "seconds": round(float(end) - float(start), 1)},
    "toolchain": version("rustc", "+nightly", "--version"),
    "cargo_fuzz": version("cargo", "+nightly", "fuzz", "--version"),
    "flags": "release, debug assertions and overflow checks, no sanitizer, -seed=1, json.dict",
}
(out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
print(f"{'target':<22}{'inputs tried':>14}{'crashes':>9}{'seconds':>9}  how far they got")
for t in targets:
    stages = ", ".join(f"{k} {v:,}" for k, v in t["stages"].items() if k != "inputs")
    print(f"{t['target']:<22}{t['inputs_tried'] or 0:>14,}{t['crashes']:>9}{t['seconds']:>9}  {stages}")
print(f"{'total':<22}{report['fuzz_inputs_tried']:>14,}{report['fuzz_crashes']:>9}")
p = report["proptest"]
print(f"property tests: {p['property_tests']} properties x {p['cases_per_property']:,} cases, "
      f"{'FAILED' if p['failed'] else 'passed'}, {p['seconds']} s")
print(f"{report['toolchain']}; {report['cargo_fuzz']}; wrote {out / 'summary.json'}")
PY
exit "$crashed"
