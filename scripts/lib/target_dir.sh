# shellcheck shell=bash
# Where cargo puts this workspace's build output, as cargo itself resolves it:
# CARGO_TARGET_DIR, `build.target-dir` of a .cargo/config.toml, or <repo>/target.
# Sourced; defines:
#
#   cargo_target_dir   print that directory (`cargo metadata --no-deps`, target_directory);
#                      on failure cargo's error is on stderr and it returns 1.
#
# Usage:
#   TARGET_DIR="$(cargo_target_dir)"
#   "$TARGET_DIR/demo/rebound" ...      # binaries of profile P are in $TARGET_DIR/P
#                                       # (dev: $TARGET_DIR/debug)

if [[ -z "${_REBOUND_TARGET_DIR_SH:-}" ]]; then
_REBOUND_TARGET_DIR_SH=1

_REBOUND_TARGET_DIR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

cargo_target_dir() {
    local metadata dir
    # From the repo root: cargo reads .cargo/config.toml from the current directory up.
    # cargo's own error, if any, goes to stderr as it is.
    if ! metadata="$(cd "$_REBOUND_TARGET_DIR_ROOT" && cargo metadata --format-version 1 --no-deps)"; then
        echo "cargo_target_dir: cargo metadata failed (above)" >&2
        return 1
    fi
    if ! dir="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' <<<"$metadata")" \
        || [[ -z "$dir" ]]; then
        echo "cargo_target_dir: no target_directory in cargo metadata's output" >&2
        return 1
    fi
    echo "$dir"
}

fi
