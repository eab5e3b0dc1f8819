#include "learner/masked.h"

#include "common/status_macros.h"
#include "learner/tensor_checks.h"

namespace pelican {
namespace {

// Mask as bool, the form masked_fill takes.
torch::Tensor Real(const torch::Tensor& x, const torch::Tensor& mask) {
  PELICAN_CHECK(x.sizes() == mask.sizes())
      << "x is " << ShapeString(x) << " but mask is " << ShapeString(mask);
  return mask.scalar_type() == torch::kBool ? mask : mask.ne(0);
}

}  // namespace

torch::Tensor MaskedFill0(const torch::Tensor& x, const torch::Tensor& mask) {
  return x.masked_fill(Real(x, mask).logical_not(), 0);
}

torch::Tensor MaskedCount(const torch::Tensor& x, const torch::Tensor& mask) {
  return Real(x, mask).to(x.scalar_type()).sum();
}

torch::Tensor MaskedCount(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim) {
  return Real(x, mask).to(x.scalar_type()).sum(dim);
}

torch::Tensor MaskedSum(const torch::Tensor& x, const torch::Tensor& mask) {
  return MaskedFill0(x, mask).sum();
}

torch::Tensor MaskedSum(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim) {
  return MaskedFill0(x, mask).sum(dim);
}

torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask) {
  return MaskedSum(x, mask) / MaskedCount(x, mask).clamp_min(1);
}

torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim) {
  return MaskedSum(x, mask, dim) / MaskedCount(x, mask, dim).clamp_min(1);
}

torch::Tensor MaskedVar(const torch::Tensor& x, const torch::Tensor& mask, bool unbiased) {
  torch::Tensor centered = x - MaskedMean(x, mask);
  torch::Tensor count = MaskedCount(x, mask);
  // n - 1 is 0 for a single token and -1 for none; the sum of squares is 0 then, so a floor of 1
  // gives variance 0 instead of NaN.
  torch::Tensor denominator = (unbiased ? count - 1 : count).clamp_min(1);
  return MaskedSum(centered * centered, mask) / denominator;
}

torch::Tensor MaskedWhiten(const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean,
                           double eps) {
  torch::Tensor mean = MaskedMean(x, mask);
  torch::Tensor whitened = (x - mean) * torch::rsqrt(MaskedVar(x, mask) + eps);
  if (!shift_mean) whitened = whitened + mean;
  return MaskedFill0(whitened, mask);
}

torch::Tensor AggregateLoss(const torch::Tensor& per_token, const torch::Tensor& mask,
                            v1::LossAggregation mode) {
  PELICAN_CHECK(per_token.dim() == 2)
      << "per_token loss must be [B, T], got " << ShapeString(per_token);
  switch (mode) {
    case v1::LOSS_AGGREGATION_TOKEN_MEAN:
      return MaskedMean(per_token, mask);
    case v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN:
    case v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM: {
      torch::Tensor per_sequence = mode == v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN
                                       ? MaskedMean(per_token, mask, 1)
                                       : MaskedSum(per_token, mask, 1);
      torch::Tensor has_tokens = MaskedCount(per_token, mask, 1) > 0;
      return MaskedMean(per_sequence, has_tokens);
    }
    default:
      PELICAN_CHECK(false) << "AggregateLoss: " << ValidateLossAggregation(mode);
      return {};
  }
}

}  // namespace pelican
