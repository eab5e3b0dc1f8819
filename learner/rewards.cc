#include "learner/rewards.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "learner/masked.h"
#include "learner/tensor_checks.h"

namespace pelican {

absl::Status RunningMoments::Update(const torch::Tensor& xs) {
  if (!xs.defined() || !xs.is_floating_point()) {
    return absl::InvalidArgumentError("RunningMoments::Update: expected a floating tensor");
  }
  RETURN_IF_ERROR(ValidateFinite("RunningMoments::Update", xs));
  if (xs.numel() == 0) return absl::OkStatus();
  torch::Tensor x = xs.detach().to(torch::kCPU, torch::kDouble).flatten();
  RunningMoments batch;
  batch.count = x.numel();
  batch.mean = x.mean().item<double>();
  batch.m2 = (x - batch.mean).square().sum().item<double>();
  Merge(batch);
  return absl::OkStatus();
}

void RunningMoments::Merge(const RunningMoments& other) {
  if (other.count == 0) return;
  if (count == 0) {
    *this = other;
    return;
  }
  const double n_a = static_cast<double>(count);
  const double n_b = static_cast<double>(other.count);
  const double n = n_a + n_b;
  const double delta = other.mean - mean;
  mean += delta * n_b / n;
  m2 += other.m2 + delta * delta * n_a * n_b / n;
  count += other.count;
}

double RunningMoments::Variance() const {
  return count < 2 ? 0.0 : m2 / static_cast<double>(count - 1);
}

double RunningMoments::Std() const { return std::sqrt(Variance()); }

absl::StatusOr<torch::Tensor> NormalizeRewards(const torch::Tensor& rewards,
                                               const RunningMoments& moments, bool shift_mean,
                                               double eps) {
  if (!rewards.defined() || !rewards.is_floating_point()) {
    return absl::InvalidArgumentError("NormalizeRewards: rewards must be a floating tensor");
  }
  if (!(eps >= 0)) return absl::InvalidArgumentError("NormalizeRewards: eps must be >= 0");
  const double std = moments.Std();
  const double divisor = (moments.count < 2 || std <= eps) ? 1.0 : std;
  torch::Tensor shifted = shift_mean ? rewards - moments.mean : rewards;
  return shifted / divisor;
}

absl::StatusOr<torch::Tensor> ClipRewards(const torch::Tensor& rewards, double clip) {
  if (!rewards.defined() || !rewards.is_floating_point()) {
    return absl::InvalidArgumentError("ClipRewards: rewards must be a floating tensor");
  }
  if (!(clip >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("ClipRewards: clip must be >= 0, got ", clip));
  }
  if (clip == 0) return rewards;
  return rewards.clamp(-clip, clip);
}

absl::StatusOr<torch::Tensor> TokenRewardsFromSequence(const torch::Tensor& sequence_rewards,
                                                       const torch::Tensor& mask) {
  RETURN_IF_ERROR(ValidateMask(mask));
  RETURN_IF_ERROR(ValidatePerSequence("sequence_rewards", sequence_rewards, mask));
  const int64_t T = mask.size(1);
  torch::Tensor real = mask.scalar_type() == torch::kBool ? mask : mask.ne(0);
  // Position + 1 of every real token, 0 for padding; the row maximum - 1 is the last real token,
  // -1 for a fully masked row, which then matches no position.
  torch::Tensor positions = torch::arange(1, T + 1, mask.options().dtype(torch::kLong));
  torch::Tensor last = (real.to(torch::kLong) * positions).amax(1) - 1;     // [B]
  torch::Tensor is_last = positions.unsqueeze(0) - 1 == last.unsqueeze(1);  // [B, T]
  return MaskedFill0(sequence_rewards.unsqueeze(1).expand({-1, T}), is_last);
}

}  // namespace pelican
