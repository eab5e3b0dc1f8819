// Legend: T tokens, V vocab, H hidden, D head_dim.
#include "common/model/transformer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/model/test_models.h"

namespace pelican {
namespace {

using namespace testing_models;  // NOLINT

// Written for clarity, not speed, straight from the Llama/Qwen papers and HF's modelling code:
// one unpadded sequence, float64, one head at a time, RoPE angles computed per position.
class NaiveReference {
 public:
  explicit NaiveReference(Transformer& model) : c_(model->config()) {
    for (const auto& item : model->named_parameters()) {
      p_[item.key()] = item.value().detach().to(torch::kFloat64);
    }
  }

  // ids [T] -> logits [T, V]
  torch::Tensor Logits(const std::vector<int64_t>& ids) {
    const int64_t t = static_cast<int64_t>(ids.size());
    torch::Tensor x = P("model.embed_tokens.weight").index_select(0, torch::tensor(ids));
    for (int64_t l = 0; l < c_.num_hidden_layers; ++l) {
      const std::string pre = "model.layers." + std::to_string(l) + ".";
      torch::Tensor h = Norm(x, pre + "input_layernorm.weight");
      std::vector<torch::Tensor> heads;
      for (int64_t i = 0; i < c_.num_attention_heads; ++i) {
        const int64_t g = i / (c_.num_attention_heads / c_.num_key_value_heads);
        torch::Tensor q = Project(h, pre + "self_attn.q_proj", i);
        torch::Tensor k = Project(h, pre + "self_attn.k_proj", g);
        torch::Tensor v = Project(h, pre + "self_attn.v_proj", g);
        if (c_.qk_norm) {
          q = Norm(q, pre + "self_attn.q_norm.weight");
          k = Norm(k, pre + "self_attn.k_norm.weight");
        }
        q = Rope(q);
        k = Rope(k);
        torch::Tensor out = torch::zeros({t, c_.head_dim}, torch::kFloat64);
        for (int64_t a = 0; a < t; ++a) {
          torch::Tensor s = (k.narrow(0, 0, a + 1).matmul(q[a])) / std::sqrt(double(c_.head_dim));
          out[a] = s.softmax(0).matmul(v.narrow(0, 0, a + 1));
        }
        heads.push_back(out);
      }
      torch::Tensor attn = torch::cat(heads, 1).matmul(P(pre + "self_attn.o_proj.weight").t());
      if (c_.o_bias) attn = attn + P(pre + "self_attn.o_proj.bias");
      x = x + attn;
      torch::Tensor m = Norm(x, pre + "post_attention_layernorm.weight");
      torch::Tensor gate = m.matmul(P(pre + "mlp.gate_proj.weight").t());
      torch::Tensor up = m.matmul(P(pre + "mlp.up_proj.weight").t());
      x = x + (gate * torch::sigmoid(gate) * up).matmul(P(pre + "mlp.down_proj.weight").t());
    }
    x = Norm(x, "model.norm.weight");
    return x.matmul(P(c_.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight").t());
  }

 private:
  torch::Tensor P(const std::string& name) { return p_.at(name); }

  torch::Tensor Norm(const torch::Tensor& x, const std::string& weight) {
    return x / torch::sqrt(x.pow(2).mean(-1, true) + c_.rms_norm_eps) * P(weight);
  }

  // Rows [head * D, (head + 1) * D) of the projection.
  torch::Tensor Project(const torch::Tensor& h, const std::string& proj, int64_t head) {
    torch::Tensor y = h.matmul(P(proj + ".weight").narrow(0, head * c_.head_dim, c_.head_dim).t());
    if (c_.qkv_bias) y = y + P(proj + ".bias").narrow(0, head * c_.head_dim, c_.head_dim);
    return y;
  }

  // Pairs (j, j + D/2) rotate by position * theta^(-2j/D).
  torch::Tensor Rope(const torch::Tensor& x) {
    torch::Tensor out = x.clone();
    const int64_t half = c_.head_dim / 2;
    for (int64_t pos = 0; pos < x.size(0); ++pos) {
      for (int64_t j = 0; j < half; ++j) {
        const double angle = pos * std::pow(c_.rope_theta, -2.0 * j / c_.head_dim);
        const double a = x[pos][j].item<double>(), b = x[pos][j + half].item<double>();
        out[pos][j] = a * std::cos(angle) - b * std::sin(angle);
        out[pos][j + half] = b * std::cos(angle) + a * std::sin(angle);
      }
    }
    return out;
  }

  ModelConfig c_;
  std::map<std::string, torch::Tensor> p_;
};

const std::vector<int64_t> kSequence = {3, 17, 42, 8, 8, 59, 0, 23, 11, 5};

TEST(TransformerTest, ParameterNamesAreHuggingFaces) {
  Transformer llama = MakeModel(Variant::kLlamaUntiedWithBias, 1);
  auto params = llama->named_parameters();
  for (const char* name :
       {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.o_proj.bias",
        "model.layers.1.mlp.gate_proj.weight", "model.layers.0.input_layernorm.weight",
        "model.layers.0.post_attention_layernorm.weight", "model.norm.weight", "lm_head.weight"}) {
    EXPECT_NE(params.find(name), nullptr) << name;
  }
  Transformer qwen3 = MakeModel(Variant::kQwen3Tied, 1);
  EXPECT_NE(qwen3->named_parameters().find("model.layers.0.self_attn.k_norm.weight"), nullptr);
  EXPECT_EQ(qwen3->named_parameters().find("lm_head.weight"), nullptr);
  EXPECT_EQ(qwen3->named_parameters().find("model.layers.0.self_attn.q_proj.bias"), nullptr);
  Transformer qwen2 = MakeModel(Variant::kQwen2, 1);
  EXPECT_NE(qwen2->named_parameters().find("model.layers.0.self_attn.v_proj.bias"), nullptr);
  EXPECT_EQ(qwen2->named_parameters().find("model.layers.0.self_attn.o_proj.bias"), nullptr);
}

TEST(TransformerTest, MatchesNaiveReferenceForEveryVariant) {
  torch::NoGradGuard no_grad;
  for (Variant v : AllVariants()) {
    Transformer model = MakeModel(v, 11);
    torch::Tensor logits = model->forward(Ids(kSequence), torch::ones({1, 10}, torch::kInt64))[0];
    torch::Tensor expected = NaiveReference(model).Logits(kSequence);
    EXPECT_LT(MaxDiff(logits, expected), 1e-4) << VariantName(v);
    EXPECT_GT(expected.std().item<double>(), 0.1) << "logits too flat to tell anything apart";
  }
}

TEST(TransformerTest, CachedStepByStepDecodingMatchesFullForward) {
  torch::NoGradGuard no_grad;
  const int64_t t = static_cast<int64_t>(kSequence.size());
  for (Variant v : AllVariants()) {
    Transformer model = MakeModel(v, 12);
    torch::Tensor ids = Ids(kSequence);
    torch::Tensor full = model->forward(ids, torch::ones({1, t}, torch::kInt64));
    KVCache cache = KVCache::Allocate(model->config(), 1, t + 5, torch::TensorOptions());
    std::vector<torch::Tensor> steps;
    // A 3-token prefill, a 2-token chunk, then one token at a time.
    for (auto [from, len] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 2}}) {
      steps.push_back(model->Logits(model->Hidden(
          ids.narrow(1, from, len), torch::ones({1, from + len}, torch::kInt64), &cache)));
    }
    for (int64_t i = 5; i < t; ++i) {
      steps.push_back(model->Logits(
          model->Hidden(ids.narrow(1, i, 1), torch::ones({1, i + 1}, torch::kInt64), &cache)));
    }
    EXPECT_EQ(cache.length, t);
    EXPECT_LE(MaxDiff(torch::cat(steps, 1), full), 1e-4) << VariantName(v);
  }
}

// Rows of lengths 7, 4 and 1, padded left and right: the real positions' logits must equal those
// of each sequence run alone, with and without a cache.
TEST(TransformerTest, PaddingInAMixedLengthBatchChangesNothing) {
  torch::NoGradGuard no_grad;
  const std::vector<std::vector<int64_t>> seqs = {{5, 9, 2, 44, 1, 7, 30}, {12, 60, 3, 3}, {8}};
  const int64_t width = 7;
  for (Variant v : AllVariants()) {
    Transformer model = MakeModel(v, 13);
    std::vector<torch::Tensor> alone;
    for (const auto& s : seqs) {
      alone.push_back(
          model->forward(Ids(s), torch::ones({1, int64_t(s.size())}, torch::kInt64))[0]);
    }
    for (bool left : {true, false}) {
      torch::Tensor ids = torch::full({3, width}, 1, torch::kInt64);  // pad id 1, a real token
      torch::Tensor mask = torch::zeros({3, width}, torch::kInt64);
      for (int64_t b = 0; b < 3; ++b) {
        const int64_t len = seqs[b].size(), off = left ? width - len : 0;
        ids[b].narrow(0, off, len).copy_(torch::tensor(seqs[b]));
        mask[b].narrow(0, off, len).fill_(1);
      }
      torch::Tensor batch = model->forward(ids, mask);
      for (int64_t b = 0; b < 3; ++b) {
        const int64_t len = seqs[b].size(), off = left ? width - len : 0;
        EXPECT_LE(MaxDiff(batch[b].narrow(0, off, len), alone[b]), 1e-5)
            << VariantName(v) << (left ? " left" : " right") << " row " << b;
      }
      if (!left) continue;
      // Left-padded prefill, then two cached steps per row.
      KVCache cache = KVCache::Allocate(model->config(), 3, width + 2, torch::TensorOptions());
      model->Hidden(ids, mask, &cache);
      torch::Tensor next = torch::tensor({{4}, {5}, {6}}, torch::kInt64);
      torch::Tensor full_mask = torch::cat({mask, torch::ones({3, 1}, torch::kInt64)}, 1);
      torch::Tensor step = model->Logits(model->Hidden(next, full_mask, &cache));
      for (int64_t b = 0; b < 3; ++b) {
        std::vector<int64_t> s = seqs[b];
        s.push_back(4 + b);
        torch::Tensor expect =
            model->forward(Ids(s), torch::ones({1, int64_t(s.size())}, torch::kInt64))[0][-1];
        EXPECT_LE(MaxDiff(step[b][0], expect), 1e-4) << VariantName(v) << " cached row " << b;
      }
    }
  }
}

TEST(TransformerTest, RopeScalingFollowsHfFormulas) {
  ModelConfig c = SmallConfig(Variant::kLlamaUntiedWithBias);
  c.head_dim = 64;
  c.rope_theta = 500000.0;
  auto inv_freq = [&](const ModelConfig& config) {  // sin at position 1 is sin(inv_freq)
    return RotaryCosSin(config, torch::ones({1, 1}, torch::kInt64), torch::kFloat64)
        .second[0][0]
        .narrow(0, 0, config.head_dim / 2)
        .asin();
  };
  auto near = [](double a, double b) { return std::abs(a - b) <= 1e-5 * std::abs(b) + 1e-12; };
  torch::Tensor base = inv_freq(c);
  ModelConfig linear = c;
  linear.rope_scaling.type = RopeScaling::Type::kLinear;
  linear.rope_scaling.factor = 4.0;
  torch::Tensor slowed = inv_freq(linear);
  for (int64_t j = 0; j < 32; ++j) {
    EXPECT_TRUE(near(slowed[j].item<double>(), base[j].item<double>() / 4.0)) << j;
  }

  ModelConfig llama3 = c;
  llama3.rope_scaling = {RopeScaling::Type::kLlama3, 8.0, 1.0, 4.0, 8192};
  torch::Tensor scaled = inv_freq(llama3);
  torch::Tensor wavelen = 2 * M_PI / base;
  int high = 0, low = 0;
  for (int64_t j = 0; j < 32; ++j) {
    const double w = wavelen[j].item<double>();
    if (w < 8192 / 4.0) {  // short wavelengths keep their frequency
      EXPECT_TRUE(near(scaled[j].item<double>(), base[j].item<double>())) << j;
      ++high;
    } else if (w > 8192 / 1.0) {  // long ones are slowed by the factor
      EXPECT_TRUE(near(scaled[j].item<double>(), base[j].item<double>() / 8.0)) << j;
      ++low;
    }
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
}

TEST(TransformerTest, HalfPrecisionRunsCloseToFloat32) {
  torch::NoGradGuard no_grad;
  // float16 matmuls need CUDA in LibTorch 1.13; LoadModel refuses float16 on the CPU.
  for (torch::ScalarType dtype : {torch::kBFloat16}) {
    Transformer f32 = MakeModel(Variant::kQwen3Tied, 14);
    Transformer low = MakeModel(Variant::kQwen3Tied, 14, dtype);
    torch::Tensor mask = torch::ones({1, 10}, torch::kInt64);
    torch::Tensor a = f32->forward(Ids(kSequence), mask);
    torch::Tensor b = low->forward(Ids(kSequence), mask);
    EXPECT_EQ(b.scalar_type(), dtype);
    EXPECT_LT(MaxDiff(a, b), 0.1 * a.abs().max().item<double>()) << c10::toString(dtype);
  }
}

TEST(TransformerTest, ValueHeadGivesOneValuePerToken) {
  torch::NoGradGuard no_grad;
  Transformer model(SmallConfig(Variant::kQwen2), torch::TensorOptions(), HeadOptions{true});
  InitTransformerWeights(model, 0.02, 3);
  torch::Tensor hidden = model->Hidden(Ids(kSequence), torch::ones({1, 10}, torch::kInt64));
  torch::Tensor values = model->Values(hidden);
  EXPECT_EQ(values.sizes(), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(values.abs().max().item<float>(), 0.0f);  // a fresh head predicts 0
  model->v_head->bias.fill_(0.5);
  EXPECT_TRUE(torch::allclose(model->Values(hidden), torch::full({1, 10}, 0.5)));
}

}  // namespace
}  // namespace pelican
