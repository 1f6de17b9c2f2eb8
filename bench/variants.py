#!/usr/bin/env python3
"""Build levers: one function built in several variants (crypto provider, opt-level, panic
strategy), each measured for size, init and warm latency (scripts/bench).

    .venv/bin/python bench/variants.py build --out target/bench/variants [--only ID,ID] [--spec bench/variants.json]
    .venv/bin/python bench/variants.py measure --out target/bench/variants --env-file ENV --stack STACK.json \\
        --cold-starts 10 --invocations 50

The variants are data (bench/variants.json): id, label, package, features, opt_level,
panic, optional config (more `cargo --config` values) and note.

build: for each variant, `cargo build --release --locked -p PACKAGE [--features ...]
--config profile.release.opt-level=... --config profile.release.panic=...` into
$CARGO_TARGET_DIR/bench-variants (one target dir shared by the variants, apart from the
main release artifacts: cargo keeps the artifacts of different settings side by side, so a
variant built before is not rebuilt). The binary (stripped: the release profile strips
symbols) is copied to OUT/bin/ID and zipped as `bootstrap` into OUT/bin/ID.zip (deflate,
zlib level 6). scripts/bench zips the main release build the same way and records it next to
cargo-lambda's zip (sizes.json: zip_bytes_deflate6), so the two can be compared; the variants
compare with each other exactly. `cargo tree` tells which TLS crypto crates (aws-lc-rs, ring) the build
links. A variant that does not build (e.g. a feature the workspace does not have yet) is
reported with cargo's error, never skipped silently. Writes OUT/ID.build.json each.

measure: runs bench/harness.py on each built variant's binary (target-health: the
--prepare target-health-break work scenario) with the given counts; writes OUT/ID.json.

Standard library only (harness.py needs boto3 for its hook).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PREPARE = {
    "target-health": ["--noop-event", "events/target-health/alarm-other-metric.json", "--prepare", "target-health-break"],
    "rds-health": ["--noop-event", "events/rds-health/alarm-other-metric.json", "--prepare", "rds-failover"],
    "zone-health": ["--noop-event", "events/target-health/alarm-other-metric.json", "--prepare", "zone-shift"],
}


def load_spec(path: Path, only: str | None) -> list[dict[str, Any]]:
    variants = json.loads(path.read_text())["variants"]
    if only:
        wanted = [v.strip() for v in only.split(",") if v.strip()]
        known = {v["id"] for v in variants}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise SystemExit(f"variants: unknown id(s) {unknown}; known: {sorted(known)}")
        variants = [v for v in variants if v["id"] in wanted]
    return variants


def crypto_crates(variant: dict[str, Any]) -> dict[str, bool] | str:
    linked: dict[str, bool] = {}
    for crate in ("aws-lc-rs", "ring"):
        argv = ["cargo", "tree", "--locked", "-q", "-e", "normal", "-p", variant["package"], "-i", crate]
        if variant.get("features"):
            argv += ["--features", ",".join(variant["features"])]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        # A crate not in the lock file at all: "did not match any packages" (exit 101).
        if done.returncode != 0 and "did not match any packages" not in done.stderr:
            return f"cargo tree failed: {done.stderr.strip()[-300:]}"
        linked[crate] = done.returncode == 0 and bool(done.stdout.strip())
    return linked


def zip_bootstrap(binary: str | Path, out: str | Path) -> int:
    out = Path(out)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o100755 << 16
        with open(binary, "rb") as src, archive.open(info, "w") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return out.stat().st_size


def build(args: argparse.Namespace) -> int:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "bench-variants"
    (args.out / "bin").mkdir(parents=True, exist_ok=True)
    failures = 0
    for variant in load_spec(args.spec, args.only):
        vid = variant["id"]
        argv = ["cargo", "build", "--release", "--locked", "-q", "-p", variant["package"],
                "--config", f'profile.release.opt-level={json.dumps(variant["opt_level"]) if variant["opt_level"] in ("s", "z") else variant["opt_level"]}',
                "--config", f'profile.release.panic="{variant["panic"]}"']
        for extra in variant.get("config") or []:
            argv += ["--config", extra]
        if variant.get("features"):
            argv += ["--features", ",".join(variant["features"])]
        record: dict[str, Any] = {**variant, "cargo": " ".join(argv), "target_dir": str(target)}
        print(f"variants: {vid}: {' '.join(argv)}", file=sys.stderr, flush=True)
        start = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, env={**os.environ, "CARGO_TARGET_DIR": str(target)},
                              capture_output=True, text=True)
        record["build_s"] = round(time.monotonic() - start, 1)
        if done.returncode != 0:
            failures += 1
            record["status"] = "build failed"
            record["error"] = done.stderr.strip()[-1500:]
            print(f"variants: {vid}: build failed:\n{record['error']}", file=sys.stderr)
        else:
            binary = args.out / "bin" / vid
            shutil.copy2(target / "release" / variant["package"], binary)
            record.update({"status": "built", "binary": str(binary), "binary_bytes": binary.stat().st_size,
                           "zip_bytes": zip_bootstrap(binary, binary.with_suffix(".zip")),
                           "crypto": crypto_crates(variant)})
            print(f"variants: {vid}: built in {record['build_s']} s, {record['binary_bytes']:,} B, "
                  f"zip {record['zip_bytes']:,} B, crypto {record['crypto']}", file=sys.stderr, flush=True)
        (args.out / f"{vid}.build.json").write_text(json.dumps(record, indent=2) + "\n")
    return 1 if failures and args.strict else 0


def measure(args: argparse.Namespace) -> int:
    status = 0
    for path in sorted(args.out.glob("*.build.json")):
        record = json.loads(path.read_text())
        if record.get("status") != "built":
            continue
        vid, package = record["id"], record["package"]
        if package not in PREPARE:
            print(f"variants: {vid}: no work scenario for {package}; measuring init and no-op only", file=sys.stderr)
        argv = [sys.executable, str(ROOT / "bench/harness.py"), "--name", f"variant-{vid}", "--cmd", record["binary"],
                "--env-file", str(args.env_file), "--stack", str(args.stack),
                "--cold-starts", str(args.cold_starts), "--noop-invocations", str(args.invocations),
                "--work-invocations", str(args.invocations if package in PREPARE else 0),
                "--out", str(args.out / f"{vid}.json"), *PREPARE.get(package, [])]
        done = subprocess.run(argv, cwd=ROOT)
        if done.returncode not in (0, 2):
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--spec", type=Path, default=ROOT / "bench/variants.json")
    b.add_argument("--only", help="comma-separated variant ids (default: all)")
    b.add_argument("--strict", action="store_true", help="exit 1 when a variant does not build")
    m = sub.add_parser("measure")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--env-file", type=Path, required=True)
    m.add_argument("--stack", type=Path, required=True)
    m.add_argument("--cold-starts", type=int, default=10)
    m.add_argument("--invocations", type=int, default=50)
    args = parser.parse_args(argv)
    return build(args) if args.command == "build" else measure(args)


if __name__ == "__main__":
    sys.exit(main())
