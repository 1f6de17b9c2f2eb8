#!/usr/bin/env python3
"""Liveness and readiness of the processes scripts/demo runs under the local Lambda
Runtime API (started by scripts/lib/functions.sh), so that a function that exits or never
polls fails the demo at once and says why, instead of an invocation waiting minutes for
an answer. Standard library only.

Each process NAME has, in $REBOUND_FUNCTIONS_DIR: NAME.pid (its process id), NAME.log
(its stdout and stderr) and, once it has exited, NAME.status (its exit status as the
shell reports it: 128+N after signal N).

    function_watch.py ready PORT NAME...   wait until each NAME is running and connected
                                           to the Runtime API on 127.0.0.1:PORT (its
                                           long poll for the next invocation), at most
                                           REBOUND_FUNCTION_READY_SECONDS (default 10)
    function_watch.py run CMD [ARG...]     run CMD; if any process of the directory exits
                                           meanwhile, stop CMD and fail at once

A failure names the process, its exit status and the last 30 lines of its log, and
exits with status 1. From Python, `call(fn, *args)` runs fn while watching the same way
(scripts/lib/demo_helpers.py waits for invocations with it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")

LOG_LINES = 30
POLL_SECONDS = 0.1


class Stopped(Exception):
    """A watched process is not running (or never polled); the message says all."""


def _dir() -> Path | None:
    value = os.environ.get("REBOUND_FUNCTIONS_DIR")
    return Path(value) if value else None


def _processes(directory: Path) -> dict[str, int]:
    processes = {}
    for pid_file in sorted(directory.glob("*.pid")):
        try:
            processes[pid_file.stem] = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
    return processes


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may contain spaces.
    return stat[stat.rindex(")") + 2 :][:1] not in ("Z", "X")


def _status(directory: Path, name: str) -> str | None:
    try:
        return (directory / f"{name}.status").read_text().strip()
    except OSError:
        return None


def _describe_status(status: str | None) -> str:
    if status is None:
        return "exited (exit status not recorded)"
    try:
        code = int(status)
    except ValueError:
        return f"exited (exit status {status!r})"
    if 128 < code <= 128 + 64:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            name = f"signal {code - 128}"
        return f"exited with status {code} (killed by {name})"
    return f"exited with status {code}"


def _log_tail(directory: Path, name: str) -> str:
    path = directory / f"{name}.log"
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"  (no log: {exc})"
    if not lines:
        return f"  (its log {path} is empty)"
    tail = lines[-LOG_LINES:]
    head = f"  last {len(tail)} lines of its log {path}:" if len(lines) > len(tail) else f"  its log {path}:"
    return "\n".join([head, *(f"  | {line}" for line in tail)])


def _exited(directory: Path, name: str, pid: int) -> str | None:
    """None while NAME runs; otherwise a report of how it ended."""
    status = _status(directory, name)
    if status is None and _running(pid):
        return None
    if status is None:
        # The shell that started it writes the status right after reaping it.
        deadline = time.monotonic() + 1.0
        while status is None and time.monotonic() < deadline:
            time.sleep(0.02)
            status = _status(directory, name)
    return f"{name} (pid {pid}) {_describe_status(status)}"


def check(directory: Path | None = None, context: str = "") -> None:
    """Raises Stopped if any watched process has exited."""
    directory = directory or _dir()
    if directory is None:
        return
    for name, pid in _processes(directory).items():
        ended = _exited(directory, name, pid)
        if ended is not None:
            raise Stopped(f"{ended}{context}\n{_log_tail(directory, name)}")


def _established_ports(pid: int) -> set[int]:
    """Remote ports of the process's established TCP connections."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # sl local_address rem_address st ... inode (field 9); state 01 = ESTABLISHED.
            if len(fields) > 9 and fields[3] == "01" and fields[9] in inodes:
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def ready(port: int, names: list[str], timeout: float) -> None:
    directory = _dir()
    if directory is None:
        raise Stopped("REBOUND_FUNCTIONS_DIR is not set (scripts/lib/functions.sh sets it)")
    processes = _processes(directory)
    missing = [name for name in names if name not in processes]
    if missing:
        raise Stopped(f"no process started for {', '.join(missing)} in {directory}")
    waiting = list(names)
    deadline = time.monotonic() + timeout
    while True:
        check(directory, " during start-up, before it polled the Lambda Runtime API")
        waiting = [name for name in waiting if port not in _established_ports(processes[name])]
        if not waiting:
            return
        if time.monotonic() >= deadline:
            name = waiting[0]
            raise Stopped(
                f"{name} (pid {processes[name]}) is running but has not polled the Lambda Runtime API "
                f"on 127.0.0.1:{port} within {timeout:g} s (no connection to that port)\n"
                f"{_log_tail(directory, name)}"
            )
        time.sleep(POLL_SECONDS)


def call(fn: Callable[..., T], *args: object) -> T:
    """fn(*args), failing with Stopped as soon as a watched process exits meanwhile."""
    directory = _dir()
    if directory is None:
        return fn(*args)
    check(directory)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    context = " while an invocation waited for an answer"
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    while True:
        worker.join(POLL_SECONDS)
        if not worker.is_alive():
            break
        check(directory, context)
    if "error" in outcome:
        # A failed request because the function died: say that, not the socket error.
        check(directory, context)
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def run_command(command: list[str]) -> int:
    directory = _dir()
    check(directory)
    context = f" while {' '.join(Path(part).name for part in command[:2])} waited for it"
    proc = subprocess.Popen(command)
    try:
        while True:
            try:
                status = proc.wait(POLL_SECONDS)
            except subprocess.TimeoutExpired:
                check(directory, context)
                continue
            if status != 0:
                # It failed because a function died: say that first.
                check(directory, context)
            return status
    except BaseException:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def main(argv: list[str]) -> int:
    try:
        if len(argv) >= 3 and argv[1] == "ready":
            try:
                port = int(argv[2])
                timeout = float(os.environ.get("REBOUND_FUNCTION_READY_SECONDS", "10"))
            except ValueError as exc:
                print(f"function_watch.py ready: {exc}", file=sys.stderr)
                return 2
            ready(port, argv[3:], timeout)
            return 0
        if len(argv) >= 3 and argv[1] == "run":
            return run_command(argv[2:])
    except Stopped as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
