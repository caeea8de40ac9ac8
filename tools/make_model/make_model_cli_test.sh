#!/usr/bin/env bash
# r1serve-make-model end to end: tiny models in both formats with the real DeepSeek tokenizer,
# byte-identical on a second run, loadable (--inspect), and clear failures for bad flags.
# Usage: make_model_cli_test.sh path/to/r1serve-make-model path/to/tokenizer-folder
# Exit 77 (skipped) when the tokenizer folder (npm test peers) is missing.
set -euo pipefail
tool="$1"
tokenizer="$2"
[[ -f "$tokenizer/tokenizer.json" ]] || { echo "skipped: no tokenizer at $tokenizer"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

flags=(--arch llama3 --hidden 64 --layers 2 --heads 4 --kv_heads 2 --intermediate 96
       --dtype q8_0 --format both --tokenizer "$tokenizer" --shard_mb 1 --seed 9)
"$tool" "${flags[@]}" --out "$work/a" > "$work/a.json"
"$tool" "${flags[@]}" --threads 1 --out "$work/b" > "$work/b.json"
cmp "$work/a.gguf" "$work/b.gguf" || fail "GGUF differs between identical runs"
for f in "$work"/a/*; do
  cmp "$f" "$work/b/$(basename "$f")" || fail "$(basename "$f") differs between identical runs"
done
[[ -f "$work/a/model.safetensors.index.json" ]] || fail "expected shards with --shard_mb 1"
grep -q '"fingerprints":{"gguf":"[0-9a-f]\{64\}","hf":"[0-9a-f]\{64\}"}' "$work/a.json" || fail "report: $(cat "$work/a.json")"
grep -q '"content": "<think>"' "$work/a/tokenizer.json" || fail "tokenizer.json lacks R1's <think>"

"$tool" --inspect "$work/a.gguf" > "$work/inspect.json"
grep -q '"architecture":"llama3"' "$work/inspect.json" || fail "inspect: $(cat "$work/inspect.json")"
grep -q '"rope_scaling":"llama3"' "$work/inspect.json" || fail "inspect: $(cat "$work/inspect.json")"
grep -q '"vocab_size":128815' "$work/inspect.json" || fail "inspect: $(cat "$work/inspect.json")"

"$tool" --tokenizer none --vocab 100 --format hf --dtype f32 --out "$work/plain" > /dev/null
[[ ! -f "$work/plain/tokenizer.json" ]] || fail "--tokenizer none wrote a tokenizer"

expect_error() {
  local pattern="$1"; shift
  if "$tool" "$@" > /dev/null 2> "$work/err"; then fail "accepted: $*"; fi
  grep -q -- "$pattern" "$work/err" || fail "for $*: expected '$pattern', got: $(cat "$work/err")"
}
expect_error "q8_0 exists only in GGUF" --dtype q8_0 --format hf --tokenizer none --vocab 64 --out "$work/x"
expect_error "use qwen2 or llama3" --arch mistral --out "$work/x"
expect_error "multiple of num_kv_heads" --heads 4 --kv_heads 3 --tokenizer none --vocab 64 --out "$work/x"
expect_error "smaller than the tokenizer" --vocab 1000 --tokenizer "$tokenizer" --out "$work/x"
expect_error "--out is required" --tokenizer none --vocab 64
echo "make_model_cli_test: 1 passed, 0 failed"
