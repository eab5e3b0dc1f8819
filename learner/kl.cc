#include "learner/kl.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "learner/masked.h"
#include "learner/rewards.h"
#include "learner/tensor_checks.h"

namespace pelican {
namespace {

// Bound on |log ratio| before exp in K3; exp(20) ~ 5e8 is already far past any useful penalty.
constexpr double kMaxLogRatio = 20.0;

}  // namespace

absl::StatusOr<torch::Tensor> KlPerToken(const torch::Tensor& logprobs,
                                         const torch::Tensor& ref_logprobs,
                                         const torch::Tensor& mask, v1::KlEstimator estimator) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("logprobs", logprobs, mask));
  RETURN_IF_ERROR(ValidateLikeMask("ref_logprobs", ref_logprobs, mask));
  // Zeroed at padding first so NaN there reaches neither the result nor the gradient.
  torch::Tensor d = MaskedFill0(logprobs - ref_logprobs.detach(), mask);
  torch::Tensor kl;
  switch (estimator) {
    case v1::KL_ESTIMATOR_K1:
      kl = d;
      break;
    case v1::KL_ESTIMATOR_K2:
      kl = 0.5 * d * d;
      break;
    case v1::KL_ESTIMATOR_K3: {
      torch::Tensor log_ratio = (-d).clamp(-kMaxLogRatio, kMaxLogRatio);
      // expm1 keeps exp(x) - 1 - x accurate near x = 0, where the policy sits on the reference.
      kl = torch::expm1(log_ratio) - log_ratio;
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("kl.estimator: expected k1, k2 or k3, got ", static_cast<int>(estimator)));
  }
  return MaskedFill0(kl, mask);
}

absl::StatusOr<torch::Tensor> KlPenalizedRewards(const torch::Tensor& sequence_rewards,
                                                 const torch::Tensor& kl, const torch::Tensor& mask,
                                                 double coef) {
  RETURN_IF_ERROR(ValidateLikeMask("kl", kl, mask));
  if (!(coef >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("kl coef must be >= 0, got ", coef));
  }
  ASSIGN_OR_RETURN(torch::Tensor rewards, TokenRewardsFromSequence(sequence_rewards, mask));
  return rewards - MaskedFill0(coef * kl.detach(), mask);
}

absl::StatusOr<torch::Tensor> KlLoss(const torch::Tensor& kl, const torch::Tensor& mask,
                                     double coef, v1::LossAggregation aggregation) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("kl", kl, mask));
  RETURN_IF_ERROR(ValidateLossAggregation(aggregation));
  if (!(coef >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("kl coef must be >= 0, got ", coef));
  }
  return coef * AggregateLoss(kl, mask, aggregation);
}

absl::StatusOr<torch::Tensor> MeanSequenceKl(const torch::Tensor& kl, const torch::Tensor& mask) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("kl", kl, mask));
  torch::NoGradGuard no_grad;
  return AggregateLoss(kl.detach(), mask, v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM);
}

absl::Status ValidateKlControllerConfig(const KlControllerConfig& config) {
  if (config.kind != v1::KL_CONTROLLER_FIXED && config.kind != v1::KL_CONTROLLER_ADAPTIVE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kl.controller: expected fixed or adaptive, got ", static_cast<int>(config.kind)));
  }
  if (!(config.initial_coef >= 0) || !std::isfinite(config.initial_coef)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kl.coef: must be finite and >= 0, got ", config.initial_coef));
  }
  if (config.kind == v1::KL_CONTROLLER_ADAPTIVE) {
    if (!(config.target > 0) || !std::isfinite(config.target)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kl.target: must be finite and > 0, got ", config.target));
    }
    if (!(config.horizon > 0) || !std::isfinite(config.horizon)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kl.horizon: must be finite and > 0, got ", config.horizon));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<KlControllerConfig> KlControllerConfigFromProto(const v1::KlSection& kl) {
  KlControllerConfig config;
  config.kind = kl.controller();
  config.initial_coef = kl.coef();
  config.target = kl.target();
  config.horizon = kl.horizon();
  RETURN_IF_ERROR(ValidateKlControllerConfig(config));
  return config;
}

KlControllerState InitialKlControllerState(const KlControllerConfig& config) {
  return KlControllerState{config.initial_coef};
}

absl::StatusOr<KlControllerState> UpdateKlController(const KlControllerConfig& config,
                                                     const KlControllerState& state,
                                                     double observed_kl, int64_t n_samples) {
  RETURN_IF_ERROR(ValidateKlControllerConfig(config));
  if (!std::isfinite(observed_kl)) {
    return absl::InvalidArgumentError(
        absl::StrCat("observed KL must be finite, got ", observed_kl));
  }
  if (n_samples < 0) {
    return absl::InvalidArgumentError(absl::StrCat("n_samples must be >= 0, got ", n_samples));
  }
  if (config.kind == v1::KL_CONTROLLER_FIXED) return state;
  // Proportional control on the relative error, clipped so one outlier batch moves the
  // coefficient by at most 20% of n_samples / horizon.
  const double error = std::clamp(observed_kl / config.target - 1.0, -0.2, 0.2);
  KlControllerState next = state;
  // A batch of more than 5 horizons at the largest negative error would flip the sign.
  next.coef *= std::max(0.0, 1.0 + error * static_cast<double>(n_samples) / config.horizon);
  return next;
}

}  // namespace pelican
