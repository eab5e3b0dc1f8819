// Pre-tokenization: cuts (normalized) text into the pieces BPE encodes one at a time.
//   text --Split(regex)...--> pieces --ByteLevel(prefix space, GPT-2 regex)--> byte pieces --> BPE
// Supported: HF's `Split` (Regex or String pattern, all five delimiter behaviours, invert) and
// `ByteLevel`, alone or in a `Sequence` that ends with ByteLevel. Pieces are emitted as raw bytes:
// the byte-to-character mapping of ByteLevel is left to the BPE model, which works on bytes.
//
// Thread safety: immutable after Create; Run may be called concurrently.
#ifndef PELICAN_COMMON_TOKENIZER_PRE_TOKENIZER_H_
#define PELICAN_COMMON_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/regex.h"

namespace pelican::tokenizer {

// What happens to the matches of a Split pattern (HF's SplitDelimiterBehavior). On "the-final--c"
// split at '-': Removed [the, final, c], Isolated [the, -, final, -, -, c], MergedWithPrevious
// [the-, final-, -, c], MergedWithNext [the, -final, -, -c], Contiguous [the, -, final, --, c].
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct SplitStep {
  std::string pattern;
  bool is_regex = true;  // false: `pattern` is a literal string
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // the pattern describes the pieces rather than the delimiters
};

struct ByteLevelStep {
  bool add_prefix_space = false;  // prepend ' ' to every piece that does not start with one
  bool use_regex = true;          // split with the GPT-2 pattern first
};

using PreTokenizerStep = std::variant<SplitStep, ByteLevelStep>;

// The GPT-2 pattern ByteLevel splits with when use_regex is set.
extern const char kGpt2SplitPattern[];

class PreTokenizer {
 public:
  // Unimplemented unless the steps end with exactly one ByteLevel; InvalidArgument for a bad regex.
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(
      const std::vector<PreTokenizerStep>& steps);

  // Calls `emit` with every non-empty piece of `text`, in order. A piece may not be a substring of
  // `text` (ByteLevel's prefix space); it is valid only during the call.
  // REQUIRES: `text` is well-formed UTF-8.
  void Run(absl::string_view text, absl::FunctionRef<void(absl::string_view)> emit) const;

 private:
  struct Step {
    bool byte_level = false;
    std::unique_ptr<Regex> regex;  // null for ByteLevel without use_regex
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;
  };

  PreTokenizer() = default;
  void RunFrom(size_t step, absl::string_view text,
               absl::FunctionRef<void(absl::string_view)> emit) const;
  void RunSplit(const Step& step, size_t next, absl::string_view text,
                absl::FunctionRef<void(absl::string_view)> emit) const;

  std::vector<Step> steps_;  // constant after Create
};

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_PRE_TOKENIZER_H_
