# shellcheck shell=bash
# Processes scripts/demo runs under the local Lambda Runtime API (the function binaries,
# and cargo lambda watch that serves the API), watched so that one that exits or never
# polls fails the demo at once with its exit status and the end of its log
# (scripts/lib/function_watch.py). Sourced; defines:
#
#   functions_init DIR        keep pid, log and exit status files in DIR; exports
#                             REBOUND_FUNCTIONS_DIR=DIR for function_watch.py.
#   function_start NAME CMD [ARG...]
#                             start CMD in the background, stdout and stderr to DIR/NAME.log;
#                             when it exits, its exit status is written to DIR/NAME.status.
#   functions_ready PORT NAME...
#                             wait (REBOUND_FUNCTION_READY_SECONDS, default 10) until each
#                             NAME runs and has connected to the Runtime API on
#                             127.0.0.1:PORT; otherwise print which one, its exit status and
#                             the last 30 lines of its log, and return 1.
#   functions_watch CMD [ARG...]
#                             run CMD (a foreground command that waits on a function); fail
#                             the same way as soon as any started process exits meanwhile.
#   functions_stop            stop every process started (SIGTERM, then SIGKILL after 5 s)
#                             and wait for it; idempotent.
#
# The Python helpers use ${REBOUND_PYTHON:-python3} (standard library only).

if [[ -z "${_REBOUND_FUNCTIONS_SH:-}" ]]; then
_REBOUND_FUNCTIONS_SH=1

_REBOUND_FUNCTIONS_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_REBOUND_FUNCTION_WRAPPERS=()

functions_init() {
    mkdir -p "$1" || return 1
    export REBOUND_FUNCTIONS_DIR="$1"
}

function_start() {
    local name="$1" dir="${REBOUND_FUNCTIONS_DIR:?functions_init first}" i
    shift
    rm -f "$dir/$name.pid" "$dir/$name.status"
    # A shell that waits for the process and records how it ended: the demo's own shell
    # cannot be asked from the helpers (and reaps its children on its own).
    (
        "$@" </dev/null >"$dir/$name.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/$name.pid.new" && mv "$dir/$name.pid.new" "$dir/$name.pid"
        status=0
        wait "$pid" || status=$?
        echo "$status" >"$dir/$name.status.new" && mv "$dir/$name.status.new" "$dir/$name.status"
    ) &
    _REBOUND_FUNCTION_WRAPPERS+=($!)
    for ((i = 0; i < 500; i++)); do
        [[ -f "$dir/$name.pid" ]] && return 0
        sleep 0.01
    done
    echo "function_start: $name did not start within 5 s" >&2
    return 1
}

functions_ready() {
    "${REBOUND_PYTHON:-python3}" "$_REBOUND_FUNCTIONS_LIB/function_watch.py" ready "$@"
}

functions_watch() {
    "${REBOUND_PYTHON:-python3}" "$_REBOUND_FUNCTIONS_LIB/function_watch.py" run "$@"
}

functions_stop() {
    local dir="${REBOUND_FUNCTIONS_DIR:-}" pid_file pid wrapper i
    if [[ -n "$dir" && -d "$dir" ]]; then
        for pid_file in "$dir"/*.pid; do
            # One that has exited has a status file: its pid may be another process's now.
            [[ -f "$pid_file" && ! -f "${pid_file%.pid}.status" ]] || continue
            pid="$(<"$pid_file")"
            kill -TERM "$pid" 2>/dev/null || true
        done
        for pid_file in "$dir"/*.pid; do
            [[ -f "$pid_file" && ! -f "${pid_file%.pid}.status" ]] || continue
            pid="$(<"$pid_file")"
            for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null || true
        done
    fi
    for wrapper in "${_REBOUND_FUNCTION_WRAPPERS[@]}"; do
        wait "$wrapper" 2>/dev/null || true
    done
    _REBOUND_FUNCTION_WRAPPERS=()
    return 0
}

fi
