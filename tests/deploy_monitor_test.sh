#!/usr/bin/env bash
# deploy/local/monitor.sh as a laptop user runs it, against the fake exporter standing in for a
# `pelican run` (same target list, every metric of METRICS.md): Prometheus starts on the requested
# port with its config and data in RUN_DIR/prometheus, scrapes every process with its role and run
# labels, and every dashboard expression returns data and every alert rule evaluates
# (promql_exprs.py query). Bad usage fails clearly. Usage: deploy_monitor_test.sh [SRC]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
py=/usr/bin/python3
tmp=$(mktemp -d)
fake="" mon=""
# shellcheck disable=SC2317  # cleanup is called by the trap
cleanup() {
  [ -n "$mon" ] && kill "$mon" 2>/dev/null && wait "$mon" 2>/dev/null
  [ -n "$fake" ] && kill "$fake" 2>/dev/null && wait "$fake" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}
command -v prometheus >/dev/null || {
  echo "FAIL prometheus not found: install Debian's prometheus package (scripts/install-deps.sh does)"
  exit 1
}
monitor=$src/deploy/local/monitor.sh

"$monitor" >/dev/null 2>"$tmp/err"
check "no RUN_DIR: usage, exit 2" test $? -eq 2
"$monitor" "$tmp/missing" >/dev/null 2>"$tmp/err"
check "missing RUN_DIR: exit 2" test $? -eq 2
check "missing RUN_DIR: says so" grep -q "is not a directory" "$tmp/err"
mkdir -p "$tmp/run"
PROMETHEUS=/nonexistent/prometheus "$monitor" "$tmp/run" >/dev/null 2>"$tmp/err"
check "no prometheus: exit 1" test $? -eq 1
check "no prometheus: says how to install it" grep -q "apt-get install prometheus" "$tmp/err"
"$monitor" "$tmp/run" --port 99999 >/dev/null 2>&1
check "bad port: exit 2" test $? -eq 2

"$py" "$src/deploy/prometheus/fake_exporter.py" "$tmp/run" --run demo >"$tmp/fake.log" 2>&1 &
fake=$!
for _ in $(seq 50); do [ -f "$tmp/run/prometheus_targets.json" ] && break; sleep 0.1; done
check "fake exporter wrote its target list" test -f "$tmp/run/prometheus_targets.json"

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$monitor" "$tmp/run" --port "$port" --scrape-interval 1s >"$tmp/mon.log" 2>&1 &
mon=$!
url=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$url/-/ready" >/dev/null && break; sleep 0.2; done
check "Prometheus is ready at the port asked for" curl -sf "$url/-/ready" -o /dev/null
check "monitor.sh printed the URL" grep -q "$url" "$tmp/mon.log"
check "config written to RUN_DIR/prometheus" test -f "$tmp/run/prometheus/prometheus.yml"
check "data kept in RUN_DIR/prometheus/data" test -d "$tmp/run/prometheus/data"
promtool check config "$tmp/run/prometheus/prometheus.yml" >"$tmp/promtool.out" 2>&1
check "the written config passes promtool" test $? -eq 0

# Three targets (learner, actor, reward), up, labelled with role and run.
query() { curl -sf "$url/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 100); do
  [ "$(query 'count(up{run="demo"} == 1)' | "$py" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" = 3 ] && break
  sleep 0.2
done
roles=$(query 'pelican_build_info{run="demo"}' |
  "$py" -c 'import json,sys; print(" ".join(sorted(m["metric"].get("role","?") for m in json.load(sys.stdin)["data"]["result"])))')
check "every process scraped with its role and run (got: $roles)" test "$roles" = "actor learner reward"
check "no exported_role (honor_labels)" test -z "$(query 'pelican_build_info{exported_role!=""}' | grep -o exported_role)"

sleep 4  # a few scrapes, so rate() over 30 s has points to work with
"$py" "$src/deploy/prometheus/promql_exprs.py" query "$url" --rate-interval 30s >"$tmp/query.out" 2>&1
check "every dashboard expression returns data and every alert rule evaluates" test $? -eq 0
tail -n 20 "$tmp/query.out"

kill "$mon"; wait "$mon"
check "Prometheus stops cleanly on SIGTERM" test $? -eq 0
mon=""
exit $fail
