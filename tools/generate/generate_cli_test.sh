#!/usr/bin/env bash
# r1serve-generate end to end on a tiny model with the real DeepSeek tokenizer: chat and raw
# prompts, the same greedy tokens from the folder and the GGUF file, --json lines and summary,
# --n samples, repeated --stop, and clear failures for bad flags.
# Usage: generate_cli_test.sh path/to/r1serve-generate path/to/r1serve-make-model tokenizer-folder
# Exit 77 (skipped) when the tokenizer folder (npm test peers) is missing.
set -euo pipefail
tool="$1"
make_model="$2"
tokenizer="$3"
[[ -f "$tokenizer/tokenizer.json" ]] || { echo "skipped: no tokenizer at $tokenizer"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$make_model" --arch qwen2 --hidden 32 --layers 2 --heads 4 --kv_heads 2 --intermediate 64 \
  --dtype f16 --format both --tie_embeddings --output_scale 16 --tokenizer "$tokenizer" \
  --threads 2 --out "$work/m" > /dev/null
common=(--temperature 0 --max_tokens 12 --ignore_eos --threads 2 --kv_cache_mb 16)

"$tool" --model "$work/m" --chat "What is 2+2?" "${common[@]}" > "$work/chat.txt" 2> "$work/chat.err"
[[ -s "$work/chat.txt" ]] || fail "no text for --chat"
grep -q "prompt [0-9]* tokens, generated 12;" "$work/chat.err" || fail "stats: $(cat "$work/chat.err")"

# The same model as a folder and as GGUF (tokenizer rebuilt from its metadata): same tokens.
for m in "$work/m" "$work/m.gguf"; do
  "$tool" --model "$m" --prompt "Once upon a time" "${common[@]}" --json --logprobs 2 > "$work/$(basename "$m").jsonl"
done
diff <(jq -c 'select(.id != null) | [.id, .text]' "$work/m.jsonl") \
     <(jq -c 'select(.id != null) | [.id, .text]' "$work/m.gguf.jsonl") || fail "folder and GGUF differ"
[[ "$(jq -s '[.[] | select(.id != null)] | length' "$work/m.jsonl")" == 12 ]] || fail "expected 12 token lines"
[[ "$(jq -s '[.[] | select(.id != null) | .top_logprobs | length] | unique' -c "$work/m.jsonl")" == "[2]" ]] ||
  fail "top_logprobs: $(head -2 "$work/m.jsonl")"
jq -e 'select(.summary) | .prompt_tokens > 0 and .generated_tokens == 12 and .decode_tokens_per_s > 0
       and .finish_reasons == ["length"]' "$work/m.jsonl" > /dev/null || fail "summary: $(tail -1 "$work/m.jsonl")"

# --prompt_ids go in as they are.
"$tool" --model "$work/m.gguf" --prompt_ids 0,100,200 "${common[@]}" --json > "$work/ids.jsonl"
jq -e 'select(.summary) | .prompt_tokens == 3' "$work/ids.jsonl" > /dev/null || fail "prompt_ids"

# Several samples, seeded; several stop strings.
"$tool" --model "$work/m" --chat "hi" --n 3 --seed 5 --temperature 1 --max_tokens 8 --threads 2 \
  --kv_cache_mb 16 --stop "zzz" --stop "\n\n" > "$work/n.txt" 2>/dev/null
[[ "$(grep -c '^--- sample [0-2] (' "$work/n.txt")" == 3 ]] || fail "--n 3: $(cat "$work/n.txt")"

expect_error() {
  local pattern="$1"; shift
  if "$tool" "$@" > /dev/null 2> "$work/err"; then fail "accepted: $*"; fi
  grep -q -- "$pattern" "$work/err" || fail "for $*: expected '$pattern', got: $(cat "$work/err")"
}
expect_error "--model is required" --prompt hi
expect_error "exactly one of" --model "$work/m" --prompt hi --chat hi
expect_error "temperature" --model "$work/m" --prompt hi --temperature -1
expect_error "outside the vocabulary" --model "$work/m" --prompt_ids 1,99999999
expect_error "kv_dtype" --model "$work/m" --prompt hi --kv_dtype q4
expect_error "no room to generate" --model "$work/m" --prompt_ids 1,2,3,4,5 --max_model_len 4
echo ok
