# Set-up and helpers shared by the multi-process shell tests. A test script taking PELICAN SRC
# starts with:   source "$(dirname "$0")/lib.sh" "$@"
# which sets $pelican, $src, $py (Debian's Python, which has grpc), a scratch $tmp, and $pids
# (every pid added there is SIGKILLed, and $tmp removed, when the script exits), then defines
# check, free_port and wait_for. $fail is 1 once a check failed. PELICAN_KEEP_TMP=1 keeps $tmp
# (its path is printed) to look at the logs of a failed run.
set -u
# One intra-op thread per process unless the caller chose: CTest runs these tests two at a time on
# 2 cores, and OpenMP teams larger than the free cores stall every parallel region.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
pelican=$1
src=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  if [ -n "${PELICAN_KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail=0
check() {  # check NAME COMMAND...: runs COMMAND, prints ok/FAIL NAME, remembers a failure
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for FILE PATTERN SECONDS: until grep finds PATTERN in FILE
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1"; tail -20 "$1"; return 1
}
