"""What pelican writes loads in Hugging Face transformers and computes the same (ctest label `hf`).

Makes three model directories with pelican's own commands, as a user would:
  - an SFT checkpoint and an RL checkpoint's policy: `pelican run` on the arithmetic GRPO config,
    shortened (its SFT stage writes the first, the learner's checkpoints the second);
  - a reward model: `pelican rm` on preference pairs;
then loads each with AutoModelForCausalLM / AutoModelForSequenceClassification and AutoTokenizer,
and requires logits (or scores) within 1e-4 of pelican's own (tests/hf/hf_forward on the same
directory) and the tokenizer's ids equal to `pelican tokenize`'s.

  python tests/hf/checkpoints_test.py PELICAN HF_FORWARD SRC
"""
import glob
import json
import os
import random
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from pelican_hf import (left_padded_batch, pelican_tokenize, position_ids,  # noqa: E402
                        run_hf_forward)

transformers.utils.logging.set_verbosity_error()

TOL = 1e-4
pelican, hf_forward, src = sys.argv[1:4]
failures = 0


def report(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    failures += 0 if ok else 1
    return ok


def run(args, log):
    with open(log, "w") as f:
        proc = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, timeout=600)
    if proc.returncode != 0:
        print(open(log).read()[-3000:])
    return proc.returncode == 0


def pelican_outputs(model_dir, ids, mask, workdir):
    resp, err = run_hf_forward(hf_forward, model_dir,
                               {"input_ids": ids.tolist(), "attention_mask": mask.tolist()},
                               workdir)
    if resp is None:
        raise RuntimeError(f"hf_forward {model_dir}: {err}")
    return resp


def check_tokenizer(name, model_dir, texts):
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    ours, err = pelican_tokenize(pelican, os.path.join(model_dir, "tokenizer.json"), texts)
    if not report(ours is not None, f"{name}: pelican tokenize runs"):
        print(err)
        return
    theirs = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    bad = [i for i in range(len(texts)) if ours[i] != theirs[i]]
    report(not bad, f"{name}: AutoTokenizer ({type(tok).__name__}) gives pelican's ids on "
           f"{len(texts) - len(bad)}/{len(texts)} texts"
           + (f"; first difference: {texts[bad[0]]!r}: pelican {ours[bad[0]]}, HF "
              f"{theirs[bad[0]]}" if bad else ""))


def check_causal_lm(name, model_dir, workdir):
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    ids, mask = left_padded_batch(model.config.vocab_size, [12, 7, 3], seed=len(name))
    resp = pelican_outputs(model_dir, ids, mask, workdir)
    ours = torch.tensor(resp["logits"]).reshape(resp["shape"])
    with torch.no_grad():
        hf = model(input_ids=ids, attention_mask=mask,
                   position_ids=position_ids(mask)).logits
    diff = (ours - hf)[mask.bool()].abs().max().item()
    report(diff <= TOL, f"{name}: AutoModelForCausalLM ({type(model).__name__}) logits within "
           f"{diff:.2e} of pelican's (limit {TOL})")


def check_classifier(name, model_dir, workdir):
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        model_dir, dtype=torch.float32)
    model.eval()
    ids, mask = left_padded_batch(model.config.vocab_size, [12, 7, 3], seed=7)
    resp = pelican_outputs(model_dir, ids, mask, workdir)
    ours = torch.tensor(resp["scores"]).reshape(resp["score_shape"])
    with torch.no_grad():
        hf = model(input_ids=ids, attention_mask=mask,
                   position_ids=position_ids(mask)).logits
    diff = (ours - hf).abs().max().item()
    report(diff <= TOL, f"{name}: AutoModelForSequenceClassification ({type(model).__name__}) "
           f"scores within {diff:.2e} of pelican's (limit {TOL})")


with tempfile.TemporaryDirectory() as tmp:
    # 1 and 2: a short GRPO run; its SFT stage writes tmp/sft, its learner checkpoints.
    cfg = os.path.join(src, "examples", "arithmetic-grpo.yaml")
    ok = run([pelican, "run", cfg, "--run_dir", os.path.join(tmp, "run"),
              "--set", f"model.policy={tmp}/sft", "--set", "sft.steps=100",
              "--set", "learner.total_steps=4", "--set", "learner.prompts_per_step=8",
              "--set", "learner.checkpoint.every_steps=2", "--set", "actors.prompts_per_batch=4",
              "--set", "guard.action=alert", "--set", "task.eval_size=8"],
             os.path.join(tmp, "run.log"))
    report(ok, "pelican run (SFT, then 4 GRPO steps with checkpoints) exits 0")
    policies = sorted(glob.glob(os.path.join(tmp, "run", "checkpoints", "step-*", "policy")))
    texts = ["12+34=", "7+8=46", " 999 + 1 = 1000", "x", ""]
    if report(os.path.isdir(os.path.join(tmp, "sft")), "the SFT checkpoint exists"):
        check_causal_lm("SFT checkpoint", os.path.join(tmp, "sft"), tmp)
        check_tokenizer("SFT checkpoint", os.path.join(tmp, "sft"), texts)
    if report(bool(policies), "an RL checkpoint's policy exists"):
        check_causal_lm(f"RL checkpoint {policies[-1].split(os.sep)[-2]}", policies[-1], tmp)
        check_tokenizer("RL checkpoint", policies[-1], texts)

    # 3: a reward model from `pelican rm` (as tests/rm_test.sh, shorter).
    rng = random.Random(5)
    pairs = os.path.join(tmp, "pairs.jsonl")
    with open(pairs, "w") as f:
        for _ in range(200):
            x = "".join(rng.choice("ab") for _ in range(rng.randint(3, 8)))
            f.write(json.dumps({"prompt": "Rate: ", "chosen": x + "!", "rejected": x}) + "\n")
    minimal = os.path.join(src, "examples", "minimal.yaml")
    sets = ["--set", f"run.dir={tmp}/rmrun", "--set", f"model.policy={tmp}/policy",
            "--set", f"rm.train_file={pairs}", "--set", f"rm.output={tmp}/rm",
            "--set", "rm.steps=30", "--set", "rm.batch_size=16", "--set", "rm.eval_fraction=0.2"]
    ok = run([pelican, "model", "init", minimal, *sets, "--out", f"{tmp}/policy"],
             os.path.join(tmp, "init.log"))
    ok = ok and run([pelican, "rm", minimal, *sets], os.path.join(tmp, "rm.log"))
    if report(ok, "pelican model init and pelican rm exit 0"):
        check_causal_lm("pelican model init", f"{tmp}/policy", tmp)
        check_classifier("reward model", f"{tmp}/rm", tmp)
        check_tokenizer("reward model", f"{tmp}/rm", ["Rate: abba!", "ab"])

print(f"{'FAIL' if failures else 'ok'}: {failures} failed")
sys.exit(1 if failures else 0)
