#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test (CTest). The one command CI
# runs (.ci/run). Environment: PELICAN_BUILD_DIR (default build), PELICAN_TEST_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/install-deps.sh
# ccache hashes the working directory of -g compiles unless told not to: without this a fresh clone
# (CI's) would miss every entry an earlier clone stored.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

build=${PELICAN_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPELICAN_BUILD_TESTS=ON
cmake --build "$build" -j "$(nproc)"
built=$(date +%s)
echo "test.sh: build took $((built - start)) s"

cd "$build"
# Tests run side by side, so each process takes one intra-op thread (roles at threads 0 read
# OMP_NUM_THREADS); more OpenMP threads than free cores stall every parallel region.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} ctest --output-on-failure -j "${PELICAN_TEST_JOBS:-2}" --timeout 900
echo "test.sh: tests took $(($(date +%s) - built)) s (total $(($(date +%s) - start)) s)"
