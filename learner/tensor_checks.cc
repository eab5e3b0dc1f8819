#include "learner/tensor_checks.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pelican {

std::string ShapeString(const torch::Tensor& x) {
  if (!x.defined()) return "undefined";
  return absl::StrCat("[", absl::StrJoin(x.sizes(), ", "), "]");
}

absl::Status ValidateMask(const torch::Tensor& mask) {
  if (!mask.defined() || mask.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("mask: expected a [B, T] tensor, got ", ShapeString(mask)));
  }
  if (mask.scalar_type() != torch::kBool && !mask.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat("mask: expected dtype bool or floating, got ",
                                                   c10::toString(mask.scalar_type())));
  }
  if (mask.scalar_type() != torch::kBool && !mask.eq(0).logical_or(mask.eq(1)).all().item<bool>()) {
    return absl::InvalidArgumentError("mask: entries must be 0 or 1");
  }
  return absl::OkStatus();
}

namespace {

// The checks shared by per-token and per-sequence tensors: a floating dtype, on mask's device.
absl::Status FloatingOnMaskDevice(absl::string_view name, const torch::Tensor& x,
                                  const torch::Tensor& mask) {
  if (!x.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a floating dtype, got ", c10::toString(x.scalar_type())));
  }
  if (x.device() != mask.device()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": on ", x.device().str(), " but mask is on ", mask.device().str()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateLikeMask(absl::string_view name, const torch::Tensor& x,
                              const torch::Tensor& mask) {
  if (!x.defined() || x.sizes() != mask.sizes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": expected shape [B, T] = ", ShapeString(mask), " like mask, got ", ShapeString(x)));
  }
  return FloatingOnMaskDevice(name, x, mask);
}

absl::Status ValidatePerSequence(absl::string_view name, const torch::Tensor& x,
                                 const torch::Tensor& mask) {
  if (!x.defined() || x.dim() != 1 || x.size(0) != mask.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": expected shape [B] = [", mask.size(0),
                                                   "] (one per mask row), got ", ShapeString(x)));
  }
  return FloatingOnMaskDevice(name, x, mask);
}

absl::Status ValidateFinite(absl::string_view name, const torch::Tensor& x) {
  if (!torch::isfinite(x).all().item<bool>()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": contains NaN or infinity"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLossAggregation(v1::LossAggregation mode) {
  switch (mode) {
    case v1::LOSS_AGGREGATION_TOKEN_MEAN:
    case v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN:
    case v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM:
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("loss_aggregation: expected token_mean, seq_mean_token_mean or "
                       "seq_mean_token_sum, got ",
                       static_cast<int>(mode), " (", v1::LossAggregation_Name(mode), ")"));
  }
}

}  // namespace pelican
