# shellcheck shell=bash
# Project-local Python virtualenvs for the pinned tools. Sourced by scripts; defines:
#
#   venv_ensure [NAME...]
#                 create $REBOUND_VENV (default <repo>/.venv) with `python3 -m venv` if
#                 missing, and `pip install -r requirements-dev.txt` (moto server,
#                 cfn-lint, aws-sam-cli, cargo-lambda, cbor2) whenever that file is
#                 newer than the stamp left by the last successful install. With NAMEs,
#                 only those packages' lines of requirements-dev.txt (their pins, the one
#                 list: scripts/demo needs only the emulator (moto, cbor2) and
#                 cargo-lambda). Quiet on success;
#                 on failure prints pip's output and returns 1.
#                 Exports REBOUND_VENV and REBOUND_PYTHON.
#   venv_ensure_start COMMAND [ARG...] / venv_ensure_join / venv_ensure_stop
#                 run COMMAND (e.g. `venv_ensure moto cargo-lambda`) in the background, so
#                 pip downloads and installs while cargo compiles; venv_ensure_join waits
#                 for it and, if it failed, prints its output and returns 1 (the caller
#                 then runs venv_ensure itself, a no-op but for the exports);
#                 venv_ensure_stop ends it if the script fails before joining.
#   bench_venv_ensure
#                 venv_ensure, then requirements-bench.txt into the same virtualenv
#                 (awslambdaric: only scripts/bench needs it, and it has no macOS wheel,
#                 so it stays out of what scripts/test, scripts/demo and
#                 scripts/sam-env-vars install).
#   checkov_venv_ensure
#                 the same for $REBOUND_CHECKOV_VENV (default <repo>/.venv-checkov) and
#                 requirements-checkov.txt: checkov pins a boto3 that aws-sam-cli cannot
#                 share, so it has an environment of its own.
#                 Exports REBOUND_CHECKOV_VENV and REBOUND_CHECKOV.
#
# The repo root comes from this file's location, never from $PWD.

if [[ -z "${_REBOUND_VENV_SH:-}" ]]; then
_REBOUND_VENV_SH=1

_REBOUND_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/background.sh
source "$_REBOUND_ROOT/scripts/lib/background.sh"

# _venv_install VENV REQUIREMENTS [NAME...]: create VENV if missing and install
# REQUIREMENTS (with NAMEs: only their lines) whenever that file is newer than the venv's
# stamp for it.
_venv_install() {
    local venv="$1" requirements="$2"
    shift 2
    local full_stamp="$venv/.$(basename "$requirements" .txt).stamp"
    local stamp="$full_stamp" install="$requirements" output

    if [[ ! -f "$requirements" ]]; then
        echo "venv_ensure: $requirements not found" >&2
        return 1
    fi
    if (($#)); then
        # Everything already installed covers any part of it.
        if [[ -f "$full_stamp" && ! "$requirements" -nt "$full_stamp" ]]; then
            return 0
        fi
        local subset
        subset="$(IFS=-; echo "$*")"
        stamp="$venv/.$(basename "$requirements" .txt)-$subset.stamp"
        install="$venv/.$(basename "$requirements" .txt)-$subset.txt"
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        if ! output="$(python3 -m venv "$venv" 2>&1)"; then
            echo "venv_ensure: python3 -m venv $venv failed:" >&2
            echo "$output" >&2
            return 1
        fi
    fi
    if [[ ! -f "$stamp" || "$requirements" -nt "$stamp" ]]; then
        if (($#)); then
            _venv_pick "$requirements" "$@" >"$install" || return 1
        fi
        if ! output="$("$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                -r "$install" 2>&1)"; then
            echo "venv_ensure: pip install -r $install into $venv failed:" >&2
            echo "$output" >&2
            return 1
        fi
        touch "$stamp"
    fi
}

# _venv_pick REQUIREMENTS NAME...: the lines of REQUIREMENTS that pin the packages NAMEs
# (name compared without extras, case-insensitively); an error if one is not there.
_venv_pick() {
    local requirements="$1" name line found
    shift
    for name in "$@"; do
        found=""
        while IFS= read -r line; do
            line="${line%%#*}"
            [[ "$line" =~ ^[[:space:]]*([A-Za-z0-9._-]+) ]] || continue
            if [[ "${BASH_REMATCH[1],,}" == "${name,,}" ]]; then
                found="$line"
                break
            fi
        done <"$requirements"
        if [[ -z "$found" ]]; then
            echo "venv_ensure: $name is not pinned in $requirements" >&2
            return 1
        fi
        echo "$found"
    done
}

venv_ensure() {
    local venv="${REBOUND_VENV:-$_REBOUND_ROOT/.venv}"
    _venv_install "$venv" "$_REBOUND_ROOT/requirements-dev.txt" "$@" || return 1
    export REBOUND_VENV="$venv"
    export REBOUND_PYTHON="$venv/bin/python"
}

# venv_ensure_start COMMAND [ARG...]: run COMMAND (venv_ensure with its arguments, or a
# function of the caller's that calls venv_ensure / checkov_venv_ensure) in the background.
venv_ensure_start() {
    background_start venv 0 "$@"
}

# venv_ensure_join: wait for it; on failure print its output and return 1. The caller then
# calls venv_ensure (and checkov_venv_ensure) itself, which finds the stamps fresh and only
# exports the variables.
venv_ensure_join() {
    local status=0
    background_join venv on-failure || status=$?
    if ((status != 0)); then
        echo "venv_ensure: installing the pinned Python tools failed (exit status $status; its output is above)" >&2
    fi
    ((status == 0))
}

venv_ensure_stop() {
    background_stop venv
}

bench_venv_ensure() {
    venv_ensure || return 1
    _venv_install "$REBOUND_VENV" "$_REBOUND_ROOT/requirements-bench.txt" || return 1
}

checkov_venv_ensure() {
    local venv="${REBOUND_CHECKOV_VENV:-$_REBOUND_ROOT/.venv-checkov}"
    _venv_install "$venv" "$_REBOUND_ROOT/requirements-checkov.txt" || return 1
    export REBOUND_CHECKOV_VENV="$venv"
    export REBOUND_CHECKOV="$venv/bin/checkov"
}

fi
