#!/usr/bin/env bash
# Exact resume, and data parallelism as processes. A learner killed with SIGKILL after a checkpoint and started again on its run
# directory takes the same steps as one that was never interrupted. A deterministic fake actor
# (tests/fake_actor.py, stubs generated from the .proto files) feeds both runs the same batches;
# the per-step losses of the 10+ steps after the checkpoint must match (bitwise or 1e-6 relative).
# Usage: learner_resume_test.sh PELICAN SRC
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh" "$@"

mkdir -p "$tmp/gen"
protoc -I"$src/proto" --python_out="$tmp/gen" --grpc_out="$tmp/gen" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
  "$src/proto/pelican/v1/learner.proto" "$src/proto/pelican/v1/rollout.proto"

cfg=$src/examples/arithmetic-ppo.yaml
sets=(--set "model.policy=$tmp/policy" --set learner.total_steps=16 --set learner.prompts_per_step=4
      --set actors.sampling.n=2 --set learner.checkpoint.every_steps=4 --set learner.lease_timeout_s=600
      --set learner.threads=1 --set learner.kl.coef=0.05 --set learner.normalize_rewards=true)
"$pelican" model init "$cfg" "${sets[@]}" --out "$tmp/policy" >/dev/null || exit 1
fp=$("$pelican" config check "$cfg" "${sets[@]}" 2>&1 | sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p' | tail -1)
tok=$("$py" -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest()[:16])" "$tmp/policy/tokenizer.json")

start() {  # start RUN_DIR [DELAY_S]: learner + fake actor; sets $learner and $actor
  local port; port=$(free_port)
  "$pelican" learner "$cfg" "${sets[@]}" --run_dir "$1" --listen "127.0.0.1:$port" \
    --metrics_listen 127.0.0.1:0 >>"$1.log" 2>&1 &
  learner=$!; pids+=($learner)
  "$py" "$src/tests/fake_actor.py" "$tmp/gen" "127.0.0.1:$port" "$fp" "$tok" 4 2 "${2:-0}" >>"$1.actor.log" 2>&1 &
  actor=$!; pids+=($actor)
}

start "$tmp/a"
wait $learner
check "uninterrupted learner exits 0" test $? -eq 0

# The actor pauses 0.3 s per batch, so the kill lands after step 5 and well before the step-8
# checkpoint.
start "$tmp/b" 0.3
wait_for "$tmp/b.log" "checkpoint .*step-00000004" 120
wait_for "$tmp/b/metrics.jsonl" '"step":5,' 60
kill -9 $learner $actor
wait $learner $actor 2>/dev/null
start "$tmp/b" 0
wait $learner
check "resumed learner exits 0" test $? -eq 0
check "resumed from the step-4 checkpoint" grep -q "resuming from .*step-00000004" "$tmp/b.log"

check "per-step losses after the checkpoint match" "$py" - "$tmp/a/metrics.jsonl" "$tmp/b/metrics.jsonl" <<'PY'
import json, sys
def losses(path):
    return {j["step"]: (j["policy_loss"], j["value_loss"], j["kl"]) for j in map(json.loads, open(path))}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
steps = list(range(5, 17))
assert sorted(b) == list(range(1, 17)), sorted(b)
worst = 0.0
for s in steps:
    for x, y in zip(a[s], b[s]):
        worst = max(worst, abs(x - y) / max(abs(x), 1e-12))
print(f"steps {steps[0]}..{steps[-1]}: worst relative difference {worst:.3g}")
sys.exit(0 if worst <= 1e-6 else 1)
PY
# Two data-parallel ranks (Gloo on loopback) train the same run; then one is stopped with
# SIGSTOP and the other must fail within the collective timeout, naming it.
start_ranks() {  # start_ranks RUN_DIR EXTRA_SET...: sets $rank0 $rank1 $actor
  local dir=$1; shift
  local port mport fp2
  port=$(free_port); mport=$(free_port)
  fp2=$("$pelican" config check "$cfg" "${sets[@]}" "$@" 2>&1 | sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p' | tail -1)
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$mport "$pelican" learner "$cfg" \
      "${sets[@]}" "$@" --run_dir "$dir" --listen "127.0.0.1:$port" --metrics_listen 127.0.0.1:0 \
      >>"$dir.rank$r.log" 2>&1 &
    eval "rank$r=$!"; pids+=($!)
  done
  "$py" "$src/tests/fake_actor.py" "$tmp/gen" "127.0.0.1:$port" "$fp2" "$tok" 4 2 >>"$dir.actor.log" 2>&1 &
  actor=$!; pids+=($actor)
}
start_ranks "$tmp/c" --set learner.algorithm=grpo --set learner.kl.coef=0
wait $rank0; rc0=$?
wait $rank1; rc1=$?
check "two ranks finish the run" test $rc0 -eq 0 -a $rc1 -eq 0
check "rank 1 trained every step" grep -q "rank 1 stopped at step 16" "$tmp/c.rank1.log"
check "two ranks wrote 16 steps" test "$(wc -l <"$tmp/c/metrics.jsonl")" -eq 16

start_ranks "$tmp/d" --set learner.algorithm=grpo --set learner.kl.coef=0 \
  --set learner.collective_timeout_s=3
wait_for "$tmp/d/metrics.jsonl" '"step":3,' 60
kill -STOP $rank1
stopped=$(date +%s)
wait $rank0; rc0=$?
elapsed=$(($(date +%s) - stopped))
kill -9 $rank1 $actor 2>/dev/null
echo "rank 0 ended $elapsed s after rank 1 was stopped (timeout 3 s): $(grep -m1 'error' "$tmp/d.rank0.log")"
check "rank 0 fails when rank 1 hangs" test $rc0 -ne 0
check "within the timeout plus slack" test $elapsed -le 20
check "its error names rank 1" grep -q "rank 1" "$tmp/d.rank0.log"
if [ $fail -ne 0 ]; then for f in "$tmp"/*.log; do echo "== $f"; tail -20 "$f"; done; fi
exit $fail
