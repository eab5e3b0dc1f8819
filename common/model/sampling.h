// Turning next-token logits into a sampled token and its log-probability, in HF's warper order:
//
//   logits [R, V] ─► / temperature ─► top-k ─► top-p ─► log_softmax ─► draw (inverse CDF)
//
// Legend: R rows (sequences being decoded), V vocab_size.
//
// Randomness comes only from the CPU torch::Generator passed in (one uniform per row per step), so
// a seeded run is reproducible, and the same on any device up to floating-point differences in
// the logits: the logits may live on a GPU while the generator stays on the CPU.
#ifndef PELICAN_COMMON_MODEL_SAMPLING_H_
#define PELICAN_COMMON_MODEL_SAMPLING_H_

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

// Mirrors pelican.v1.SamplingSection (see config.proto for meanings and defaults).
struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
  int64_t max_new_tokens = 64;
  // Every id that ends a completion: the model's EOS ids plus SamplingSection.stop_token_ids.
  std::vector<int64_t> stop_token_ids;
  int64_t n = 1;  // samples per prompt
};

// Copies `section` and appends `eos_token_ids` (the model's, from GenerationConfig) to its stops.
SamplingParams SamplingFromProto(const v1::SamplingSection& section,
                                 const std::vector<int64_t>& eos_token_ids);

// INVALID_ARGUMENT naming the field when a value is out of its range.
absl::Status ValidateSampling(const SamplingParams& params);

// The sampling distribution as log-probabilities: logits [R, V] -> [R, V] float32, -inf outside
// the kept set. REQUIRES: temperature > 0.
torch::Tensor SamplingLogProbs(const torch::Tensor& logits, double temperature, int64_t top_k,
                               double top_p);

struct Draw {
  torch::Tensor tokens;    // [R] int64, CPU
  torch::Tensor logprobs;  // [R] float32, CPU: log p(token) under the sampling distribution
};

// One token per row. Greedy (temperature 0) takes the argmax (lowest id on ties) with logprob 0:
// the sampling distribution is then a point mass. `generator` must be a CPU generator.
Draw SampleNext(const torch::Tensor& logits, const SamplingParams& params,
                at::Generator& generator);

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_SAMPLING_H_
