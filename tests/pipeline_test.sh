#!/usr/bin/env bash
# The roles as separate processes on loopback, as a cluster runs them: SFT makes a policy, then a
# reward service, a learner and two actors train it with GRPO on the arithmetic task. One actor
# is killed with SIGKILL mid-run and a new one joins. Checks: the run finishes, nothing is counted
# twice, the ledger balances, and a learner killed with SIGKILL resumes from its
# checkpoint. Usage: pipeline_test.sh PELICAN SRC
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh" "$@"

cfg=$src/examples/arithmetic-grpo.yaml
run=$tmp/run
common=(--set "run.dir=$run" --set "model.policy=$tmp/sft" --set learner.total_steps=16
        --set learner.prompts_per_step=8 --set learner.checkpoint.every_steps=5
        --set learner.lease_timeout_s=3 --set actors.prompts_per_batch=4)

"$pelican" sft "$cfg" "${common[@]}" --set sft.steps=60 >"$tmp/sft.json" 2>"$tmp/sft.log"
check "sft writes a policy" test -f "$tmp/sft/model.safetensors" -a -f "$tmp/sft/tokenizer.json"
check "sft loss falls" "$py" -c "import json,sys; r=json.load(open('$tmp/sft.json')); sys.exit(0 if r['last_loss'] < r['first_loss'] else 1)"

rport=$(free_port); lport=$(free_port)
"$pelican" reward "$cfg" "${common[@]}" --listen "127.0.0.1:$rport" --metrics_listen 127.0.0.1:0 \
  >"$tmp/reward.log" 2>&1 &
pids+=($!)
start_learner() {
  "$pelican" learner "$cfg" "${common[@]}" --listen "127.0.0.1:$lport" --metrics_listen 127.0.0.1:0 \
    >>"$tmp/learner.log" 2>&1 &
  learner=$!
  pids+=($learner)
}
start_actor() {
  "$pelican" actor "$cfg" "${common[@]}" --learner "127.0.0.1:$lport" --reward "127.0.0.1:$rport" \
    --name "actor$1" >"$tmp/actor$1.log" 2>&1 &
  pids+=($!)
  eval "actor$1=$!"
}
start_learner
wait_for "$tmp/reward.log" "serving on" 30
start_actor 1
start_actor 2
# Kill actor 1 mid-run, after a few steps, and let a new one join.
wait_for "$tmp/learner.log" "step 3/16" 120
kill -9 $actor1
start_actor 3
# Kill the learner right after a checkpoint; restart it on the same run directory.
wait_for "$tmp/learner.log" "checkpoint .*step-00000005" 120
kill -9 $learner
wait $learner 2>/dev/null
start_learner
wait_for "$tmp/learner.log" "resuming from .*step-00000005" 60
wait $learner
rc=$?
check "learner exits 0" test $rc -eq 0
check "summary says finished" "$py" - "$run/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
l = s["ledger"]
dropped = sum(l["dropped"].values())
print("summary:", json.dumps(s))
ok = s["finished"] and s["steps"] == 16 and l["leased"] == l["consumed"] + dropped + l["in_flight"]
ok = ok and l["consumed"] == 16 * 8
sys.exit(0 if ok else 1)
PY
check "metrics.jsonl has each step once" "$py" - "$run/metrics.jsonl" <<'PY'
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1])]
print("steps:", steps)
sys.exit(0 if steps == list(range(1, 17)) else 1)
PY
# Reported, not asserted: 16 steps of GRPO on this task do not reliably raise the reward yet.
"$py" - "$run/metrics.jsonl" <<'PY'
import json, sys
r = [json.loads(l)["reward_mean"] for l in open(sys.argv[1])]
print(f"reward: first 4 steps {sum(r[:4]) / 4:.3f}, last 4 steps {sum(r[-4:]) / 4:.3f}")
PY
check "checkpoint is an HF dir" test -f "$(ls -d $run/checkpoints/step-* | tail -1)/policy/config.json"
for a in 2 3; do
  for _ in $(seq 100); do kill -0 $(eval echo \$actor$a) 2>/dev/null || break; sleep 0.1; done
  check "actor$a exits when the run is done" grep -q "the learner finished the run" "$tmp/actor$a.log"
done
if [ $fail -ne 0 ]; then
  for f in "$tmp"/*.log; do echo "== $f"; tail -15 "$f"; done
fi
exit $fail
