// Batched sampling of completions with a KV cache: what an actor runs for each leased batch.
//
//   prompts ─► chunks within the KV budget ─► left-pad ─► prefill each prompt once ─► copy its
//   cache rows n times ─► decode loop { SampleNext ─► stop? ─► one-token forward } ─► Completions
//
// Legend: P prompts in a chunk, R = P * n rows decoded together, L longest prompt of the chunk,
// M max_new_tokens, V vocab_size.
//
// The cache of a chunk is preallocated to L + M slots for R rows. Prompts are split into chunks
// (in order) so that no chunk's cache exceeds max_kv_cache_bytes; a single prompt whose n samples
// do not fit is refused with RESOURCE_EXHAUSTED. Rows that finish keep being computed until every
// row of the chunk has finished (their extra tokens are discarded), the price of a static batch.
//
// Thread safety: uses `model` and `generator` exclusively for the duration of the call.
#ifndef PELICAN_COMMON_MODEL_GENERATE_H_
#define PELICAN_COMMON_MODEL_GENERATE_H_

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/sampling.h"
#include "common/model/transformer.h"
#include "pelican/v1/rollout.pb.h"

namespace pelican {

struct GenerateOptions {
  SamplingParams sampling;
  // Upper bound on one chunk's KV cache (ActorSection.max_kv_cache_mib × 2^20).
  int64_t max_kv_cache_bytes = int64_t{1} << 30;
  // Off: every step re-runs the whole sequence (for tests and the cache benchmark).
  bool use_kv_cache = true;
  // Id fed at left padding; never attended to, so any valid id works.
  int64_t pad_token_id = 0;
};

struct Completion {
  int64_t prompt_index = 0;  // into `prompts`
  int64_t sample_index = 0;  // 0..n-1
  // Sampled ids; the stop id is the last one when finish_reason is STOP.
  std::vector<int32_t> token_ids;
  // log p(token_ids[t] | prefix) under the sampling distribution, one per token.
  std::vector<float> logprobs;
  v1::FinishReason finish_reason = v1::FINISH_REASON_UNSPECIFIED;
};

// Samples n completions per prompt; the result is prompt-major: completion i * n + j is sample j
// of prompt i. Errors: INVALID_ARGUMENT for empty prompts, ids outside the vocabulary, bad sampling
// values, a model without an LM head, or L + M beyond max_position_embeddings; RESOURCE_EXHAUSTED
// as above. REQUIRES: `generator` is a CPU generator.
absl::StatusOr<std::vector<Completion>> Generate(Transformer& model,
                                                 const std::vector<std::vector<int32_t>>& prompts,
                                                 const GenerateOptions& options,
                                                 at::Generator& generator);

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_GENERATE_H_
