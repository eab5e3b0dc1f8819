#!/usr/bin/env python3
"""Renders chat prompts with the model's own chat template, for pelican's prompt datasets.

  .venv/bin/python scripts/chat-prompts.py --tokenizer MODEL_DIR IN.jsonl OUT.jsonl

Each input line {"messages": [{"role": ..., "content": ...}, ...], ...} becomes
{"prompt": TEXT, ...}: TEXT is what transformers' tokenizer.apply_chat_template(messages,
add_generation_prompt=True, tokenize=False) renders with MODEL_DIR's tokenizer_config.json, and the
line's other keys (a reference answer, say) are kept. Lines that already have "prompt" pass through.
pelican tokenizes TEXT with the same tokenizer.json, special tokens included, so the ids are those of
apply_chat_template(tokenize=True) (tests/chat/chat_template_test.py checks this on the Qwen3 and
Llama 3 templates). Errors name the line; nothing is written unless every line renders.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import transformers  # noqa: E402

transformers.utils.logging.set_verbosity_error()


def load(tokenizer_dir):
    return transformers.AutoTokenizer.from_pretrained(tokenizer_dir)


def render(tokenizer, messages, extra=None):
    """The prompt text for `messages`, as apply_chat_template(add_generation_prompt=True)."""
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                         **(extra or {}))


def check_messages(messages):
    if not isinstance(messages, list) or not messages:
        return "\"messages\" must be a non-empty list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or \
                not isinstance(m.get("content"), str):
            return f"messages[{i}] must be an object with string \"role\" and \"content\""
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", required=True,
                        help="folder with tokenizer.json and tokenizer_config.json (chat_template)")
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()
    tokenizer = load(args.tokenizer)
    if not tokenizer.chat_template:
        sys.exit(f"chat-prompts: {args.tokenizer}/tokenizer_config.json has no chat_template")
    out = []
    with open(args.input, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"chat-prompts: {args.input}:{n}: invalid JSON: {e}")
            if not isinstance(item, dict):
                sys.exit(f"chat-prompts: {args.input}:{n}: not a JSON object")
            if "prompt" not in item:
                problem = check_messages(item.get("messages"))
                if problem:
                    sys.exit(f"chat-prompts: {args.input}:{n}: {problem}")
                item["prompt"] = render(tokenizer, item.pop("messages"))
            out.append(json.dumps(item, ensure_ascii=False))
    with open(args.output + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(args.output + ".tmp", args.output)
    print(f"chat-prompts: {len(out)} prompts -> {args.output}")


if __name__ == "__main__":
    main()
