// RegexScorer: 1 when a PCRE2 pattern matches anywhere in the completion text, else 0
// (pelican.v1.RegexScorer). For format rewards such as "ends with '#### <number>'".
//
// The pattern is compiled once, in UTF mode. Completions are matched with PCRE2_MATCH_INVALID_UTF:
// an ill-formed UTF-8 sequence (a policy can emit half a character) matches nothing, but the rest
// of the text is still searched; the result is well defined, not an error.
//
// Per-sample errors: FAILED_PRECONDITION without completion text; RESOURCE_EXHAUSTED when a match
// needs more than `match_limit` backtracking steps (a pathological pattern/text pair), so one
// adversarial completion cannot stall a batching thread.
//
// Thread safety: the compiled pattern is immutable and shared; each ScoreBatch call uses its own
// match data, so calls may run concurrently.
#ifndef PELICAN_REWARD_SERVICE_REGEX_SCORER_H_
#define PELICAN_REWARD_SERVICE_REGEX_SCORER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "reward_service/scorer.h"

// PCRE2's opaque types (pcre2.h with PCRE2_CODE_UNIT_WIDTH 8), so that this header does not need
// it.
struct pcre2_real_code_8;
struct pcre2_real_match_context_8;

namespace pelican::reward {

class RegexScorer : public Scorer {
 public:
  static constexpr uint32_t kDefaultMatchLimit = 1'000'000;

  // INVALID_ARGUMENT for an empty pattern, or one PCRE2 rejects, with PCRE2's message and the
  // offset of the error in the pattern.
  static absl::StatusOr<std::unique_ptr<RegexScorer>> Create(
      std::string name, const std::string& pattern, uint32_t match_limit = kDefaultMatchLimit);
  ~RegexScorer() override;
  RegexScorer(const RegexScorer&) = delete;
  RegexScorer& operator=(const RegexScorer&) = delete;

  const std::string& name() const override { return name_; }
  const std::string& pattern() const { return pattern_; }
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override;

  // Whether the pattern matches somewhere in `text`; errors as above.
  absl::StatusOr<bool> Matches(absl::string_view text) const;

 private:
  RegexScorer(std::string name, std::string pattern, pcre2_real_code_8* code,
              pcre2_real_match_context_8* match_context)
      : name_(std::move(name)),
        pattern_(std::move(pattern)),
        code_(code),
        match_context_(match_context) {}

  // Constant after construction; owned.
  const std::string name_;
  const std::string pattern_;
  pcre2_real_code_8* const code_;
  pcre2_real_match_context_8* const match_context_;
};

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_REGEX_SCORER_H_
