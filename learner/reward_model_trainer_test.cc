#include "learner/reward_model_trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/files.h"
#include "common/model/hf_model.h"
#include "common/model/test_models.h"
#include "common/model/tiny_model.h"

namespace pelican {
namespace {

std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/rm_test_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ReadPreferencePairsTest, PromptFormAndHhRlhfTranscripts) {
  const std::string dir = TempDir("read");
  ASSERT_TRUE(WriteFileAtomic(dir + "/pairs.jsonl",
                              "{\"prompt\": \"Q:\", \"chosen\": \" yes\", \"rejected\": \" no\"}\n"
                              "\n"
                              "{\"chosen\": \"\\n\\nHuman: hi\\n\\nAssistant: hello there\", "
                              "\"rejected\": \"\\n\\nHuman: hi\\n\\nAssistant: go away\"}\n")
                  .ok());
  auto pairs = ReadPreferencePairs(dir + "/pairs.jsonl");
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  ASSERT_EQ(pairs->size(), 2u);
  EXPECT_EQ((*pairs)[0].prompt, "Q:");
  EXPECT_EQ((*pairs)[1].prompt, "\n\nHuman: hi\n\nAssistant:");
  EXPECT_EQ((*pairs)[1].chosen, " hello there");
  EXPECT_EQ((*pairs)[1].rejected, " go away");

  ASSERT_TRUE(WriteFileAtomic(dir + "/bad.jsonl",
                              "{\"prompt\": \"Q:\", \"chosen\": \"a\", \"rejected\": \"b\"}\n"
                              "{\"chosen\": \"x\", \"rejected\": 3}\n")
                  .ok());
  absl::Status bad = ReadPreferencePairs(dir + "/bad.jsonl").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("bad.jsonl:2: \"rejected\""), std::string::npos) << bad;
  ASSERT_TRUE(WriteFileAtomic(dir + "/noturn.jsonl",
                              "{\"chosen\": \"Human: a\", \"rejected\": \"Human: b\"}\n")
                  .ok());
  EXPECT_NE(ReadPreferencePairs(dir + "/noturn.jsonl").status().message().find("Assistant"),
            std::string::npos);
}

// Pairs labelled by a known rater (more 'a' than 'e' is better) teach a tiny reward model to rank
// held-out pairs far above chance; the directory it writes loads as a reward model.
TEST(TrainRewardModelTest, LearnsAKnownRaterAndWritesAServableModel) {
  const std::string dir = TempDir("train");
  v1::RunConfig config;
  config.mutable_run()->set_seed(3);
  *config.mutable_model()->mutable_tiny() = testing_models::SmallShape();
  config.mutable_model()->set_policy(dir + "/policy");
  std::vector<std::string> corpus = {"abcde ", "Rate: "};
  ASSERT_TRUE(
      CreateTinyModelWithTokenizer(config.model().tiny(), corpus, 0, 1, dir + "/policy").ok());
  v1::RmSection* rm = config.mutable_rm();
  rm->set_output(dir + "/rm");
  rm->set_eval_fraction(0.2);
  rm->set_steps(150);
  rm->set_batch_size(16);
  rm->set_lr(3e-3);
  config.mutable_learner()->mutable_optimizer()->set_beta1(0.9);
  config.mutable_learner()->mutable_optimizer()->set_beta2(0.95);
  config.mutable_learner()->mutable_optimizer()->set_eps(1e-8);
  config.mutable_learner()->mutable_optimizer()->set_grad_clip(1.0);

  std::mt19937_64 rng(11);
  auto text = [&] {
    std::string s;
    const int n = 3 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) s += static_cast<char>('a' + rng() % 5);
    return s;
  };
  auto rater = [](const std::string& s) {
    return std::count(s.begin(), s.end(), 'a') - std::count(s.begin(), s.end(), 'e');
  };
  std::vector<PreferencePair> pairs;
  while (pairs.size() < 500) {
    std::string x = text(), y = text();
    if (rater(x) == rater(y)) continue;
    if (rater(x) < rater(y)) std::swap(x, y);
    pairs.push_back({"Rate: ", x, y});
  }
  auto result = TrainRewardModel(config, pairs);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->eval_pairs, 100u);
  EXPECT_LT(result->last_loss, result->first_loss);
  EXPECT_GE(result->eval_accuracy, 0.8) << "before training: " << result->eval_accuracy_before;
  auto loaded = LoadModel(dir + "/rm");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->model->has_score_head());
  EXPECT_TRUE(std::filesystem::exists(dir + "/rm/tokenizer.json"));
}

}  // namespace
}  // namespace pelican
