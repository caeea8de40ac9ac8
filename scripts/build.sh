#!/usr/bin/env bash
# Configures (once) and builds r1serve into build/, every executable in build/bin/.
#   scripts/build.sh [ninja targets...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
build="$root/build"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
jobs="${R1SERVE_JOBS:-$(nproc)}"
ninja -C "$build" -j "$jobs" --quiet "$@"
