#!/usr/bin/env bash
# `pelican run` learns: the arithmetic GRPO example as it ships (SFT stage first, 2 actors), with
# half its SFT steps and 40 RL steps. The run must finish with a balanced ledger, a training
# reward that rose, and a kept checkpoint that scores better on the held-out test sums than the
# SFT policy it started from.
# Usage: run_learns_test.sh PELICAN SRC
source "$(dirname "$0")/lib.sh" "$@"
run=$tmp/run
steps=40
"$pelican" run "$src/examples/arithmetic-grpo.yaml" --run_dir "$run" \
  --set "model.policy=$tmp/sft" --set sft.steps=3000 --set "learner.total_steps=$steps" \
  --set guard.eval_every_steps=10 --set task.eval_size=100 >"$tmp/run.log" 2>&1
check "pelican run exits 0" test $? -eq 0
check "finished, ledger balanced, reward up, held-out score up" "$py" - "$run" "$steps" <<'PY'
import json, sys
run, steps = sys.argv[1], int(sys.argv[2])
s = json.load(open(run + "/summary.json"))
rewards = [json.loads(l)["reward_mean"] for l in open(run + "/metrics.jsonl")]
l = s["ledger"]
first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
before, after = s["eval"]["before"]["score"], s["eval"]["after"]["score"]
print(f"reward: first 10 steps {first:.3f}, last 10 {last:.3f}; held-out {before:.3f} -> {after:.3f};",
      "ledger:", json.dumps(l))
ok = s["finished"] and s["steps"] == steps and len(rewards) == steps
ok = ok and l["leased"] == l["consumed"] + sum(l["dropped"].values()) + l["in_flight"]
ok = ok and l["in_flight"] == 0
ok = ok and last >= first + 0.05 and after >= before + 0.1
sys.exit(0 if ok else 1)
PY
if [ $fail -ne 0 ]; then
  for f in "$tmp/run.log" "$run"/logs/*.log; do echo "== $f"; tail -12 "$f"; done
fi
exit $fail
