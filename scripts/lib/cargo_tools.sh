# shellcheck shell=bash
# Cargo subcommands and tools the scripts need that no registry of Python tools carries.
# Sourced; defines:
#
#   cargo_tool_ensure NAME VERSION [TOOLCHAIN [INSTALL-ARG...]]
#       `cargo install --locked NAME@VERSION [INSTALL-ARG...]` from crates.io unless the
#       tool already reports VERSION: `cargo [+TOOLCHAIN] <sub> --version` (sub = NAME
#       without "cargo-") says "NAME VERSION" for a cargo subcommand; for any other NAME
#       (a plain binary such as mdbook), `$(cargo_tool_path NAME) --version` says
#       "NAME VERSION" or "NAME vVERSION". TOOLCHAIN may be "" to pass INSTALL-ARGs
#       (e.g. --no-default-features) without one. Installs into cargo's own bin
#       directory, so a machine builds each version once.
#       The tool's own release profile is overridden for the install
#       (CARGO_PROFILE_RELEASE_OPT_LEVEL=0, CARGO_PROFILE_RELEASE_LTO=false,
#       CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256): the same source and locked dependencies,
#       with release semantics (no debug assertions, no overflow checks) but unoptimised.
#       These tools read a few hundred small files and are done in about a second either
#       way (cargo deny's checks of this workspace: 0.8 s optimised, 1.2 s unoptimised;
#       mdbook's build of docs/: 0.04 s, 0.15 s, the same HTML), while optimising them
#       (fat LTO, one codegen unit, opt-level 3) is most of a first install's cost.
#       RUSTC_WORKSPACE_WRAPPER and CLIPPY_ARGS (scripts/test's clippy build) are not
#       passed on: an installed package is a workspace member of cargo install's own. It
#       builds in a temporary target directory, whatever CARGO_TARGET_DIR says.
#   cargo_deny_ensure, mdbook_ensure
#       cargo_tool_ensure with the pinned version and install arguments below, the one
#       place they are written.
#   cargo_tools_start COMMAND [ARG...] / cargo_tools_join / cargo_tools_stop
#       run COMMAND (cargo_tool_ensure, or a function of the caller's that calls it) in
#       the background at the lowest CPU priority (nice 19), so that a first install
#       compiles on the cores cargo's own build leaves idle and yields to it otherwise;
#       cargo_tools_join waits for it and, if it failed, prints its output and returns 1;
#       cargo_tools_stop ends it, its cargo and its rustc processes, if the script fails
#       before joining.
#   cargo_tool_path NAME
#       prints where cargo install puts NAME: $CARGO_INSTALL_ROOT/bin, else
#       $CARGO_HOME/bin (default ~/.cargo/bin), whether or not it is on PATH.
#
# Pinned versions, in one place (first-install costs measured on this project's 2-core
# machines, with its other core busy, as CPU-seconds (user + system), which a busy core
# does not change much):
#   cargo-deny 0.20.2  (scripts/test: licences, bans, sources, advisories) - a first
#                      install builds it from source: 69-78 CPU-seconds unoptimised
#                      (46 s on 2 cores, 84 s with one of them busy), 200 CPU-seconds
#                      with opt-level 3 (fat LTO and one codegen unit already off; 131 s
#                      in CI), 6.5 min with its own release profile. 0.20.2 has no cargo
#                      features.
#   cargo-fuzz 0.13.2  (scripts/bench --fuzz, with the nightly toolchain)
#   mdbook 0.4.52      (scripts/docs: the book in docs/), with --no-default-features (no
#                      `serve`, `watch` or `search`: a build needs none of them) - a first
#                      install builds it from source: 47 CPU-seconds unoptimised (59 s on
#                      2 busy cores), 109 CPU-seconds with opt-level 3. The newest 0.4.x
#                      on crates.io (0.5.x exists; not tried).

if [[ -z "${_REBOUND_CARGO_TOOLS_SH:-}" ]]; then
_REBOUND_CARGO_TOOLS_SH=1

# shellcheck source=scripts/lib/background.sh
source "$(dirname "${BASH_SOURCE[0]}")/background.sh"

CARGO_DENY_VERSION=0.20.2
CARGO_FUZZ_VERSION=0.13.2
MDBOOK_VERSION=0.4.52

cargo_tool_path() {
    echo "${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin/$1"
}

# _cargo_tool_version NAME TOOLCHAIN: what the installed tool says its version is.
_cargo_tool_version() {
    local name="$1" toolchain="$2"
    if [[ "$name" == cargo-* ]]; then
        local -a cargo=(cargo)
        [[ -n "$toolchain" ]] && cargo+=("+$toolchain")
        "${cargo[@]}" "${name#cargo-}" --version 2>/dev/null || true
    else
        "$(cargo_tool_path "$name")" --version 2>/dev/null || true
    fi
}

cargo_tool_ensure() {
    local name="$1" version="$2" toolchain="${3:-}"
    shift $(($# < 3 ? $# : 3))
    local -a extra=("$@")
    local have
    have="$(_cargo_tool_version "$name" "$toolchain")"
    if [[ "$have" == "$name $version" || "$have" == "$name v$version" ]]; then
        return 0
    fi
    echo "cargo_tool_ensure: ${have:-no $name} here; installing $name $version from crates.io (cargo install --locked${extra[*]:+ ${extra[*]}})" >&2
    # A target directory of its own, as cargo install's default, even when
    # CARGO_TARGET_DIR or build.target-dir names the workspace's: an install in the
    # background must not hold the lock of the directory the workspace build uses.
    local target_dir status=0
    target_dir="$(mktemp -d "${TMPDIR:-/tmp}/rebound-cargo-install.XXXXXX")" || return 1
    env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
        CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
        cargo install --locked --quiet --target-dir "$target_dir" "$name@$version" "${extra[@]}" \
        || status=$?
    rm -rf "$target_dir"
    ((status == 0)) || return 1
    have="$(_cargo_tool_version "$name" "$toolchain")"
    if [[ "$have" != "$name $version" && "$have" != "$name v$version" ]]; then
        echo "cargo_tool_ensure: installed $name $version but \`$name --version\` says: ${have:-nothing}" >&2
        return 1
    fi
}

cargo_deny_ensure() {
    cargo_tool_ensure cargo-deny "$CARGO_DENY_VERSION"
}

mdbook_ensure() {
    cargo_tool_ensure mdbook "$MDBOOK_VERSION" "" --no-default-features
}

cargo_tools_start() {
    background_start cargo-tools 19 "$@"
}

cargo_tools_join() {
    local status=0
    # What it said (which tool it installed, or why it failed), as a foreground install would.
    background_join cargo-tools always || status=$?
    if ((status != 0)); then
        echo "cargo_tools: installing the pinned cargo tools failed (exit status $status; its output is above)" >&2
    fi
    ((status == 0))
}

cargo_tools_stop() {
    background_stop cargo-tools
}

fi
