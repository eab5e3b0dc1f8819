// Reference side of the tokenizer equivalence test: runs Hugging Face tokenizers (the Node binding
// of the Rust crate) over a JSONL file and writes what it returns, one JSON line per input line.
//   node hf_encode.mjs NODE_MODULES TOKENIZER_JSON INPUT_JSONL OUTPUT_JSONL
// Input lines: {"text": "..."}  -> {"ids": [...], "ids_special": [...], "decoded": "...",
//                                   "decoded_skip": "..."}   (decode of "ids")
//              {"ids": [...]}    -> {"decoded": "...", "decoded_skip": "..."}
// The first output line is {"vocab_size": N} (HF's getVocabSize(true)).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeModules, tokenizerPath, inputPath, outputPath] = process.argv.slice(2);
if (!outputPath) {
  console.error('usage: node hf_encode.mjs NODE_MODULES TOKENIZER_JSON INPUT_JSONL OUTPUT_JSONL');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(nodeModules), 'noop.js'));
const { Tokenizer } = require('@anush008/tokenizers');

const tokenizer = Tokenizer.fromFile(tokenizerPath);
const out = [JSON.stringify({ vocab_size: tokenizer.getVocabSize(true) })];
const lines = readFileSync(inputPath, 'utf8').split('\n').filter((l) => l.length > 0);
for (const line of lines) {
  const input = JSON.parse(line);
  const result = {};
  let ids = input.ids;
  if (input.text !== undefined) {
    const plain = await tokenizer.encode(input.text, null, { addSpecialTokens: false });
    const special = await tokenizer.encode(input.text, null, { addSpecialTokens: true });
    ids = plain.getIds();
    result.ids = ids;
    result.ids_special = special.getIds();
  }
  result.decoded = await tokenizer.decode(ids, false);
  result.decoded_skip = await tokenizer.decode(ids, true);
  out.push(JSON.stringify(result));
}
writeFileSync(outputPath, out.join('\n') + '\n');
