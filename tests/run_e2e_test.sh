#!/usr/bin/env bash
# `pelican run` end to end as a user runs it, on a short arithmetic GRPO config with two actors:
# mid-run one actor is killed with SIGKILL (the supervisor restarts it) and a third actor, started
# by hand against the run's learner and reward ports, joins. The run must finish with every step
# trained once, a balanced ledger with nothing counted twice, the extra actor told that the run is
# over, and summary.json, report.html and the eval figures written. Usage: run_e2e_test.sh
# PELICAN SRC
source "$(dirname "$0")/lib.sh" "$@"
cfg=$src/examples/arithmetic-grpo.yaml
run=$tmp/run
steps=60
prompts=8
sets=(--set "model.policy=$tmp/sft" --set sft.steps=200 --set "learner.total_steps=$steps"
      --set "learner.prompts_per_step=$prompts" --set learner.checkpoint.every_steps=10
      --set learner.lease_timeout_s=3 --set actors.prompts_per_batch=4 --set guard.action=alert
      --set guard.eval_every_steps=10 --set task.eval_size=40)

"$pelican" run "$cfg" --run_dir "$run" "${sets[@]}" >"$tmp/run.log" 2>&1 &
runner=$!
pids+=("$runner")
wait_for "$tmp/run.log" "logs in" 240 || exit 1
ports=$(grep -o "reward :[0-9]*, learner :[0-9]*" "$tmp/run.log")
rport=$(echo "$ports" | sed 's/reward :\([0-9]*\),.*/\1/')
lport=$(echo "$ports" | sed 's/.*learner :\([0-9]*\)/\1/')
wait_for "$run/metrics.jsonl" '"step":5,' 120 || exit 1

victim=$(pgrep -f -- "actor .*--name actor-1" | head -1)
check "found actor-1's process" test -n "$victim"
kill -9 "$victim"
"$pelican" actor "$cfg" --set "run.dir=$run" "${sets[@]}" --learner "127.0.0.1:$lport" \
  --reward "127.0.0.1:$rport" --metrics_listen 127.0.0.1:0 --name extra >"$tmp/extra.log" 2>&1 &
extra=$!
pids+=("$extra")

wait "$runner"
check "pelican run exits 0" test $? -eq 0
for _ in $(seq 100); do kill -0 "$extra" 2>/dev/null || break; sleep 0.1; done
check "the extra actor joined and pushed" grep -q "sampling with policy version" "$tmp/extra.log"
check "the extra actor heard that the run is over" grep -q "the learner finished the run" "$tmp/extra.log"
check "the supervisor restarted the killed actor" grep -q "actor-1 ended .*restarting" "$tmp/run.log"
check "summary: finished, ledger balanced, every step's prompts consumed once" "$py" - \
  "$run/summary.json" "$steps" "$prompts" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
steps, prompts = int(sys.argv[2]), int(sys.argv[3])
l = s["ledger"]
print("ledger:", json.dumps(l), "restarts:", s.get("restarts"), "eval:",
      {k: round(v["score"], 3) for k, v in s["eval"].items()})
ok = s["finished"] and s["steps"] == steps and s["restarts"] >= 1
ok = ok and l["leased"] == l["consumed"] + sum(l["dropped"].values()) + l["in_flight"]
ok = ok and l["in_flight"] == 0 and l["consumed"] == steps * prompts
ok = ok and "before" in s["eval"] and "after" in s["eval"] and s["guard"]["enabled"]
sys.exit(0 if ok else 1)
PY
check "metrics.jsonl has each step once" "$py" -c '
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1])]
sys.exit(0 if steps == list(range(1, int(sys.argv[2]) + 1)) else 1)' "$run/metrics.jsonl" "$steps"
check "report.html written with the gold probe chart" grep -q "gold probe" "$run/report.html"
if [ $fail -ne 0 ]; then
  for f in "$tmp/run.log" "$tmp/extra.log" "$run"/logs/*.log; do echo "== $f"; tail -12 "$f"; done
fi
exit $fail
