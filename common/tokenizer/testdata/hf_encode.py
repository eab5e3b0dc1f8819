"""Reference side of the tokenizer equivalence test: runs Hugging Face tokenizers (the Python
package over the Rust crate) over a JSONL file and writes what it returns, one JSON line per input.
  python hf_encode.py TOKENIZER_JSON INPUT_JSONL OUTPUT_JSONL
Input lines: {"text": "..."}  -> {"ids": [...], "ids_special": [...], "decoded": "...",
                                  "decoded_skip": "..."}   (decode of "ids")
             {"ids": [...]}    -> {"decoded": "...", "decoded_skip": "..."}
The first output line is {"vocab_size": N} (get_vocab_size(with_added_tokens=True)).
"""
import json
import sys

from tokenizers import Tokenizer


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: python hf_encode.py TOKENIZER_JSON INPUT_JSONL OUTPUT_JSONL")
    _, tokenizer_path, input_path, output_path = argv
    tokenizer = Tokenizer.from_file(tokenizer_path)
    out = [json.dumps({"vocab_size": tokenizer.get_vocab_size(with_added_tokens=True)})]
    with open(input_path, encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line]
    for line in lines:
        item = json.loads(line)
        result = {}
        ids = item.get("ids")
        if "text" in item:
            ids = tokenizer.encode(item["text"], add_special_tokens=False).ids
            result["ids"] = ids
            result["ids_special"] = tokenizer.encode(item["text"], add_special_tokens=True).ids
        result["decoded"] = tokenizer.decode(ids, skip_special_tokens=False)
        result["decoded_skip"] = tokenizer.decode(ids, skip_special_tokens=True)
        out.append(json.dumps(result, ensure_ascii=False))
    with open(output_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv)
