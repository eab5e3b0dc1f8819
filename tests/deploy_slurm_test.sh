#!/usr/bin/env bash
# deploy/slurm without a cluster: pelican.sbatch and pelican-actors.sbatch run under stand-ins for
# srun, scontrol and squeue (tasks are local processes; "nodes" are 127.0.0.x) and a stand-in
# pelican that records how it was started. Checks what each step is given (ranks, ports, rank 0's
# address, the reward replicas as an ipv4: list, overrides on every process), the Prometheus target
# lists and endpoints.env, that USR1 (the time limit) makes the learner checkpoint (SIGTERM), stops
# the other steps and requeues the job, that a finished learner ends the job without a requeue,
# that a bad config stops the job before anything starts, and that an actor job joins and leaves.
# tests/deploy_slurm_cluster_test.sh runs them on a real one-node Slurm. Usage: deploy_slurm_test.sh [SRC]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
py=/usr/bin/python3
tmp=$(mktemp -d)
groups=()
# shellcheck disable=SC2317  # called by the trap
cleanup() {  # every job ran in its own process group: this ends its steps and tasks too
  for g in "${groups[@]}"; do kill -9 -- "-$g" 2>/dev/null; done
  rm -rf "$tmp"
}
job() {  # job OUT COMMAND...: starts a job in the background in its own process group; sets $last
  local out=$1; shift
  setsid "$@" >"$out" 2>&1 &
  last=$!
  groups+=("$last")
}
trap cleanup EXIT
fail=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}

fake=$tmp/bin
state=$tmp/state
mkdir -p "$fake" "$state"
cat >"$fake/srun" <<'EOF'
#!/usr/bin/python3
# Stand-in srun: runs the step's tasks as local processes with Slurm's task variables, forwards
# USR1/INT to them, and exits with the first failing task's status. As the real srun does, it
# answers SIGTERM by killing its tasks at once. The step is listed in FAKE_STATE/steps (for the
# stand-in squeue --steps and scancel --signal).
import os, signal, subprocess, sys
opts, i = {}, 1
while i < len(sys.argv) and sys.argv[i].startswith("--"):
    k, _, v = sys.argv[i][2:].partition("=")
    opts[k] = v
    i += 1
cmd = sys.argv[i:]
nodes = opts["nodelist"].split(",") if "nodelist" in opts else \
    os.environ["FAKE_NODES"].split(",")[: int(opts.get("nodes", "1"))]
per = int(opts.get("ntasks-per-node", opts.get("ntasks", "1")))
with open(os.path.join(os.environ["FAKE_STATE"], "srun.log"), "a") as f:
    f.write(f"{opts.get('job-name')} {' '.join(sys.argv[1:i])}\n")
procs = []
for n, node in enumerate(nodes):
    for local in range(per):
        env = dict(os.environ, SLURM_LOCALID=str(local), SLURM_PROCID=str(n * per + local),
                   SLURM_NTASKS=str(len(nodes) * per), SLURMD_NODENAME=node,
                   SLURM_STEP_NAME=opts.get("job-name", ""))
        procs.append(subprocess.Popen(cmd, env=env))
step = os.path.join(os.environ["FAKE_STATE"], "steps", f"{os.environ['SLURM_JOB_ID']}.{os.getpid()}")
os.makedirs(os.path.dirname(step), exist_ok=True)
with open(step, "w") as f:
    f.write(" ".join([opts.get("job-name", "")] + [str(p.pid) for p in procs]) + "\n")
def forward(sig, _):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL if sig == signal.SIGTERM else sig)
for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):
    signal.signal(s, forward)
codes = [p.wait() for p in procs]
os.remove(step)
bad = [c for c in codes if c != 0]
sys.exit(0 if not bad else (128 - bad[0] if bad[0] < 0 else bad[0]))
EOF
cat >"$fake/scontrol" <<'EOF'
#!/usr/bin/env bash
case "$1 $2" in
  "show hostnames") tr ',' '\n' <<<"$FAKE_NODES" ;;
  "show job") echo "   Command=$FAKE_COMMAND" ;;
  "requeue "*) echo "$2" >>"$FAKE_STATE/requeued" ;;
  *) echo "fake scontrol: $*" >&2; exit 1 ;;
esac
EOF
cat >"$fake/squeue" <<'EOF'
#!/usr/bin/env bash
# Stand-in squeue: `--steps --jobs J` lists J's live steps as "ID NAME"; anything else: RUNNING.
if [[ " $* " == *" --steps "* ]]; then
  for f in "$FAKE_STATE/steps/$SLURM_JOB_ID".*; do
    [ -f "$f" ] && read -r name _ <"$f" && echo "${f##*/} $name"
  done
  exit 0
fi
echo RUNNING
EOF
cat >"$fake/scancel" <<'EOF'
#!/usr/bin/env bash
# Stand-in scancel: `--quiet --signal=SIG STEP...` signals the tasks of those steps.
sig=""
for a; do
  case $a in
    --signal=*) sig=${a#--signal=} ;;
    --*) ;;
    *) read -r _ tasks <"$FAKE_STATE/steps/$a" && echo "$a $sig" >>"$FAKE_STATE/scancel.log" &&
         for t in $tasks; do kill -s "$sig" "$t"; done ;;
  esac
done
EOF
cat >"$fake/pelican" <<'EOF'
#!/usr/bin/python3
# Stand-in pelican: records its arguments and task variables, listens where a server would,
# and exits 0 on SIGTERM (the learner after a "checkpoint").
import json, os, signal, socket, sys, threading, time
state = os.environ["FAKE_STATE"]
args = sys.argv[1:]
if args[:2] == ["config", "check"]:
    if os.environ.get("FAKE_CONFIG_BAD"):
        print("pelican: config error: bad.yaml:1:1: nope", file=sys.stderr)
        sys.exit(2)
    print('run:\n  name: "slurm-run"\n  seed: 1\nlearner:\n  name: "not-this"')
    sys.exit(0)
role = args[0]
key = f"{role}-{os.environ.get('SLURMD_NODENAME')}-{os.environ.get('SLURM_LOCALID')}"
env = {k: os.environ.get(k) for k in ("SLURM_PROCID", "SLURM_NTASKS", "MASTER_ADDR", "MASTER_PORT",
                                       "CUDA_VISIBLE_DEVICES", "NCCL_DEBUG")}
def record(name, data):
    with open(os.path.join(state, name + ".tmp"), "w") as f:
        json.dump(data, f)
    os.replace(os.path.join(state, name + ".tmp"), os.path.join(state, name))
stop = threading.Event()
def on_term(*_):
    if role == "learner":
        record(key + ".checkpointed", {})
    stop.set()
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGUSR1, lambda *_: record(key + ".usr1", {}))
if "--listen" in args and (role != "learner" or os.environ.get("SLURM_PROCID") == "0"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(args[args.index("--listen") + 1].rsplit(":", 1)[1])))
    s.listen()
record(key + ".json", {"args": args, "env": env})
after = float(os.environ.get("FAKE_LEARNER_EXIT_AFTER", "0")) if role == "learner" else 0
stop.wait(after if after else None)
sys.exit(0)
EOF
chmod +x "$fake"/*

# Three "nodes" (learner, reward, actor), two tasks each (as if two GPUs per node).
base=$("$py" "$src/tests/free_port_base.py" 0 1 2 3 4 5)
export PATH=$fake:$PATH FAKE_STATE=$state FAKE_NODES=127.0.0.1,127.0.0.2,127.0.0.3
export FAKE_COMMAND=$src/deploy/slurm/pelican.sbatch
export SLURM_JOB_ID=4242 SLURM_JOB_NAME=pelican SLURM_JOB_NODELIST=fake SLURM_SUBMIT_DIR=$tmp
export SLURM_CPUS_ON_NODE=8 PELICAN_GPUS_PER_NODE=2 PELICAN_BIN=$fake/pelican
export PELICAN_LEARNER_PORT=$base PELICAN_REWARD_PORT=$((base + 2)) PELICAN_MASTER_PORT=$((base + 5))
export PELICAN_PROMETHEUS_SD_DIR=$tmp/sd PELICAN_STARTUP_TIMEOUT=30
printf 'run:\n  name: slurm-run\n' >"$tmp/run.yaml"
run_dir=$tmp/runs/pelican-4242
# shellcheck disable=SC2317  # called through check
wait_for() {  # wait_for SECONDS COMMAND...
  local end=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < end)) || return 1; sleep 0.2; done
}
field() { "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$@"; }

# 1. Start, then the time limit: USR1 to the batch script.
job "$tmp/job.log" bash "$src/deploy/slurm/pelican.sbatch" "$tmp/run.yaml" --set learner.total_steps=7
main=$last
check "actors start once learner and reward service listen" \
  wait_for 30 test -f "$state/actor-127.0.0.3-1.json"
check "two learner ranks, global ranks 0 and 1" \
  test "$(field "$state/learner-127.0.0.1-1.json" 'env["SLURM_PROCID"] + "/" + env["SLURM_NTASKS"]')" = "1/2"
check "ranks rendezvous at the first learner node" \
  test "$(field "$state/learner-127.0.0.1-0.json" 'env["MASTER_ADDR"] + ":" + env["MASTER_PORT"]')" = "127.0.0.1:$((base + 5))"
check "each task pinned to its own GPU" \
  test "$(field "$state/learner-127.0.0.1-1.json" 'env["CUDA_VISIBLE_DEVICES"]')" = 1
largs=$(field "$state/learner-127.0.0.1-1.json" '" ".join(args)')
check "learner args: listen, metrics port per task, run dir, device, overrides" test \
  "$largs" = "learner $tmp/run.yaml --listen 0.0.0.0:$((base + 1)) --metrics_listen 0.0.0.0:9101 --run_dir $run_dir --set run.device=cuda --set learner.total_steps=7"
rargs=$(field "$state/reward-127.0.0.2-1.json" '" ".join(args)')
check "reward args: its own port and run dir per replica" test \
  "$rargs" = "reward $tmp/run.yaml --listen 0.0.0.0:$((base + 3)) --metrics_listen 0.0.0.0:9201 --set run.device=cuda --set learner.total_steps=7 --set run.dir=$run_dir/reward/127.0.0.2-1"
aargs=$(field "$state/actor-127.0.0.3-0.json" '" ".join(args)')
check "actor args: rank 0's address, every reward replica as ipv4: list" test \
  "$aargs" = "actor $tmp/run.yaml --learner 127.0.0.1:$base --reward ipv4:127.0.0.2:$((base + 2)),127.0.0.2:$((base + 3)) --metrics_listen 0.0.0.0:9300 --set run.device=cuda --set learner.total_steps=7 --set run.dir=$run_dir/actor/127.0.0.3-0"
check "the config was checked first, in its own step" bash -c "head -1 '$state/srun.log' | grep -q '^pelican-config '"
check "learner step kills all ranks if one dies; others do not" bash -c \
  "grep '^pelican-learner ' '$state/srun.log' | grep -q kill-on-bad-exit && ! grep -v '^pelican-learner ' '$state/srun.log' | grep -q kill-on-bad-exit"
targets=$run_dir/prometheus_targets.json
check "Prometheus target list: 6 processes with role and run labels" test "$("$py" -c '
import json, sys
t = json.load(open(sys.argv[1]))
print(" ".join(sorted("%s@%s=%s" % (e["labels"]["role"], e["targets"][0], e["labels"]["run"]) for e in t)))' "$targets")" = \
  "actor@127.0.0.3:9300=slurm-run actor@127.0.0.3:9301=slurm-run learner@127.0.0.1:9100=slurm-run learner@127.0.0.1:9101=slurm-run reward@127.0.0.2:9200=slurm-run reward@127.0.0.2:9201=slurm-run"
check "target list copied to PELICAN_PROMETHEUS_SD_DIR" cmp -s "$targets" "$tmp/sd/4242.json"
check "endpoints.env for actor jobs" bash -c ". '$run_dir/slurm/endpoints.env' && [ \"\$PELICAN_LEARNER\" = 127.0.0.1:$base ] && [ \"\${PELICAN_SETS[*]}\" = '--set learner.total_steps=7' ] && [ \"\$PELICAN_RUN_NAME\" = slurm-run ]"

kill -USR1 "$main"
check "after USR1 the job ends within 30 s" wait_for 30 bash -c "! kill -0 $main 2>/dev/null"
kill -9 "$main" 2>/dev/null
wait "$main"
check "after USR1 the job exits 0" test $? -eq 0
check "both learner ranks checkpointed (SIGTERM through scancel: srun would kill them)" \
  test -f "$state/learner-127.0.0.1-0.checkpointed" -a -f "$state/learner-127.0.0.1-1.checkpointed"
check "the job requeued itself" grep -qx 4242 "$state/requeued"
check "reward and actor steps were stopped" bash -c "! pgrep -f '$fake/pelican (reward|actor)' >/dev/null"
check "its Prometheus target file left the shared directory" test ! -e "$tmp/sd/4242.json"
grep -q "requeueing job 4242" "$tmp/job.log" || cat "$tmp/job.log"

# 2. An actor job joins the run, and leaves on scancel (SIGTERM).
rm -f "$state"/actor-*
FAKE_NODES=127.0.0.4 SLURM_JOB_ID=5151 SLURM_JOB_NAME=pelican-actors \
  job "$tmp/actors.log" bash "$src/deploy/slurm/pelican-actors.sbatch" "$run_dir"
actors=$last
check "actor job starts one actor per GPU" wait_for 20 test -f "$state/actor-127.0.0.4-1.json"
aargs=$(field "$state/actor-127.0.0.4-1.json" '" ".join(args)')
check "actor job uses the main job's learner, reward service and overrides" test \
  "$aargs" = "actor $tmp/run.yaml --learner 127.0.0.1:$base --reward ipv4:127.0.0.2:$((base + 2)),127.0.0.2:$((base + 3)) --metrics_listen 0.0.0.0:9301 --set run.device=cuda --set learner.total_steps=7 --set run.dir=$run_dir/actor/127.0.0.4-1"
check "actor job lists its actors for Prometheus" test -f "$run_dir/prometheus_targets.actors-5151.json" -a -f "$tmp/sd/5151.json"
kill -TERM "$actors"
wait_for 20 bash -c "! kill -0 $actors 2>/dev/null"
kill -9 "$actors" 2>/dev/null
wait "$actors"
check "scancel (SIGTERM) ends the actor job with exit 0" test $? -eq 0
check "and removes its target lists" test ! -e "$run_dir/prometheus_targets.actors-5151.json" -a ! -e "$tmp/sd/5151.json"

# 3. Training finishes: the learner exits 0, the job ends without requeueing.
rm -f "$state"/requeued
FAKE_LEARNER_EXIT_AFTER=2 SLURM_JOB_ID=4343 job "$tmp/job2.log" bash "$src/deploy/slurm/pelican.sbatch" "$tmp/run.yaml"
check "a finished learner ends the job" wait_for 60 bash -c "! kill -0 $last 2>/dev/null"
kill -9 "$last" 2>/dev/null
wait "$last"
check "with exit 0" test $? -eq 0
check "and no requeue" test ! -e "$state/requeued"

# 4. A bad config stops the job before any step starts.
steps_before=$(wc -l <"$state/srun.log")
FAKE_CONFIG_BAD=1 SLURM_JOB_ID=4444 job "$tmp/job3.log" bash "$src/deploy/slurm/pelican.sbatch" "$tmp/run.yaml"
wait_for 30 bash -c "! kill -0 $last 2>/dev/null"
kill -9 "$last" 2>/dev/null
wait "$last"
check "bad config: job fails" test $? -ne 0
check "bad config: says so" grep -q "config check failed" "$tmp/job3.log"
check "bad config: no step but the config check ran" \
  test "$(tail -n +$((steps_before + 1)) "$state/srun.log" | cut -d' ' -f1)" = pelican-config
if [ $fail -ne 0 ]; then
  for f in "$tmp"/job*.log "$state/srun.log"; do echo "== $f"; tail -15 "$f"; done
fi
exit $fail
