#!/usr/bin/env bash
# deploy/prometheus as promtool sees it: every scrape config loads (with its rule files), the alert
# rules load, their unit tests pass, and every alert is tested both firing and silent.
# Usage: deploy_prometheus_test.sh [SRC]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
dir=$src/deploy/prometheus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # check NAME COMMAND...: runs COMMAND, shows its output on failure
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then echo "ok   $name"; else echo "FAIL $name"; cat "$tmp/out"; fail=1; return 1; fi
}

if ! command -v promtool >/dev/null; then
  echo "FAIL promtool not found: install Debian's prometheus package (scripts/install-deps.sh does)"
  exit 1
fi

for cfg in "$dir"/prometheus-local.yml "$dir"/prometheus-slurm.yml; do
  check "promtool check config $(basename "$cfg")" promtool check config "$cfg"
done

# Debian's promtool has no Kubernetes discovery: check the Kubernetes config with its discovery
# block swapped for file_sd, so the rest (relabelling, rule files) is still checked.
k8s=$dir/prometheus-kubernetes.yml
check "prometheus-kubernetes.yml discovers pods" grep -Pzq 'kubernetes_sd_configs:\n *- role: pod\n' "$k8s"
mkdir -p "$tmp/k8s"
cp -r "$dir/rules" "$tmp/k8s/"
sed -e 's/kubernetes_sd_configs:/file_sd_configs:/' \
    -e 's/- role: pod/- files: [targets.json]/' "$k8s" >"$tmp/k8s/prometheus-kubernetes.yml"
check "promtool check config prometheus-kubernetes.yml (discovery swapped)" \
  promtool check config "$tmp/k8s/prometheus-kubernetes.yml"

rules=("$dir"/rules/*.yml)
rule_files=()
test_files=()
for f in "${rules[@]}"; do
  case $(basename "$f") in *test*) test_files+=("$f") ;; *) rule_files+=("$f") ;; esac
done
check "promtool check rules" promtool check rules "${rule_files[@]}"
check "there are rule unit tests" test ${#test_files[@]} -gt 0
for t in "${test_files[@]}"; do
  check "promtool test rules $(basename "$t")" promtool test rules "$t"
done

# promtool tests only the alerts a test names: require a firing and a silent case for each one.
check "every alert is tested firing and silent" /usr/bin/python3 - "${rule_files[@]}" -- "${test_files[@]}" <<'EOF'
import re, sys
args = sys.argv[1:]
sep = args.index("--")
alerts = set()
for path in args[:sep]:
    alerts |= set(re.findall(r"^\s*-\s*alert:\s*(\S+)", open(path).read(), re.M))
firing, silent = set(), set()
for path in args[sep + 1:]:
    name = None
    for line in open(path):
        m = re.match(r"\s*(?:-\s*)?alertname:\s*(\S+)", line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"\s*exp_alerts:\s*(\S*)", line)
        if m and name:
            (silent if m.group(1) == "[]" else firing).add(name)
            name = None
ok = bool(alerts)
for a in sorted(alerts):
    missing = [w for w, s in (("firing", firing), ("silent", silent)) if a not in s]
    if missing:
        print(f"{a}: no {' and no '.join(missing)} test case")
        ok = False
unknown = (firing | silent) - alerts
if unknown:
    print("tests name alerts that do not exist:", ", ".join(sorted(unknown)))
    ok = False
print(f"{len(alerts)} alerts")
sys.exit(0 if ok else 1)
EOF
exit $fail
