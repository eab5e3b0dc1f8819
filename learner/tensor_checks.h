// Argument checks for the learner's tensor functions. Every public algorithm function (Gae,
// PpoPolicyLoss, KlPerToken, ...) runs these first, so a batch of the wrong shape fails with an
// INVALID_ARGUMENT naming the argument and both shapes, not with a c10::Error from inside LibTorch.
//
// Shapes: B = sequences in the batch, T = completion tokens per sequence, V = vocabulary size.
// A mask is [B, T], dtype bool or floating, holding only 0 and 1 (1 = real completion token).
#ifndef PELICAN_LEARNER_TENSOR_CHECKS_H_
#define PELICAN_LEARNER_TENSOR_CHECKS_H_

#include <torch/torch.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

// "[4, 7]"; "undefined" for an undefined tensor.
std::string ShapeString(const torch::Tensor& x);

// OK when `mask` is a defined [B, T] tensor, bool or floating, whose entries are all 0 or 1.
// Reads the values, so on a GPU it synchronises once.
absl::Status ValidateMask(const torch::Tensor& mask);

// OK when `x` is a defined floating tensor of mask's shape [B, T] on mask's device.
absl::Status ValidateLikeMask(absl::string_view name, const torch::Tensor& x,
                              const torch::Tensor& mask);

// OK when `x` is a defined floating 1-D tensor of mask.size(0) elements ([B]) on mask's device.
absl::Status ValidatePerSequence(absl::string_view name, const torch::Tensor& x,
                                 const torch::Tensor& mask);

// OK when every entry of `x` is finite. Used for rewards, where one NaN would spread to a whole
// group (GRPO, RLOO), the whole batch (whitening) or every later step (running moments).
absl::Status ValidateFinite(absl::string_view name, const torch::Tensor& x);

// OK for the three defined LossAggregation values; INVALID_ARGUMENT for UNSPECIFIED or unknown.
absl::Status ValidateLossAggregation(v1::LossAggregation mode);

}  // namespace pelican

#endif  // PELICAN_LEARNER_TENSOR_CHECKS_H_
