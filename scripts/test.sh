#!/usr/bin/env bash
# Builds memtrace and runs every test suite; then builds it again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the unit, bad-input and integration suites there.
# Exits non-zero on any failure. Build directories: build/ and build-sanitize/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# configure DIR [meson options...]: a fresh build directory, or the existing one reconfigured.
configure() {
    local dir="$1"
    shift
    if [[ -f "$dir/meson-private/coredata.dat" ]]; then
        meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# The suites among $@ that the build directory $1 defines (meson test fails on unknown ones).
existing_suites() {
    local dir="$1"
    shift
    local defined
    defined="$(meson test -C "$dir" --list 2>/dev/null | sed -n 's/^[^:]*:\([^ ]*\) \/ .*/\1/p' |
        sort -u)"
    local suite
    for suite in "$@"; do
        if grep -qx -- "$suite" <<<"$defined"; then echo "$suite"; fi
    done
}

section() {
    printf '\n==> %s  [%dm%02ds]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60))
}

section "setup"
bash scripts/setup.sh

section "build (debugoptimized)"
configure build
ninja -C build

section "tests: all suites"
meson test -C build --print-errorlogs

section "build with -Db_sanitize=address,undefined"
# Unoptimized: it compiles faster, and the sanitizers report more precisely.
configure build-sanitize -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
ninja -C build-sanitize

section "tests under sanitizers"
mapfile -t suites < <(existing_suites build-sanitize unit bad-input integration)
suite_args=()
for suite in "${suites[@]}"; do suite_args+=(--suite "$suite"); done
if ((${#suite_args[@]} == 0)); then
    echo "test.sh: no unit, bad-input or integration suite is defined" >&2
    exit 1
fi
# UBSan only reports by default; make it fail the test. ASan already aborts on errors.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
    meson test -C build-sanitize --print-errorlogs "${suite_args[@]}"

section "all tests passed"
