#!/usr/bin/env bash
# `pelican model init` as a user runs it: a tiny HF model directory with its own tokenizer, that
# `pelican tokenize` reads back; a reward-head variant; bad input refused.
# Usage: model_init_test.sh PELICAN SRC
set -u
pelican=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}

printf '12+30=42\n7+8=15\nthe pelican flew over the sea\n' >"$tmp/corpus.txt"
"$pelican" model init "$src/examples/minimal.yaml" --out "$tmp/policy" --corpus "$tmp/corpus.txt" \
  --vocab_size 300 --set model.tiny.num_layers=1 >"$tmp/out" 2>&1
check "init exits 0" test $? -eq 0
for f in config.json model.safetensors generation_config.json tokenizer.json; do
  check "writes $f" test -s "$tmp/policy/$f"
done
check "config.json is a Llama causal LM" grep -q '"LlamaForCausalLM"' "$tmp/policy/config.json"
check "num_layers override applied" grep -q '"num_hidden_layers": *1' "$tmp/policy/config.json"
check "reports the parameter count" grep -q "parameters, vocabulary" "$tmp/out"

text='the pelican flew over 12+30=42'
ids=$(echo "$text" | "$pelican" tokenize --tokenizer "$tmp/policy/tokenizer.json")
back=$(echo "$ids" | "$pelican" tokenize --tokenizer "$tmp/policy/tokenizer.json" --decode)
check "tokenizer round trip" test "$back" = "$text"
check "merges were learned (fewer ids than bytes)" test "$(echo "$ids" | wc -w)" -lt ${#text}

"$pelican" model init "$src/examples/minimal.yaml" --out "$tmp/rm" --head reward >/dev/null 2>&1
check "reward head init exits 0" test $? -eq 0
check "reward model config" grep -q 'ForSequenceClassification' "$tmp/rm/config.json"

"$pelican" model init "$src/examples/minimal.yaml" --out "$tmp/bad" --vocab_size 10 >/dev/null \
  2>"$tmp/err"
check "too small a vocabulary exits 2" test $? -eq 2
check "and says why" grep -q "vocab_size" "$tmp/err"
exit $fail
