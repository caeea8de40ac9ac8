#!/usr/bin/env bash
# Builds r1serve-tokenize and runs the tokenizer encode benchmark (bench/tokenizer_bench.js):
# r1serve vs HF tokenizers vs tiktoken, one thread, on the math texts and the mixed corpus.
#
#   bench/run_tokenizer_bench.sh                  # 5 timed runs per measurement
#   R1SERVE_BENCH_RUNS=9 bench/run_tokenizer_bench.sh
#   R1SERVE_BUILD_DIR=build-rel bench/run_tokenizer_bench.sh
#
# Same as `ninja -C build bench_tokenizer`. For stable numbers run it on an idle machine: every
# engine is single-threaded, but a busy second core still disturbs caches and frequency.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${R1SERVE_BUILD_DIR:-$root/build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac

if [ ! -d "$root/tests/peers/node_modules/@anush008/tokenizers" ]; then
  "$root/scripts/setup.sh"
fi
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" -j "${R1SERVE_JOBS:-2}" --quiet r1serve-tokenize

exec node "$root/bench/tokenizer_bench.js" \
  --tool "$build/bin/r1serve-tokenize" \
  --math_dir "$root/../shared/data/math" \
  --peers "$root/tests/peers/node_modules" \
  --work_dir "$build/bench/tokenizer" \
  --runs "${R1SERVE_BENCH_RUNS:-5}"
