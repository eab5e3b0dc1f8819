#include "reward_service/penalties.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/text_stats.h"

namespace pelican::reward {
namespace {

// OK when the completion's ids can be counted: there are ids, or there is no text either (an
// empty completion).
absl::Status CheckIdsPresent(const ScoreInput& in) {
  if (in.completion_ids.empty() && in.completion_text.has_value() && !in.completion_text->empty()) {
    return absl::InvalidArgumentError(
        "the sample has completion_text but no completion_ids; token penalties count ids");
  }
  return absl::OkStatus();
}

// Applies `f` to every input whose ids are present.
template <typename F>
std::vector<absl::StatusOr<ScoreValue>> ForEachWithIds(absl::Span<const ScoreInput> batch, F f) {
  std::vector<absl::StatusOr<ScoreValue>> out;
  out.reserve(batch.size());
  for (const ScoreInput& in : batch) {
    absl::Status ids = CheckIdsPresent(in);
    if (!ids.ok()) {
      out.push_back(std::move(ids));
    } else {
      out.push_back(f(in));
    }
  }
  return out;
}

}  // namespace

std::vector<absl::StatusOr<ScoreValue>> LengthPenaltyScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  return ForEachWithIds(batch, [this](const ScoreInput& in) {
    const int64_t extra =
        std::max<int64_t>(0, static_cast<int64_t>(in.completion_ids.size()) - target_tokens_);
    return ScoreValue(-static_cast<double>(extra));
  });
}

absl::StatusOr<std::unique_ptr<RepetitionPenaltyScorer>> RepetitionPenaltyScorer::Create(
    std::string name, uint32_t ngram) {
  if (ngram < 1 || ngram > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scorer '", name, "': repetition_penalty.ngram must be in [1, 64], got ", ngram));
  }
  return std::unique_ptr<RepetitionPenaltyScorer>(
      new RepetitionPenaltyScorer(std::move(name), static_cast<int>(ngram)));
}

std::vector<absl::StatusOr<ScoreValue>> RepetitionPenaltyScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  return ForEachWithIds(batch, [this](const ScoreInput& in) {
    return ScoreValue(-RepeatedNgramFraction(in.completion_ids, ngram_));
  });
}

std::vector<absl::StatusOr<ScoreValue>> StopPenaltyScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  std::vector<absl::StatusOr<ScoreValue>> out;
  out.reserve(batch.size());
  for (const ScoreInput& in : batch) out.push_back(in.stopped ? 0.0 : -1.0);
  return out;
}

}  // namespace pelican::reward
