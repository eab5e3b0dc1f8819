"""HF side of bench/tokenizer_bench.cc: times Hugging Face tokenizers (the Python package over the
Rust crate) encoding a JSONL corpus (one JSON string per line), without special tokens.
  python hf_tokenizer_bench.py TOKENIZER_JSON CORPUS_JSONL REPEATS
Prints one JSON line: {"batch_seconds": best encode_batch time, "call_seconds": best time for one
encode() per line, "tokens": ids produced}. Run it with RAYON_NUM_THREADS=1 to keep encode_batch on
one thread.
"""
import json
import sys
import time

from tokenizers import Tokenizer

tokenizer_path, corpus_path = sys.argv[1], sys.argv[2]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
tokenizer = Tokenizer.from_file(tokenizer_path)
with open(corpus_path, encoding="utf-8") as f:
    lines = [json.loads(line) for line in f.read().split("\n") if line]

batch_seconds, tokens = float("inf"), 0
for _ in range(repeats):
    t0 = time.perf_counter()
    encodings = tokenizer.encode_batch(lines, add_special_tokens=False)
    batch_seconds = min(batch_seconds, time.perf_counter() - t0)
    tokens = sum(len(e.ids) for e in encodings)
call_seconds = float("inf")
for _ in range(repeats):
    t0 = time.perf_counter()
    for line in lines:
        tokenizer.encode(line, add_special_tokens=False)
    call_seconds = min(call_seconds, time.perf_counter() - t0)
print(json.dumps({"batch_seconds": batch_seconds, "call_seconds": call_seconds, "tokens": tokens}))
