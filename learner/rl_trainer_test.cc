#include "learner/rl_trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/model/generate.h"
#include "common/model/test_models.h"
#include "learner/optimizer.h"
#include "learner/rl_test_util.h"

namespace pelican {
namespace {

using rl_testing::PolicyWithHead;
using rl_testing::Prompts;
using rl_testing::Rollouts;
using rl_testing::TestConfig;
using testing_models::MakeModel;
using testing_models::Variant;

TEST(RolloutBatchTest, PromptsEndAndCompletionsStartAtOneColumn) {
  std::vector<PromptGroup> groups(2);
  groups[0].prompt.token_ids = {5, 6, 7};
  groups[1].prompt.token_ids = {8};
  auto add = [](PromptGroup& g, std::vector<int32_t> completion, double reward) {
    v1::Trajectory t;
    for (int32_t id : g.prompt.token_ids) t.add_prompt_ids(id);
    for (int32_t id : completion) {
      t.add_completion_ids(id);
      t.add_logprobs(-0.5f);
    }
    t.set_reward(reward);
    t.set_policy_version(1);
    g.samples.push_back(t);
  };
  add(groups[0], {1, 2}, 1.0);
  add(groups[1], {3, 4, 9, 9}, -1.0);
  auto batch = MakeRolloutBatch(groups, /*pad_token_id=*/0, /*policy_version=*/3);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->prompt_columns, 3);
  EXPECT_TRUE(torch::equal(batch->input_ids,
                           torch::tensor({{5, 6, 7, 1, 2, 0, 0}, {0, 0, 8, 3, 4, 9, 9}})));
  EXPECT_TRUE(torch::equal(batch->attention_mask,
                           torch::tensor({{1, 1, 1, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 1, 1}})));
  EXPECT_EQ(batch->num_tokens(), 6);
  EXPECT_TRUE(torch::equal(batch->policy_lag, torch::tensor({2, 2})));
  RolloutBatch second = batch->Slice(1, 2);
  EXPECT_EQ(second.prompt_columns, 1);
  EXPECT_TRUE(torch::equal(second.input_ids, torch::tensor({{8, 3, 4, 9, 9}})));
  RolloutBatch first = batch->Slice(0, 1);
  EXPECT_TRUE(torch::equal(first.input_ids, torch::tensor({{5, 6, 7, 1, 2}})));
  EXPECT_EQ(first.completion_columns(), 2);

  groups[1].samples[0].mutable_logprobs()->RemoveLast();
  EXPECT_EQ(MakeRolloutBatch(groups, 0, 3).status().code(), absl::StatusCode::kInvalidArgument);
}

// The learner's recomputed logprobs are the actor's sampling logprobs for the same weights, so
// the importance ratio of fresh samples is 1.
TEST(RlTrainerTest, ForwardCompletionsMatchesSamplingLogprobs) {
  Transformer model = MakeModel(Variant::kQwen3Tied, 3);
  auto groups = Rollouts(model, Prompts(), 3, 11, [](const Completion&) { return 0.0; });
  auto batch = MakeRolloutBatch(groups, 0, 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  torch::NoGradGuard no_grad;
  auto out = ForwardCompletions(model, *batch, 1.0, true, true, false);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_LT((out->logprobs - batch->sampling_logprobs).abs().max().item<double>(), 1e-4);
  EXPECT_GT(out->entropy.sum().item<double>(), 0.0);
}

TEST(RlTrainerTest, CreateRefusesInconsistentSettings) {
  v1::RunConfig config = TestConfig(v1::ALGORITHM_PPO, 4, 2);
  RlModels no_head{MakeModel(Variant::kQwen2, 1), MakeModel(Variant::kQwen2, 1), nullptr};
  EXPECT_EQ(RlTrainer::Create(config, no_head, 0, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  RlModels no_ref{PolicyWithHead(1), nullptr, nullptr};
  EXPECT_EQ(RlTrainer::Create(config, no_ref, 0, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.mutable_learner()->set_prompts_per_step(3);
  RlModels ok{PolicyWithHead(1), MakeModel(Variant::kQwen2, 1), nullptr};
  EXPECT_EQ(RlTrainer::Create(config, ok, 0, 2).status().code(),
            absl::StatusCode::kInvalidArgument);  // 3 prompts over 2 ranks
}

// Splitting a mini-batch into micro-batches changes memory, not the update.
TEST(RlTrainerTest, MicroBatchesGiveTheSameUpdate) {
  for (v1::Algorithm algorithm : {v1::ALGORITHM_PPO, v1::ALGORITHM_GRPO}) {
    for (auto agg : {v1::LOSS_AGGREGATION_TOKEN_MEAN, v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN}) {
      std::vector<torch::Tensor> finals;
      for (uint32_t micro : {64u, 5u, 1u}) {
        v1::RunConfig config = TestConfig(algorithm, 4, 3);
        config.mutable_learner()->set_micro_batch_size(micro);
        config.mutable_learner()->set_loss_aggregation(agg);
        // A large Adam eps keeps the update linear in the gradient, so float32 summation order
        // (which micro-batching changes) cannot flip the sign of near-zero gradients.
        config.mutable_learner()->mutable_optimizer()->set_eps(1e-3);
        Transformer policy =
            algorithm == v1::ALGORITHM_PPO ? PolicyWithHead(5) : MakeModel(Variant::kQwen2, 5);
        auto groups = Rollouts(policy, Prompts(), 3, 13, [](const Completion& c) {
          return static_cast<double>(c.token_ids.size()) + (c.token_ids[0] % 3);
        });
        auto batch = MakeRolloutBatch(groups, 0, 0);
        ASSERT_TRUE(batch.ok());
        auto trainer =
            RlTrainer::Create(config, {policy, MakeModel(Variant::kQwen2, 5), nullptr}, 0, 1);
        ASSERT_TRUE(trainer.ok()) << trainer.status();
        auto stats = (*trainer)->Step(*batch);
        ASSERT_TRUE(stats.ok()) << stats.status();
        EXPECT_TRUE(std::isfinite(stats->policy_loss));
        EXPECT_GT(stats->grad_norm, 0.0);
        std::vector<torch::Tensor> flat;
        for (const auto& p : policy->parameters()) flat.push_back(p.detach().flatten());
        finals.push_back(torch::cat(flat));
      }
      for (size_t i = 1; i < finals.size(); ++i) {
        EXPECT_LT((finals[i] - finals[0]).abs().max().item<double>(), 2e-5)
            << "algorithm " << algorithm << " aggregation " << agg << " micro-batch variant " << i;
      }
    }
  }
}

// One epoch of one mini-batch without critic or reference skips the rollout pass (the training
// forward's detached logprobs are the old ones): the update must equal the two-pass one.
TEST(RlTrainerTest, SinglePassGivesTheSameUpdateAsARolloutPass) {
  std::vector<torch::Tensor> finals;
  for (bool with_reference : {true, false}) {
    v1::RunConfig config = TestConfig(v1::ALGORITHM_GRPO, 4, 3);
    config.mutable_learner()->mutable_kl()->set_coef(0.0);
    config.mutable_learner()->set_micro_batch_size(5);
    config.mutable_learner()->mutable_optimizer()->set_eps(1e-3);
    Transformer policy = MakeModel(Variant::kQwen2, 6);
    auto groups = Rollouts(policy, Prompts(), 3, 17, [](const Completion& c) {
      return static_cast<double>(c.token_ids.size() % 3);
    });
    auto batch = MakeRolloutBatch(groups, 0, 0);
    ASSERT_TRUE(batch.ok());
    auto trainer = RlTrainer::Create(
        config, {policy, with_reference ? MakeModel(Variant::kQwen2, 6) : nullptr, nullptr}, 0, 1);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    auto stats = (*trainer)->Step(*batch);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_LT(stats->is_truncated_fraction, 1e-6);  // fresh samples: ratios of 1
    std::vector<torch::Tensor> flat;
    for (const auto& p : policy->parameters()) flat.push_back(p.detach().flatten());
    finals.push_back(torch::cat(flat));
  }
  EXPECT_LT((finals[0] - finals[1]).abs().max().item<double>(), 1e-6);
}

// PPO in one pass computes GAE per micro-batch from the training forward's values: with a value
// head or a separate critic, with whitening over a shard that fits one micro-batch, or without
// whitening over several micro-batches, the update equals the one after a rollout pass (forced
// here by a reference model with a KL coefficient of 0).
TEST(RlTrainerTest, PpoSinglePassGivesTheSameUpdateAsARolloutPass) {
  struct Case {
    bool separate_critic;
    bool whiten;
    uint32_t micro;
  };
  for (const Case& c : {Case{false, true, 64}, Case{false, false, 5}, Case{true, true, 64}}) {
    std::vector<torch::Tensor> finals;
    for (bool with_reference : {true, false}) {
      v1::RunConfig config = TestConfig(v1::ALGORITHM_PPO, 4, 3);
      config.mutable_learner()->mutable_kl()->set_coef(0.0);
      config.mutable_learner()->set_whiten_advantages(c.whiten);
      config.mutable_learner()->set_micro_batch_size(c.micro);
      config.mutable_learner()->mutable_optimizer()->set_eps(1e-3);
      if (c.separate_critic) config.mutable_learner()->set_value_model(v1::VALUE_MODEL_SEPARATE);
      Transformer policy = c.separate_critic ? MakeModel(Variant::kQwen2, 6) : PolicyWithHead(6);
      Transformer critic = c.separate_critic ? PolicyWithHead(8) : Transformer(nullptr);
      auto groups = Rollouts(policy, Prompts(), 3, 17, [](const Completion& c) {
        return static_cast<double>(c.token_ids.size() % 3);
      });
      auto batch = MakeRolloutBatch(groups, 0, 0);
      ASSERT_TRUE(batch.ok());
      auto trainer = RlTrainer::Create(
          config, {policy, with_reference ? MakeModel(Variant::kQwen2, 6) : nullptr, critic}, 0, 1);
      ASSERT_TRUE(trainer.ok()) << trainer.status();
      auto stats = (*trainer)->Step(*batch);
      ASSERT_TRUE(stats.ok()) << stats.status();
      EXPECT_GT(stats->value_loss, 0.0);
      std::vector<torch::Tensor> flat;
      for (const auto& p : policy->parameters()) flat.push_back(p.detach().flatten());
      if (critic) {
        for (const auto& p : critic->parameters()) flat.push_back(p.detach().flatten());
      }
      finals.push_back(torch::cat(flat));
    }
    EXPECT_LT((finals[0] - finals[1]).abs().max().item<double>(), 1e-6)
        << "separate critic " << c.separate_critic << " whiten " << c.whiten << " micro "
        << c.micro;
  }
}

// The objective is right: rewarding one token makes the policy emit it more often.
TEST(RlTrainerTest, RewardedTokenBecomesLikelier) {
  for (v1::Algorithm algorithm :
       {v1::ALGORITHM_PPO, v1::ALGORITHM_GRPO, v1::ALGORITHM_RLOO, v1::ALGORITHM_REINFORCE_PP}) {
    v1::RunConfig config = TestConfig(algorithm, 4, 4);
    config.mutable_learner()->set_ppo_epochs(2);
    config.mutable_learner()->set_mini_batches(2);
    config.mutable_learner()->mutable_kl()->set_coef(0.0);
    Transformer policy =
        algorithm == v1::ALGORITHM_PPO ? PolicyWithHead(9) : MakeModel(Variant::kQwen2, 9);
    auto trainer = RlTrainer::Create(config, {policy, nullptr, nullptr}, 0, 1);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    auto rate = [&](uint64_t seed) {
      auto groups = Rollouts(policy, Prompts(), 4, seed, [](const Completion&) { return 0.0; });
      double hits = 0, total = 0;
      for (const auto& g : groups) {
        for (const auto& t : g.samples) {
          for (int32_t id : t.completion_ids()) hits += id < 10;
          total += t.completion_ids_size();
        }
      }
      return hits / total;
    };
    const double before = rate(1000);
    for (int step = 0; step < 12; ++step) {
      auto groups = Rollouts(policy, Prompts(), 4, 100 + step, [](const Completion& c) {
        double r = 0;
        for (int32_t id : c.token_ids) r += id < 10;
        return r / static_cast<double>(c.token_ids.size());
      });
      auto batch = MakeRolloutBatch(groups, 0, 0);
      ASSERT_TRUE(batch.ok());
      auto stats = (*trainer)->Step(*batch);
      ASSERT_TRUE(stats.ok()) << stats.status();
    }
    const double after = rate(1000);
    EXPECT_GT(after, before + 0.15) << "algorithm " << algorithm;
  }
}

// Saving the optimizer and trainer state and the weights, then restoring into fresh objects,
// continues bit for bit like the uninterrupted trainer.
TEST(RlTrainerTest, RestoredTrainerContinuesIdentically) {
  const std::string dir = ::testing::TempDir() + "/rl_trainer_restore";
  std::filesystem::create_directories(dir);
  v1::RunConfig config = TestConfig(v1::ALGORITHM_PPO, 4, 2);
  config.mutable_learner()->set_normalize_rewards(true);
  config.mutable_learner()->mutable_kl()->set_controller(v1::KL_CONTROLLER_ADAPTIVE);
  config.mutable_learner()->mutable_kl()->set_target(0.01);
  config.mutable_learner()->mutable_kl()->set_horizon(10);
  auto reward = [](const Completion& c) { return static_cast<double>(c.token_ids.back() % 5); };
  auto batch_at = [&](int i) {
    Transformer sampler = MakeModel(Variant::kQwen2, 21);  // fixed rollouts for both runs
    return *MakeRolloutBatch(Rollouts(sampler, Prompts(), 2, 300 + i, reward), 0, 0);
  };

  Transformer a = PolicyWithHead(4);
  auto ta = *RlTrainer::Create(config, {a, MakeModel(Variant::kQwen2, 4), nullptr}, 0, 1);
  std::vector<double> losses_a;
  for (int i = 0; i < 4; ++i) losses_a.push_back(ta->Step(batch_at(i))->policy_loss);

  Transformer b = PolicyWithHead(4);
  auto tb = *RlTrainer::Create(config, {b, MakeModel(Variant::kQwen2, 4), nullptr}, 0, 1);
  std::vector<double> losses_b;
  for (int i = 0; i < 2; ++i) losses_b.push_back(tb->Step(batch_at(i))->policy_loss);
  ASSERT_TRUE(tb->SaveOptimizers(dir).ok());
  v1::TrainerState state = tb->State();
  Transformer c = PolicyWithHead(99);  // other weights; overwritten from b as a checkpoint would
  {
    torch::NoGradGuard no_grad;
    auto src = b->named_parameters();
    for (auto& item : c->named_parameters()) item.value().copy_(src[item.key()]);
  }
  auto tc = *RlTrainer::Create(config, {c, MakeModel(Variant::kQwen2, 4), nullptr}, 0, 1);
  ASSERT_TRUE(tc->Restore(state, dir).ok());
  EXPECT_EQ(tc->steps(), 2u);
  EXPECT_DOUBLE_EQ(tc->kl_coef(), tb->kl_coef());
  for (int i = 2; i < 4; ++i) losses_b.push_back(tc->Step(batch_at(i))->policy_loss);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(losses_a[i], losses_b[i]) << "step " << i;
  auto pa = a->named_parameters();
  for (const auto& item : c->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), pa[item.key()])) << item.key();
  }
}

TEST(LearningRateTest, WarmupThenCosineToATenth) {
  v1::OptimizerSection o;
  o.set_lr(1.0);
  o.set_warmup_steps(4);
  o.set_schedule(v1::LR_SCHEDULE_COSINE);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 0, 104), 0.25);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 3, 104), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 4, 104), 1.0);
  EXPECT_NEAR(LearningRateAt(o, 54, 104), 0.55, 1e-12);
  EXPECT_NEAR(LearningRateAt(o, 104, 104), 0.1, 1e-12);
  o.set_schedule(v1::LR_SCHEDULE_CONSTANT);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 90, 104), 1.0);
}

}  // namespace
}  // namespace pelican
