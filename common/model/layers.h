// The building blocks of the Llama / Qwen2 / Qwen3 decoder layer, with Hugging Face's parameter
// names so that a module's named_parameters() are the checkpoint's tensor names:
//
//   x ─► input_layernorm ─► self_attn(q/k/v_proj [+bias] [q/k_norm] RoPE, GQA, o_proj) ─► + ─►
//     ─► post_attention_layernorm ─► mlp(down(silu(gate(x)) * up(x))) ─► +
//
// Legend: B batch rows, T tokens fed in this call, S key slots attended (T + cached slots),
// C cache capacity, H hidden_size, N attention heads, K key/value heads, R = N / K, D head_dim,
// I intermediate_size.
//
// Parameters are created uninitialised (torch::empty) on the device and dtype given: a checkpoint
// or InitTransformerWeights fills them. Device-agnostic; softmax and norms compute in float32.
#ifndef PELICAN_COMMON_MODEL_LAYERS_H_
#define PELICAN_COMMON_MODEL_LAYERS_H_

#include <torch/torch.h>

#include <utility>

#include "common/model/model_config.h"

namespace pelican {

// y = x W^T (+ b). weight [out, in], bias [out].
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const torch::TensorOptions& options);
  // x [..., in] -> [..., out]
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;
  torch::Tensor bias;  // undefined when there is none
};
TORCH_MODULE(Linear);

// torch::linear(x, weight, bias): x [..., in], weight [out, in], bias [out] or undefined ->
// [..., out], with a matrix-vector fast path for a single row on the CPU.
torch::Tensor Project(const torch::Tensor& x, const torch::Tensor& weight,
                      const torch::Tensor& bias = {});

// weight [V, H]; ids [B, T] (int64) -> [B, T, H].
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& ids);

  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

// HF LlamaRMSNorm: normalise in float32, cast back, then scale. weight [dim].
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& options);
  // x [..., dim] -> [..., dim], x's dtype.
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// RoPE tables for `positions` [B, T] (int64): {cos, sin}, each [B, T, D] in `dtype`, computed in
// float32 from rope_theta (and rope_scaling) as HF's LlamaRotaryEmbedding does.
std::pair<torch::Tensor, torch::Tensor> RotaryCosSin(const ModelConfig& config,
                                                     const torch::Tensor& positions,
                                                     torch::ScalarType dtype);

// HF apply_rotary_pos_emb with rotate_half: x [B, heads, T, D], cos/sin [B, T, D].
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin);

// Where one layer's keys and values live during a cached forward.
struct LayerCache {
  torch::Tensor keys;    // [B, K, C, D]
  torch::Tensor values;  // [B, K, C, D]
  int64_t start = 0;     // first slot this call writes
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, const torch::TensorOptions& options);
  // x [B, T, H]; cos/sin [B, T, D]; bias [B, 1, T, S] float32 additive mask (0 or a large
  // negative); cache: when non-null, writes this call's keys/values at slots [start, start + T)
  // and attends to slots [0, start + T) = S; otherwise S = T. Returns [B, T, H].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, LayerCache* cache);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& config, const torch::TensorOptions& options);
  // x [B, T, H] -> [B, T, H]
  torch::Tensor forward(const torch::Tensor& x);

  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, const torch::TensorOptions& options);
  // As AttentionImpl::forward; returns [B, T, H].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, LayerCache* cache);

  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_LAYERS_H_
