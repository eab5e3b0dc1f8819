// A training batch as tensors: the trajectories of a step's prompt groups, padded so that every
// prompt ends and every completion starts at the same column.
//
//   PromptGroup (ledger) ──► MakeRolloutBatch ──► RolloutBatch ──► Slice ──► trainer micro-batches
//
//   input_ids  [B, P + C]:  <left pad> prompt | completion <right pad>
//                            column P - 1 is every row's last prompt token, column P its first
//                            completion token, so the logits at columns [P - 1, P + C - 1) predict
//                            the completion: one narrow(), no per-row gather.
//
// Legend: B sequences (groups × samples per group, the rows of one group adjacent), P the longest
// prompt, C the longest completion. The Transformer counts RoPE positions over real tokens only,
// so the padding on either side changes no output.
#ifndef PELICAN_LEARNER_ROLLOUT_BATCH_H_
#define PELICAN_LEARNER_ROLLOUT_BATCH_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/prompt_ledger.h"

namespace pelican {

struct RolloutBatch {
  torch::Tensor input_ids;          // [B, P + C] int64
  torch::Tensor attention_mask;     // [B, P + C] int64, 1 = real token
  int64_t prompt_columns = 0;       // P
  torch::Tensor completion_ids;     // [B, C] int64, 0 at padding
  torch::Tensor completion_mask;    // [B, C] float32, 1 = real completion token
  torch::Tensor sampling_logprobs;  // [B, C] float32, the actor's; 0 at padding
  torch::Tensor rewards;            // [B] float32, the reward service's sequence rewards
  torch::Tensor policy_lag;         // [B] int64, learner version at batch time minus the sample's
  int64_t group_size = 1;           // samples per prompt; rows [g*G, (g+1)*G) are group g

  int64_t rows() const { return input_ids.size(0); }
  int64_t completion_columns() const { return completion_ids.size(1); }
  // Real completion tokens in the batch.
  int64_t num_tokens() const;

  // Rows [begin, end) with the padding trimmed to what those rows need. Group boundaries are the
  // caller's business (micro-batches of PPO need not respect them; GRPO advantages are computed
  // on the whole batch first).
  RolloutBatch Slice(int64_t begin, int64_t end) const;
  RolloutBatch To(const torch::Device& device) const;
};

// Builds the batch of `groups` in order (samples in sample_index order). `pad_token_id` fills
// padding (never attended to). `policy_version` is the learner's version now, for policy_lag.
// INVALID_ARGUMENT when a group is empty or its groups differ in size, a trajectory has no
// completion tokens, its logprobs do not match its completion, or its prompt ids differ from the
// group's prompt.
absl::StatusOr<RolloutBatch> MakeRolloutBatch(const std::vector<PromptGroup>& groups,
                                              int64_t pad_token_id, uint64_t policy_version);

// A group of one sample: `prompt` and `completion` as a trajectory with zero logprobs. How SFT
// demonstrations and reward-model pairs become batches.
PromptGroup SingleSampleGroup(const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& completion);

}  // namespace pelican

#endif  // PELICAN_LEARNER_ROLLOUT_BATCH_H_
