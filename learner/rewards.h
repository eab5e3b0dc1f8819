// Reward preprocessing between the reward service and the advantage estimators:
//
//   sequence rewards [B] ──► RunningMoments.Update ──► NormalizeRewards ──► ClipRewards
//     ──► TokenRewardsFromSequence / KlPenalizedRewards (kl.h) ──► advantages.h
//
// Shapes: B = sequences in the batch, T = completion tokens per sequence. `mask` is [B, T], bool
// or floating, 1 for real completion tokens.
#ifndef PELICAN_LEARNER_REWARDS_H_
#define PELICAN_LEARNER_REWARDS_H_

#include <torch/torch.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pelican {

// Running count, mean and sum of squared deviations of every reward seen, for normalising rewards
// by statistics that outlive one batch. The three fields are the whole state: a checkpoint stores
// them and a resumed run continues with identical statistics. Plain value type; not thread-safe.
struct RunningMoments {
  int64_t count = 0;
  double mean = 0.0;
  double m2 = 0.0;  // sum over seen values of (x - mean)^2

  // Merges every element of `xs` (any shape, floating) in double precision. INVALID_ARGUMENT, with
  // the state unchanged, when an element is NaN or infinite: one bad reward would otherwise poison
  // the statistics for the rest of the run.
  absl::Status Update(const torch::Tensor& xs);

  // Folds in moments gathered elsewhere (another rank, another batch) with the parallel formula of
  // Chan et al.; the result equals one RunningMoments that saw both streams.
  void Merge(const RunningMoments& other);

  // Unbiased variance (n - 1), 0 while count < 2; Std is its square root.
  double Variance() const;
  double Std() const;
};

// Scales rewards [B] (any shape) by the running std, subtracting the running mean first when
// shift_mean is set. Until the moments have a spread (count < 2, or std <= eps) there is nothing to
// scale by and the divisor is 1, so early or constant rewards are not blown up by 1 / eps.
// Call moments.Update(batch) first so that the batch's own rewards are part of the statistics.
absl::StatusOr<torch::Tensor> NormalizeRewards(const torch::Tensor& rewards,
                                               const RunningMoments& moments, bool shift_mean,
                                               double eps = 1e-8);

// Clamps rewards to [-clip, clip]; clip = 0 leaves them unchanged. INVALID_ARGUMENT for clip < 0.
absl::StatusOr<torch::Tensor> ClipRewards(const torch::Tensor& rewards, double clip);

// Places each sequence's scalar reward on its last real token: [B] -> [B, T], 0 elsewhere. A fully
// masked row has no token to carry its reward and is all 0.
// sequence_rewards: [B], floating. mask: [B, T].
absl::StatusOr<torch::Tensor> TokenRewardsFromSequence(const torch::Tensor& sequence_rewards,
                                                       const torch::Tensor& mask);

}  // namespace pelican

#endif  // PELICAN_LEARNER_REWARDS_H_
