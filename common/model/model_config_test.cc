#include "common/model/model_config.h"

#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"

namespace pelican {
namespace {

// As transformers 4.51 writes it for Qwen3-0.6B (trimmed of nothing that matters here).
constexpr char kQwen3[] = R"({
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "max_position_embeddings": 40960,
  "max_window_layers": 28,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

constexpr char kLlama31[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
  "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
  "num_key_value_heads": 8, "vocab_size": 128256, "rope_theta": 500000.0,
  "max_position_embeddings": 131072, "eos_token_id": [128001, 128008, 128009],
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "pretraining_tp": 1, "mlp_bias": false
})";

TEST(ModelConfigTest, ParsesQwen3) {
  auto c = ParseModelConfig(kQwen3);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, ModelType::kQwen3);
  EXPECT_EQ(c->head, HeadKind::kCausalLM);
  EXPECT_EQ(c->head_dim, 128);  // not hidden_size / heads = 64
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_FALSE(c->qkv_bias);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->torch_dtype, torch::kBFloat16);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_FALSE(c->pad_token_id.has_value());
}

TEST(ModelConfigTest, ParsesLlama31WithLlama3RopeScaling) {
  auto c = ParseModelConfig(kLlama31);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 32.0);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_FALSE(c->qk_norm);
}

TEST(ModelConfigTest, Qwen2HasQkvBiasButNoOutputBias) {
  const std::string text = absl::StrReplaceAll(kQwen3, {{"\"qwen3\"", "\"qwen2\""}});
  auto c = ParseModelConfig(text);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_FALSE(c->o_bias);
  EXPECT_FALSE(c->qk_norm);
}

TEST(ModelConfigTest, SequenceClassificationTakesNumLabelsFromId2Label) {
  const std::string text =
      absl::StrReplaceAll(kQwen3, {{"\"Qwen3ForCausalLM\"", "\"Qwen3ForSequenceClassification\""},
                                   {"\"use_cache\": true", "\"id2label\": {\"0\": \"LABEL_0\"}"}});
  auto c = ParseModelConfig(text);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head, HeadKind::kSequenceClassification);
  EXPECT_EQ(c->num_labels, 1);
}

TEST(ModelConfigTest, ErrorsNameTheKey) {
  struct Case {
    std::string from, to, key;
  };
  const std::vector<Case> cases = {
      {"\"model_type\": \"qwen3\"", "\"model_type\": \"gpt2\"", "model_type"},
      {"\"hidden_size\": 1024,", "", "hidden_size"},
      {"\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act"},
      {"\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}",
       "rope_scaling.rope_type"},
      {"\"use_sliding_window\": false", "\"use_sliding_window\": true", "use_sliding_window"},
      {"\"num_key_value_heads\": 8", "\"num_key_value_heads\": 3", "num_key_value_heads"},
      {"\"num_key_value_heads\": 8", "\"num_key_value_heads\": -1", "num_key_value_heads"},
      {"\"Qwen3ForCausalLM\"", "\"Qwen3Model\"", "architectures"},
      {"\"torch_dtype\": \"bfloat16\"", "\"torch_dtype\": \"float8\"", "torch_dtype"},
      {"\"vocab_size\": 151936", "\"vocab_size\": \"many\"", "vocab_size"},
      {"\"use_cache\": true", "\"quantization_config\": {\"bits\": 4}", "quantization_config"},
      {"\"head_dim\": 128", "\"head_dim\": 127", "head_dim"},
  };
  for (const Case& c : cases) {
    const std::string text = absl::StrReplaceAll(kQwen3, {{c.from, c.to}});
    ASSERT_NE(text, kQwen3) << c.from;
    auto parsed = ParseModelConfig(text);
    ASSERT_FALSE(parsed.ok()) << c.key;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.key), std::string::npos) << parsed.status();
  }
  EXPECT_FALSE(ParseModelConfig("[]").ok());
  EXPECT_FALSE(ParseModelConfig("{").ok());
}

TEST(ModelConfigTest, JsonRoundTrip) {
  for (const char* text : {kQwen3, kLlama31}) {
    auto a = ParseModelConfig(text);
    ASSERT_TRUE(a.ok());
    auto b = ParseModelConfig(ModelConfigToJson(*a));
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(ModelConfigToJson(*a), ModelConfigToJson(*b));
    EXPECT_EQ(b->head_dim, a->head_dim);
    EXPECT_EQ(b->eos_token_ids, a->eos_token_ids);
    EXPECT_EQ(b->rope_scaling.type, a->rope_scaling.type);
    EXPECT_EQ(b->qk_norm, a->qk_norm);
  }
}

TEST(ModelConfigTest, GenerationConfigEosIntOrList) {
  auto one = ParseGenerationConfig(R"({"bos_token_id": 1, "eos_token_id": 2})");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->eos_token_ids, std::vector<int64_t>{2});
  auto list = ParseGenerationConfig(R"({"eos_token_id": [7, 9], "do_sample": true})");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->eos_token_ids, (std::vector<int64_t>{7, 9}));
  EXPECT_FALSE(ParseGenerationConfig(R"({"eos_token_id": ["x"]})").ok());
  auto back = ParseGenerationConfig(GenerationConfigToJson(*list));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->eos_token_ids, list->eos_token_ids);
}

}  // namespace
}  // namespace pelican
