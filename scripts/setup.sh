#!/usr/bin/env bash
# Installs the Debian packages memtrace needs to build and test it, and only those missing.
# Quick and silent when everything is there; runs `apt-get update` once when something is not.
# Works as root, or through sudo.
set -euo pipefail

required=(
    build-essential g++ pkg-config meson ninja-build
    libunwind-dev      # the nongnu libunwind; apt removes LLVM's libunwind-14-dev, which conflicts
    libspdlog-dev nlohmann-json3-dev libdw-dev libcli11-dev libgtest-dev
    libzstd-dev        # compacted dumps
    libdeflate-dev     # the symbolizer's inflating of compressed debug sections
    libc6-dev          # static libc, for the test that memtrace refuses static binaries
)
optional=(clang)

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing_among() {
    local package
    for package in "$@"; do
        is_installed "$package" || echo "$package"
    done
}

mapfile -t missing_required < <(missing_among "${required[@]}")
mapfile -t missing_optional < <(missing_among "${optional[@]}")
if ((${#missing_required[@]} == 0 && ${#missing_optional[@]} == 0)); then
    exit 0
fi

if ((EUID == 0)); then
    as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env)
else
    echo "setup.sh: missing packages: ${missing_required[*]} ${missing_optional[*]}" >&2
    echo "setup.sh: run as root (or install sudo) to install them" >&2
    exit 1
fi
apt_get=("${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get -y -q
         -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "setup.sh: installing ${missing_required[*]} ${missing_optional[*]}" >&2
"${apt_get[@]}" update
if ((${#missing_required[@]} > 0)); then
    "${apt_get[@]}" install --no-install-recommends "${missing_required[@]}"
fi
if ((${#missing_optional[@]} > 0)); then
    "${apt_get[@]}" install --no-install-recommends "${missing_optional[@]}" ||
        echo "setup.sh: could not install optional ${missing_optional[*]}; continuing" >&2
fi

mapfile -t still_missing < <(missing_among "${required[@]}")
if ((${#still_missing[@]} > 0)); then
    echo "setup.sh: still missing after apt-get: ${still_missing[*]}" >&2
    exit 1
fi
