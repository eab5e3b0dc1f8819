// Penalties on the shape of a completion, computed from its token ids:
//
//   length:     -max(0, completion tokens - target_tokens)       (one unit per extra token)
//   repetition: -(repeated n-gram fraction of the completion ids) (common/text_stats.h), in (-1, 0]
//   stop:       -1 when the completion did not end with a stop token (Sample.stopped), else 0
//
// Penalties are <= 0, so a positive weight in the composite lowers the reward; the weight sets
// the price (e.g. 0.01 per extra token).
//
// The ids are the truth for the token-based penalties: a sample that has completion_text but no
// completion_ids fails with INVALID_ARGUMENT rather than being scored as an empty completion.
//
// Thread safety: immutable after construction; ScoreBatch may be called concurrently.
#ifndef PELICAN_REWARD_SERVICE_PENALTIES_H_
#define PELICAN_REWARD_SERVICE_PENALTIES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "reward_service/scorer.h"

namespace pelican::reward {

class LengthPenaltyScorer : public Scorer {
 public:
  LengthPenaltyScorer(std::string name, uint32_t target_tokens)
      : name_(std::move(name)), target_tokens_(target_tokens) {}

  const std::string& name() const override { return name_; }
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override;

 private:
  const std::string name_;
  const uint32_t target_tokens_;
};

class RepetitionPenaltyScorer : public Scorer {
 public:
  // INVALID_ARGUMENT when ngram is outside [1, 64] (the range config.proto documents).
  static absl::StatusOr<std::unique_ptr<RepetitionPenaltyScorer>> Create(std::string name,
                                                                         uint32_t ngram);

  const std::string& name() const override { return name_; }
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override;

 private:
  RepetitionPenaltyScorer(std::string name, int ngram) : name_(std::move(name)), ngram_(ngram) {}

  const std::string name_;
  const int ngram_;
};

class StopPenaltyScorer : public Scorer {
 public:
  explicit StopPenaltyScorer(std::string name) : name_(std::move(name)) {}

  const std::string& name() const override { return name_; }
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override;

 private:
  const std::string name_;
};

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_PENALTIES_H_
