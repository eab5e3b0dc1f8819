"""pelican against Hugging Face transformers on the same checkpoints (ctest label `hf`).

For each config variant, transformers builds a random model and writes it with save_pretrained;
pelican loads that directory (tests/hf/hf_forward) and both compute, in fp32 on the CPU:
  - the logits of a left-padded batch of mixed lengths (compared at real positions);
  - per-token log-probs of the batch's tokens, as the learner trains on them;
  - greedy 32-token continuations of prompts of different lengths, batched in pelican (left
    padding) and one at a time in transformers' generate(do_sample=False);
  - for sequence classifiers (reward models), the pooled score of each row.
Limits: max |pelican - transformers| <= 1e-4 for logits, log-probs and scores; greedy tokens equal.
Prints one table row per variant and exits 1 if any variant misses a limit.

  python tests/hf/parity_test.py HF_FORWARD [--real-size] [--only NAME]
--real-size runs one model with Qwen2.5-0.5B's published config.json values (random weights)
instead, and reports load time and resident memory.
"""
import argparse
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from pelican_hf import left_padded_batch, position_ids, run_hf_forward  # noqa: E402

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

TOL = 1e-4
MAX_NEW = 32


def variants():
    small = dict(vocab_size=96, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
                 max_position_embeddings=256, initializer_range=0.1, rms_norm_eps=1e-6)
    return [
        ("llama GQA untied, theta 1e4", transformers.LlamaConfig,
         dict(small, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)),
        ("llama MHA tied, llama3 rope, theta 5e5", transformers.LlamaConfig,
         dict(small, num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True,
              rope_theta=500000.0,
              rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                high_freq_factor=4.0, original_max_position_embeddings=32))),
        ("llama linear rope x2, head_dim 32", transformers.LlamaConfig,
         dict(small, num_attention_heads=2, num_key_value_heads=1, head_dim=32,
              rope_scaling=dict(rope_type="linear", factor=2.0))),
        ("qwen2 qkv bias, GQA, tied, theta 1e6", transformers.Qwen2Config,
         dict(small, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
              rope_theta=1000000.0)),
        ("qwen2 MHA untied, 3 layers", transformers.Qwen2Config,
         dict(small, num_hidden_layers=3, num_attention_heads=8, num_key_value_heads=8,
              tie_word_embeddings=False)),
        ("qwen3 q/k norm, head_dim 32 > hidden/heads", transformers.Qwen3Config,
         dict(small, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
              tie_word_embeddings=False, rope_theta=1000000.0)),
        ("qwen3 tied, MHA, head_dim 16", transformers.Qwen3Config,
         dict(small, num_attention_heads=4, num_key_value_heads=4, head_dim=16,
              tie_word_embeddings=True)),
        ("qwen2 reward model (sequence classification)", transformers.Qwen2Config,
         dict(small, num_attention_heads=4, num_key_value_heads=2, num_labels=1,
              pad_token_id=0, classifier=True)),
        ("llama reward model (sequence classification)", transformers.LlamaConfig,
         dict(small, num_attention_heads=4, num_key_value_heads=1, num_labels=1,
              pad_token_id=0, classifier=True)),
    ]


def real_size_variant():
    # Qwen2.5-0.5B's config.json (published values), random weights.
    return ("Qwen2.5-0.5B config, random weights", transformers.Qwen2Config, dict(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
        initializer_range=0.02, sliding_window=None, use_sliding_window=False,
        max_window_layers=21))


def run_variant(name, cls, kwargs, hf_forward, workdir, lengths, greedy_lengths):
    kwargs = dict(kwargs)
    classifier = kwargs.pop("classifier", False)
    torch.manual_seed(0)
    config = cls(**kwargs)
    auto = (transformers.AutoModelForSequenceClassification if classifier
            else transformers.AutoModelForCausalLM)
    model = auto.from_config(config, dtype=torch.float32).eval()
    model_dir = os.path.join(workdir, "model")
    model.save_pretrained(model_dir)

    ids, mask = left_padded_batch(config.vocab_size, lengths, seed=1)
    prompts = [left_padded_batch(config.vocab_size, [n], seed=10 + n)[0][0].tolist()
               for n in greedy_lengths]
    request = {"input_ids": ids.tolist(), "attention_mask": mask.tolist()}
    if not classifier:
        request.update(greedy_prompts=prompts, max_new_tokens=MAX_NEW)
    start = time.monotonic()
    resp, err = run_hf_forward(hf_forward, model_dir, request, workdir)
    pelican_seconds = time.monotonic() - start
    if resp is None:
        return dict(name=name, error=f"hf_forward failed: {err}")

    real = mask.bool()
    out = dict(name=name, pelican_seconds=pelican_seconds, load_seconds=resp["load_seconds"])
    with torch.no_grad():
        hf = model(input_ids=ids, attention_mask=mask, position_ids=position_ids(mask))
    if classifier:
        ours = torch.tensor(resp["scores"]).reshape(resp["score_shape"])
        out["score_diff"] = (ours - hf.logits.float()).abs().max().item()
        return out
    logits = torch.tensor(resp["logits"]).reshape(resp["shape"])
    out["logit_diff"] = (logits - hf.logits)[real].abs().max().item()
    hf_lp = torch.log_softmax(hf.logits[:, :-1].double(), -1).gather(
        -1, ids[:, 1:, None]).squeeze(-1).float()
    ours_lp = torch.tensor(resp["logprobs"])
    # Where the predicting position and the predicted token are both real (the first real token of
    # a left-padded row is predicted from padding, meaningless in either).
    scored = real[:, 1:] & real[:, :-1]
    out["logprob_diff"] = (ours_lp - hf_lp)[scored].abs().max().item()

    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    agree = 0
    for p, ours in zip(prompts, resp["greedy"]):
        with torch.no_grad():
            gen = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p),
                                 dtype=torch.long), do_sample=False, max_new_tokens=MAX_NEW,
                                 min_new_tokens=0, eos_token_id=None)
        agree += gen[0, len(p):].tolist() == ours
    out["greedy"] = (agree, len(prompts))
    return out


def passed(r):
    if "error" in r:
        return False
    diffs = [r.get(k) for k in ("logit_diff", "logprob_diff", "score_diff") if k in r]
    greedy_ok = "greedy" not in r or r["greedy"][0] == r["greedy"][1]
    return all(d <= TOL for d in diffs) and greedy_ok


def row(r):
    if "error" in r:
        return f"| {r['name']} | FAIL: {r['error']} | | | |"
    fmt = lambda k: f"{r[k]:.2e}" if k in r else "—"
    greedy = f"{r['greedy'][0]}/{r['greedy'][1]} identical" if "greedy" in r else "—"
    return (f"| {r['name']} | {fmt('logit_diff')} | {fmt('logprob_diff')} | {fmt('score_diff')} "
            f"| {greedy} | {'ok' if passed(r) else 'FAIL'} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("hf_forward")
    parser.add_argument("--real-size", action="store_true")
    parser.add_argument("--only")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"transformers {transformers.__version__}, torch {torch.__version__}; limit {TOL}")
    print("| variant | max logit diff | max log-prob diff | max score diff | greedy 32 tokens | |")
    print("| --- | --: | --: | --: | --- | --- |")
    chosen = [real_size_variant()] if args.real_size else variants()
    if args.only:
        chosen = [v for v in chosen if args.only in v[0]]
    failures = 0
    for name, cls, kwargs in chosen:
        with tempfile.TemporaryDirectory() as workdir:
            if args.real_size:
                r = run_variant(name, cls, kwargs, args.hf_forward, workdir, [7, 16, 3], [5, 9])
            else:
                r = run_variant(name, cls, kwargs, args.hf_forward, workdir, [5, 12, 1, 9],
                                [3, 8, 13])
        print(row(r), flush=True)
        if args.real_size and "pelican_seconds" in r:
            print(f"pelican: load {r['load_seconds']:.1f} s; the whole hf_forward run (load, "
                  f"forward, {MAX_NEW} greedy tokens) {r['pelican_seconds']:.1f} s")
        failures += not passed(r)
    if args.real_size:
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak resident memory of pelican's process: {child:.0f} MiB")
    print(f"{len(chosen) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
