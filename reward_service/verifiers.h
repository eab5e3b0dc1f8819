// Verifiers built on answer extraction (answer_extraction.h): exact match against a reference
// answer, and a format check.
//
//   completion text ──ExtractAnswer──► answer ──AnswersMatch── metadata["reference"] ──► 1 or 0
//
// Per-sample outcomes of ExactMatchScorer:
// - 1: the extracted answer matches the reference; 0: it does not, or the completion has no
//   answer in the configured form (a wrong answer, not an error).
// - error INVALID_ARGUMENT: metadata has no "reference", or it is empty.
// - error FAILED_PRECONDITION: the sample has no completion text (see ScoreInput).
// A reference that itself contains "####" (a GSM8K solution) is reduced to the text after the last
// "####", so a dataset's answer field can be passed through as is.
//
// Thread safety: immutable after construction; ScoreBatch may be called concurrently.
#ifndef PELICAN_REWARD_SERVICE_VERIFIERS_H_
#define PELICAN_REWARD_SERVICE_VERIFIERS_H_

#include <memory>
#include <string>

#include "pelican/v1/config.pb.h"
#include "reward_service/scorer.h"

namespace pelican::reward {

// Metadata key holding the expected answer (reward.proto, Sample.metadata).
inline constexpr char kReferenceKey[] = "reference";

class ExactMatchScorer : public Scorer {
 public:
  // INVALID_ARGUMENT when tolerance is negative or not finite.
  static absl::StatusOr<std::unique_ptr<ExactMatchScorer>> Create(
      std::string name, const v1::ExactMatchScorer& config);

  const std::string& name() const override { return name_; }
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override;

  // One sample; what ScoreBatch does for each.
  absl::StatusOr<ScoreValue> ScoreOne(const ScoreInput& in) const;

 private:
  ExactMatchScorer(std::string name, v1::AnswerExtraction mode, double tolerance)
      : name_(std::move(name)), mode_(mode), tolerance_(tolerance) {}

  const std::string name_;
  const v1::AnswerExtraction mode_;
  const double tolerance_;
};

// Format check: 1 when the completion holds a final answer in the given form (e.g. "#### 42" for
// HASHES, a balanced \boxed{...} for BOXED), else 0. Needs no reference. Errors: as
// ExactMatchScorer for a sample without completion text.
class FormatScorer : public Scorer {
 public:
  FormatScorer(std::string name, v1::AnswerExtraction mode) : name_(std::move(name)), mode_(mode) {}

  const std::string& name() const override { return name_; }
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override;

 private:
  const std::string name_;
  const v1::AnswerExtraction mode_;
};

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_VERIFIERS_H_
