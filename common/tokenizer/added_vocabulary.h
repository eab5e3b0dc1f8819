// Added tokens (special or not) are cut out of the text before normalization and BPE, so that
// "<|im_start|>" is one id and never reaches the merges. Matching follows HF's AddedVocabulary:
// leftmost-longest over the token contents, then per token `single_word` (the match must not touch
// a word character on either side), `lstrip` / `rstrip` (swallow the whitespace before / after).
//   text --AddedTokenMatcher::Split--> [text | token id]...
//
// Thread safety: immutable after construction; Split may be called concurrently.
#ifndef PELICAN_COMMON_TOKENIZER_ADDED_VOCABULARY_H_
#define PELICAN_COMMON_TOKENIZER_ADDED_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace pelican::tokenizer {

// One entry of tokenizer.json's "added_tokens".
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;  // matched in normalized text (against its normalized content)
  bool special = false;    // dropped by Decode(skip_special_tokens=true)
};

// Finds one set of added tokens in text. HF keeps two: one for tokens matched in the raw text
// (normalized == false) and one for tokens matched in normalized text.
class AddedTokenMatcher {
 public:
  struct Entry {
    std::string pattern;  // what is searched for: the content, or its normalized form
    int32_t id;
    bool single_word;
    bool lstrip;
    bool rstrip;
  };

  explicit AddedTokenMatcher(std::vector<Entry> entries);

  bool empty() const { return entries_.empty(); }

  // Covers `text` with, in order, plain-text segments (`id` == -1) and matched tokens (`id` >= 0;
  // `segment` is what the token consumed, whitespace swallowed by lstrip/rstrip included).
  // Empty segments are not emitted. REQUIRES: `text` is well-formed UTF-8.
  void Split(absl::string_view text,
             absl::FunctionRef<void(absl::string_view segment, int32_t id)> emit) const;

 private:
  // Leftmost-longest match at or after `from`; returns the entry index or -1.
  int FindFrom(absl::string_view text, size_t from, size_t* start) const;

  std::vector<Entry> entries_;
  // Entry indices by the first byte of their pattern, longest pattern first.
  std::array<std::vector<int>, 256> by_first_byte_;
};

// Rust regex's \w and \s (Unicode), which HF uses for single_word, lstrip and rstrip.
bool IsRustWordChar(char32_t c);
bool IsRustSpace(char32_t c);

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_ADDED_VOCABULARY_H_
