#include "common/model/layers.h"

#include <cmath>

namespace pelican {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias,
                       const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, options));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) { return Project(x, weight, bias); }

torch::Tensor Project(const torch::Tensor& x, const torch::Tensor& weight,
                      const torch::Tensor& bias) {
  if (x.device().is_cpu() && x.numel() == x.size(-1)) {
    // One row, as in batch-1 decoding: a matrix-vector product streams the weight once, where
    // OpenBLAS GEMM first copies it into packed panels. decode_bench, batch 1: 8.0 ms per step
    // with GEMM, 3.4 ms with this.
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = weight.size(0);
    torch::Tensor y = torch::mv(weight, x.reshape({-1}));
    return (bias.defined() ? y + bias : y).view(shape);
  }
  return torch::linear(x, weight, bias);
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({vocab, dim}, options));
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) {
  return torch::embedding(weight, ids);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& options) : eps_(eps) {
  weight = register_parameter("weight", torch::empty({dim}, options));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * h.to(x.scalar_type());
}

namespace {

// [D / 2] float32 inverse frequencies, with rope_scaling applied as HF's rope init functions do.
torch::Tensor InverseFrequencies(const ModelConfig& config, const torch::Device& device) {
  const int64_t d = config.head_dim;
  auto opts = torch::TensorOptions().device(device);
  torch::Tensor inv_freq =
      1.0 / torch::pow(config.rope_theta,
                       torch::arange(0, d, 2, opts.dtype(torch::kInt64)).to(torch::kFloat32) / d);
  const RopeScaling& s = config.rope_scaling;
  if (s.type == RopeScaling::Type::kLinear) return inv_freq / s.factor;
  if (s.type != RopeScaling::Type::kLlama3) return inv_freq;
  // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band between blended.
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / s.low_freq_factor;
  const double high_freq_wavelen = old_len / s.high_freq_factor;
  torch::Tensor wavelen = 2 * M_PI / inv_freq;
  torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  torch::Tensor smooth =
      (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  torch::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  torch::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return torch::where(medium, smoothed, scaled);
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> RotaryCosSin(const ModelConfig& config,
                                                     const torch::Tensor& positions,
                                                     torch::ScalarType dtype) {
  torch::Tensor inv_freq = InverseFrequencies(config, positions.device());
  torch::Tensor freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // [B, T, D/2]
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin) {
  torch::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);
  return x * c + RotateHalf(x) * s;
}

AttentionImpl::AttentionImpl(const ModelConfig& config, const torch::TensorOptions& options)
    : num_heads_(config.num_attention_heads),
      num_kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim) {
  const int64_t h = config.hidden_size, q = num_heads_ * head_dim_, kv = num_kv_heads_ * head_dim_;
  q_proj = register_module("q_proj", Linear(h, q, config.qkv_bias, options));
  k_proj = register_module("k_proj", Linear(h, kv, config.qkv_bias, options));
  v_proj = register_module("v_proj", Linear(h, kv, config.qkv_bias, options));
  o_proj = register_module("o_proj", Linear(q, h, config.o_bias, options));
  if (config.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, config.rms_norm_eps, options));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, config.rms_norm_eps, options));
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const torch::Tensor& bias,
                                     LayerCache* cache) {
  const int64_t b = x.size(0), t = x.size(1);
  const int64_t n = num_heads_, k = num_kv_heads_, d = head_dim_, r = n / k;
  torch::Tensor q = q_proj(x).view({b, t, n, d});
  torch::Tensor key = k_proj(x).view({b, t, k, d});
  torch::Tensor value = v_proj(x).view({b, t, k, d}).transpose(1, 2);  // [B, K, T, D]
  if (!q_norm.is_empty()) {
    q = q_norm(q);
    key = k_norm(key);
  }
  q = ApplyRotary(q.transpose(1, 2), cos, sin);      // [B, N, T, D]
  key = ApplyRotary(key.transpose(1, 2), cos, sin);  // [B, K, T, D]
  if (cache != nullptr) {
    cache->keys.narrow(2, cache->start, t).copy_(key);
    cache->values.narrow(2, cache->start, t).copy_(value);
    key = cache->keys.narrow(2, 0, cache->start + t);
    value = cache->values.narrow(2, 0, cache->start + t);
  }
  const int64_t s = key.size(2);
  // Grouped-query attention without copying keys: query head h = g * R + j uses key head g, as
  // HF's repeat_kv lays them out, so the R query heads of a group share one batched matmul.
  torch::Tensor grouped = q.reshape({b, k, r * t, d});
  torch::Tensor scores = torch::matmul(grouped, key.transpose(2, 3)).to(torch::kFloat32);
  scores = scores.mul_(1.0 / std::sqrt(static_cast<double>(d))).view({b, k, r, t, s});
  scores.add_(bias.view({b, 1, 1, t, s}));
  torch::Tensor probs = scores.softmax(-1).to(x.scalar_type()).view({b, k, r * t, s});
  torch::Tensor out = torch::matmul(probs, value)  // [B, K, R*T, D]
                          .view({b, n, t, d})
                          .transpose(1, 2)
                          .reshape({b, t, n * d});
  return o_proj(out);
}

MlpImpl::MlpImpl(const ModelConfig& config, const torch::TensorOptions& options) {
  const int64_t h = config.hidden_size, i = config.intermediate_size;
  gate_proj = register_module("gate_proj", Linear(h, i, false, options));
  up_proj = register_module("up_proj", Linear(h, i, false, options));
  down_proj = register_module("down_proj", Linear(i, h, false, options));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& config, const torch::TensorOptions& options) {
  self_attn = register_module("self_attn", Attention(config, options));
  mlp = register_module("mlp", Mlp(config, options));
  input_layernorm =
      register_module("input_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
  post_attention_layernorm = register_module(
      "post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                        const torch::Tensor& sin, const torch::Tensor& bias,
                                        LayerCache* cache) {
  torch::Tensor h = x + self_attn(input_layernorm(x), cos, sin, bias, cache);
  return h + mlp(post_attention_layernorm(h));
}

}  // namespace pelican
