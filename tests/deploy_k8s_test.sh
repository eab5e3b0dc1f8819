#!/usr/bin/env bash
# deploy/k8s: every overlay renders with `kubectl kustomize` (offline) and its output passes
# deploy/k8s/validate.py: the Kubernetes schemas (PyPI kubernetes-validate, strict: no unknown
# fields), the prometheus-operator CRD schemas of ../shared/k8s-crds (closed: no unknown fields),
# and pelican's wiring (selectors, ranks, addresses, labels). The
# copies generate.sh makes are current, each overlay's run config passes `pelican config check`
# (when the binary is built), and make-secret.sh makes a certificate for the names actors dial and
# a valid Secret. Usage: deploy_k8s_test.sh [SRC] [PELICAN]
# PELICAN_PYTHON: the interpreter with the packages of scripts/requirements.lock (default SRC/.venv).
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
pelican=${2:-}
python=${PELICAN_PYTHON:-$src/.venv/bin/python}
k8s=$src/deploy/k8s
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}
missing=""
command -v kubectl >/dev/null || missing+=" kubectl (https://kubernetes.io/docs/tasks/tools/; kubectl kustomize needs no cluster)"
"$python" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null ||
  missing+=" kubernetes-validate, jsonschema and PyYAML for $python (run scripts/install-deps.sh)"
if [ -n "$missing" ]; then
  echo "FAIL missing:$missing"
  exit 1
fi

check "generated copies are current (deploy/k8s/generate.sh --check)" bash "$k8s/generate.sh" --check

overlays=()
for dir in "$k8s"/overlays/*/; do
  name=$(basename "$dir")
  if kubectl kustomize "$dir" >"$tmp/$name.yaml" 2>"$tmp/$name.err" && [ -s "$tmp/$name.yaml" ]; then
    echo "ok   kubectl kustomize overlays/$name ($(grep -c '^kind:' "$tmp/$name.yaml") objects)"
    overlays+=("$tmp/$name.yaml")
  else
    echo "FAIL kubectl kustomize overlays/$name"; cat "$tmp/$name.err"; fail=1
  fi
done
check "there are overlays cpu-demo and gpu" test -f "$tmp/cpu-demo.yaml" -a -f "$tmp/gpu.yaml"
"$python" "$k8s/validate.py" "${overlays[@]}" >"$tmp/validate.out" 2>&1
check "rendered overlays pass validate.py (schemas, fields, wiring)" test $? -eq 0
grep -v '^note ' "$tmp/validate.out"

# validate.py must refuse what the API server would: each mutation of the gpu rendering fails,
# naming the object and the field.
"$python" - "$k8s/validate.py" "$tmp/gpu.yaml" "$tmp" <<'EOF' >"$tmp/mutations.out" 2>&1
import subprocess, sys, yaml
validate, rendered, tmp = sys.argv[1:]
def first(docs, kind):
    return next(d for d in docs if d["kind"] == kind)
mutations = [
    ("misspelt Deployment field", "replicass",
     lambda ds: first(ds, "Deployment")["spec"].__setitem__("replicass", 2)),
    ("misspelt container field", "imagee",
     lambda ds: first(ds, "Deployment")["spec"]["template"]["spec"]["containers"][0].__setitem__("imagee", "x")),
    ("wrong type", "replicas",
     lambda ds: first(ds, "StatefulSet")["spec"].__setitem__("replicas", "two")),
    ("misspelt PodMonitor field (CRD schema)", "podMetricEndpoints",
     lambda ds: first(ds, "PodMonitor")["spec"].__setitem__("podMetricEndpoints", [])),
    ("misspelt PrometheusRule field (CRD schema)", "rulez",
     lambda ds: first(ds, "PrometheusRule")["spec"]["groups"][0].__setitem__("rulez", [])),
    ("kind with no schema", "no schema",
     lambda ds: ds.append({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "x"}})),
    ("WORLD_SIZE unequal to replicas (wiring)", "WORLD_SIZE",
     lambda ds: first(ds, "StatefulSet")["spec"].__setitem__("replicas", 7)),
]
bad = 0
for name, expect, mutate in mutations:
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    mutate(docs)
    path = f"{tmp}/mutated.yaml"
    with open(path, "w") as f:
        yaml.safe_dump_all(docs, f)
    r = subprocess.run([sys.executable, validate, path], capture_output=True, text=True)
    hits = [l for l in r.stdout.splitlines() if l.startswith("FAIL") and expect in l]
    ok = r.returncode != 0 and bool(hits)
    print(("ok   " if ok else "FAIL ") + f"validate.py refuses a {name}" + ("" if ok else ": " + r.stdout))
    bad |= not ok
sys.exit(1 if bad else 0)
EOF
check "validate.py refuses every mutation" test $? -eq 0
cat "$tmp/mutations.out"

for run in "$k8s"/overlays/*/run.yaml; do
  name=$(basename "$(dirname "$run")")
  if [ -x "$pelican" ]; then
    "$pelican" config check "$run" >/dev/null 2>"$tmp/config.err"
    check "pelican config check overlays/$name/run.yaml" test $? -eq 0 || cat "$tmp/config.err"
  else
    echo "note overlays/$name/run.yaml not checked: no pelican binary given (built by CMake)"
  fi
done

"$k8s/make-secret.sh" -n testns --out "$tmp/secrets" >"$tmp/secret.log" 2>&1
check "make-secret.sh runs" test $? -eq 0
check "the certificate chains to the CA" bash -c \
  "openssl verify -CAfile '$tmp/secrets/ca.crt' '$tmp/secrets/tls.crt' >/dev/null"
for host in pelican-reward pelican-learner-0.pelican-learner pelican-reward.testns.svc pelican; do
  check "the certificate is valid for $host" bash -c \
    "openssl x509 -in '$tmp/secrets/tls.crt' -noout -checkhost '$host' | grep -q 'does match'"
done
check "the certificate serves and authenticates clients" bash -c \
  "openssl x509 -in '$tmp/secrets/tls.crt' -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'"
"$python" "$k8s/validate.py" "$tmp/secrets/secret.yaml" >"$tmp/secret.out" 2>&1
check "make-secret.sh's Secret is valid" test $? -eq 0 || cat "$tmp/secret.out"
check "the Secret has the keys the overlays mount" bash -c \
  "for k in tls.crt tls.key ca.crt token; do grep -q \"^  \$k: \" '$tmp/secrets/secret.yaml' || exit 1; done"
exit $fail
