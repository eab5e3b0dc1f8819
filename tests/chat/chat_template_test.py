"""Chat prompts rendered by scripts/chat-prompts.py and tokenized by `pelican tokenize` give exactly
the ids of transformers' apply_chat_template(add_generation_prompt=True, tokenize=True), on the real
Qwen3 and Llama 3 templates and vocabularies (../shared/vocab).
  python tests/chat/chat_template_test.py PELICAN SRC
"""
import os
import sys

pelican, src = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(src, "scripts"))
sys.path.insert(0, os.path.join(src, "tests", "hf"))
import importlib.util  # noqa: E402

from pelican_hf import pelican_tokenize  # noqa: E402

spec = importlib.util.spec_from_file_location("chat_prompts",
                                              os.path.join(src, "scripts", "chat-prompts.py"))
chat_prompts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chat_prompts)

CONVERSATIONS = [
    [{"role": "user", "content": "What is 17 + 25?"}],
    [{"role": "system", "content": "You are a terse calculator."},
     {"role": "user", "content": "12 * 12 = ?"}],
    [{"role": "user", "content": "Tell me a joke about a pelican."},
     {"role": "assistant", "content": "Why did the pelican cross the bay? To get to the other tide."},
     {"role": "user", "content": "Another one, en français: café, naïve, 🐦"}],
    [{"role": "system", "content": "Line one\nline two\n\ttabbed"},
     {"role": "user", "content": "  leading and trailing spaces  "}],
]

failures = 0
for name in ("qwen3", "llama3"):
    vocab = os.path.normpath(os.path.join(src, "..", "shared", "vocab", name))
    if not os.path.isfile(os.path.join(vocab, "tokenizer_config.json")):
        print(f"FAIL {name}: {vocab}/tokenizer_config.json not found (the shared/ folder beside "
              "the checkout)")
        failures += len(CONVERSATIONS)
        continue
    tokenizer = chat_prompts.load(vocab)
    texts = [chat_prompts.render(tokenizer, c) for c in CONVERSATIONS]
    ours, err = pelican_tokenize(pelican, os.path.join(vocab, "tokenizer.json"), texts)
    if ours is None:
        print(f"FAIL {name}: pelican tokenize: {err}")
        failures += 1
        continue
    for i, conv in enumerate(CONVERSATIONS):
        want = tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=True)
        if hasattr(want, "input_ids"):  # a BatchEncoding in some versions
            want = want["input_ids"]
        if ours[i] != list(want):
            failures += 1
            print(f"FAIL {name} conversation {i}: rendered {texts[i]!r}\n  pelican {ours[i]}\n"
                  f"  HF      {list(want)}")
        else:
            print(f"ok   {name} conversation {i}: {len(want)} ids identical")
print(f"{2 * len(CONVERSATIONS) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
