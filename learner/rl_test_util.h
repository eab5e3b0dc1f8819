// Helpers shared by the RL trainer's tests (single process and data parallel): a small learner
// config, a policy with a value head, and rollouts sampled from a model as ledger groups.
#ifndef PELICAN_LEARNER_RL_TEST_UTIL_H_
#define PELICAN_LEARNER_RL_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "common/model/generate.h"
#include "common/model/test_models.h"
#include "learner/prompt_ledger.h"
#include "pelican/v1/config.pb.h"

namespace pelican {
namespace rl_testing {

// A RunConfig for tests: `prompts` groups of `n` samples, tiny learning rate schedule.
inline v1::RunConfig TestConfig(v1::Algorithm algorithm, uint32_t prompts, uint32_t n) {
  v1::RunConfig config;
  config.mutable_run()->set_seed(7);
  config.mutable_actors()->mutable_sampling()->set_n(n);
  config.mutable_actors()->mutable_sampling()->set_temperature(1.0);
  v1::LearnerSection* l = config.mutable_learner();
  l->set_algorithm(algorithm);
  l->set_total_steps(10);
  l->set_prompts_per_step(prompts);
  l->set_ppo_epochs(1);
  l->set_mini_batches(1);
  l->set_micro_batch_size(64);
  l->set_clip_eps(0.2);
  l->set_value_clip_eps(0.2);
  l->set_value_coef(0.5);
  l->set_gamma(1.0);
  l->set_gae_lambda(0.95);
  l->set_whiten_advantages(algorithm == v1::ALGORITHM_PPO);
  l->set_loss_aggregation(v1::LOSS_AGGREGATION_TOKEN_MEAN);
  l->set_value_model(v1::VALUE_MODEL_HEAD);
  l->set_is_ratio_cap(2.0);
  l->mutable_kl()->set_coef(0.05);
  l->mutable_kl()->set_estimator(v1::KL_ESTIMATOR_K3);
  l->mutable_kl()->set_placement(v1::KL_PLACEMENT_REWARD);
  l->mutable_kl()->set_controller(v1::KL_CONTROLLER_FIXED);
  l->mutable_kl()->set_target(6);
  l->mutable_kl()->set_horizon(10000);
  v1::OptimizerSection* o = l->mutable_optimizer();
  o->set_lr(1e-2);
  o->set_beta1(0.9);
  o->set_beta2(0.95);
  o->set_eps(1e-8);
  o->set_grad_clip(1.0);
  o->set_schedule(v1::LR_SCHEDULE_CONSTANT);
  return config;
}

inline Transformer PolicyWithHead(uint64_t seed) {
  Transformer base = testing_models::MakeModel(testing_models::Variant::kQwen2, seed);
  Transformer model(base->config(), torch::TensorOptions().dtype(torch::kFloat32),
                    HeadOptions{/*value_head=*/true});
  torch::NoGradGuard no_grad;
  auto src = base->named_parameters();
  at::Generator gen = at::detail::createCPUGenerator(seed + 1);
  for (auto& item : model->named_parameters()) {
    if (src.contains(item.key())) {
      item.value().copy_(src[item.key()]);
    } else {
      item.value().normal_(0.0, 0.02, gen);
    }
  }
  model->eval();
  return model;
}

// Samples `n` completions for each of `prompts` from `model` and wraps them as ledger groups
// with rewards from `reward(completion)`.
inline std::vector<PromptGroup> Rollouts(Transformer& model,
                                         const std::vector<std::vector<int32_t>>& prompts,
                                         uint32_t n, uint64_t seed,
                                         const std::function<double(const Completion&)>& reward) {
  GenerateOptions options;
  options.sampling.temperature = 1.0;
  options.sampling.max_new_tokens = 6;
  options.sampling.n = n;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto completions = Generate(model, prompts, options, gen);
  EXPECT_TRUE(completions.ok()) << completions.status();
  std::vector<PromptGroup> groups(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    groups[i].lease_id = i + 1;
    groups[i].prompt.token_ids = prompts[i];
  }
  for (const Completion& c : *completions) {
    v1::Trajectory t;
    t.set_trajectory_id("t" + std::to_string(c.prompt_index) + "_" +
                        std::to_string(c.sample_index));
    t.set_sample_index(static_cast<uint32_t>(c.sample_index));
    for (int32_t id : prompts[c.prompt_index]) t.add_prompt_ids(id);
    for (int32_t id : c.token_ids) t.add_completion_ids(id);
    for (float lp : c.logprobs) t.add_logprobs(lp);
    t.set_reward(reward(c));
    groups[c.prompt_index].samples.push_back(t);
  }
  return groups;
}

inline std::vector<std::vector<int32_t>> Prompts() {
  return {{3, 4, 5}, {7}, {9, 10, 11, 12, 13}, {20, 21}};
}

}  // namespace rl_testing
}  // namespace pelican

#endif  // PELICAN_LEARNER_RL_TEST_UTIL_H_
