# Helpers shared by the multi-process shell tests (source it): check, free_port, wait_for.
# Expects $py (a Python 3) and sets $fail.
fail=0
check() {  # check NAME COMMAND...: runs COMMAND, prints ok/FAIL NAME, remembers a failure
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for FILE PATTERN SECONDS: until grep finds PATTERN in FILE
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1"; tail -20 "$1"; return 1
}
