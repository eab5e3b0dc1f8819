// Advantage estimators of the learner as pure tensor functions (SEED RL / TorchBeast style): no
// module state and no autograd, since advantages and returns are targets, never differentiated.
//
//   PPO:         KlPenalizedRewards (kl.h) ──► Gae ──► WhitenAdvantages ──► losses.h
//   GRPO, RLOO:  sequence rewards [B] ──► GrpoAdvantages / RlooAdvantages ──► losses.h
//   REINFORCE++: KlPenalizedRewards ──► ReinforcePlusPlus (returns, batch-whitened) ──► losses.h
//
// Shapes: B = sequences in the batch, T = completion tokens per sequence (padded to the longest),
// G = group size, the completions sampled for one prompt. Group methods take B = P * G with the
// rows of one prompt adjacent: rows [g * G, (g + 1) * G) are group g.
// `mask` is [B, T], bool or floating, 1 for real completion tokens. A row may end early (EOS) or be
// fully masked. Masked positions are skipped whatever they hold (NaN included) and are 0 in every
// output.
#ifndef PELICAN_LEARNER_ADVANTAGES_H_
#define PELICAN_LEARNER_ADVANTAGES_H_

#include <torch/torch.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace pelican {

struct GaeResult {
  torch::Tensor advantages;  // [B, T]
  torch::Tensor returns;     // [B, T] advantages + values: the value function's targets
};

// Generalised advantage estimation (Schulman et al. 2016), backwards along each row:
//   delta_t = r_t + gamma * V(next) - V_t,   A_t = delta_t + gamma * lambda * A(next),
// where "next" is the row's next real token. After the last real token V(next) = A(next) = 0: the
// completion has ended, so nothing is bootstrapped. Masked positions inside a row (e.g. tool
// output between turns) are stepped over as if absent.
// rewards: [B, T] per-token rewards. values: [B, T] critic values from the rollout.
// gamma, lambda: in [0, 1]. Results are detached, in the promoted dtype of rewards and values.
absl::StatusOr<GaeResult> Gae(const torch::Tensor& rewards, const torch::Tensor& values,
                              const torch::Tensor& mask, double gamma, double lambda);

// (advantages - mean) / sqrt(var + eps) over all real tokens of the batch (masked mean, unbiased
// variance); shift_mean = false adds the mean back. advantages: [B, T]. Returns [B, T], detached.
// The statistics are local to this batch; data-parallel ranks each whiten their own shard.
absl::StatusOr<torch::Tensor> WhitenAdvantages(const torch::Tensor& advantages,
                                               const torch::Tensor& mask, bool shift_mean = true,
                                               double eps = 1e-8);

// A per-sequence value [B] copied to every real token of its row: [B, T], 0 at masked positions.
absl::StatusOr<torch::Tensor> BroadcastToTokens(const torch::Tensor& sequence_values,
                                                const torch::Tensor& mask);

// GRPO (Shao et al. 2024, DeepSeekMath) group-normalised advantages, one per sequence broadcast
// over its tokens: (r - mean_group) / (std_group + eps), std with Bessel's correction as TRL and
// the DeepSeekMath recipe use; scale_by_std = false gives r - mean_group (Dr. GRPO). A group whose
// rewards are all equal gets 0; so does a single-sample group (G = 1), which has nothing to be
// compared with.
// rewards: [B] sequence rewards, finite. group_size: G >= 1 dividing B. Returns [B, T], detached.
absl::StatusOr<torch::Tensor> GrpoAdvantages(const torch::Tensor& rewards,
                                             const torch::Tensor& mask, int64_t group_size,
                                             bool scale_by_std = true, double eps = 1e-6);

// RLOO (Ahmadian et al. 2024) leave-one-out advantages: r_i - mean of the other G - 1 rewards of
// its group, broadcast over tokens. Any KL penalty is expected inside `rewards` already (sequence
// level, as in TRL's RLOO). G = 1 has no baseline and gets 0. Arguments as GrpoAdvantages.
absl::StatusOr<torch::Tensor> RlooAdvantages(const torch::Tensor& rewards,
                                             const torch::Tensor& mask, int64_t group_size);

struct ReinforcePlusPlusResult {
  torch::Tensor advantages;  // [B, T] returns whitened over the batch's real tokens
  torch::Tensor returns;     // [B, T] discounted sums of future token rewards
};

// REINFORCE++ (Hu 2025, as OpenRLHF computes it): token-level returns
// G_t = r_t + gamma * G(next real token), 0 after the last real token, then the advantages are
// the returns whitened (mean and std) over every real token of the batch: the global batch is the
// baseline, no critic. token_rewards: [B, T], typically KlPenalizedRewards. gamma in [0, 1].
absl::StatusOr<ReinforcePlusPlusResult> ReinforcePlusPlus(const torch::Tensor& token_rewards,
                                                          const torch::Tensor& mask, double gamma);

}  // namespace pelican

#endif  // PELICAN_LEARNER_ADVANTAGES_H_
