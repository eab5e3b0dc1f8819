#!/usr/bin/env bash
# `pelican tokenize` end to end on the Qwen3 vocabulary: encode/decode round trips (plain and
# --json), and bad input reported with its line number and a non-zero exit.
#   tests/cli/tokenize_test.sh PATH_TO_PELICAN     (registered with CTest as cli_tokenize)
set -euo pipefail
pelican=${1:?usage: tokenize_test.sh PATH_TO_PELICAN}
src=${PELICAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tok=$src/../shared/vocab/qwen3/tokenizer.json
if [ ! -f "$tok" ]; then
  echo "FAIL: $tok not found; run scripts/install-deps.sh" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Plain lines: one line of ids per line (an empty line gives an empty line), and back.
printf 'Hello world\n\n<|im_start|>user caf\xc3\xa9 \xf0\x9f\x98\x80\n' >"$work/text"
"$pelican" tokenize --tokenizer "$tok" <"$work/text" >"$work/ids"
[ "$(wc -l <"$work/ids")" -eq 3 ] || fail "expected 3 lines of ids, got: $(cat "$work/ids")"
[ -z "$(sed -n 2p "$work/ids")" ] || fail "empty line should give no ids"
grep -qE '^[0-9]+( [0-9]+)*$' <(sed -n 1p "$work/ids") || fail "line 1 is not ids: $(sed -n 1p "$work/ids")"
grep -qw 151644 <(sed -n 3p "$work/ids") || fail "<|im_start|> should be id 151644"
"$pelican" tokenize --tokenizer "$tok" --decode <"$work/ids" >"$work/back"
cmp -s "$work/text" "$work/back" || fail "decode(encode(text)) differs: $(cat "$work/back")"
"$pelican" tokenize --tokenizer "$tok" --decode --skip-special <<<"151644 9707" >"$work/skipped"
[ "$(cat "$work/skipped")" = "Hello" ] || fail "--skip-special kept: $(cat "$work/skipped")"

# --json: text with newlines and tabs survives the round trip.
printf '%s\n' '"line one\nline two\tend \u00e9"' '""' >"$work/json"
"$pelican" tokenize --tokenizer "$tok" --json <"$work/json" >"$work/json_ids"
"$pelican" tokenize --tokenizer "$tok" --decode --json <"$work/json_ids" >"$work/json_back"
[ "$(sed -n 1p "$work/json_back")" = "\"line one\\nline two\\tend $(printf '\xc3\xa9')\"" ] ||
  fail "--json round trip gave: $(cat "$work/json_back")"
[ "$(sed -n 2p "$work/json_back")" = '""' ] || fail "empty JSON string gave: $(sed -n 2p "$work/json_back")"

# Bad input: the line number is named and the exit status is non-zero.
expect_error() {  # expect_error PATTERN ARGS... < input
  local pattern=$1; shift
  if "$pelican" tokenize --tokenizer "$tok" "$@" >/dev/null 2>"$work/err"; then
    fail "expected failure for $*"
  fi
  grep -q "$pattern" "$work/err" || fail "stderr lacks '$pattern': $(cat "$work/err")"
}
printf '%s\n' '"fine"' 'not json' | expect_error 'stdin line 2: not a JSON string' --json
printf '%s\n' '12 x' | expect_error "stdin line 1: 'x' is not an integer id" --decode
printf '%s\n' '1' '999999999' | expect_error 'stdin line 2: .*not in the vocabulary' --decode
if "$pelican" tokenize --tokenizer "$work/missing.json" </dev/null >/dev/null 2>&1; then
  fail "a missing tokenizer file should fail"
fi
echo "cli_tokenize: ok"
