#!/usr/bin/env bash
# Makes what pelican's TLS, mutual TLS and bearer token need, for Kubernetes or Slurm:
#   ca.crt, ca.key      a private CA (keep ca.key out of the cluster)
#   tls.crt, tls.key    one certificate for every role, server and client (mutual TLS), valid for
#                       the names actors dial in NAMESPACE (pelican-reward and
#                       pelican-learner-0.pelican-learner, short and .svc forms) and for the name
#                       "pelican" (Slurm: set security.tls.server_name: pelican)
#   token               the bearer token
#   secret.yaml         the Kubernetes Secret pelican-secrets with tls.crt, tls.key, ca.crt, token
#
#   deploy/k8s/make-secret.sh [-n NAMESPACE] [--out DIR] [--days N] [--apply]
# Defaults: namespace pelican, DIR ./pelican-secrets, 365 days. --apply also runs
# `kubectl apply -f DIR/secret.yaml`. Existing files in DIR are not overwritten (the CA and token
# are kept, so re-running renews only what is missing).
set -euo pipefail

ns=pelican
out=./pelican-secrets
days=365
apply=0
while (($#)); do
  case $1 in
    -n|--namespace) ns=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --apply) apply=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "make-secret.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v openssl >/dev/null || { echo "make-secret.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "make-secret.sh: kubectl not found; it writes secret.yaml" >&2; exit 1; }

mkdir -p "$out"
chmod 700 "$out"
cd "$out"
umask 077

if [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
    -days 3650 -subj "/CN=pelican CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "make-secret.sh: new CA in $out/ca.crt"
fi

if [ ! -f tls.crt ]; then
  sans="DNS:pelican"
  # Actors dial rank 0 of the learner and the reward Service (ranks rendezvous over plain TCP).
  for name in pelican-reward pelican-learner-0.pelican-learner; do
    sans+=",DNS:$name,DNS:$name.$ns,DNS:$name.$ns.svc,DNS:$name.$ns.svc.cluster.local"
  done
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr \
    -subj "/CN=pelican" 2>/dev/null
  printf '%s\n' "subjectAltName=$sans" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" \
    >tls.ext
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt \
    -days "$days" -extfile tls.ext 2>/dev/null
  rm -f tls.csr tls.ext ca.srl
  echo "make-secret.sh: certificate $out/tls.crt for $sans"
fi

[ -f token ] || { openssl rand -hex 32 | tr -d '\n' >token; echo "make-secret.sh: new token in $out/token"; }

kubectl create secret generic pelican-secrets --namespace "$ns" \
  --from-file=tls.crt --from-file=tls.key --from-file=ca.crt --from-file=token \
  --dry-run=client -o yaml | sed '/creationTimestamp: null/d' >secret.yaml
echo "make-secret.sh: Secret pelican-secrets for namespace $ns in $out/secret.yaml"
if [ "$apply" = 1 ]; then
  kubectl apply -f secret.yaml
fi
