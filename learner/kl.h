// KL divergence to the frozen reference policy: per-token estimators, the two places the penalty
// can go (the reward, classic RLHF PPO; or the loss, GRPO style), and the coefficient controllers.
//
//   logprobs, ref_logprobs ──► KlPerToken ──┬─► KlPenalizedRewards ──► advantages.h   (reward)
//                                           ├─► KlLoss ──► added to the policy loss    (loss)
//                                           └─► MeanSequenceKl ──► UpdateKlController
//
// Shapes: B = sequences in the batch, T = completion tokens per sequence. `mask` is [B, T], bool
// or floating, 1 for real completion tokens; outputs are 0 at masked positions.
#ifndef PELICAN_LEARNER_KL_H_
#define PELICAN_LEARNER_KL_H_

#include <torch/torch.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

// Per-token estimate of KL(policy || reference) from tokens sampled from the policy
// (Schulman, "Approximating KL divergence"), with d = logprobs - ref_logprobs:
//   K1: d                       unbiased, can be negative per token;
//   K2: d^2 / 2                 biased, low variance, >= 0;
//   K3: exp(-d) - (-d) - 1      unbiased, >= 0; -d is clamped to [-20, 20] before exp so one
//                               token the reference finds impossible cannot make the loss inf.
// logprobs: [B, T], differentiable (KL in the loss) or not (KL in the reward). ref_logprobs: [B, T]
// from the frozen reference; not differentiated. Returns [B, T], 0 at masked positions.
// In the loss prefer K3 (or K2): the gradient of K1 is the score function, whose expectation under
// the policy is 0, so K1 in the loss does not pull the policy toward the reference.
absl::StatusOr<torch::Tensor> KlPerToken(const torch::Tensor& logprobs,
                                         const torch::Tensor& ref_logprobs,
                                         const torch::Tensor& mask, v1::KlEstimator estimator);

// Per-token rewards for KL in the reward: -coef * kl at every real token, plus the sequence's
// scalar reward on its last real token (TokenRewardsFromSequence). Not differentiated.
// sequence_rewards: [B]. kl: [B, T] from KlPerToken. coef >= 0. Returns [B, T].
absl::StatusOr<torch::Tensor> KlPenalizedRewards(const torch::Tensor& sequence_rewards,
                                                 const torch::Tensor& kl, const torch::Tensor& mask,
                                                 double coef);

// KL in the loss: coef * AggregateLoss(kl, mask, aggregation), a scalar [] to add to the policy
// loss. kl: [B, T] from KlPerToken on differentiable logprobs. coef >= 0.
absl::StatusOr<torch::Tensor> KlLoss(const torch::Tensor& kl, const torch::Tensor& mask,
                                     double coef, v1::LossAggregation aggregation);

// The KL the adaptive controller steers: each sequence's KL summed over its real tokens, averaged
// over sequences with at least one real token. kl: [B, T]. Returns [], detached; 0 if no tokens.
absl::StatusOr<torch::Tensor> MeanSequenceKl(const torch::Tensor& kl, const torch::Tensor& mask);

// KL coefficient controller settings (config: learner.kl).
struct KlControllerConfig {
  v1::KlController kind = v1::KL_CONTROLLER_FIXED;
  double initial_coef = 0.05;
  // Adaptive only: the per-sequence KL aimed for, and how many samples it takes to move the
  // coefficient by a factor e at the largest error.
  double target = 6.0;
  double horizon = 10000.0;
};

// The controller's whole state; a checkpoint stores it and a resumed run continues from it.
struct KlControllerState {
  double coef = 0.0;
};

// Reads learner.kl. INVALID_ARGUMENT for an unspecified controller, coef < 0, or (adaptive)
// target or horizon <= 0.
absl::StatusOr<KlControllerConfig> KlControllerConfigFromProto(const v1::KlSection& kl);
absl::Status ValidateKlControllerConfig(const KlControllerConfig& config);

// State at the start of a run: coef = config.initial_coef.
KlControllerState InitialKlControllerState(const KlControllerConfig& config);

// One controller step after a batch of n_samples sequences whose mean per-sequence KL was
// observed_kl (MeanSequenceKl). FIXED returns the state unchanged. ADAPTIVE is Ziegler et al.
// (2019), as TRL's AdaptiveKLController:
//   error = clip(observed_kl / target - 1, -0.2, 0.2);  coef *= 1 + error * n_samples / horizon,
// the factor floored at 0 so the coefficient never turns negative. observed_kl may be negative
// (K1 is noisy). INVALID_ARGUMENT for an invalid config, a non-finite observed_kl (a NaN would
// stick in the coefficient for the rest of the run), or n_samples < 0.
absl::StatusOr<KlControllerState> UpdateKlController(const KlControllerConfig& config,
                                                     const KlControllerState& state,
                                                     double observed_kl, int64_t n_samples);

}  // namespace pelican

#endif  // PELICAN_LEARNER_KL_H_
