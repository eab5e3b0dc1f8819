#!/usr/bin/env bash
# The guard's actions in a real `pelican run`: guard.min_entropy far above any real entropy makes
# the guard trip at the first step it watches, so each configured action is seen doing its work.
#   stop      the run ends at step 1, not finished, with the best checkpoint (step 0) kept
#   rollback  every trip restores the step-0 checkpoint and publishes it as a new version; the
#             run still trains every step
#   raise_kl  every trip doubles the KL coefficient
# Usage: guard_actions_test.sh PELICAN SRC
source "$(dirname "$0")/lib.sh" "$@"
cfg=$src/examples/arithmetic-grpo.yaml
steps=4
sets=(--set "model.policy=$tmp/sft" --set sft.steps=100 --set "learner.total_steps=$steps"
      --set learner.prompts_per_step=4 --set actors.prompts_per_batch=4 --set actors.count=1
      --set task.eval_size=20 --set guard.eval_every_steps=2 --set guard.min_entropy=100)
go() {  # go NAME EXTRA_SET...: one run in $tmp/NAME
  local name=$1; shift
  "$pelican" run "$cfg" --run_dir "$tmp/$name" "${sets[@]}" "$@" >"$tmp/$name.log" 2>&1
  check "$name: pelican run exits 0" test $? -eq 0 || tail -20 "$tmp/$name.log"
}
summary() {  # summary NAME PYTHON_EXPRESSION_OVER_s
  "$py" -c "import json,sys; s=json.load(open(sys.argv[1])); print(json.dumps(s['guard'])); sys.exit(0 if ($2) else 1)" \
    "$tmp/$1/summary.json"
}

go stop --set guard.action=stop
check "stop: tripped on entropy at step 1, run not finished, step 0 kept" summary stop \
  's["guard"]["tripped"] and s["guard"]["reason"] == "entropy" and s["guard"]["step"] == 1 and not s["finished"] and s["steps"] == 1 and s["guard"]["kept_checkpoint"].endswith("step-00000000")'
check "stop: the kept checkpoint was evaluated" summary stop \
  's["eval"]["after"]["checkpoint"].endswith("step-00000000")'

go rollback --set guard.action=rollback
check "rollback: every step trained, one rollback per trip" summary rollback \
  's["finished"] and s["steps"] == '$steps' and s["guard"]["rollbacks"] == s["guard"]["trips"] == '$steps
check "rollback: each rollback published a new version" summary rollback \
  's["policy_version"] == 2 * '$steps' + 1'
check "rollback: the learner restored the step-0 checkpoint" \
  grep -q "rolled back to .*step-00000000" "$tmp/rollback/logs/learner.log"

go raise_kl --set guard.action=raise_kl --set learner.kl.coef=0.01
check "raise_kl: the KL coefficient doubled at every trip" "$py" -c '
import json, sys
c = [json.loads(l)["kl_coef"] for l in open(sys.argv[1])]
print("kl_coef by step:", c)
sys.exit(0 if all(abs(b - 2 * a) < 1e-12 for a, b in zip(c, c[1:])) and c[-1] > c[0] else 1)' \
  "$tmp/raise_kl/metrics.jsonl"
exit $fail
