#!/usr/bin/env bash
# Monitoring against a live run: a short `pelican run` (SFT, reward service with the exact verifier
# and a small reward-model ensemble, learner with the guard, two actors) is watched by Debian's
# Prometheus through deploy/local/monitor.sh; once the run has trained and probed a few times,
# every PromQL expression of every Grafana panel must return data and every alert rule must
# evaluate without error (deploy/prometheus/promql_exprs.py query). Usage: monitor_live_test.sh
# PELICAN SRC
source "$(dirname "$0")/lib.sh" "$@"
command -v prometheus >/dev/null || {
  echo "FAIL prometheus not found: install Debian's prometheus package (scripts/install-deps.sh does)"
  exit 1
}
run=$tmp/run

cat >"$tmp/live.yaml" <<EOF
run: {name: live-monitor, seed: 3}
model: {policy: $tmp/sft}
task: {kind: arithmetic, max_operand: 20, eval_size: 40}
sft: {steps: 60, batch_size: 32, lr: 3.0e-3}
actors:
  count: 2
  prompts_per_batch: 4
  sampling: {temperature: 1.0, max_new_tokens: 4, n: 4}
reward:
  scorers:
    - name: exact
      exact_match: {extract: last_number}
    - name: rm
      weight: 0.01
      reward_model: {paths: ["$tmp/rm1", "$tmp/rm2"]}
learner:
  algorithm: grpo
  # More steps than the test waits for: it ends the run with Ctrl-C.
  total_steps: 1000000
  prompts_per_step: 8
  micro_batch_size: 32
  max_policy_lag: 2
  lease_timeout_s: 30
  kl: {coef: 0.01}
  optimizer: {lr: 1.0e-4}
  checkpoint: {every_steps: 50, keep_last: 2}
guard:
  eval_every_steps: 3
  action: alert
  kl_budget: 100
  min_entropy: 1.0e-6
security: {insecure: true}
EOF
"$pelican" config check "$tmp/live.yaml" >"$tmp/check.log" 2>&1
check "the live config is valid" test $? -eq 0 || cat "$tmp/check.log"
# The policy first, then two small random reward models on its tokenizer: an ensemble (its spread
# is the guard's ensemble_std signal) and pelican_reward_model_forward_seconds. They are weighted
# lightly; the verifier still decides.
"$pelican" sft "$tmp/live.yaml" >"$tmp/sft.log" 2>&1 || { cat "$tmp/sft.log"; exit 1; }
vocab=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$tmp/sft/config.json")
for m in rm1 rm2; do
  "$pelican" model init "$tmp/live.yaml" --head reward --vocab_size "$vocab" --out "$tmp/$m" \
    >"$tmp/$m.log" 2>&1 || { cat "$tmp/$m.log"; exit 1; }
  cp "$tmp/sft/tokenizer.json" "$tmp/$m/tokenizer.json"
done

"$pelican" run "$tmp/live.yaml" --run_dir "$run" >"$tmp/run.log" 2>&1 &
runner=$!
pids+=("$runner")
wait_for "$tmp/run.log" "logs in" 300 || exit 1
port=$(free_port)
"$src/deploy/local/monitor.sh" "$run" --port "$port" --scrape-interval 1s >"$tmp/mon.log" 2>&1 &
mon=$!
pids+=("$mon")
url=http://127.0.0.1:$port
# Enough steps for three gold probes and KL history, and a minute of scrapes for rate().
wait_for "$run/metrics.jsonl" '"step":12,' 240 || { tail -20 "$tmp/run.log"; exit 1; }
sleep 20
"$py" "$src/deploy/prometheus/promql_exprs.py" query "$url" --run live-monitor \
  --rate-interval 30s >"$tmp/query.out" 2>&1
check "every dashboard expression returns data and every alert rule evaluates" test $? -eq 0
tail -n 25 "$tmp/query.out"

# Ctrl-C: the run stops cleanly with a final checkpoint and writes its summary.
kill -INT "$runner"
wait "$runner"
check "pelican run stops on SIGINT" test $? -le 1
check "summary.json written" test -f "$run/summary.json"
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
if [ $fail -ne 0 ]; then
  for f in "$tmp/run.log" "$run"/logs/*.log; do echo "== $f"; tail -15 "$f"; done
fi
exit $fail
