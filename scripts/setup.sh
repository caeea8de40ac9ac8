#!/usr/bin/env bash
# Installs everything r1serve needs on Debian 12, idempotently: Debian packages (as root, or
# through sudo) and the npm test peers. Quiet when everything is already there.
#
#   scripts/setup.sh            # packages + npm peers
#   R1SERVE_SKIP_NPM=1 scripts/setup.sh   # packages only
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev grpc-proto
  libabsl-dev prometheus-cpp-dev nlohmann-json3-dev libpcre2-dev libicu-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgmp-dev python3 util-linux
  curl ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# npm peers: reinstall only when the lock file changed since the last install.
if [ "${R1SERVE_SKIP_NPM:-0}" != 1 ]; then
  peers="$root/tests/peers"
  stamp="$peers/node_modules/.r1serve-lock.sha"
  want="$(sha256sum "$peers/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing npm test peers" >&2
    (cd "$peers" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
  fi
fi
