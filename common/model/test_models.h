// Small random models for the model tests: three variants that between them exercise every
// optional part of the architecture. Test-only (linked into common_test).
#ifndef PELICAN_COMMON_MODEL_TEST_MODELS_H_
#define PELICAN_COMMON_MODEL_TEST_MODELS_H_

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/model/model_config.h"
#include "common/model/transformer.h"
#include "pelican/v1/config.pb.h"

namespace pelican {
namespace testing_models {

enum class Variant { kLlamaUntiedWithBias, kQwen2, kQwen3Tied };

inline std::vector<Variant> AllVariants() {
  return {Variant::kLlamaUntiedWithBias, Variant::kQwen2, Variant::kQwen3Tied};
}

inline std::string VariantName(Variant v) {
  switch (v) {
    case Variant::kLlamaUntiedWithBias:
      return "llama";
    case Variant::kQwen2:
      return "qwen2";
    default:
      return "qwen3";
  }
}

// vocab 61, H 32, N 4, K 2, D 8 (Qwen3: D 16 != H / N, as in real Qwen3), I 48, 2 layers.
inline ModelConfig SmallConfig(Variant v) {
  ModelConfig c;
  c.vocab_size = 61;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 256;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  switch (v) {
    case Variant::kLlamaUntiedWithBias:
      c.model_type = ModelType::kLlama;
      c.qkv_bias = c.o_bias = true;  // attention_bias: true
      break;
    case Variant::kQwen2:
      c.model_type = ModelType::kQwen2;
      c.qkv_bias = true;
      break;
    case Variant::kQwen3Tied:
      c.model_type = ModelType::kQwen3;
      c.qk_norm = true;
      c.head_dim = 16;
      c.tie_word_embeddings = true;
      c.rope_theta = 1e6;
      break;
  }
  c.architectures = {ArchitectureName(c.model_type, c.head)};
  return c;
}

// Every parameter random, norms and biases included, so each code path matters to the output.
inline void Randomize(Transformer& model, uint64_t seed, double std = 0.2) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (auto& item : model->named_parameters()) {
    torch::Tensor r = torch::empty(item.value().sizes(), torch::kFloat32).normal_(0.0, std, gen);
    if (absl::EndsWith(item.key(), "norm.weight")) r = 1.0 + r * 0.5;
    item.value().copy_(r);
  }
}

inline Transformer MakeModel(Variant v, uint64_t seed, torch::ScalarType dtype = torch::kFloat32) {
  Transformer model(SmallConfig(v), torch::TensorOptions().dtype(dtype));
  Randomize(model, seed);
  model->eval();
  return model;
}

inline v1::TinyModelShape SmallShape() {
  v1::TinyModelShape s;
  s.set_hidden_size(32);
  s.set_num_layers(2);
  s.set_num_heads(4);
  s.set_num_kv_heads(2);
  s.set_intermediate_size(48);
  s.set_max_position_embeddings(256);
  s.set_tie_word_embeddings(true);
  return s;
}

// [1, T] int64 ids.
inline torch::Tensor Ids(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kInt64).unsqueeze(0);
}

inline double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace testing_models
}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_TEST_MODELS_H_
