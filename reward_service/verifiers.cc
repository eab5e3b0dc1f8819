#include "reward_service/verifiers.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "reward_service/answer_extraction.h"

namespace pelican::reward {

absl::StatusOr<std::unique_ptr<ExactMatchScorer>> ExactMatchScorer::Create(
    std::string name, const v1::ExactMatchScorer& config) {
  if (!std::isfinite(config.tolerance()) || config.tolerance() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("scorer '", name, "': exact_match.tolerance must be finite and >= 0, got ",
                     config.tolerance()));
  }
  return std::unique_ptr<ExactMatchScorer>(
      new ExactMatchScorer(std::move(name), config.extract(), config.tolerance()));
}

absl::StatusOr<ScoreValue> ExactMatchScorer::ScoreOne(const ScoreInput& in) const {
  ASSIGN_OR_RETURN(const std::string* text, CompletionText(in));
  ASSIGN_OR_RETURN(const std::string* reference_field, MetadataValue(in, kReferenceKey));
  std::string reference = NormalizeAnswerText(*reference_field);
  if (absl::StrContains(reference, "####")) {
    reference = ExtractHashesAnswer(reference).value_or("");
  }
  if (reference.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata[\"", kReferenceKey, "\"] holds no answer"));
  }
  const std::optional<std::string> answer = ExtractAnswer(*text, mode_);
  if (!answer.has_value()) return 0.0;
  return AnswersMatch(*answer, reference, tolerance_) ? 1.0 : 0.0;
}

std::vector<absl::StatusOr<ScoreValue>> ExactMatchScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  std::vector<absl::StatusOr<ScoreValue>> out;
  out.reserve(batch.size());
  for (const ScoreInput& in : batch) out.push_back(ScoreOne(in));
  return out;
}

std::vector<absl::StatusOr<ScoreValue>> FormatScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  std::vector<absl::StatusOr<ScoreValue>> out;
  out.reserve(batch.size());
  for (const ScoreInput& in : batch) {
    absl::StatusOr<const std::string*> text = CompletionText(in);
    if (!text.ok()) {
      out.push_back(text.status());
      continue;
    }
    out.push_back(ExtractAnswer(**text, mode_).has_value() ? 1.0 : 0.0);
  }
  return out;
}

}  // namespace pelican::reward
