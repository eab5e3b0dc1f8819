#!/usr/bin/env bash
# deploy/k8s: every overlay renders with `kubectl kustomize` (offline) and its output passes
# deploy/k8s/validate.mjs: the Kubernetes and prometheus-operator schemas (npm kubernetes-models),
# no unknown fields (TypeScript), and pelican's wiring (selectors, ranks, addresses, labels). The
# copies generate.sh makes are current, each overlay's run config passes `pelican config check`
# (when the binary is built), and make-secret.sh makes a certificate for the names actors dial and
# a valid Secret. Usage: deploy_k8s_test.sh [SRC] [PELICAN]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
pelican=${2:-}
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
command -v node >/dev/null || missing+=" node (scripts/install-deps.sh installs nodejs)"
[ -f "$src/third_party/npm/node_modules/kubernetes-models/package.json" ] ||
  missing+=" npm packages in third_party/npm (run scripts/install-deps.sh)"
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
node "$k8s/validate.mjs" --npm "$src/third_party/npm" "${overlays[@]}" >"$tmp/validate.out" 2>&1
check "rendered overlays pass validate.mjs (schemas, fields, wiring)" test $? -eq 0
grep -v '^note ' "$tmp/validate.out"

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
node "$k8s/validate.mjs" --npm "$src/third_party/npm" "$tmp/secrets/secret.yaml" >"$tmp/secret.out" 2>&1
check "make-secret.sh's Secret is valid" test $? -eq 0 || cat "$tmp/secret.out"
check "the Secret has the keys the overlays mount" bash -c \
  "for k in tls.crt tls.key ca.crt token; do grep -q \"^  \$k: \" '$tmp/secrets/secret.yaml' || exit 1; done"
exit $fail
