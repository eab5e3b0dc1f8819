// Pre-tokenizer regexes: patterns written for Oniguruma (what HF tokenizers compiles them with) run
// on PCRE2 (UTF + UCP, JIT when available). Escapes whose meaning differs between the two are
// rewritten so that they match the same characters as Oniguruma: \s / \S are Unicode White_Space
// (which PCRE2's \s is not: it adds U+180E), \w / \W are letters, marks, numbers and connector
// punctuation, \h / \H are hex digits; ^ and $ match at line breaks.
//
// Thread safety: a compiled Regex is immutable; FindAll may be called from many threads at once
// (match scratch space is per thread).
#ifndef PELICAN_COMMON_TOKENIZER_REGEX_H_
#define PELICAN_COMMON_TOKENIZER_REGEX_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pelican::tokenizer {

// Rewrites an Oniguruma pattern into the PCRE2 pattern with the same meaning (see the file
// comment). Unimplemented for constructs this rewrite cannot express (nested character classes,
// \W or \H inside a class).
absl::StatusOr<std::string> OnigurumaToPcre2(absl::string_view pattern);

class Regex {
 public:
  // Compiles an Oniguruma-syntax pattern; InvalidArgument when PCRE2 rejects it.
  static absl::StatusOr<std::unique_ptr<Regex>> Compile(absl::string_view pattern);
  // A pattern matching `text` literally (HF's Split with a String pattern).
  static absl::StatusOr<std::unique_ptr<Regex>> Literal(absl::string_view text);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls `on_match(start, end)` with the byte range of each successive match in `text`, in order,
  // with the iteration rule of Oniguruma's find_iter in the onig crate: the search resumes at the
  // end of the previous match, and an empty match right where the previous match ended is skipped
  // (the search moves one character on). REQUIRES: `text` is well-formed UTF-8.
  void ForEachMatch(absl::string_view text,
                    absl::FunctionRef<void(size_t start, size_t end)> on_match) const;

  // The pattern PCRE2 compiled.
  const std::string& pcre2_pattern() const { return pcre2_pattern_; }

 private:
  Regex(void* code, std::string pcre2_pattern, bool jit);
  static absl::StatusOr<std::unique_ptr<Regex>> CompileRaw(std::string pcre2_pattern, bool literal);

  void* const code_;  // pcre2_code_8*, owned
  const std::string pcre2_pattern_;
  const bool jit_;
};

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_REGEX_H_
