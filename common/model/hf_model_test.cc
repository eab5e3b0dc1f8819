// Legend: B batch rows, T tokens, H hidden, L num_labels.
#include "common/model/hf_model.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/model/test_models.h"
#include "common/model/tiny_model.h"

namespace pelican {
namespace {

using namespace testing_models;  // NOLINT

std::string TestDir(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "/pelican_model_" + name + "_" + std::to_string(::getpid());
  std::system(("rm -rf '" + dir + "'").c_str());
  return dir;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

const std::vector<int64_t> kIds = {1, 5, 9, 13, 2, 40, 41, 7};

torch::Tensor LogitsOf(Transformer& model) {
  torch::NoGradGuard no_grad;
  return model->forward(Ids(kIds), torch::ones({1, int64_t(kIds.size())}, torch::kInt64));
}

TEST(HfModelTest, TinyModelDirectoryHasTheHfLayout) {
  const std::string dir = TestDir("layout");
  TinyModelOptions options;
  options.eos_token_id = 2;
  options.bos_token_id = 1;
  ASSERT_TRUE(CreateTinyModel(SmallShape(), 64, 7, dir, options).ok());
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors"}) {
    EXPECT_TRUE(Exists(dir + "/" + f)) << f;
  }
  EXPECT_FALSE(Exists(dir + "/tokenizer.json"));
  auto config = nlohmann::json::parse(*ReadFile(dir + "/config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["model_type"], "llama");
  EXPECT_EQ(config["eos_token_id"], 2);
  auto tensors = ReadModelTensors(dir);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  EXPECT_TRUE(tensors->count("model.layers.1.self_attn.k_proj.weight"));
  EXPECT_EQ(tensors->at("model.embed_tokens.weight").sizes(), (std::vector<int64_t>{64, 32}));
  EXPECT_FALSE(tensors->count("lm_head.weight"));  // tied, as HF saves it
  // Same arguments, same bytes; another seed, other weights.
  const std::string again = TestDir("layout_again"), other = TestDir("layout_other");
  ASSERT_TRUE(CreateTinyModel(SmallShape(), 64, 7, again, options).ok());
  ASSERT_TRUE(CreateTinyModel(SmallShape(), 64, 8, other, options).ok());
  EXPECT_EQ(*ReadFile(dir + "/model.safetensors"), *ReadFile(again + "/model.safetensors"));
  EXPECT_NE(*ReadFile(dir + "/model.safetensors"), *ReadFile(other + "/model.safetensors"));
}

TEST(HfModelTest, SaveThenLoadGivesIdenticalLogits) {
  for (Variant v : AllVariants()) {
    Transformer model = MakeModel(v, 21);
    const std::string dir = TestDir("save_" + VariantName(v));
    ASSERT_TRUE(SaveModel(dir, model, {std::nullopt, {3}, std::nullopt}).ok());
    auto loaded = LoadModel(dir);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->generation.eos_token_ids, std::vector<int64_t>{3});
    EXPECT_TRUE(torch::equal(LogitsOf(model), LogitsOf(loaded->model))) << VariantName(v);
  }
  // bfloat16 survives the trip bit for bit too.
  Transformer bf16 = MakeModel(Variant::kQwen3Tied, 22, torch::kBFloat16);
  const std::string dir = TestDir("save_bf16");
  ASSERT_TRUE(SaveModel(dir, bf16, {}).ok());
  auto loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->dtype(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(LogitsOf(bf16), LogitsOf(loaded->model)));
}

TEST(HfModelTest, ShardedCheckpointLoadsAndSwitchesBack) {
  Transformer model = MakeModel(Variant::kQwen2, 23);
  const std::string dir = TestDir("sharded");
  ASSERT_TRUE(SaveModel(dir, model, {}, SaveOptions{20000}).ok());
  EXPECT_FALSE(Exists(dir + "/model.safetensors"));
  auto index = nlohmann::json::parse(*ReadFile(dir + "/model.safetensors.index.json"));
  std::set<std::string> shards;
  for (const auto& [name, file] : index["weight_map"].items()) shards.insert(file);
  EXPECT_GE(shards.size(), 3u);
  for (const auto& s : shards) EXPECT_TRUE(Exists(dir + "/" + s)) << s;
  EXPECT_TRUE(index["weight_map"].contains("model.layers.1.self_attn.q_proj.bias"));

  auto loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(torch::equal(LogitsOf(model), LogitsOf(loaded->model)));

  // Saved again in one file, the shards and index go away.
  ASSERT_TRUE(SaveModel(dir, loaded->model, {}).ok());
  EXPECT_TRUE(Exists(dir + "/model.safetensors"));
  EXPECT_FALSE(Exists(dir + "/model.safetensors.index.json"));
  for (const auto& s : shards) EXPECT_FALSE(Exists(dir + "/" + s)) << s;
  EXPECT_TRUE(torch::equal(LogitsOf(model), LogitsOf(LoadModel(dir)->model)));
}

TEST(HfModelTest, RewardModelScoresTheLastNonPadToken) {
  const std::string dir = TestDir("reward");
  TinyModelOptions options;
  options.model_type = ModelType::kQwen2;
  options.head = HeadKind::kSequenceClassification;
  options.pad_token_id = 0;
  options.initializer_range = 0.3;
  ASSERT_TRUE(CreateTinyModel(SmallShape(), 64, 5, dir, options).ok());
  auto config = nlohmann::json::parse(*ReadFile(dir + "/config.json"));
  EXPECT_EQ(config["architectures"][0], "Qwen2ForSequenceClassification");
  EXPECT_EQ(config["id2label"].size(), 1u);
  auto rm = LoadModel(dir);
  ASSERT_TRUE(rm.ok()) << rm.status();
  ASSERT_TRUE(rm->model->has_score_head());
  EXPECT_FALSE(rm->model->has_lm_head());
  torch::NoGradGuard no_grad;

  const std::vector<std::vector<int64_t>> seqs = {{4, 8, 15, 16, 23}, {42, 7}, {9, 3, 9}};
  const torch::Tensor w = rm->model->score->weight;  // [L, H]
  for (bool left : {false, true}) {
    torch::Tensor ids = torch::zeros({3, 5}, torch::kInt64),
                  mask = torch::zeros({3, 5}, torch::kInt64);
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t len = seqs[b].size(), off = left ? 5 - len : 0;
      ids[b].narrow(0, off, len).copy_(torch::tensor(seqs[b]));
      mask[b].narrow(0, off, len).fill_(1);
    }
    torch::Tensor scores = rm->model->SequenceScores(rm->model->Hidden(ids, mask), mask);  // [B, L]
    ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{3, 1}));
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t len = seqs[b].size();
      // By hand: the unpadded sequence's final hidden state at its last token, times score.weight.
      torch::Tensor hidden = rm->model->Hidden(Ids(seqs[b]), torch::ones({1, len}, torch::kInt64));
      const double manual = hidden[0][len - 1].dot(w[0]).item<double>();
      const double first_token = hidden[0][0].dot(w[0]).item<double>();
      EXPECT_NEAR(scores[b][0].item<double>(), manual, 1e-5) << (left ? "left" : "right") << b;
      if (len > 1) {
        EXPECT_GT(std::abs(manual - first_token), 1e-4);  // the position read matters
      }
    }
  }
}

TEST(HfModelTest, ValueHeadIsFreshOrLoadedAndIgnoredByThePolicy) {
  const std::string dir = TestDir("value");
  ASSERT_TRUE(CreateTinyModel(SmallShape(), 64, 9, dir).ok());
  auto critic = LoadModel(dir, LoadOptions{torch::kCPU, std::nullopt, /*value_head=*/true});
  ASSERT_TRUE(critic.ok()) << critic.status();
  ASSERT_TRUE(critic->model->has_value_head());
  EXPECT_EQ(critic->model->v_head->weight.abs().sum().item<float>(), 0.0f);
  {
    torch::NoGradGuard no_grad;
    critic->model->v_head->weight.normal_();
  }
  const std::string saved = TestDir("value_saved");
  ASSERT_TRUE(SaveModel(saved, critic->model, critic->generation).ok());
  auto again = LoadModel(saved, LoadOptions{torch::kCPU, std::nullopt, true});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(torch::equal(again->model->v_head->weight, critic->model->v_head->weight));
  auto policy = LoadModel(saved);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_FALSE(policy->model->has_value_head());
}

TEST(HfModelTest, BadCheckpointsAreErrorsNamingTheTensor) {
  const std::string dir = TestDir("bad");
  ASSERT_TRUE(CreateTinyModel(SmallShape(), 64, 10, dir).ok());
  const TensorMap good = *ReadModelTensors(dir);
  auto expect_error = [&](const TensorMap& tensors, const std::string& needle) {
    ASSERT_TRUE(WriteModelTensors(dir, tensors).ok());
    auto loaded = LoadModel(dir);
    ASSERT_FALSE(loaded.ok()) << needle;
    EXPECT_NE(loaded.status().message().find(needle), std::string::npos) << loaded.status();
  };
  TensorMap missing = good;
  missing.erase("model.layers.1.mlp.up_proj.weight");
  expect_error(missing, "model.layers.1.mlp.up_proj.weight");
  TensorMap wrong_shape = good;
  wrong_shape["model.norm.weight"] = torch::ones({31});
  expect_error(wrong_shape, "model.norm.weight");
  TensorMap extra = good;
  extra["model.layers.7.mlp.up_proj.weight"] = torch::ones({2});
  expect_error(extra, "model.layers.7.mlp.up_proj.weight");
  TensorMap ints = good;
  ints["model.norm.weight"] = torch::ones({32}, torch::kInt32);
  expect_error(ints, "model.norm.weight");

  ASSERT_TRUE(WriteModelTensors(dir, good).ok());
  ASSERT_TRUE(LoadModel(dir).ok());
  auto fp16 = LoadModel(dir, LoadOptions{torch::kCPU, torch::kFloat16, false});
  EXPECT_FALSE(fp16.ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/config.json", R"({"model_type": "mamba"})").ok());
  auto bad_config = LoadModel(dir);
  ASSERT_FALSE(bad_config.ok());
  EXPECT_NE(bad_config.status().message().find("model_type"), std::string::npos);
  EXPECT_EQ(LoadModel(TestDir("absent")).status().code(), absl::StatusCode::kNotFound);
}

TEST(HfModelTest, IndexNamingAFileOutsideTheDirectoryIsRefused) {
  const std::string dir = TestDir("escape");
  ASSERT_TRUE(CreateTinyModel(SmallShape(), 64, 11, dir).ok());
  ASSERT_EQ(::unlink((dir + "/model.safetensors").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(dir + "/model.safetensors.index.json",
                              R"({"weight_map": {"model.norm.weight": "../x.safetensors"}})")
                  .ok());
  auto loaded = LoadModel(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace pelican
