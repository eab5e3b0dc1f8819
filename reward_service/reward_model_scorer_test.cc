#include "reward_service/reward_model_scorer.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/model/hf_model.h"
#include "common/model/tiny_model.h"
#include "reward_service/scorer_factory.h"

namespace pelican::reward {
namespace {

constexpr int64_t kVocab = 50;

v1::TinyModelShape Shape() {
  v1::TinyModelShape s;
  s.set_hidden_size(16);
  s.set_num_layers(2);
  s.set_num_heads(4);
  s.set_num_kv_heads(2);
  s.set_intermediate_size(32);
  s.set_max_position_embeddings(64);
  return s;
}

// A tiny model directory under the test's temp dir; a reward model unless `head` says otherwise.
std::string MakeModel(const std::string& name, uint64_t seed,
                      HeadKind head = HeadKind::kSequenceClassification, int64_t vocab = kVocab) {
  const std::string dir =
      ::testing::TempDir() + "/pelican_rm_" + name + "_" + std::to_string(::getpid());
  TinyModelOptions options;
  options.head = head;
  // Larger weights than HF's 0.02 so that scores differ visibly between samples and models.
  options.initializer_range = 0.5;
  const absl::Status s = CreateTinyModel(Shape(), vocab, seed, dir, options);
  EXPECT_TRUE(s.ok()) << s;
  return dir;
}

ScoreInput Input(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion) {
  ScoreInput in;
  in.prompt_ids = prompt;
  in.completion_ids = completion;
  return in;
}

// The score of prompt ++ completion alone (no padding), computed directly with the model.
double ByHand(const std::string& dir, const std::vector<int32_t>& prompt,
              const std::vector<int32_t>& completion) {
  auto loaded = LoadModel(dir);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  ids.insert(ids.end(), completion.begin(), completion.end());
  torch::NoGradGuard no_grad;
  const int64_t t = static_cast<int64_t>(ids.size());
  torch::Tensor x = torch::tensor(ids, torch::kInt64).view({1, t});
  torch::Tensor mask = torch::ones({1, t}, torch::kInt64);
  torch::Tensor hidden = loaded->model->Hidden(x, mask);
  return loaded->model->Scores(hidden).index({0, t - 1, 0}).item<double>();
}

// Samples of different lengths so that the batch pads all but the longest.
struct Samples {
  std::vector<std::vector<int32_t>> prompts = {{1, 2, 3}, {4}, {7, 8, 9, 10, 11}, {12, 13}};
  std::vector<std::vector<int32_t>> completions = {{5, 6}, {20, 21, 22, 23, 24, 25}, {}, {49}};
  std::vector<ScoreInput> Inputs() const {
    std::vector<ScoreInput> out;
    for (size_t i = 0; i < prompts.size(); ++i) out.push_back(Input(prompts[i], completions[i]));
    return out;
  }
};

TEST(RewardModelScorerTest, BatchScoresEqualEachSampleScoredAloneByHand) {
  const std::string dir = MakeModel("single", 1);
  auto scorer = RewardModelScorer::Create("rm", {dir});
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  Samples samples;
  const std::vector<ScoreInput> inputs = samples.Inputs();
  auto out = (*scorer)->ScoreBatch(inputs);
  ASSERT_EQ(out.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_TRUE(out[i].ok()) << i << ": " << out[i].status();
    EXPECT_NEAR(out[i]->value, ByHand(dir, samples.prompts[i], samples.completions[i]), 1e-5) << i;
    EXPECT_EQ(out[i]->uncertainty, 0.0);
  }
  // Scores differ between samples (the test would be weak otherwise).
  EXPECT_GT(std::abs(out[0]->value - out[1]->value), 1e-4);
}

TEST(RewardModelScorerTest, BatchingAndPaddingChangeNothing) {
  const std::string dir = MakeModel("batching", 2);
  auto scorer = RewardModelScorer::Create("rm", {dir});
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  Samples samples;
  const std::vector<ScoreInput> inputs = samples.Inputs();
  auto together = (*scorer)->ScoreBatch(inputs);
  // Each alone, and the batch reversed (a different longest row pads differently).
  std::vector<ScoreInput> reversed(inputs.rbegin(), inputs.rend());
  auto backwards = (*scorer)->ScoreBatch(reversed);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto alone = (*scorer)->ScoreBatch(absl::MakeConstSpan(&inputs[i], 1));
    ASSERT_TRUE(alone[0].ok() && together[i].ok() && backwards[inputs.size() - 1 - i].ok());
    EXPECT_NEAR(together[i]->value, alone[0]->value, 1e-5) << i;
    EXPECT_NEAR(backwards[inputs.size() - 1 - i]->value, alone[0]->value, 1e-5) << i;
  }
}

TEST(RewardModelScorerTest, AnEnsembleReturnsTheMeanAndPopulationStd) {
  const std::string a = MakeModel("ens_a", 3);
  const std::string b = MakeModel("ens_b", 4);
  auto scorer = RewardModelScorer::Create("rm", {a, b});
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  auto only_a = RewardModelScorer::Create("a", {a});
  auto only_b = RewardModelScorer::Create("b", {b});
  ASSERT_TRUE(only_a.ok() && only_b.ok());
  Samples samples;
  const std::vector<ScoreInput> inputs = samples.Inputs();
  auto both = (*scorer)->ScoreBatch(inputs);
  auto sa = (*only_a)->ScoreBatch(inputs);
  auto sb = (*only_b)->ScoreBatch(inputs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_TRUE(both[i].ok() && sa[i].ok() && sb[i].ok()) << i;
    EXPECT_NEAR(both[i]->value, (sa[i]->value + sb[i]->value) / 2, 1e-6) << i;
    EXPECT_NEAR(both[i]->uncertainty, std::abs(sa[i]->value - sb[i]->value) / 2, 1e-6) << i;
  }
  EXPECT_GT(both[0]->uncertainty, 1e-4);

  ASSERT_EQ((*scorer)->models().size(), 2u);
  EXPECT_EQ((*scorer)->models()[0].name(), "rm");
  EXPECT_EQ((*scorer)->models()[0].path(), a);
  EXPECT_EQ((*scorer)->models()[1].path(), b);
  EXPECT_EQ((*scorer)->models()[0].version().size(), 16u);
  EXPECT_NE((*scorer)->models()[0].version(), (*scorer)->models()[1].version());
  auto version = WeightsVersion(a);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, (*scorer)->models()[0].version());
}

TEST(RewardModelScorerTest, RefusesACausalLMDirectoryNamingIt) {
  const std::string lm = MakeModel("causal", 5, HeadKind::kCausalLM);
  auto scorer = RewardModelScorer::Create("rm", {lm});
  ASSERT_FALSE(scorer.ok());
  EXPECT_EQ(scorer.status().code(), absl::StatusCode::kInvalidArgument) << scorer.status();
  EXPECT_NE(std::string(scorer.status().message()).find(lm), std::string::npos) << scorer.status();
  EXPECT_FALSE(RewardModelScorer::Create("rm", {}).ok());
}

TEST(RewardModelScorerTest, AnOutOfVocabularyIdFailsOnlyItsSample) {
  // The second model's vocabulary is smaller: id 45 is valid for the first only.
  const std::string big = MakeModel("vocab_big", 6);
  const std::string small = MakeModel("vocab_small", 7, HeadKind::kSequenceClassification, 40);
  auto scorer = RewardModelScorer::Create("rm", {big, small});
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  const std::vector<int32_t> p0 = {1, 2}, c0 = {3}, p1 = {1, 45}, c1 = {3}, p2 = {-1}, c2 = {},
                             p3 = {4, 5}, c3 = {6, 7};
  std::vector<ScoreInput> inputs = {Input(p0, c0), Input(p1, c1), Input(p2, c2), Input(p3, c3)};
  auto out = (*scorer)->ScoreBatch(inputs);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(out[0].ok()) << out[0].status();
  EXPECT_EQ(out[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(out[1].status().message()).find("45"), std::string::npos);
  EXPECT_EQ(out[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out[3].ok()) << out[3].status();
  // The good samples score as they do without the bad ones.
  auto clean = (*scorer)->ScoreBatch(std::vector<ScoreInput>{inputs[0], inputs[3]});
  EXPECT_NEAR(out[0]->value, clean[0]->value, 1e-5);
  EXPECT_NEAR(out[3]->value, clean[1]->value, 1e-5);
  // An empty sample is an error too.
  const std::vector<int32_t> none;
  auto empty = (*scorer)->ScoreBatch(std::vector<ScoreInput>{Input(none, none)});
  EXPECT_FALSE(empty[0].ok());
}

TEST(RewardModelScorerTest, TheFactoryBuildsItFromYamlAndReportsItsModels) {
  const std::string dir = MakeModel("yaml", 8);
  auto config = ParseRunConfig(
      "security: {insecure: true}\nreward:\n  scorers:\n"
      "    - name: rm\n      reward_model: {paths: ['" +
          dir + "']}\n",
      "test.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ScorerRegistry registry;
  auto metrics = std::make_shared<prometheus::Registry>();
  RewardModelScorerOptions options;
  options.registry = metrics.get();
  std::vector<v1::RewardModelInfo> infos;
  RegisterRewardModelScorer(registry, options, [&infos](const RewardModelScorer& s) {
    infos.insert(infos.end(), s.models().begin(), s.models().end());
  });
  auto set = BuildScorerSet(config->reward(), registry);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->names(), (std::vector<std::string>{"default", "rm"}));
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].path(), dir);

  const std::vector<int32_t> p = {1, 2, 3}, c = {4};
  auto direct = RewardModelScorer::Create("x", {dir});
  ASSERT_TRUE(direct.ok());
  const double expected = (*direct)->ScoreBatch(std::vector<ScoreInput>{Input(p, c)})[0]->value;
  auto rm = (*set)->Find("rm");
  ASSERT_TRUE(rm.ok());
  auto out = (*rm)->Score(std::vector<ScoreInput>{Input(p, c)});
  ASSERT_TRUE(out[0].status.ok()) << out[0].status;
  EXPECT_NEAR(out[0].total, expected, 1e-9);

  bool found = false;
  for (const auto& family : metrics->Collect()) {
    if (family.name == "pelican_reward_model_forward_seconds") {
      found = true;
      ASSERT_EQ(family.metric.size(), 1u);
      EXPECT_GE(family.metric[0].histogram.sample_count, 1u);
    }
  }
  EXPECT_TRUE(found);
}

TEST(RewardModelScorerTest, ConcurrentBatchesAgree) {
  const std::string dir = MakeModel("threads", 9);
  auto scorer = RewardModelScorer::Create("rm", {dir});
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  Samples samples;
  const std::vector<ScoreInput> inputs = samples.Inputs();
  const auto expected = (*scorer)->ScoreBatch(inputs);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        auto out = (*scorer)->ScoreBatch(inputs);
        for (size_t i = 0; i < inputs.size(); ++i) {
          if (!out[i].ok() || std::abs(out[i]->value - expected[i]->value) > 1e-5) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace pelican::reward
