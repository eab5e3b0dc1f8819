#!/usr/bin/env bash
# The reward service as a separate process: a Python client generated from the .proto files alone
# scores a batch and reads health; SIGTERM while calls are in flight fails none of them, and the
# process exits 0. Usage: reward_service_test.sh PELICAN SRC
set -u
pelican=$1
src=$2
py=/usr/bin/python3  # Debian's python3-grpcio lives there
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}

mkdir -p "$tmp/gen"
protoc -I"$src/proto" --python_out="$tmp/gen" --grpc_out="$tmp/gen" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
  "$src/proto/pelican/v1/reward.proto" "$src/proto/pelican/v1/rollout.proto"
# Python's own `grpc` package owns the module path grpc/, so the health stubs get another one.
mkdir -p "$tmp/hp/grpchealth"
cp "$src/proto/grpc/health/v1/health.proto" "$tmp/hp/grpchealth/"
protoc -I"$tmp/hp" --python_out="$tmp/gen" --grpc_out="$tmp/gen" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" grpchealth/health.proto
check "python stubs generated" test -f "$tmp/gen/pelican/v1/reward_pb2_grpc.py"

start() {  # start EXTRA_SET...
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$pelican" reward "$src/examples/reward-arithmetic.yaml" --listen "127.0.0.1:$port" \
    --metrics_listen 127.0.0.1:0 --set "run.dir=$tmp/run" "$@" >"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "serving on" "$tmp/server.log" && return 0; sleep 0.1; done
  cat "$tmp/server.log"; return 1
}

start
"$py" "$src/tests/reward_client.py" "$tmp/gen" "127.0.0.1:$port" score
check "python client scores and sees SERVING" test $? -eq 0
kill -TERM $pid; wait $pid
check "SIGTERM exits 0" test $? -eq 0

# With the policy's tokenizer (model.policy): ids are decoded for the verifier and checked
# against the vocabulary.
"$pelican" model init "$src/examples/reward-arithmetic.yaml" --out "$tmp/model" >"$tmp/init.log" 2>&1
check "pelican model init" test $? -eq 0 || cat "$tmp/init.log"
vocab=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$tmp/model/config.json")
ids=$(printf '#### 42\n' | "$pelican" tokenize --tokenizer "$tmp/model/tokenizer.json")
start --set "model.policy=$tmp/model"
# shellcheck disable=SC2086  # the ids are separate arguments
"$py" "$src/tests/reward_client.py" "$tmp/gen" "127.0.0.1:$port" ids "$vocab" $ids
check "server decodes ids with the policy's tokenizer, refuses ids outside it" test $? -eq 0
kill -TERM $pid; wait $pid; pid=""
start --set "model.tokenizer=$tmp/missing.json"
check "a model.tokenizer that does not exist is an error" test $? -ne 0
wait $pid
check "and the server exits non-zero" test $? -ne 0
check "naming model.tokenizer" grep -q "model.tokenizer" "$tmp/server.log"
pid=""

# Batches wait up to 2 s to fill, so calls are in flight when SIGTERM arrives.
start --set reward.max_wait_ms=2000 --set reward.max_batch_size=1000
"$py" "$src/tests/reward_client.py" "$tmp/gen" "127.0.0.1:$port" drain >"$tmp/client.log" 2>&1 &
client=$!
for _ in $(seq 100); do grep -q READY "$tmp/client.log" && break; sleep 0.1; done
sleep 0.3
kill -TERM $pid
wait $client
check "no in-flight call failed during SIGTERM" test $? -eq 0
wait $pid
check "drained server exits 0" test $? -eq 0
pid=""
cat "$tmp/client.log"
check "server logged the drain" grep -q "draining" "$tmp/server.log"
exit $fail
