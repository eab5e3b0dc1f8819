#!/usr/bin/env bash
# The main job: installs what is missing, builds, then tells pelican's story on this machine's CPU
# with `pelican run` on the two built-in tasks:
#   1. arithmetic (verifiable reward): SFT on imperfect demonstrations, then GRPO against an exact
#      answer verifier lifts held-out accuracy;
#   2. pelican-jokes (RLHF): SFT, a reward model learned from preference pairs, then PPO against
#      it; the reward-hacking guard sees the policy start to game the reward model, stops the run,
#      keeps the best checkpoint and harvests the gamed samples.
# Each prints its progress; the end lists the figures and where the reports are.
# Environment: PELICAN_BUILD_DIR (default build), PELICAN_DEMO_DIR (default runs/demo). Extra
# arguments go to both runs (e.g. --set actors.count=3).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# ccache hashes the working directory of -g compiles unless told not to: without this a fresh clone
# (CI's) would miss every entry an earlier clone stored.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
build=${PELICAN_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target pelican
pelican=$build/cli/pelican
dir=${PELICAN_DEMO_DIR:-runs/demo}
start=$(date +%s)

echo
echo "== 1/2 arithmetic, GRPO: SFT on demonstrations that mostly forget the carry, then RL"
rm -rf "$dir/arithmetic-grpo"
"$pelican" run examples/arithmetic-grpo.yaml --run_dir "$dir/arithmetic-grpo" \
  --set "model.policy=$dir/arithmetic-grpo/sft" "$@"

echo
echo "== 2/2 pelican-jokes, PPO against a learned reward model, watched by the guard"
rm -rf "$dir/pelican-jokes-ppo"
"$pelican" run examples/pelican-jokes-ppo.yaml --run_dir "$dir/pelican-jokes-ppo" \
  --set "model.policy=$dir/pelican-jokes-ppo/sft" --set "rm.output=$dir/pelican-jokes-ppo/rm" \
  --set "reward.scorers[0].reward_model.paths=[$dir/pelican-jokes-ppo/rm]" "$@"

echo
echo "== what happened ($(($(date +%s) - start)) s after the build)"
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
a = json.load(open(f"{d}/arithmetic-grpo/summary.json"))
print(f"arithmetic: held-out exact match {a['eval']['before']['score']:.3f} after SFT -> "
      f"{a['eval']['after']['score']:.3f} after GRPO")
j = json.load(open(f"{d}/pelican-jokes-ppo/summary.json"))
g = j["guard"]
print(f"pelican-jokes: reward model held-out pairwise accuracy {j['rm']['eval_accuracy']:.3f}; "
      f"gold score {j['eval']['before']['score']:.3f} after SFT -> {j['eval']['after']['score']:.3f} "
      f"for the kept checkpoint (best gold on the probe {g.get('best_score', 0):.3f} at step "
      f"{g.get('best_step', 0)})")
if g["tripped"]:
    print(f"  the guard tripped at step {g['step']}: {g['reason']} -> {g['action']}")
try:
    gamed = [json.loads(l) for l in open(f"{d}/pelican-jokes-ppo/harvest.jsonl")]
except FileNotFoundError:
    gamed = []
if gamed:
    print(f"  {len(gamed)} completions the reward model liked and the gold rater did not "
          f"(harvest.jsonl), e.g.:")
    seen = set()
    for s in sorted(gamed, key=lambda s: s["gold"] - s["reward"]):
        if s["completion"] in seen or len(seen) == 4:
            continue
        seen.add(s["completion"])
        print(f"    {s['prompt']}{s['completion']!r}   reward model {s['reward']:.2f}, gold {s['gold']:.2f}")
PY
echo "reports: $dir/arithmetic-grpo/report.html  $dir/pelican-jokes-ppo/report.html"
