#!/usr/bin/env bash
# Behaviour of the r1serve-tokenize command line that scripts rely on: one output line per
# input line, bad lines reported in place with their line number, exit status 1 only for
# unusable arguments or files. Token values themselves are the conformance tests' business.
#   tokenize_cli_test.sh path/to/r1serve-tokenize path/to/tokenizer.json
set -uo pipefail
tool="$1"
tokenizer="$2"
if [ ! -f "$tokenizer" ]; then
  echo "SKIP: $tokenizer missing (run scripts/setup.sh to install the npm peers)"
  exit 77
fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Encode: a bad line in the middle must not stop the lines after it.
out="$(printf '"a b"\nnot json\n42\n"\\ud800"\n"c"\n' | "$tool" --tokenizer "$tokenizer")"
[ "$?" -eq 0 ] || fail "encode with bad lines should exit 0"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 5 ] || fail "encode: expected 5 output lines, got: $out"
for n in 2 3 4; do
  printf '%s\n' "$out" | sed -n "${n}p" | grep -q "^{\"error\":\"line $n: " ||
    fail "encode: line $n should be an error naming line $n: $out"
done
printf '%s\n' "$out" | sed -n 1p | grep -q '^{"ids":\[[0-9,]*\]}$' || fail "encode line 1: $out"
printf '%s\n' "$out" | sed -n 5p | grep -q '^{"ids":\[[0-9,]*\]}$' || fail "encode line 5: $out"

# A round trip through --decode gives the text back.
round="$(printf '"Hello, world! 3.14"\n' | "$tool" --tokenizer "$tokenizer" |
  "$tool" --tokenizer "$tokenizer" --decode)"
[ "$round" = '"Hello, world! 3.14"' ] || fail "round trip gave: $round"

# Decode: bad lines (not an object, no ids, out-of-range id) are reported in place.
out="$(printf '{"ids":[]}\n[1]\n{"x":1}\n{"ids":[-5]}\n{"ids":[1e3]}\n{"ids":[99999999]}\n' |
  "$tool" --tokenizer "$tokenizer" --decode --skip_special_tokens)"
[ "$?" -eq 0 ] || fail "decode with bad lines should exit 0"
[ "$(printf '%s\n' "$out" | sed -n 1p)" = '""' ] || fail "decode of [] should be \"\": $out"
for n in 2 3 4 5 6; do
  printf '%s\n' "$out" | sed -n "${n}p" | grep -q "^{\"error\":\"line $n: " ||
    fail "decode: line $n should be an error naming line $n: $out"
done

# Bench mode reports timing on stderr and still writes the ids.
report="$(printf '"x y z"\n"q"\n' | "$tool" --tokenizer "$tokenizer" --bench_json \
  --bench_runs 2 2>&1 >/dev/null)"
printf '%s' "$report" | grep -q '"bench":"encode","lines":2,' || fail "bench report: $report"

# Unusable arguments and files: exit 1 with a message on stderr.
expect_usage_error() {
  local err
  err="$("$tool" "$@" </dev/null 2>&1 >/dev/null)"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "'$*' should exit 1, got $rc"
  [ -n "$err" ] || fail "'$*' should explain itself on stderr"
}
expect_usage_error
expect_usage_error --tokenizer /nonexistent/tokenizer.json
expect_usage_error --tokenizer "$tokenizer" --decode --add_special_tokens
expect_usage_error --tokenizer "$tokenizer" --skip_special_tokens
expect_usage_error --tokenizer "$tokenizer" --bench_json --bench_runs 0
expect_usage_error --tokenizer "$tokenizer" stray_argument
expect_usage_error --tokenizer "$tokenizer" --no_such_flag

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
