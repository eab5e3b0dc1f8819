#!/usr/bin/env bash
# One task of a pelican job step (run by srun, once per task): fills in what differs between the
# tasks of a step, then execs the command. In the arguments,
#   @+N@       becomes N + SLURM_LOCALID   (ports: one process per GPU shares a node)
#   @LOCALID@  becomes SLURM_LOCALID
#   @HOST@     becomes the node's short host name
# e.g.  srun pelican-task.sh pelican actor run.yaml --metrics_listen 0.0.0.0:@+9300@
# Pins the task to GPU SLURM_LOCALID when Slurm did not bind GPUs itself (no --gpus-per-task).
set -euo pipefail
local_id=${SLURM_LOCALID:-0}
host=${SLURMD_NODENAME:-$(hostname -s)}
args=()
for a in "$@"; do
  while [[ $a =~ @\+([0-9]+)@ ]]; do
    a=${a/"${BASH_REMATCH[0]}"/$((BASH_REMATCH[1] + local_id))}
  done
  a=${a//@LOCALID@/$local_id}
  a=${a//@HOST@/$host}
  args+=("$a")
done
if [ "${PELICAN_GPUS_PER_TASK:-0}" = 1 ] && [ -z "${CUDA_VISIBLE_DEVICES:-}" ]; then
  export CUDA_VISIBLE_DEVICES=$local_id
fi
exec "${args[@]}"
