// Policy-gradient losses of the learner as pure tensor functions (SEED RL / TorchBeast style):
// log-probs and entropies from logits, the PPO clipped surrogate, the clipped value loss, the
// entropy bonus, and truncated importance-sampling weights for stale actor samples.
//
//   logits ──► LogProbsFromLogits, EntropyFromLogits
//   old (learner) vs sampling (actor) logprobs ──► TruncatedIsWeights ─┐
//   logprobs, old logprobs, advantages (advantages.h) ─────────────────┴► PpoPolicyLoss
//   values, old values, returns ──► ClippedValueLoss;   entropy ──► EntropyLoss
//   total = policy.loss + value_coef * value.loss + entropy loss (+ KlLoss, kl.h)
//
// Shapes: B = sequences in the batch, T = completion tokens per sequence, V = vocabulary size.
// `mask` is [B, T], bool or floating, 1 for real completion tokens. Per-token outputs are 0 at
// masked positions whatever the inputs hold there; scalars [] aggregate real tokens only.
#ifndef PELICAN_LEARNER_LOSSES_H_
#define PELICAN_LEARNER_LOSSES_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

// log p(tokens[b, t]) under logits[b, t]: logits[b, t] is the distribution tokens[b, t] was drawn
// from (shifting model outputs by one position is the caller's job). Computed as
// logit - logsumexp(logits), in float32 when the logits are bf16/fp16. Differentiable.
// logits: [B, T, V]. tokens: [B, T] integer ids in [0, V) at real positions (anything elsewhere).
// Returns [B, T], 0 at masked positions.
absl::StatusOr<torch::Tensor> LogProbsFromLogits(const torch::Tensor& logits,
                                                 const torch::Tensor& tokens,
                                                 const torch::Tensor& mask);

// Entropy -sum_v p log p of each position's distribution, from a stable log_softmax, in float32
// when the logits are bf16/fp16. Logits of -inf (banned tokens) contribute 0, with finite
// gradients. Differentiable. logits: [B, T, V]. Returns [B, T], 0 at masked positions.
absl::StatusOr<torch::Tensor> EntropyFromLogits(const torch::Tensor& logits,
                                                const torch::Tensor& mask);

struct TruncatedIsResult {
  torch::Tensor weights;             // [B, T] min(ratio, cap), 0 at masked positions; detached
  torch::Tensor truncated_fraction;  // [] share of real tokens whose ratio exceeded the cap
};

// Truncated importance sampling for off-policy actor samples: the actor sampled with its own
// (possibly older, differently computed) policy, while PPO's ratio is taken against the learner's
// recomputed "old" logprobs. Each token's policy-gradient term is weighted by
//   w = min(exp(old_logprobs - sampling_logprobs), cap),
// capped so a token the actor found unlikely cannot dominate the batch (Espeholt et al. 2018;
// Yao et al. 2025). Not differentiated. old_logprobs, sampling_logprobs: [B, T]. cap >= 1.
absl::StatusOr<TruncatedIsResult> TruncatedIsWeights(const torch::Tensor& old_logprobs,
                                                     const torch::Tensor& sampling_logprobs,
                                                     const torch::Tensor& mask, double cap);

struct PolicyLossOptions {
  // The ratio is clipped to [1 - clip_eps, 1 + clip_eps]; > 0.
  double clip_eps = 0.2;
  v1::LossAggregation aggregation = v1::LOSS_AGGREGATION_TOKEN_MEAN;
};

struct PolicyLossResult {
  torch::Tensor loss;            // [] aggregated; differentiable with respect to logprobs
  torch::Tensor per_token_loss;  // [B, T] before aggregation, 0 at masked positions
  // Diagnostics over real tokens (token mean), detached:
  torch::Tensor clip_fraction;  // [] share of tokens where the clipped term was the active one
  torch::Tensor approx_kl;      // [] mean of (ratio - 1) - log ratio, the K3 estimate of
                                //    KL(old || new) from tokens sampled by the old policy
};

// PPO clipped surrogate (Schulman et al. 2017), as a loss to minimise:
//   ratio = exp(logprobs - old_logprobs),
//   per_token = max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)) * is_weight,
// aggregated with options.aggregation. The log ratio is clamped to [-20, 20] before exp (its
// gradient is 0 beyond) so one wildly off token cannot overflow the loss.
// logprobs: [B, T] of the policy being trained, differentiable. old_logprobs: [B, T] of the policy
// at rollout time (learner-recomputed). advantages: [B, T]. is_weights: [B, T] from
// TruncatedIsWeights, or undefined for none. Inputs other than logprobs are not differentiated.
absl::StatusOr<PolicyLossResult> PpoPolicyLoss(const torch::Tensor& logprobs,
                                               const torch::Tensor& old_logprobs,
                                               const torch::Tensor& advantages,
                                               const torch::Tensor& mask,
                                               const PolicyLossOptions& options,
                                               const torch::Tensor& is_weights = {});

struct ValueLossResult {
  torch::Tensor loss;            // [] aggregated; differentiable with respect to values
  torch::Tensor per_token_loss;  // [B, T], 0 at masked positions
  torch::Tensor clip_fraction;   // [] share of real tokens where the clipped term was larger
};

// PPO value loss with value clipping around the rollout-time values:
//   v_clip = old_values + clip(values - old_values, -eps, eps),
//   per_token = 0.5 * max((values - returns)^2, (v_clip - returns)^2);
// value_clip_eps = 0 turns clipping off: per_token = 0.5 * (values - returns)^2. The caller
// multiplies by value_coef. values: [B, T], differentiable. old_values, returns: [B, T].
absl::StatusOr<ValueLossResult> ClippedValueLoss(const torch::Tensor& values,
                                                 const torch::Tensor& old_values,
                                                 const torch::Tensor& returns,
                                                 const torch::Tensor& mask, double value_clip_eps,
                                                 v1::LossAggregation aggregation);

// Entropy bonus as a loss term to add: -coef * AggregateLoss(entropy), so minimising it raises
// the entropy. entropy: [B, T] from EntropyFromLogits (differentiable) or given. coef >= 0.
absl::StatusOr<torch::Tensor> EntropyLoss(const torch::Tensor& entropy, const torch::Tensor& mask,
                                          double coef, v1::LossAggregation aggregation);

// EntropyLoss(EntropyFromLogits(logits, mask), ...). logits: [B, T, V].
absl::StatusOr<torch::Tensor> EntropyLossFromLogits(const torch::Tensor& logits,
                                                    const torch::Tensor& mask, double coef,
                                                    v1::LossAggregation aggregation);

}  // namespace pelican

#endif  // PELICAN_LEARNER_LOSSES_H_
