#include "common/model/transformer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <limits>

#include "absl/strings/match.h"
#include "common/status_macros.h"

namespace pelican {

DecoderImpl::DecoderImpl(const ModelConfig& config, const torch::TensorOptions& options)
    : config_(config) {
  embed_tokens =
      register_module("embed_tokens", Embedding(config.vocab_size, config.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    layers->push_back(DecoderLayer(config, options));
  }
  norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps, options));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& input_ids,
                                   const torch::Tensor& attention_mask, KVCache* cache) {
  const int64_t b = input_ids.size(0), t = input_ids.size(1);
  const int64_t start = cache != nullptr ? cache->length : 0;
  const int64_t s = start + t;
  PELICAN_CHECK(input_ids.dim() == 2 && attention_mask.dim() == 2 && attention_mask.size(0) == b &&
                attention_mask.size(1) == s)
      << "input_ids " << input_ids.sizes() << " and attention_mask " << attention_mask.sizes()
      << " do not match (the mask must cover " << start << " cached + " << t << " new slots)";
  if (cache != nullptr) {
    PELICAN_CHECK(cache->batch() == b && s <= cache->capacity())
        << "KV cache of " << cache->batch() << " rows and " << cache->capacity()
        << " slots cannot take " << b << " rows up to slot " << s;
  }
  const auto opts = torch::TensorOptions().device(input_ids.device()).dtype(torch::kInt64);
  torch::Tensor real = attention_mask.to(torch::kBool);  // [B, S]
  torch::Tensor positions =
      (real.to(torch::kInt64).cumsum(1) - 1).clamp_min(0).narrow(1, start, t);  // [B, T]
  auto [cos, sin] = RotaryCosSin(config_, positions, embed_tokens->weight.scalar_type());

  // Additive mask [B, 1, T, S]: slot j is visible from the query in slot i when j <= i and j is a
  // real token. A query with nothing visible (a left pad) gets a uniform softmax, not NaN.
  torch::Tensor causal =
      torch::arange(s, opts).unsqueeze(0) <= torch::arange(start, s, opts).unsqueeze(1);
  torch::Tensor visible = causal.unsqueeze(0).logical_and(real.unsqueeze(1));  // [B, T, S]
  torch::Tensor bias =
      torch::zeros({b, t, s}, opts.dtype(torch::kFloat32))
          .masked_fill_(visible.logical_not(), std::numeric_limits<float>::lowest())
          .unsqueeze(1);

  torch::Tensor x = embed_tokens(input_ids);
  for (size_t l = 0; l < layers->size(); ++l) {
    auto* layer = layers[l]->as<DecoderLayerImpl>();
    if (cache != nullptr) {
      LayerCache lc{cache->keys[l], cache->values[l], start};
      x = layer->forward(x, cos, sin, bias, &lc);
    } else {
      x = layer->forward(x, cos, sin, bias, nullptr);
    }
  }
  if (cache != nullptr) cache->length = s;
  return norm(x);
}

TransformerImpl::TransformerImpl(const ModelConfig& config, const torch::TensorOptions& options,
                                 const HeadOptions& heads)
    : config_(config) {
  model = register_module("model", Decoder(config, options));
  if (config.head == HeadKind::kCausalLM && !config.tie_word_embeddings) {
    lm_head =
        register_module("lm_head", Linear(config.hidden_size, config.vocab_size, false, options));
  }
  if (config.head == HeadKind::kSequenceClassification) {
    score = register_module("score", Linear(config.hidden_size, config.num_labels, false, options));
  }
  if (heads.value_head) {
    v_head = register_module("v_head", Linear(config.hidden_size, 1, true, options));
  }
}

torch::Tensor TransformerImpl::Hidden(const torch::Tensor& input_ids,
                                      const torch::Tensor& attention_mask, KVCache* cache) {
  return model(input_ids, attention_mask, cache);
}

torch::Tensor TransformerImpl::Logits(const torch::Tensor& hidden) {
  PELICAN_CHECK(has_lm_head()) << "a " << config_.architectures[0] << " model has no LM head";
  return lm_head.is_empty() ? Project(hidden, model->embed_tokens->weight) : lm_head(hidden);
}

torch::Tensor TransformerImpl::Values(const torch::Tensor& hidden) {
  PELICAN_CHECK(has_value_head()) << "model was built without HeadOptions::value_head";
  return v_head(hidden).squeeze(-1);
}

torch::Tensor TransformerImpl::Scores(const torch::Tensor& hidden) {
  PELICAN_CHECK(has_score_head()) << "a " << config_.architectures[0] << " model has no score head";
  return score(hidden);
}

torch::Tensor TransformerImpl::SequenceScores(const torch::Tensor& hidden,
                                              const torch::Tensor& attention_mask) {
  const int64_t t = hidden.size(1);
  torch::Tensor index = torch::arange(t, attention_mask.options().dtype(torch::kInt64));
  torch::Tensor last = (index * attention_mask.to(torch::kInt64)).argmax(-1);  // [B]
  torch::Tensor pooled =
      hidden.gather(1, last.view({-1, 1, 1}).expand({hidden.size(0), 1, hidden.size(2)}));
  return Scores(pooled.squeeze(1));
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& input_ids,
                                       const torch::Tensor& attention_mask) {
  return Logits(Hidden(input_ids, attention_mask));
}

void InitTransformerWeights(Transformer& model, double std, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    if (absl::StartsWith(name, "v_head.") || absl::EndsWith(name, ".bias")) {
      p.zero_();
    } else if (absl::EndsWith(name, "norm.weight")) {
      p.fill_(1.0);
    } else {
      p.copy_(torch::empty(p.sizes(), torch::kFloat32).normal_(0.0, std, gen));
    }
  }
}

}  // namespace pelican
