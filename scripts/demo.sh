#!/usr/bin/env bash
# Builds memtrace, runs the leaking example docs/examples/leaky.c under `memtrace run`, and
# prints what `memtrace leaks` finds. Everything it makes goes to build/ (or $MEMTRACE_BUILD_DIR).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build="${MEMTRACE_BUILD_DIR:-build}"

bash scripts/setup.sh

# Runs a command with its output kept in a log that is shown only if it fails.
quietly() {
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "demo.sh: failed: $*" >&2
        return 1
    fi
    rm -f "$log"
}

echo "==> building memtrace in $build/"
if [[ -f "$build/meson-private/coredata.dat" ]]; then
    quietly meson setup --reconfigure "$build" || quietly meson setup --wipe "$build"
else
    quietly meson setup "$build"
fi
quietly ninja -C "$build"

demo="$build/demo"
mkdir -p "$demo"
rm -f "$demo"/leaky*.mtd
cc -g -O0 -fno-omit-frame-pointer -o "$demo/leaky" docs/examples/leaky.c

echo "==> memtrace run -- $demo/leaky"
"$build/analyzer/memtrace" run -o "$demo/leaky.mtd" -- "$demo/leaky"

echo
echo "==> memtrace leaks $demo/leaky.mtd"
"$build/analyzer/memtrace" leaks "$demo/leaky.mtd"
