# shellcheck shell=bash
# Start and stop the local AWS emulator (emulator/server.py: moto + Rebound's fidelity
# layer) from bash scripts. Sourced; defines:
#
#   venv_ensure     (from venv.sh) create/update the project virtualenv
#   emulator_start  start the emulator on a free 127.0.0.1 port (with the venv's Python:
#                   REBOUND_PYTHON if set, else venv_ensure), wait (30 s max) until it
#                   serves, and export REBOUND_EMULATOR_URL, AWS_ENDPOINT_URL, AWS_REGION,
#                   AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID=testing,
#                   AWS_SECRET_ACCESS_KEY=testing, REBOUND_EMULATOR_PID and
#                   REBOUND_EMULATOR_LOG (its stderr). No-op if already running.
#   emulator_stop   stop it (SIGTERM, then SIGKILL after 5 s) and wait; idempotent.
#
# Usage:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/emulator.sh"
#   trap emulator_stop EXIT
#   emulator_start
#
# Set REBOUND_EMULATOR_KEEP_LOG=1 to keep the emulator's log after emulator_stop.

if [[ -z "${_REBOUND_EMULATOR_SH:-}" ]]; then
_REBOUND_EMULATOR_SH=1

# shellcheck source=scripts/lib/venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"

_REBOUND_EMULATOR_PID=""
_REBOUND_EMULATOR_DIR=""

emulator_start() {
    if [[ -n "$_REBOUND_EMULATOR_PID" ]] && kill -0 "$_REBOUND_EMULATOR_PID" 2>/dev/null; then
        return 0
    fi
    # A venv already made (by venv_ensure, or the part of it scripts/demo needs) serves.
    [[ -n "${REBOUND_PYTHON:-}" ]] || venv_ensure || return 1

    _REBOUND_EMULATOR_DIR="$(mktemp -d "${TMPDIR:-/tmp}/rebound-emulator.XXXXXX")" || return 1
    local out="$_REBOUND_EMULATOR_DIR/stdout" err="$_REBOUND_EMULATOR_DIR/stderr"
    "$REBOUND_PYTHON" "$_REBOUND_ROOT/emulator/server.py" --port 0 --exit-with-parent \
        </dev/null >"$out" 2>"$err" &
    _REBOUND_EMULATOR_PID=$!

    local url="" i
    for ((i = 0; i < 300; i++)); do
        url="$(sed -n 's/^REBOUND_EMULATOR_URL=//p' "$out" 2>/dev/null || true)"
        [[ -n "$url" ]] && break
        if ! kill -0 "$_REBOUND_EMULATOR_PID" 2>/dev/null; then
            echo "emulator_start: the emulator exited during start-up:" >&2
            tail -n 40 "$err" >&2
            emulator_stop
            return 1
        fi
        sleep 0.1
    done
    if [[ -z "$url" ]]; then
        echo "emulator_start: no REBOUND_EMULATOR_URL line within 30 s; its log:" >&2
        tail -n 40 "$err" >&2
        emulator_stop
        return 1
    fi

    export REBOUND_EMULATOR_URL="$url"
    export AWS_ENDPOINT_URL="$url"
    export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    # Nothing from the caller's real AWS configuration may leak into a local run.
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
    export REBOUND_EMULATOR_PID="$_REBOUND_EMULATOR_PID"
    export REBOUND_EMULATOR_LOG="$err"
}

emulator_stop() {
    local pid="$_REBOUND_EMULATOR_PID" i
    if [[ -n "$pid" ]]; then
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                echo "emulator_stop: emulator $pid ignored SIGTERM; killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        wait "$pid" 2>/dev/null || true
    fi
    if [[ -n "$_REBOUND_EMULATOR_DIR" && "${REBOUND_EMULATOR_KEEP_LOG:-0}" != 1 ]]; then
        rm -rf "$_REBOUND_EMULATOR_DIR"
    fi
    _REBOUND_EMULATOR_PID=""
    _REBOUND_EMULATOR_DIR=""
    unset REBOUND_EMULATOR_PID
    return 0
}

fi
