// Runs Hugging Face tokenizers (the Python package, in the environment scripts/install-deps.sh
// makes) as the reference for tests: common/tokenizer/testdata/hf_encode.py.
//   inputs --JSONL--> python hf_encode.py --JSONL--> HfOutput per input
#ifndef PELICAN_COMMON_TOKENIZER_TESTING_HF_REFERENCE_H_
#define PELICAN_COMMON_TOKENIZER_TESTING_HF_REFERENCE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican::tokenizer::testing {

// $PELICAN_SOURCE_DIR (set by pelican_test), or "." when unset.
std::string SourceDir();
// $PELICAN_PYTHON (set by pelican_test), else $PELICAN_SOURCE_DIR/.venv/bin/python.
std::string ReferencePython();
// A real vocabulary from the shared folder beside the checkout, e.g. VocabPath("qwen3") is
// $PELICAN_SOURCE_DIR/../shared/vocab/qwen3/tokenizer.json.
std::string VocabPath(const std::string& name);

// FailedPrecondition, saying to run scripts/install-deps.sh, when the Python tokenizers package or
// the real vocabularies are missing.
absl::Status CheckReferenceAvailable();

// What to ask HF: encode `text`, or decode `ids`.
struct HfInput {
  std::optional<std::string> text;
  std::vector<int32_t> ids;  // used when !text
};

struct HfOutput {
  std::vector<int32_t> ids;          // encode(text, addSpecialTokens=false)
  std::vector<int32_t> ids_special;  // encode(text, addSpecialTokens=true)
  std::string decoded;               // decode(ids, skipSpecialTokens=false)
  std::string decoded_skip;          // decode(ids, skipSpecialTokens=true)
};

struct HfRun {
  int64_t vocab_size = 0;         // getVocabSize(withAddedTokens=true)
  std::vector<HfOutput> outputs;  // one per input
};

// Runs the reference on `tokenizer_json_path`. Writes scratch files under `work_dir`.
absl::StatusOr<HfRun> RunHfReference(const std::string& tokenizer_json_path,
                                     const std::vector<HfInput>& inputs,
                                     const std::string& work_dir);

// Encodes and decodes every text with `tokenizer` and with HF on the same file; returns one
// description per text whose ids (with and without special tokens) or decodings (with and without
// skipping special tokens) differ. Error when the reference cannot run.
absl::StatusOr<std::vector<std::string>> CompareWithHf(const Tokenizer& tokenizer,
                                                       const std::string& tokenizer_json_path,
                                                       const std::vector<std::string>& texts,
                                                       const std::string& work_dir);

// Prints `s` with control characters, backslashes and non-ASCII bytes as \xNN.
std::string Escaped(const std::string& s);

// Quotes `s` for /bin/sh.
std::string ShellQuote(const std::string& s);

}  // namespace pelican::tokenizer::testing

#endif  // PELICAN_COMMON_TOKENIZER_TESTING_HF_REFERENCE_H_
