#!/usr/bin/env bash
# deploy/slurm on a real Slurm: starts a one-node cluster on this machine from Debian's slurm-wlm
# and munge (munged, slurmctld and slurmd with their own key, socket, ports, config and state under
# a scratch directory; nothing in /etc is used), submits pelican.sbatch with a short CPU run of the
# built-in arithmetic task, and lets an actor job (pelican-actors.sbatch) join it. Early on it plays
# the time limit (USR1 to the batch script): the learner checkpoints, the job requeues itself and
# resumes; then the actor job joins. Checks that the job ends with exit code 0 after one restart,
# that the run finished with every step once, its checkpoints and a balanced ledger, and that the
# actor job's actor trained with it and ended with the run. Every job, task and daemon it started
# is gone when it exits. ~30 s. Usage: deploy_slurm_cluster_test.sh SRC PELICAN
# shellcheck disable=SC2317  # functions called through check, wait_until and the trap
set -u
src=$(cd "${1:?usage: deploy_slurm_cluster_test.sh SRC PELICAN}" && pwd)
pelican=$(realpath "${2:?usage: deploy_slurm_cluster_test.sh SRC PELICAN}")
py=/usr/bin/python3
for c in munged slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
  command -v "$c" >/dev/null ||
    { echo "FAIL $c not found: install Debian's slurm-wlm and munge (scripts/install-deps.sh does)"; exit 1; }
done

tmp=$(mktemp -d)
chmod 755 "$tmp"  # munged wants every directory above its socket searchable by all
conf=$tmp/slurm.conf
daemons=()
fail=0
check() {  # check NAME COMMAND...: runs COMMAND, prints ok/FAIL NAME, remembers a failure
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}
wait_until() {  # wait_until SECONDS COMMAND...: until COMMAND succeeds
  local end=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < end)) || return 1; sleep 0.3; done
}
# The Slurm commands with our cluster's config. SLURM_CONF is never exported from this shell, so
# exactly the daemons, jobs and tasks of this cluster have it in their environment.
sl() { SLURM_CONF=$conf "$@"; }
ours() {  # pids of the processes whose environment names our slurm.conf
  local e
  for e in /proc/[0-9]*/environ; do
    tr '\0' '\n' 2>/dev/null <"$e" | grep -qxF "SLURM_CONF=$conf" && { e=${e#/proc/}; echo "${e%/environ}"; }
  done
}
gone() { local p; for p; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
cleanup() {
  if [ -n "$(sl squeue -h -o %i 2>/dev/null)" ]; then
    sl scancel --quiet --user="$(id -un)"
    wait_until 30 test -z "$(sl squeue -h -o %i 2>/dev/null)"
  fi
  sl scontrol shutdown >/dev/null 2>&1  # slurmctld and slurmd
  wait_until 10 gone "${daemons[@]:1}"
  kill -TERM "${daemons[@]}" 2>/dev/null
  wait_until 5 gone "${daemons[@]}"
  kill -9 "${daemons[@]}" 2>/dev/null
  for p in $(ours); do kill -9 "$p" 2>/dev/null; done  # a step or task that outlived its slurmd
  rm -rf "$tmp"
}
trap cleanup EXIT
logs() { for f in "$tmp"/log/* "$tmp"/*.out; do [ -f "$f" ] && { echo "== $f"; tail -25 "$f"; }; done; }

# Ports: slurmctld, slurmd, learner, reward, rendezvous; metrics bases for the job and the actor
# job (each uses base + 100, 200, 300), all free now and below the ephemeral range.
base=$("$py" "$src/tests/free_port_base.py" 0 1 2 3 4 1100 1200 1300 2100 2200 2300)

# munged with its own key and socket.
mkdir -p "$tmp/munge" "$tmp/munge-run" "$tmp/log" "$tmp/slurmctld" "$tmp/slurmd"
chmod 700 "$tmp/munge" && chmod 755 "$tmp/munge-run"
head -c 1024 /dev/urandom >"$tmp/munge/munge.key" && chmod 400 "$tmp/munge/munge.key"
socket=$tmp/munge-run/munge.socket
setsid munged --foreground --socket="$socket" --key-file="$tmp/munge/munge.key" \
  --log-file="$tmp/log/munged.log" --pid-file="$tmp/munge/munged.pid" \
  --seed-file="$tmp/munge/munged.seed" >"$tmp/log/munged.out" 2>&1 &
daemons+=($!)
check "munged starts" wait_until 20 test -S "$socket" || { logs; exit 1; }

user=$(id -un)
cpus=$(nproc)
cat >"$conf" <<EOF
# One node, "localhost", for tests/deploy_slurm_cluster_test.sh. No cgroups, no accounting.
ClusterName=pelicantest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits (120 s by default).
AuthInfo=socket=$socket,cred_expire=5
StateSaveLocation=$tmp/slurmctld
SlurmdSpoolDir=$tmp/slurmd
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
PropagateResourceLimits=NONE
ReturnToService=2
KillWait=5
SchedulerParameters=sched_interval=1,bf_interval=1
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=512 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE OverSubscribe=YES State=UP
EOF
SLURM_CONF=$conf setsid slurmctld -D >"$tmp/log/slurmctld.out" 2>&1 &
daemons+=($!)
SLURM_CONF=$conf setsid slurmd -D -N localhost >"$tmp/log/slurmd.out" 2>&1 &
daemons+=($!)
node_idle() { [ "$(sl sinfo -h -n localhost -o %T 2>/dev/null)" = idle ]; }
check "slurmctld and slurmd start; the node is idle" wait_until 60 node_idle || { logs; exit 1; }

# A policy for the arithmetic task, then the job: learner, reward replica and actor on the one node.
cfg=$src/examples/arithmetic-grpo.yaml
run=$tmp/run
steps=30 prompts=8
"$pelican" sft "$cfg" --set "model.policy=$tmp/sft" --set "run.dir=$tmp/sft-run" --set sft.steps=30 \
  >"$tmp/log/sft.json" 2>"$tmp/log/sft.log"
check "sft writes a policy" test -f "$tmp/sft/model.safetensors" || { logs; exit 1; }
sets=(--set "model.policy=$tmp/sft" --set "learner.total_steps=$steps" --set "learner.prompts_per_step=$prompts"
      --set actors.prompts_per_batch=4 --set learner.checkpoint.every_steps=10
      --set learner.lease_timeout_s=5)
# --exclusive in the scripts would keep the actor job off the only node: --oversubscribe overrides
# it. --time caps a hung job; under 5 minutes, --signal=B:USR1@300 would fire at once.
submit=(sbatch --parsable --nodes=1 --ntasks-per-node=1 --gpus-per-node=0 --oversubscribe --time=10
        --chdir="$tmp" --output="$tmp/%x-%j.out")
export PELICAN_GPUS_PER_NODE=0 PELICAN_BIN=$pelican PELICAN_STARTUP_TIMEOUT=60
main=$(PELICAN_RUN_DIR=$run PELICAN_LEARNER_PORT=$((base + 2)) PELICAN_REWARD_PORT=$((base + 3)) \
  PELICAN_MASTER_PORT=$((base + 4)) PELICAN_METRICS_PORT=$((base + 1000)) \
  sl "${submit[@]}" "$src/deploy/slurm/pelican.sbatch" "$cfg" "${sets[@]}")
check "sbatch pelican.sbatch" test -n "$main" || { logs; exit 1; }
start=$SECONDS

# The time limit, once the learner has taken a step: USR1 to the batch script, as
# --signal=B:USR1@300 sends it.
out=$tmp/pelican-$main.out
check "the learner trains" wait_until 60 grep -qs "step 1/$steps" "$out"
sl scancel --signal=USR1 --batch "$main"
check "USR1: the learner checkpoints, the job requeues itself" wait_until 30 grep -q "requeueing job $main" "$out"
check "the requeued job resumes from that checkpoint" wait_until 90 grep -q "resuming from" "$out"

# An actor job joins the resumed run. (Not earlier: a learner that stops, as at a requeue, tells
# its actors the run is done, so an actor job does not outlive its main job's incarnation.)
actors=$(PELICAN_METRICS_PORT=$((base + 2000)) sl "${submit[@]}" "$src/deploy/slurm/pelican-actors.sbatch" "$run")
check "sbatch pelican-actors.sbatch" test -n "$actors"

job_field() {  # job_field JOBID FIELD: from scontrol show job (kept MinJobAge, 300 s, after the end)
  sl scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}
ended() { case $(job_field "$1" JobState) in PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUE*|"") return 1 ;; esac; }
check "the job ends within 120 s" wait_until 120 ended "$main"
check "the actor job ends with it" wait_until 60 ended "$actors"
echo "job $main ran $((SECONDS - start)) s"
check "the job completed with exit code 0 after one restart" \
  test "$(job_field "$main" JobState) $(job_field "$main" ExitCode) $(job_field "$main" Restarts)" = "COMPLETED 0:0 1"
check "all three roles ran on the one node" grep -q "learner on localhost, reward on localhost, actors on localhost" "$out"
check "the learner stopped with a checkpoint, exit code 0" \
  grep -q "learner step ended with exit code 0; stopping" "$out"
check "the learner finished" grep -q "learner stopped at step $steps (done)" "$out"
check "summary: finished, every step, a balanced ledger, nothing in flight" "$py" - "$run/summary.json" "$steps" "$prompts" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
steps, prompts = int(sys.argv[2]), int(sys.argv[3])
l = s["ledger"]
print("summary:", json.dumps(s))
ok = s["finished"] and s["steps"] == steps and l["in_flight"] == 0
ok = ok and l["leased"] == l["consumed"] + sum(l["dropped"].values()) + l["in_flight"]
sys.exit(0 if ok and l["consumed"] == steps * prompts else 1)
PY
check "metrics.jsonl has each step once, across the restart" "$py" -c '
import json, sys
steps = [s for s in (json.loads(l)["step"] for l in open(sys.argv[1])) if s > 0]  # 0: before training
sys.exit(0 if steps == list(range(1, int(sys.argv[2]) + 1)) else 1)' \
  "$run/metrics.jsonl" "$steps"
check "the final checkpoint is there" test -f "$run/checkpoints/step-$(printf %08d "$steps")/policy/config.json"
check "Prometheus targets: learner, reward and actor on localhost" "$py" -c '
import json, sys
t = sorted((e["labels"]["role"], e["targets"][0]) for e in json.load(open(sys.argv[1])))
sys.exit(0 if [r for r, _ in t] == ["actor", "learner", "reward"] and all(a.startswith("localhost:") for _, a in t) else 1)' \
  "$run/prometheus_targets.json"

aout=$tmp/pelican-actors-$actors.out
check "the actor job completed with exit code 0" \
  test "$(job_field "$actors" JobState) $(job_field "$actors" ExitCode)" = "COMPLETED 0:0"
check "its actor registered with the job's learner" grep -q "registered as .* with run arithmetic-grpo" "$aout"
check "and pushed rollouts until the run finished" \
  grep -Eq "the learner finished the run after [1-9][0-9]* pushes" "$aout"
check "its Prometheus targets are gone with it" test ! -e "$run/prometheus_targets.actors-$actors.json"
left() { local p; for p in $(ours); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = pelican ] && echo "$p"; done; }
check "no pelican process of either job is left" test -z "$(left)"
((fail)) && logs
exit $fail
