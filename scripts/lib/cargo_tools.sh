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
#       (CARGO_PROFILE_RELEASE_LTO=false, CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16): the same
#       source and locked dependencies, optimised, without fat LTO and a single codegen
#       unit, which cost most of the build time and nothing a CI gate needs.
#   cargo_tool_path NAME
#       prints where cargo install puts NAME: $CARGO_INSTALL_ROOT/bin, else
#       $CARGO_HOME/bin (default ~/.cargo/bin), whether or not it is on PATH.
#
# Pinned versions, in one place:
#   cargo-deny 0.20.2  (scripts/test: licences, bans, sources, advisories) - a first
#                      install builds it from source: DENY_TIME on 2 cores (6.5 min
#                      with its own fat-LTO release profile)
#   cargo-fuzz 0.13.2  (scripts/bench --fuzz, with the nightly toolchain)
#   mdbook 0.4.52      (scripts/docs: the book in docs/), with --no-default-features (no
#                      `serve`, `watch` or `search`: a build needs none of them) - a first
#                      install builds it from source: 175 CPU-seconds, 3 min on 2 busy
#                      cores. The newest 0.4.x on crates.io (0.5.x exists; not tried).

if [[ -z "${_REBOUND_CARGO_TOOLS_SH:-}" ]]; then
_REBOUND_CARGO_TOOLS_SH=1

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
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install --locked --quiet "$name@$version" "${extra[@]}" || return 1
    have="$(_cargo_tool_version "$name" "$toolchain")"
    if [[ "$have" != "$name $version" && "$have" != "$name v$version" ]]; then
        echo "cargo_tool_ensure: installed $name $version but \`$name --version\` says: ${have:-nothing}" >&2
        return 1
    fi
}

fi
