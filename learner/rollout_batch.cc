#include "learner/rollout_batch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace pelican {

int64_t RolloutBatch::num_tokens() const {
  return static_cast<int64_t>(completion_mask.sum().item<double>());
}

RolloutBatch RolloutBatch::Slice(int64_t begin, int64_t end) const {
  RolloutBatch out;
  out.group_size = group_size;
  const torch::Tensor rows_mask = attention_mask.slice(0, begin, end);
  const torch::Tensor comp_mask = completion_mask.slice(0, begin, end);
  // Trim columns no row of the slice uses: prompt padding on the left, completion on the right.
  const int64_t prompt_len = rows_mask.narrow(1, 0, prompt_columns).sum(1).max().item<int64_t>();
  const int64_t comp_len = comp_mask.sum(1).max().item<int64_t>();
  const int64_t first = prompt_columns - prompt_len;
  out.prompt_columns = prompt_len;
  out.input_ids = input_ids.slice(0, begin, end).slice(1, first, prompt_columns + comp_len);
  out.attention_mask = rows_mask.slice(1, first, prompt_columns + comp_len);
  out.completion_ids = completion_ids.slice(0, begin, end).narrow(1, 0, comp_len);
  out.completion_mask = comp_mask.narrow(1, 0, comp_len);
  out.sampling_logprobs = sampling_logprobs.slice(0, begin, end).narrow(1, 0, comp_len);
  out.rewards = rewards.slice(0, begin, end);
  out.policy_lag = policy_lag.slice(0, begin, end);
  return out;
}

RolloutBatch RolloutBatch::To(const torch::Device& device) const {
  RolloutBatch out = *this;
  out.input_ids = input_ids.to(device);
  out.attention_mask = attention_mask.to(device);
  out.completion_ids = completion_ids.to(device);
  out.completion_mask = completion_mask.to(device);
  out.sampling_logprobs = sampling_logprobs.to(device);
  out.rewards = rewards.to(device);
  out.policy_lag = policy_lag.to(device);
  return out;
}

absl::StatusOr<RolloutBatch> MakeRolloutBatch(const std::vector<PromptGroup>& groups,
                                              int64_t pad_token_id, uint64_t policy_version) {
  if (groups.empty()) return absl::InvalidArgumentError("rollout batch: no prompt groups");
  const size_t group_size = groups.front().samples.size();
  size_t max_prompt = 0;
  size_t max_completion = 0;
  for (const PromptGroup& group : groups) {
    if (group.samples.empty() || group.samples.size() != group_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("rollout batch: lease ", group.lease_id, " has ", group.samples.size(),
                       " samples, the batch's groups have ", group_size));
    }
    max_prompt = std::max(max_prompt, group.prompt.token_ids.size());
    for (const v1::Trajectory& t : group.samples) {
      if (t.completion_ids().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("rollout batch: trajectory ", t.trajectory_id(), " has no completion"));
      }
      if (t.logprobs_size() != t.completion_ids_size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("rollout batch: trajectory ", t.trajectory_id(), " has ",
                         t.logprobs_size(), " logprobs for ", t.completion_ids_size(), " tokens"));
      }
      if (!std::equal(t.prompt_ids().begin(), t.prompt_ids().end(), group.prompt.token_ids.begin(),
                      group.prompt.token_ids.end())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "rollout batch: trajectory ", t.trajectory_id(), " differs from its lease's prompt"));
      }
      max_completion = std::max(max_completion, static_cast<size_t>(t.completion_ids_size()));
    }
  }
  if (max_prompt == 0) return absl::InvalidArgumentError("rollout batch: every prompt is empty");

  const int64_t B = static_cast<int64_t>(groups.size() * group_size);
  const int64_t P = static_cast<int64_t>(max_prompt);
  const int64_t C = static_cast<int64_t>(max_completion);
  torch::Tensor ids = torch::full({B, P + C}, pad_token_id, torch::kLong);
  torch::Tensor attn = torch::zeros({B, P + C}, torch::kLong);
  torch::Tensor comp = torch::zeros({B, C}, torch::kLong);
  torch::Tensor comp_mask = torch::zeros({B, C}, torch::kFloat);
  torch::Tensor logprobs = torch::zeros({B, C}, torch::kFloat);
  torch::Tensor rewards = torch::zeros({B}, torch::kFloat);
  torch::Tensor lag = torch::zeros({B}, torch::kLong);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto attn_a = attn.accessor<int64_t, 2>();
  auto comp_a = comp.accessor<int64_t, 2>();
  auto mask_a = comp_mask.accessor<float, 2>();
  auto lp_a = logprobs.accessor<float, 2>();

  int64_t row = 0;
  for (const PromptGroup& group : groups) {
    std::vector<const v1::Trajectory*> ordered(group_size, nullptr);
    for (const v1::Trajectory& t : group.samples) {
      if (t.sample_index() >= group_size || ordered[t.sample_index()] != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "rollout batch: lease ", group.lease_id, " has a bad sample_index ", t.sample_index()));
      }
      ordered[t.sample_index()] = &t;
    }
    const std::vector<int32_t>& prompt = group.prompt.token_ids;
    const int64_t offset = P - static_cast<int64_t>(prompt.size());
    for (const v1::Trajectory* t : ordered) {
      for (size_t i = 0; i < prompt.size(); ++i) {
        ids_a[row][offset + static_cast<int64_t>(i)] = prompt[i];
        attn_a[row][offset + static_cast<int64_t>(i)] = 1;
      }
      for (int i = 0; i < t->completion_ids_size(); ++i) {
        ids_a[row][P + i] = t->completion_ids(i);
        attn_a[row][P + i] = 1;
        comp_a[row][i] = t->completion_ids(i);
        mask_a[row][i] = 1.0f;
        lp_a[row][i] = t->logprobs(i);
      }
      rewards[row] = static_cast<float>(t->reward());
      lag[row] = static_cast<int64_t>(policy_version) - static_cast<int64_t>(t->policy_version());
      ++row;
    }
  }
  RolloutBatch batch;
  batch.input_ids = ids;
  batch.attention_mask = attn;
  batch.prompt_columns = P;
  batch.completion_ids = comp;
  batch.completion_mask = comp_mask;
  batch.sampling_logprobs = logprobs;
  batch.rewards = rewards;
  batch.policy_lag = lag;
  batch.group_size = static_cast<int64_t>(group_size);
  return batch;
}

PromptGroup SingleSampleGroup(const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& completion) {
  PromptGroup group;
  group.prompt.token_ids = prompt;
  v1::Trajectory t;
  t.mutable_prompt_ids()->Add(prompt.begin(), prompt.end());
  t.mutable_completion_ids()->Add(completion.begin(), completion.end());
  t.mutable_logprobs()->Resize(static_cast<int>(completion.size()), 0.0f);
  group.samples.push_back(std::move(t));
  return group;
}

}  // namespace pelican
