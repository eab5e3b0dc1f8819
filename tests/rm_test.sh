#!/usr/bin/env bash
# `pelican rm` end to end: preference pairs labelled by a known rater (more "ab" than "ba" is
# better: a judgement about order, which a model with random weights does not make), half in the
# HH-RLHF transcript form, train a tiny reward model on the policy's tokenizer; its held-out
# pairwise accuracy must be well above chance, and `pelican reward` must load it and serve. Usage: rm_test.sh PELICAN SRC
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh" "$@"

"$py" - "$tmp/pairs.jsonl" <<'PY'
import json, random, sys
rng = random.Random(5)
def text():
    return "".join(rng.choice("abc") for _ in range(rng.randint(4, 10)))
def rate(s):  # order matters: "ab" is good, "ba" is bad
    return s.count("ab") - s.count("ba")
with open(sys.argv[1], "w") as f:
    n = 0
    while n < 600:
        x, y = text(), text()
        if rate(x) == rate(y):
            continue
        if rate(x) < rate(y):
            x, y = y, x
        if n % 2:
            f.write(json.dumps({"prompt": "Rate: ", "chosen": x, "rejected": y}) + "\n")
        else:
            h = "\n\nHuman: Rate this\n\nAssistant:"
            f.write(json.dumps({"chosen": h + " " + x, "rejected": h + " " + y}) + "\n")
        n += 1
PY
cfg=$src/examples/minimal.yaml
sets=(--set "run.dir=$tmp/run" --set "model.policy=$tmp/policy" --set "rm.train_file=$tmp/pairs.jsonl"
      --set "rm.output=$tmp/rm" --set rm.steps=500 --set rm.batch_size=16 --set rm.lr=3e-3
      --set rm.eval_fraction=0.2)
"$pelican" model init "$cfg" "${sets[@]}" --out "$tmp/policy" >/dev/null
"$pelican" rm "$cfg" "${sets[@]}" >"$tmp/rm.json" 2>"$tmp/rm.log"
check "pelican rm exits 0" test $? -eq 0
check "held-out pairwise accuracy >= 0.8" "$py" - "$tmp/rm.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"held-out pairwise accuracy {r['eval_accuracy']:.3f} (before training "
      f"{r['eval_accuracy_before']:.3f}) on {r['eval_pairs']} pairs; loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}")
sys.exit(0 if r["eval_accuracy"] >= 0.8 else 1)
PY
port=$(free_port)
"$pelican" reward "$cfg" "${sets[@]}" --set "reward.scorers=[{name: rm, reward_model: {paths: [$tmp/rm]}}]" \
  --listen "127.0.0.1:$port" --metrics_listen 127.0.0.1:0 >"$tmp/reward.log" 2>&1 &
pids+=($!)
check "the reward service loads it and serves" wait_for "$tmp/reward.log" "serving on" 60
if [ $fail -ne 0 ]; then for f in "$tmp"/*.log; do echo "== $f"; tail -20 "$f"; done; fi
exit $fail
