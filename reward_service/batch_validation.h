// Call-level checks of a ScoreRequest, run before a request is queued (DESIGN.md, "INVALID_ARGUMENT
// with a clear message for bad input"):
//
//   ScoreRequest ──ValidateScoreRequest──► OK (queue it) | INVALID_ARGUMENT (reject the call)
//
// A request is rejected whole when it is malformed: no samples, a sample longer than
// reward.max_sample_tokens, a token id outside [0, vocab_size), or an unknown scorer name. Each
// message names the sample by index (and id, when it has one) and says what is wrong, e.g.
//   sample 3 (id "a/7/1"): completion_ids[12] = 151700 is outside the vocabulary [0, 151669)
// Problems that concern only how a sample scores (a missing reference answer) are not checked
// here: they become that sample's own error status.
//
// Thread safety: pure functions.
#ifndef PELICAN_REWARD_SERVICE_BATCH_VALIDATION_H_
#define PELICAN_REWARD_SERVICE_BATCH_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "pelican/v1/config.pb.h"
#include "pelican/v1/reward.pb.h"
#include "reward_service/scorer_factory.h"

namespace pelican::reward {

struct BatchLimits {
  // Longest prompt + completion, in tokens (reward.max_sample_tokens).
  int64_t max_sample_tokens = 8192;
  // Ids must be in [0, vocab_size); 0 = only negative ids are rejected (no tokenizer loaded).
  int64_t vocab_size = 0;

  static BatchLimits FromConfig(const v1::RewardSection& section, int64_t vocab_size) {
    return BatchLimits{section.max_sample_tokens(), vocab_size};
  }
};

// Checks one sample; `index` is its position in the request, for the message.
absl::Status ValidateSample(const v1::Sample& sample, int index, const BatchLimits& limits);

// Checks the whole request: the scorer name against `scorers`, then every sample. Returns the
// first problem found.
absl::Status ValidateScoreRequest(const v1::ScoreRequest& request, const BatchLimits& limits,
                                  const ScorerSet& scorers);

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_BATCH_VALIDATION_H_
