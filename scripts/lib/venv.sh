# shellcheck shell=bash
# Project-local Python virtualenvs for the pinned tools. Sourced by scripts; defines:
#
#   venv_ensure   create $REBOUND_VENV (default <repo>/.venv) with `python3 -m venv` if
#                 missing, and `pip install -r requirements-dev.txt` (moto server,
#                 cfn-lint, aws-sam-cli, cargo-lambda) whenever that file is newer than
#                 the stamp left by the last successful install. Quiet on success; on
#                 failure prints pip's output and returns 1.
#                 Exports REBOUND_VENV and REBOUND_PYTHON.
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

# _venv_install VENV REQUIREMENTS: create VENV if missing and install REQUIREMENTS
# whenever that file is newer than the venv's stamp for it.
_venv_install() {
    local venv="$1" requirements="$2"
    local stamp="$venv/.$(basename "$requirements" .txt).stamp"
    local output

    if [[ ! -f "$requirements" ]]; then
        echo "venv_ensure: $requirements not found" >&2
        return 1
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        if ! output="$(python3 -m venv "$venv" 2>&1)"; then
            echo "venv_ensure: python3 -m venv $venv failed:" >&2
            echo "$output" >&2
            return 1
        fi
    fi
    if [[ ! -f "$stamp" || "$requirements" -nt "$stamp" ]]; then
        if ! output="$("$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                -r "$requirements" 2>&1)"; then
            echo "venv_ensure: pip install -r $requirements into $venv failed:" >&2
            echo "$output" >&2
            return 1
        fi
        touch "$stamp"
    fi
}

venv_ensure() {
    local venv="${REBOUND_VENV:-$_REBOUND_ROOT/.venv}"
    _venv_install "$venv" "$_REBOUND_ROOT/requirements-dev.txt" || return 1
    export REBOUND_VENV="$venv"
    export REBOUND_PYTHON="$venv/bin/python"
}

checkov_venv_ensure() {
    local venv="${REBOUND_CHECKOV_VENV:-$_REBOUND_ROOT/.venv-checkov}"
    _venv_install "$venv" "$_REBOUND_ROOT/requirements-checkov.txt" || return 1
    export REBOUND_CHECKOV_VENV="$venv"
    export REBOUND_CHECKOV="$venv/bin/checkov"
}

fi
