#include "learner/losses.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "learner/masked.h"
#include "learner/tensor_checks.h"

namespace pelican {
namespace {

// Bound on |log ratio| before exp; exp(20) ~ 5e8 is far outside any clip range already.
constexpr double kMaxLogRatio = 20.0;

absl::Status ValidateLogits(const torch::Tensor& logits, const torch::Tensor& mask) {
  if (!logits.defined() || logits.dim() != 3 || logits.size(0) != mask.size(0) ||
      logits.size(1) != mask.size(1) || logits.size(2) < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits: expected shape [B, T, V] with [B, T] = ", ShapeString(mask),
                     " like mask and V >= 1, got ", ShapeString(logits)));
  }
  if (!logits.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat("logits: expected a floating dtype, got ",
                                                   c10::toString(logits.scalar_type())));
  }
  if (logits.device() != mask.device()) {
    return absl::InvalidArgumentError(absl::StrCat("logits: on ", logits.device().str(),
                                                   " but mask is on ", mask.device().str()));
  }
  return absl::OkStatus();
}

// Softmax over bf16/fp16 loses too much: work in float32 there, and in the given dtype otherwise.
torch::Tensor Upcast(const torch::Tensor& logits) {
  const auto dtype = logits.scalar_type();
  return dtype == torch::kHalf || dtype == torch::kBFloat16 ? logits.to(torch::kFloat) : logits;
}

absl::Status ValidateCoef(absl::string_view name, double coef) {
  if (!(coef >= 0) || !std::isfinite(coef)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": must be finite and >= 0, got ", coef));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<torch::Tensor> LogProbsFromLogits(const torch::Tensor& logits,
                                                 const torch::Tensor& tokens,
                                                 const torch::Tensor& mask) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLogits(logits, mask));
  if (!tokens.defined() || tokens.sizes() != mask.sizes() || tokens.is_floating_point() ||
      tokens.is_complex() || tokens.scalar_type() == torch::kBool) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokens: expected integer ids of shape [B, T] = ", ShapeString(mask), ", got ",
                     ShapeString(tokens)));
  }
  if (tokens.device() != mask.device()) {
    return absl::InvalidArgumentError("tokens: not on mask's device");
  }
  const int64_t vocab = logits.size(2);
  // Padding may hold any id (-100 is common); only real positions are gathered.
  torch::Tensor ids = MaskedFill0(tokens.to(torch::kLong), mask);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>();
    const int64_t hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens: ids must be in [0, ", vocab, ") at real positions, found ", lo < 0 ? lo : hi));
    }
  }
  torch::Tensor z = Upcast(logits);
  torch::Tensor chosen = z.gather(-1, ids.unsqueeze(-1)).squeeze(-1);
  return MaskedFill0(chosen - torch::logsumexp(z, {-1}), mask);
}

absl::StatusOr<torch::Tensor> EntropyFromLogits(const torch::Tensor& logits,
                                                const torch::Tensor& mask) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLogits(logits, mask));
  torch::Tensor log_p = torch::log_softmax(Upcast(logits), -1);
  // p log p -> 0 as p -> 0, but 0 * -inf is NaN, in the forward pass and in the gradient of the
  // product; use 0 for log p where p is exactly 0 (its gradient there is then 0 as well).
  torch::Tensor p_log_p = log_p.exp() * log_p.masked_fill(torch::isneginf(log_p), 0);
  return MaskedFill0(-p_log_p.sum(-1), mask);
}

absl::StatusOr<TruncatedIsResult> TruncatedIsWeights(const torch::Tensor& old_logprobs,
                                                     const torch::Tensor& sampling_logprobs,
                                                     const torch::Tensor& mask, double cap) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("old_logprobs", old_logprobs, mask));
  RETURN_IF_ERROR(ValidateLikeMask("sampling_logprobs", sampling_logprobs, mask));
  if (!(cap >= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("is_ratio_cap: must be >= 1, got ", cap));
  }
  torch::NoGradGuard no_grad;
  // exp may overflow to inf for a token the actor found nearly impossible; min(inf, cap) = cap.
  torch::Tensor ratio = torch::exp(MaskedFill0(old_logprobs - sampling_logprobs, mask));
  torch::Tensor truncated = (ratio > cap).to(ratio.scalar_type());
  return TruncatedIsResult{MaskedFill0(ratio.clamp_max(cap), mask), MaskedMean(truncated, mask)};
}

absl::StatusOr<PolicyLossResult> PpoPolicyLoss(const torch::Tensor& logprobs,
                                               const torch::Tensor& old_logprobs,
                                               const torch::Tensor& advantages,
                                               const torch::Tensor& mask,
                                               const PolicyLossOptions& options,
                                               const torch::Tensor& is_weights) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("logprobs", logprobs, mask));
  RETURN_IF_ERROR(ValidateLikeMask("old_logprobs", old_logprobs, mask));
  RETURN_IF_ERROR(ValidateLikeMask("advantages", advantages, mask));
  if (is_weights.defined()) RETURN_IF_ERROR(ValidateLikeMask("is_weights", is_weights, mask));
  RETURN_IF_ERROR(ValidateLossAggregation(options.aggregation));
  if (!(options.clip_eps > 0) || !std::isfinite(options.clip_eps)) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip_eps: must be finite and > 0, got ", options.clip_eps));
  }
  // Every input is zeroed at padding before any arithmetic: in the backward pass a 0 gradient
  // times NaN padding is still NaN, so masking only the output would not be enough.
  torch::Tensor log_ratio =
      MaskedFill0(logprobs - old_logprobs.detach(), mask).clamp(-kMaxLogRatio, kMaxLogRatio);
  torch::Tensor advantage = MaskedFill0(advantages.detach(), mask);
  torch::Tensor ratio = torch::exp(log_ratio);
  torch::Tensor unclipped = -advantage * ratio;
  torch::Tensor clipped = -advantage * ratio.clamp(1.0 - options.clip_eps, 1.0 + options.clip_eps);
  torch::Tensor per_token = torch::maximum(unclipped, clipped);
  if (is_weights.defined()) per_token = per_token * MaskedFill0(is_weights.detach(), mask);
  per_token = MaskedFill0(per_token, mask);

  PolicyLossResult result;
  result.loss = AggregateLoss(per_token, mask, options.aggregation);
  result.per_token_loss = per_token;
  torch::NoGradGuard no_grad;
  result.clip_fraction = MaskedMean((clipped > unclipped).to(ratio.scalar_type()), mask);
  result.approx_kl = MaskedMean((ratio - 1) - log_ratio, mask);
  return result;
}

absl::StatusOr<ValueLossResult> ClippedValueLoss(const torch::Tensor& values,
                                                 const torch::Tensor& old_values,
                                                 const torch::Tensor& returns,
                                                 const torch::Tensor& mask, double value_clip_eps,
                                                 v1::LossAggregation aggregation) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("values", values, mask));
  RETURN_IF_ERROR(ValidateLikeMask("old_values", old_values, mask));
  RETURN_IF_ERROR(ValidateLikeMask("returns", returns, mask));
  RETURN_IF_ERROR(ValidateLossAggregation(aggregation));
  RETURN_IF_ERROR(ValidateCoef("value_clip_eps", value_clip_eps));
  torch::Tensor value = MaskedFill0(values, mask);
  torch::Tensor old_value = MaskedFill0(old_values.detach(), mask);
  torch::Tensor target = MaskedFill0(returns.detach(), mask);
  torch::Tensor unclipped = (value - target).square();
  torch::Tensor per_token;
  torch::Tensor clip_fraction;
  if (value_clip_eps > 0) {
    torch::Tensor clipped_value =
        old_value + (value - old_value).clamp(-value_clip_eps, value_clip_eps);
    torch::Tensor clipped = (clipped_value - target).square();
    per_token = 0.5 * torch::maximum(unclipped, clipped);
    torch::NoGradGuard no_grad;
    clip_fraction = MaskedMean((clipped > unclipped).to(unclipped.scalar_type()), mask);
  } else {
    per_token = 0.5 * unclipped;
    clip_fraction = torch::zeros({}, unclipped.options());
  }
  per_token = MaskedFill0(per_token, mask);
  return ValueLossResult{AggregateLoss(per_token, mask, aggregation), per_token, clip_fraction};
}

absl::StatusOr<torch::Tensor> EntropyLoss(const torch::Tensor& entropy, const torch::Tensor& mask,
                                          double coef, v1::LossAggregation aggregation) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("entropy", entropy, mask));
  RETURN_IF_ERROR(ValidateLossAggregation(aggregation));
  RETURN_IF_ERROR(ValidateCoef("entropy_coef", coef));
  return -coef * AggregateLoss(entropy, mask, aggregation);
}

absl::StatusOr<torch::Tensor> EntropyLossFromLogits(const torch::Tensor& logits,
                                                    const torch::Tensor& mask, double coef,
                                                    v1::LossAggregation aggregation) {
  ASSIGN_OR_RETURN(torch::Tensor entropy, EntropyFromLogits(logits, mask));
  return EntropyLoss(entropy, mask, coef, aggregation);
}

}  // namespace pelican
