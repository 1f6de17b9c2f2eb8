# shellcheck shell=bash
# Cargo subcommands the scripts need that no registry of Python tools carries. Sourced;
# defines:
#
#   cargo_tool_ensure NAME VERSION [TOOLCHAIN]
#       `cargo install --locked NAME@VERSION` from crates.io unless `cargo [+TOOLCHAIN]
#       <sub> --version` (sub = NAME without "cargo-") already reports "NAME VERSION".
#       Installs into cargo's own bin directory, so a machine builds each version once.
#       The tool's own release profile is overridden for the install
#       (CARGO_PROFILE_RELEASE_LTO=false, CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16): the same
#       source and locked dependencies, optimised, without fat LTO and a single codegen
#       unit, which cost most of the build time and nothing a CI gate needs.
#
# Pinned versions, in one place:
#   cargo-deny 0.20.2  (scripts/test: licences, bans, sources, advisories) - a first
#                      install builds it from source: DENY_TIME on 2 cores (6.5 min
#                      with its own fat-LTO release profile)
#   cargo-fuzz 0.13.2  (scripts/bench --fuzz, with the nightly toolchain)

if [[ -z "${_REBOUND_CARGO_TOOLS_SH:-}" ]]; then
_REBOUND_CARGO_TOOLS_SH=1

CARGO_DENY_VERSION=0.20.2
CARGO_FUZZ_VERSION=0.13.2

cargo_tool_ensure() {
    local name="$1" version="$2" toolchain="${3:-}"
    local sub="${name#cargo-}" have
    local -a cargo=(cargo)
    [[ -n "$toolchain" ]] && cargo+=("+$toolchain")
    have="$("${cargo[@]}" "$sub" --version 2>/dev/null || true)"
    if [[ "$have" == "$name $version" ]]; then
        return 0
    fi
    echo "cargo_tool_ensure: ${have:-no $name} here; installing $name $version from crates.io (cargo install --locked)" >&2
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install --locked --quiet "$name@$version" || return 1
    have="$("${cargo[@]}" "$sub" --version 2>/dev/null || true)"
    if [[ "$have" != "$name $version" ]]; then
        echo "cargo_tool_ensure: installed $name $version but \`cargo $sub --version\` says: ${have:-nothing}" >&2
        return 1
    fi
}

fi
