// Masked reductions over padded token tensors, and the loss aggregation modes built from them.
// These are the building blocks of advantages.h, losses.h and kl.h.
//
// Shapes: B = sequences in the batch, T = completion tokens per sequence. `mask` is [B, T] (or any
// shape equal to x's), dtype bool or floating, 1 for real completion tokens and 0 for padding.
//
// Masked positions are ignored whatever they hold: they are selected away (masked_fill), never
// multiplied by 0, so NaN or inf in padding cannot leak into a result or a gradient. A reduction
// over no real tokens gives 0, not NaN: an all-padding micro-batch contributes nothing.
//
// REQUIRES (all functions here): x.sizes() == mask.sizes() (checked: a mismatch is a bug in the
// caller, which validated its inputs with tensor_checks.h), and mask holds only 0 and 1 (not
// checked here). Results are differentiable with respect to x and keep its dtype; counts are in
// that dtype too, so reduce float32 or wider (bf16 rounds a count above 256).
#ifndef PELICAN_LEARNER_MASKED_H_
#define PELICAN_LEARNER_MASKED_H_

#include <torch/torch.h>

#include "pelican/v1/config.pb.h"

namespace pelican {

// `x` with masked positions set to 0. Same shape as x.
torch::Tensor MaskedFill0(const torch::Tensor& x, const torch::Tensor& mask);

// Number of real tokens, in x's dtype: [] for the whole tensor, or reduced over `dim`.
torch::Tensor MaskedCount(const torch::Tensor& x, const torch::Tensor& mask);
torch::Tensor MaskedCount(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim);

// Sum over real tokens: [] for the whole tensor, or reduced over `dim` (e.g. dim 1: [B]).
torch::Tensor MaskedSum(const torch::Tensor& x, const torch::Tensor& mask);
torch::Tensor MaskedSum(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim);

// Mean over real tokens; 0 where there are none.
torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask);
torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask, int64_t dim);

// Variance over all real tokens: [], 0 when there are none. `unbiased` divides by n - 1 (Bessel,
// as TRL's masked_var does) and gives 0 for n = 1, where the unbiased variance is undefined.
torch::Tensor MaskedVar(const torch::Tensor& x, const torch::Tensor& mask, bool unbiased = true);

// (x - mean) / sqrt(var + eps) with the masked mean and unbiased variance over all real tokens;
// with shift_mean = false the mean is added back (only the scale changes, as TRL's whiten does for
// rewards). Same shape as x, 0 at masked positions.
torch::Tensor MaskedWhiten(const torch::Tensor& x, const torch::Tensor& mask,
                           bool shift_mean = true, double eps = 1e-8);

// Reduces a per-token loss [B, T] to a scalar [] over real tokens:
//   TOKEN_MEAN:           sum over all real tokens / their number (long sequences weigh more);
//   SEQ_MEAN_TOKEN_MEAN:  mean over sequences of each sequence's token mean;
//   SEQ_MEAN_TOKEN_SUM:   mean over sequences of each sequence's token sum (Dr. GRPO style).
// Sequence means run over rows with at least one real token: a fully masked row is not counted.
// The normaliser is local to this batch; with gradient accumulation or data parallelism the
// caller scales by its share of the global batch.
// REQUIRES: per_token is [B, T]; mode is valid (ValidateLossAggregation; checked).
torch::Tensor AggregateLoss(const torch::Tensor& per_token, const torch::Tensor& mask,
                            v1::LossAggregation mode);

}  // namespace pelican

#endif  // PELICAN_LEARNER_MASKED_H_
