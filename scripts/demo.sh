#!/usr/bin/env bash
# The main job: installs what is missing, builds, then runs the built-in arithmetic task end to
# end on this machine with `pelican run` (SFT, then a reward service, a learner and two actors
# training with GRPO), and prints where the summary and the report are.
# Environment: PELICAN_BUILD_DIR (default build), PELICAN_DEMO_DIR (default runs/demo).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${PELICAN_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target pelican

dir=${PELICAN_DEMO_DIR:-runs/demo}
rm -rf "$dir/arithmetic-grpo"
echo "== arithmetic (verifiable reward), GRPO: SFT, then RL with 2 actors"
"$build/cli/pelican" run examples/arithmetic-grpo.yaml --run_dir "$dir/arithmetic-grpo" \
  --set "model.policy=$dir/arithmetic-grpo/sft" "$@"
echo "== done: $dir/arithmetic-grpo/summary.json and $dir/arithmetic-grpo/report.html"
