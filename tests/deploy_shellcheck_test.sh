#!/usr/bin/env bash
# Every shell script a cluster user runs from deploy/ (and the deploy tests) passes `bash -n` and
# the shellcheck linter, which finds the quoting, subshell and exit-status bugs that only show on a
# cluster.
# Usage: deploy_shellcheck_test.sh [SRC]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
if ! command -v shellcheck >/dev/null; then
  echo "FAIL shellcheck not found: install Debian's shellcheck package (scripts/install-deps.sh does)"
  exit 1
fi
mapfile -t scripts < <(cd "$src" && { find deploy \( -name '*.sh' -o -name '*.sbatch' \) -type f; ls tests/deploy_*.sh; } | sort)
fail=0
for s in "${scripts[@]}"; do
  shell=bash
  head -1 "$src/$s" | grep -q '^#!/bin/sh' && shell="sh"
  if "$shell" -n "$src/$s" && shellcheck -s "$shell" "$src/$s"; then
    echo "ok   $s"
  else
    echo "FAIL $s"; fail=1
  fi
done
[ ${#scripts[@]} -ge 10 ] || { echo "FAIL only ${#scripts[@]} scripts found"; fail=1; }
exit $fail
