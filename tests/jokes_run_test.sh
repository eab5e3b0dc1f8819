#!/usr/bin/env bash
# The RLHF task end to end as a user runs it: `pelican run examples/pelican-jokes-ppo.yaml`, cut
# short. The run must make its own SFT policy and reward model (the stages run because their
# outputs are missing), train PPO against the reward model with the hidden gold rater scoring only
# the guard's probe, and write what a user reads: the reward model's held-out accuracy, gold and
# training-reward figures before and after, probe completions with both scores, a balanced ledger
# and the report. `pelican eval` on the kept checkpoint prints the same pair of scores.
# Usage: jokes_run_test.sh PELICAN SRC
source "$(dirname "$0")/lib.sh" "$@"
cfg=$src/examples/pelican-jokes-ppo.yaml
run=$tmp/run
steps=12
sets=(--set "model.policy=$tmp/sft" --set "rm.output=$tmp/rm"
      --set "reward.scorers[0].reward_model.paths=[$tmp/rm]" --set sft.steps=300
      --set rm.steps=300 --set "learner.total_steps=$steps" --set guard.eval_every_steps=4
      --set guard.action=alert)
"$pelican" run "$cfg" --run_dir "$run" "${sets[@]}" >"$tmp/run.log" 2>&1
check "pelican run exits 0" test $? -eq 0
check "the SFT and reward-model stages ran" grep -q "\[rm\] held-out pairwise accuracy" "$tmp/run.log"
check "summary: reward model, gold and reward before and after, ledger balanced" "$py" - \
  "$run" "$steps" <<'PY'
import json, sys
run, steps = sys.argv[1], int(sys.argv[2])
s = json.load(open(run + "/summary.json"))
l, e = s["ledger"], s["eval"]
print("rm:", json.dumps(s["rm"]), "eval:", json.dumps(e), "ledger:", json.dumps(l))
ok = s["finished"] and s["steps"] == steps
ok = ok and l["leased"] == l["consumed"] + sum(l["dropped"].values()) + l["in_flight"]
ok = ok and l["in_flight"] == 0
# The reward model beats chance on pairs it never saw; the gold rater scores in [0, 1].
ok = ok and s["rm"]["eval_accuracy"] > 0.6 and s["rm"]["eval_pairs"] > 50
for k in ("before", "after"):
    ok = ok and 0 <= e[k]["score"] <= 1 and "reward" in e[k]
sys.exit(0 if ok else 1)
PY
check "probes carry the gold score and the training reward" "$py" - "$run" <<'PY'
import glob, json, sys
run = sys.argv[1]
files = sorted(glob.glob(run + "/probes/*.jsonl"))
rows = [json.loads(l) for f in files for l in open(f)]
lines = [json.loads(l) for l in open(run + "/metrics.jsonl")]
probed = [j for j in lines if "gold_score" in j]
print(len(files), "probes,", len(rows), "completions;", len(probed), "metrics lines with gold")
ok = len(files) >= 3 and all("reward" in r and 0 <= r["score"] <= 1 for r in rows)
ok = ok and len(probed) >= 3 and all("probe_reward" in j for j in probed)
sys.exit(0 if ok else 1)
PY
check "report charts the probe's training reward beside its gold score" \
  grep -q "training reward of the gold probe" "$run/report.html"
kept=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["eval"]["after"]["checkpoint"])' \
  "$run/summary.json")
"$pelican" eval "$cfg" --checkpoint "$kept/policy" --run_dir "$run" "${sets[@]}" >"$tmp/eval.json" \
  2>"$tmp/eval.log"
check "pelican eval prints the gold score and the training reward" "$py" -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j)
sys.exit(0 if 0 <= j["score"] <= 1 and "reward" in j and j["examples"] > 0 else 1)' "$tmp/eval.json"
if [ $fail -ne 0 ]; then
  for f in "$tmp/run.log" "$run"/logs/*.log "$tmp/eval.log"; do echo "== $f"; tail -12 "$f"; done
fi
exit $fail
