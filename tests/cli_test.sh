#!/usr/bin/env bash
# The pelican binary as a user meets it: --help, --version, and `config check` on a shipped
# example, on a file with an unknown key, and with a bad override. Usage: cli_test.sh PELICAN SRC
set -u
pelican=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}

"$pelican" --help >"$tmp/help" 2>&1
check "--help lists config" grep -q "config" "$tmp/help"
"$pelican" --version >"$tmp/version" 2>&1
check "--version names LibTorch" grep -q "LibTorch" "$tmp/version"

"$pelican" config check "$src/examples/minimal.yaml" >"$tmp/out" 2>"$tmp/err"
check "example is valid (exit 0)" test $? -eq 0
check "prints the fingerprint" grep -q "fingerprint [0-9a-f]\{16\}" "$tmp/err"
check "prints the resolved config" grep -q "^learner:" "$tmp/out"
"$pelican" config check "$tmp/../$(basename "$tmp")/nonexistent.yaml" >/dev/null 2>"$tmp/err"
check "missing file exits non-zero" test $? -ne 0

printf 'security:\n  insecure: true\nlearner:\n  optimizer:\n    learning_rate: 0.1\n' >"$tmp/bad.yaml"
"$pelican" config check "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"
check "unknown key exits 2" test $? -eq 2
check "unknown key is named with its path and line" \
  grep -q "bad.yaml:5:5: learner.optimizer.learning_rate: unknown key 'learning_rate'" "$tmp/err"

"$pelican" config check "$src/examples/minimal.yaml" --set learner.gamma=2 >/dev/null 2>"$tmp/err"
check "bad override exits 2" test $? -eq 2
check "bad override is named" grep -q "learner.gamma: 2 is out of range \[0, 1\]" "$tmp/err"

"$pelican" config check "$src/examples/minimal.yaml" --set run.seed=2 --set learner.gamma=0.5 \
  >"$tmp/out" 2>&1
check "overrides apply" grep -q "gamma: 0.5" "$tmp/out"
exit $fail
