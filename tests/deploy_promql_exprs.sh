#!/usr/bin/env bash
# The offline half of "every PromQL expression we ship works": deploy/prometheus/promql_exprs.py
# extracts every expression from the Grafana dashboards and the alert rules, and promtool parses
# each one. (Its `query URL` half runs in deploy_monitor_test.sh against the fake exporter, and
# later against a live `pelican run`.) Usage: deploy_promql_exprs.sh [SRC]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
tool=$src/deploy/prometheus/promql_exprs.py
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}
command -v promtool >/dev/null || {
  echo "FAIL promtool not found: install Debian's prometheus package (scripts/install-deps.sh does)"
  exit 1
}

"$py" "$tool" list >"$tmp/list" 2>&1
check "list exits 0" test $? -eq 0
for d in "$src"/deploy/grafana/dashboards/*.json; do
  check "list has panels of $(basename "$d")" grep -q "^$(basename "$d"): panel " "$tmp/list"
done
while read -r a; do
  check "list has alert $a" grep -q ": alert $a	" "$tmp/list"
done < <(grep -Po '^\s*-\s*alert:\s*\K\S+' "$src"/deploy/prometheus/rules/pelican-alerts.yml)
check "no Grafana variable is left in a listed expression" bash -c "! cut -f2 '$tmp/list' | grep -q '\\\$'"
"$py" "$tool" list --json >"$tmp/list.json"
check "--json lists the same expressions" \
  test "$("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/list.json")" \
       -eq "$(wc -l <"$tmp/list")"

"$py" "$tool" check >"$tmp/check" 2>&1
check "promtool parses every expression" test $? -eq 0
cat "$tmp/check"

# The check must bite: a dashboard with one broken expression fails it, naming the panel.
mkdir -p "$tmp/broken"
cp "$src"/deploy/grafana/dashboards/*.json "$tmp/broken/"
sed -i '0,/"expr": "max by (run) (/s//"expr": "max by run (/' "$tmp/broken/pelican-guard.json"
"$py" "$tool" check --dashboards "$tmp/broken" >"$tmp/broken.out" 2>&1
check "a broken expression fails the check" test $? -ne 0
check "the failure names the panel" grep -q "FAIL pelican-guard.json: panel" "$tmp/broken.out"
exit $fail
