#!/usr/bin/env bash
# Runs the whole r1serve test suite: installs what is missing, builds, runs every test
# (unit, conformance against real peers, end-to-end over gRPC) with CTest.
#   scripts/test.sh                  # everything
#   scripts/test.sh -L unit          # extra arguments go to ctest
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "${R1SERVE_TEST_JOBS:-2}" "$@"
