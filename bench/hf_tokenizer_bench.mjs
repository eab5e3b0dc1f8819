// HF side of bench/tokenizer_bench.cc: times Hugging Face tokenizers (Node binding of the Rust
// crate) encoding a JSONL corpus (one JSON string per line), without special tokens.
//   node hf_tokenizer_bench.mjs NODE_MODULES TOKENIZER_JSON CORPUS_JSONL REPEATS
// Prints one JSON line: {"batch_seconds": best encodeBatch time, "call_seconds": best time for
// one awaited encode() per line, "tokens": ids produced}. Run it with RAYON_NUM_THREADS=1 to keep
// encodeBatch on one thread.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeModules, tokenizerPath, corpusPath, repeatsArg] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeModules), 'noop.js'));
const { Tokenizer } = require('@anush008/tokenizers');

const tokenizer = Tokenizer.fromFile(tokenizerPath);
const lines = readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
const repeats = Number(repeatsArg || 3);

let batchSeconds = Infinity;
let tokens = 0;
for (let r = 0; r < repeats; ++r) {
  const t0 = process.hrtime.bigint();
  const encodings = await tokenizer.encodeBatch(lines, { addSpecialTokens: false });
  const t1 = process.hrtime.bigint();
  batchSeconds = Math.min(batchSeconds, Number(t1 - t0) / 1e9);
  tokens = encodings.reduce((n, e) => n + e.getLength(), 0);
}
let callSeconds = Infinity;
for (let r = 0; r < repeats; ++r) {
  const t0 = process.hrtime.bigint();
  for (const line of lines) await tokenizer.encode(line, null, { addSpecialTokens: false });
  const t1 = process.hrtime.bigint();
  callSeconds = Math.min(callSeconds, Number(t1 - t0) / 1e9);
}
console.log(JSON.stringify({ batch_seconds: batchSeconds, call_seconds: callSeconds, tokens }));
