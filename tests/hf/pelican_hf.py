"""What the Hugging Face tests share: pelican's side (hf_forward, `pelican tokenize`) and the
batches both sides compute on."""
import json
import os
import subprocess

import torch


def left_padded_batch(vocab, lengths, seed):
    """ids, attention_mask [len(lengths), max(lengths)]: random rows, left-padded as pelican's
    actors and learner pad. Ids start at 1, so a classifier's pad id 0 appears only as padding."""
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    ids = torch.zeros(len(lengths), t, dtype=torch.long)
    mask = torch.zeros(len(lengths), t, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, t - n:] = torch.randint(1, vocab, (n,), generator=g)
        mask[b, t - n:] = 1
    return ids, mask


def position_ids(mask):
    """The positions pelican gives a left-padded row: 0 at its first real token."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def run_hf_forward(hf_forward, model_dir, request, workdir):
    """Runs tests/hf/hf_forward on `request`; returns (response, "") or (None, its stderr)."""
    req_path, resp_path = os.path.join(workdir, "req.json"), os.path.join(workdir, "resp.json")
    with open(req_path, "w") as f:
        json.dump(request, f)
    proc = subprocess.run([hf_forward, model_dir, req_path, resp_path], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    with open(resp_path) as f:
        return json.load(f), ""


def pelican_tokenize(pelican, tokenizer_json, texts):
    """Returns (ids per text, "") or (None, pelican's stderr) when it fails."""
    stdin = "".join(json.dumps(t) + "\n" for t in texts)
    proc = subprocess.run([pelican, "tokenize", "--tokenizer", tokenizer_json, "--json"],
                          input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    # One line of space-separated ids per input line.
    return [[int(x) for x in line.split()] for line in proc.stdout.splitlines()], ""
