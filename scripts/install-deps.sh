#!/usr/bin/env bash
# Installs everything pelican needs to build and test on Debian 12. Idempotent: what is already
# present is skipped, so a second run takes a few seconds.
#   - Debian packages from apt (compilers, gRPC, protobuf, Prometheus, Slurm, ...).
#   - One Python virtual environment with every package pinned by hash in scripts/requirements.lock:
#     the torch wheel, whose LibTorch (CUDA build) pelican compiles and links against, and the
#     Hugging Face libraries the tests use as references (transformers, tokenizers, peft, trl).
#     It lives outside the checkout, in $PELICAN_VENV_ROOT (default ~/.cache/pelican), in a folder
#     named by the hash of the lock and the Python version, so every clone on the machine (CI's
#     fresh ones too) reuses it instead of downloading gigabytes again. The checkout's .venv is a
#     link to it; CMake finds LibTorch through it.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libpcre2-dev libicu-dev libgloo-dev libcli11-dev libssl-dev
  openssl python3 python3-venv python3-grpcio python3-protobuf python3-grpc-tools
  prometheus shellcheck curl
  slurm-wlm munge
)

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

# The virtual environment. PELICAN_PYTHON picks the interpreter (default: python3 on PATH).
python=${PELICAN_PYTHON:-python3}
lock=scripts/requirements.lock
key=$({ cat "$lock"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
root=${PELICAN_VENV_ROOT:-$HOME/.cache/pelican}
venv=$root/venv-$key
if [ ! -f "$venv/.pelican-complete" ]; then
  echo "install-deps: creating $venv from $lock (the torch wheel and its CUDA libraries: ~6 GB)"
  rm -rf "$venv"
  mkdir -p "$root"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
    -r "$lock"
  "$venv/bin/python" -c 'import torch, transformers, tokenizers, peft, trl, safetensors'
  touch "$venv/.pelican-complete"
fi
[ "$(readlink .venv 2>/dev/null)" = "$venv" ] || ln -sfn "$venv" .venv
echo "install-deps: ok (Python packages in $venv, linked from .venv)"
