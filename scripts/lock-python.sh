#!/usr/bin/env bash
# Regenerates scripts/requirements.lock (exact versions and hashes of every package, for Linux
# x86_64 and Python 3.11) from scripts/requirements.in. Run after editing requirements.in, then
# scripts/install-deps.sh builds the new environment beside the old one.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${PELICAN_VENV_ROOT:-$HOME/.cache/pelican}/lock-tools
[ -x "$tools/bin/uv" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install -q uv; }
"$tools/bin/uv" pip compile scripts/requirements.in --generate-hashes --no-header \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o scripts/requirements.lock
