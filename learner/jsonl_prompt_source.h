// Prompts from a JSONL file (task.kind = jsonl), one JSON object per line, served epoch after
// epoch, each epoch in its own seeded shuffled order.
//
//   train.jsonl ──► JsonlPromptSource (parse all, shuffle per epoch, encode on Next) ──► ledger
#ifndef PELICAN_LEARNER_JSONL_PROMPT_SOURCE_H_
#define PELICAN_LEARNER_JSONL_PROMPT_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/prompt_source.h"

namespace pelican {

// Text → token ids (the policy's tokenizer). Must be deterministic.
using PromptEncoder = std::function<std::vector<int32_t>(const std::string&)>;

struct JsonlPromptSourceOptions {
  // Key of the prompt text (a non-empty string) in each line's object.
  std::string prompt_key = "prompt";
  // Key of the reference answer, copied into metadata["reference"]. Strings are taken as they
  // are; numbers and booleans in their JSON spelling ("42", "0.5", "true").
  std::string reference_key = "answer";
  // When true a line without `reference_key` is an error; when false the prompt simply has no
  // reference (RLHF prompts scored by a reward model).
  bool require_reference = false;
  // Seed of the shuffled order (run.seed).
  uint64_t seed = 1;
};

// Thread safety: not thread-safe (see PromptSource).
class JsonlPromptSource : public PromptSource {
 public:
  // Reads and validates the whole file. Errors name the file and the 1-based line:
  //   NOT_FOUND / PERMISSION_DENIED: the file cannot be read;
  //   INVALID_ARGUMENT "train.jsonl:7: invalid JSON ..." / "... missing key \"prompt\"" /
  //   "... key \"prompt\" must be a non-empty string" / "... no prompts".
  // Blank lines are skipped (and still counted for line numbers). `encoder` is called by Next().
  static absl::StatusOr<std::unique_ptr<JsonlPromptSource>> Open(
      const std::string& path, const JsonlPromptSourceOptions& options, PromptEncoder encoder);

  // INVALID_ARGUMENT "train.jsonl:7: prompt encodes to no tokens" when the encoder returns nothing.
  absl::StatusOr<Prompt> Next() override;
  v1::PromptCursor Cursor() const override;
  absl::Status Restore(const v1::PromptCursor& cursor) override;

  // Prompts per epoch.
  size_t size() const { return entries_.size(); }

  // The order of epoch `epoch` for `n` prompts under `seed`: a permutation of [0, n), the same on
  // every platform (a Fisher–Yates shuffle driven by std::mt19937_64, which the standard fixes).
  static std::vector<uint32_t> EpochOrder(uint64_t seed, uint64_t epoch, size_t n);

 private:
  struct Entry {
    std::string text;
    bool has_reference = false;
    std::string reference;
    int line = 0;
  };

  JsonlPromptSource(std::string path, const JsonlPromptSourceOptions& options,
                    PromptEncoder encoder, std::vector<Entry> entries, std::string fingerprint);
  void SetEpoch(uint64_t epoch);

  // Constant after construction.
  const std::string path_;
  const JsonlPromptSourceOptions options_;
  const PromptEncoder encoder_;
  const std::vector<Entry> entries_;
  // SHA-256 of the file's bytes and the keys, so a cursor is not restored onto other data.
  const std::string fingerprint_;

  // The cursor: the next prompt is entries_[order_[position_]] of epoch epoch_.
  uint64_t epoch_ = 0;
  uint64_t position_ = 0;
  std::vector<uint32_t> order_;
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_JSONL_PROMPT_SOURCE_H_
