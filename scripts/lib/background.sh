# shellcheck shell=bash
# Background jobs for the scripts' set-up, so installs run while cargo compiles. Sourced
# (by venv.sh and cargo_tools.sh); defines, for one job per NAME:
#
#   background_start NAME NICENESS COMMAND [ARG...]
#       run COMMAND in the background (at NICENESS; 0 leaves it as it is), its output kept
#       in a temporary file.
#   background_join NAME always|on-failure
#       wait for it; print its output to stderr always or only when it failed; return its
#       exit status (0 when no such job runs).
#   background_stop NAME
#       end it with every process it started (pip, cargo, rustc), if the script fails
#       before joining.

if [[ -z "${_REBOUND_BACKGROUND_SH:-}" ]]; then
_REBOUND_BACKGROUND_SH=1

declare -gA _REBOUND_JOB_PID=() _REBOUND_JOB_LOG=()

background_start() {
    local name="$1" niceness="$2" log
    shift 2
    log="$(mktemp "${TMPDIR:-/tmp}/rebound-$name.XXXXXX")" || return 1
    (
        if ((niceness != 0)); then
            renice -n "$niceness" -p "$BASHPID" >/dev/null 2>&1 || true
        fi
        "$@"
    ) </dev/null >"$log" 2>&1 &
    _REBOUND_JOB_PID[$name]=$!
    _REBOUND_JOB_LOG[$name]="$log"
}

background_join() {
    local name="$1" show="$2" status=0
    local pid="${_REBOUND_JOB_PID[$name]:-}" log="${_REBOUND_JOB_LOG[$name]:-}"
    [[ -n "$pid" ]] || return 0
    wait "$pid" || status=$?
    unset "_REBOUND_JOB_PID[$name]" "_REBOUND_JOB_LOG[$name]"
    if [[ "$show" == always ]] || ((status != 0)); then
        cat "$log" >&2
    fi
    rm -f "$log"
    return "$status"
}

_background_kill_tree() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do
        _background_kill_tree "$child"
    done
    kill "$1" 2>/dev/null || true
}

background_stop() {
    local name="$1"
    local pid="${_REBOUND_JOB_PID[$name]:-}" log="${_REBOUND_JOB_LOG[$name]:-}"
    [[ -n "$pid" ]] || return 0
    _background_kill_tree "$pid"
    wait "$pid" 2>/dev/null || true
    unset "_REBOUND_JOB_PID[$name]" "_REBOUND_JOB_LOG[$name]"
    rm -f "$log"
}

fi
