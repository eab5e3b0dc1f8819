#include "learner/advantages.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "learner/masked.h"
#include "learner/tensor_checks.h"

namespace pelican {
namespace {

absl::Status ValidateUnitInterval(absl::string_view name, double x) {
  if (!(x >= 0.0 && x <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": must be in [0, 1], got ", x));
  }
  return absl::OkStatus();
}

// GAE's backward recursion, vectorised over rows and stepping over masked positions. Inputs are
// validated, detached and of one dtype.
GaeResult GaeRecursion(const torch::Tensor& rewards, const torch::Tensor& values,
                       const torch::Tensor& mask, double gamma, double lambda) {
  const int64_t T = mask.size(1);
  torch::Tensor real = mask.scalar_type() == torch::kBool ? mask : mask.ne(0);
  torch::Tensor zeros = torch::zeros({mask.size(0)}, rewards.options());
  // Value and advantage of the next real token of each row: 0 until one is met (no bootstrap).
  torch::Tensor next_value = zeros;
  torch::Tensor next_advantage = zeros;
  torch::Tensor advantages = torch::zeros_like(rewards);
  for (int64_t t = T - 1; t >= 0; --t) {
    torch::Tensor m = real.select(1, t);
    torch::Tensor value = values.select(1, t);
    torch::Tensor delta = rewards.select(1, t) + gamma * next_value - value;
    torch::Tensor advantage = delta + (gamma * lambda) * next_advantage;
    // torch::where, not arithmetic with m, so that NaN in padding cannot leak through 0 * NaN.
    next_value = torch::where(m, value, next_value);
    next_advantage = torch::where(m, advantage, next_advantage);
    advantages.select(1, t).copy_(torch::where(m, advantage, zeros));
  }
  return GaeResult{advantages, MaskedFill0(advantages + values, real)};
}

absl::Status ValidateGroups(const torch::Tensor& rewards, const torch::Tensor& mask,
                            int64_t group_size) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidatePerSequence("rewards", rewards, mask));
  RETURN_IF_ERROR(ValidateFinite("rewards", rewards));
  if (group_size < 1 || rewards.size(0) % group_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("group_size: must be >= 1 and divide the batch size ", rewards.size(0),
                     " (prompts x completions per prompt), got ", group_size));
  }
  return absl::OkStatus();
}

torch::Tensor Broadcast(const torch::Tensor& sequence_values, const torch::Tensor& mask) {
  return MaskedFill0(sequence_values.unsqueeze(1).expand({-1, mask.size(1)}), mask);
}

}  // namespace

absl::StatusOr<GaeResult> Gae(const torch::Tensor& rewards, const torch::Tensor& values,
                              const torch::Tensor& mask, double gamma, double lambda) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("rewards", rewards, mask));
  RETURN_IF_ERROR(ValidateLikeMask("values", values, mask));
  RETURN_IF_ERROR(ValidateUnitInterval("gamma", gamma));
  RETURN_IF_ERROR(ValidateUnitInterval("gae_lambda", lambda));
  torch::NoGradGuard no_grad;
  const auto dtype = torch::promote_types(rewards.scalar_type(), values.scalar_type());
  return GaeRecursion(rewards.detach().to(dtype), values.detach().to(dtype), mask, gamma, lambda);
}

absl::StatusOr<torch::Tensor> WhitenAdvantages(const torch::Tensor& advantages,
                                               const torch::Tensor& mask, bool shift_mean,
                                               double eps) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("advantages", advantages, mask));
  if (!(eps >= 0)) return absl::InvalidArgumentError("WhitenAdvantages: eps must be >= 0");
  torch::NoGradGuard no_grad;
  return MaskedWhiten(advantages.detach(), mask, shift_mean, eps);
}

absl::StatusOr<torch::Tensor> BroadcastToTokens(const torch::Tensor& sequence_values,
                                                const torch::Tensor& mask) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidatePerSequence("sequence_values", sequence_values, mask));
  return Broadcast(sequence_values, mask);
}

absl::StatusOr<torch::Tensor> GrpoAdvantages(const torch::Tensor& rewards,
                                             const torch::Tensor& mask, int64_t group_size,
                                             bool scale_by_std, double eps) {
  RETURN_IF_ERROR(ValidateGroups(rewards, mask, group_size));
  if (!(eps > 0)) return absl::InvalidArgumentError("GrpoAdvantages: eps must be > 0");
  torch::NoGradGuard no_grad;
  torch::Tensor grouped = rewards.detach().reshape({-1, group_size});  // [B / G, G]
  torch::Tensor centered = grouped - grouped.mean(1, /*keepdim=*/true);
  if (scale_by_std) {
    // Bessel's correction divides by G - 1, which is 0 for G = 1; the centred rewards are all 0
    // then, and so is the std with the floor below.
    const double denominator = group_size > 1 ? static_cast<double>(group_size - 1) : 1.0;
    torch::Tensor std = (centered.square().sum(1, /*keepdim=*/true) / denominator).sqrt();
    centered = centered / (std + eps);
  }
  return Broadcast(centered.reshape({-1}), mask);
}

absl::StatusOr<torch::Tensor> RlooAdvantages(const torch::Tensor& rewards,
                                             const torch::Tensor& mask, int64_t group_size) {
  RETURN_IF_ERROR(ValidateGroups(rewards, mask, group_size));
  torch::NoGradGuard no_grad;
  if (group_size == 1) return torch::zeros_like(mask, rewards.options());
  torch::Tensor grouped = rewards.detach().reshape({-1, group_size});  // [B / G, G]
  torch::Tensor others_mean =
      (grouped.sum(1, /*keepdim=*/true) - grouped) / static_cast<double>(group_size - 1);
  return Broadcast((grouped - others_mean).reshape({-1}), mask);
}

absl::StatusOr<ReinforcePlusPlusResult> ReinforcePlusPlus(const torch::Tensor& token_rewards,
                                                          const torch::Tensor& mask, double gamma) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidateLikeMask("token_rewards", token_rewards, mask));
  RETURN_IF_ERROR(ValidateUnitInterval("gamma", gamma));
  torch::NoGradGuard no_grad;
  // The discounted return is GAE with V = 0 and lambda = 1: delta_t = r_t, A_t = r_t + gamma A.
  torch::Tensor rewards = token_rewards.detach();
  GaeResult gae = GaeRecursion(rewards, torch::zeros_like(rewards), mask, gamma, 1.0);
  return ReinforcePlusPlusResult{MaskedWhiten(gae.advantages, mask), gae.advantages};
}

}  // namespace pelican
