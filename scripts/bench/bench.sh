#!/usr/bin/env bash
# Overhead benchmark of memtrace against native runs and heaptrack. See docs/performance.md.
#
#   bash scripts/bench/bench.sh [--quick] [--reps N] [--only churn,sqlite3] [--no-micro]
#                               [--no-analyzers] [--memtrace-env VAR=VALUE] [--keep-temp]
#                               [--sample-bytes N] [--no-sampled]
#                               [--build-dir DIR] [--out DIR]
#
# Installs the Debian packages it needs if they are missing (as root), builds memtrace in a
# release build directory (default build-bench), compiles the workload programs with the system
# gcc -O2, then hands over to bench.py, which runs and reports.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command_line="bash scripts/bench/bench.sh${*:+ $*}"
build_dir="$root/build-bench"
out_dir=""
quick=""
pass=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) build_dir="$(realpath -m "$2")"; shift 2 ;;
        --out) out_dir="$(realpath -m "$2")"; shift 2 ;;
        --quick) quick="-quick"; pass+=("$1"); shift ;;
        --reps|--only|--memtrace-env|--tmp-root|--sample-bytes) pass+=("$1" "$2"); shift 2 ;;
        --no-micro|--no-analyzers|--keep-temp|--no-sampled) pass+=("$1"); shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
out_dir="${out_dir:-$build_dir/bench-results/$(date +%Y%m%d-%H%M%S)$quick}"

# --- packages: heaptrack to compare with, sqlite3 and libstb-dev (the gcc workload's source)
# for workloads, time for by-hand checks, zstd so heaptrack compresses as it usually does.
need=()
for pkg in heaptrack sqlite3 libstb-dev time zstd gcc g++ meson ninja-build; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        need+=("$pkg")
    fi
done
if [[ ${#need[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "bench.sh: missing packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "== installing ${need[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; then
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
    fi
fi

# --- memtrace, release build. Tests are not needed here and only cost build time.
echo "== building memtrace in $build_dir (release)"
if [[ ! -f "$build_dir/build.ninja" ]]; then
    if ! meson setup "$build_dir" "$root" -Dbuildtype=release -Dtests=disabled >/dev/null; then
        echo "bench.sh: meson setup failed (scripts/setup.sh installs the dependencies)" >&2
        exit 1
    fi
else
    meson configure "$build_dir" -Dbuildtype=release -Dtests=disabled >/dev/null
fi
ninja -C "$build_dir" preload/libmemtrace.so >/dev/null ||
    { echo "bench.sh: building libmemtrace.so failed" >&2; exit 1; }
analyzer_args=()
if ninja -C "$build_dir" analyzer/memtrace >/dev/null 2>&1; then
    analyzer_args=(--analyzer "$build_dir/analyzer/memtrace")
else
    echo "bench.sh: warning: the memtrace analyzer did not build; its timing is skipped" >&2
fi

# --- workload programs and tools, as an ordinary distribution build would compile them.
bin="$out_dir/bin"
mkdir -p "$bin"
echo "== compiling workloads into $bin"
w="$here/workloads"
t="$here/tools"
cflags=(-O2 -g -Wall -Wextra)
gcc "${cflags[@]}" -pthread "$w/churn.c" -o "$bin/churn"
gcc "${cflags[@]}" "$w/growing_heap.c" -o "$bin/growing_heap"
g++ "${cflags[@]}" -std=c++17 "$w/containers.cpp" -o "$bin/containers"
gcc "${cflags[@]}" -pthread "$w/micro_pairs.c" -o "$bin/micro_pairs"
gcc "${cflags[@]}" "$t/runstat.c" -o "$bin/runstat"
gcc "${cflags[@]}" -shared -fPIC -fvisibility=hidden "$t/count_events.c" -o "$bin/count_events.so"

# The system interpreter on purpose: the python3 on PATH may be a pyenv shim.
exec /usr/bin/python3 "$here/bench.py" --bin-dir "$bin" \
    --preload "$build_dir/preload/libmemtrace.so" "${analyzer_args[@]}" \
    --out "$out_dir" --command "$command_line" "${pass[@]}"
