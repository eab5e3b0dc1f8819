// The decoder-only transformer of the Llama / Qwen2 / Qwen3 family with the heads pelican's roles
// need. One class serves the policy (logits), a PPO critic (values), and a reward model (scores):
//
//   ids, mask ─► Hidden ─┬─► Logits          lm_head.weight [V, H] or tied to embed_tokens
//                        ├─► Values          v_head.weight [1, H], v_head.bias [1]  (pelican's)
//                        └─► Scores / SequenceScores   score.weight [L, H] (HF
//                        *ForSequenceClassification)
//
// Legend: B batch rows, T tokens fed in this call, S = cache slots after the call (T without a
// cache), H hidden_size, V vocab_size, L num_labels.
//
// Padding: attention_mask is 1 for real tokens and 0 for padding, left or right. Padded keys are
// never attended to, and RoPE positions are counted over real tokens only (cumsum of the mask - 1,
// as HF generate does), so a sequence's outputs do not depend on the padding around it. Outputs at
// padded positions are meaningless.
//
// Value head: `v_head` is pelican's name (TRL's AutoModelForCausalLMWithValueHead calls it
// v_head.summary); HF transformers ignores it when loading the directory as a causal LM. A critic
// kept as a separate model can instead be an HF *ForSequenceClassification with num_labels = 1
// read at every position with Scores, as TRL's PPO trainer does.
//
// Thread safety: forward passes on one instance are not synchronised; one thread per instance, or
// external locking. Eval paths (Generate, scoring) run under torch::NoGradGuard; training calls
// the same functions with gradients on.
#ifndef PELICAN_COMMON_MODEL_TRANSFORMER_H_
#define PELICAN_COMMON_MODEL_TRANSFORMER_H_

#include <torch/torch.h>

#include <cstdint>

#include "common/model/kv_cache.h"
#include "common/model/layers.h"
#include "common/model/model_config.h"

namespace pelican {

// The trunk: HF's `model.` prefix (LlamaModel / Qwen2Model / Qwen3Model).
class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const ModelConfig& config, const torch::TensorOptions& options);
  // input_ids [B, T] (int64); attention_mask [B, S] (any integer or bool dtype) covering the
  // cached slots and the T new ones. Returns the final-norm hidden states [B, T, H].
  // REQUIRES: with a cache, cache->length + T <= cache->capacity() and cache->batch() == B.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        KVCache* cache = nullptr);

  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};

 private:
  ModelConfig config_;
};
TORCH_MODULE(Decoder);

// Which optional heads a Transformer has beyond what config.head implies.
struct HeadOptions {
  // Adds v_head (values for a PPO critic sharing the policy's trunk).
  bool value_head = false;
};

class TransformerImpl : public torch::nn::Module {
 public:
  // Parameters are uninitialised: load a checkpoint or call InitTransformerWeights.
  TransformerImpl(const ModelConfig& config, const torch::TensorOptions& options,
                  const HeadOptions& heads = {});

  const ModelConfig& config() const { return config_; }
  bool has_lm_head() const { return config_.head == HeadKind::kCausalLM; }
  bool has_value_head() const { return !v_head.is_empty(); }
  bool has_score_head() const { return !score.is_empty(); }
  torch::Device device() const { return model->embed_tokens->weight.device(); }
  torch::ScalarType dtype() const { return model->embed_tokens->weight.scalar_type(); }

  // See DecoderImpl::forward. [B, T, H]. REQUIRES: ids in [0, V) (callers validate input from
  // the network first; LibTorch throws on an out-of-range id).
  torch::Tensor Hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                       KVCache* cache = nullptr);
  // hidden [B, T, H] -> logits [B, T, V] in the model's dtype. REQUIRES: has_lm_head().
  torch::Tensor Logits(const torch::Tensor& hidden);
  // hidden [B, T, H] -> values [B, T]. REQUIRES: has_value_head().
  torch::Tensor Values(const torch::Tensor& hidden);
  // hidden [B, T, H] -> scores at every position [B, T, L]. REQUIRES: has_score_head().
  torch::Tensor Scores(const torch::Tensor& hidden);
  // Scores at the last real token of each row, as HF *ForSequenceClassification pools them:
  // hidden [B, T, H], attention_mask [B, T] -> [B, L]. HF picks the rightmost token that is not
  // pad_token_id; we pick the rightmost position whose mask is 1, the same when pad ids appear only
  // as padding. REQUIRES: has_score_head() and every row has a real token.
  torch::Tensor SequenceScores(const torch::Tensor& hidden, const torch::Tensor& attention_mask);

  // Logits for a whole batch without a cache: input_ids, attention_mask [B, T] -> [B, T, V].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);

  Decoder model{nullptr};
  Linear lm_head{nullptr};  // absent when tied or for classification models
  Linear score{nullptr};    // *ForSequenceClassification
  Linear v_head{nullptr};   // HeadOptions::value_head

 private:
  ModelConfig config_;
};
TORCH_MODULE(Transformer);

// Initialises every parameter as HF's _init_weights does: linear and embedding weights
// ~ N(0, std²), biases 0, norm weights 1; v_head is zero (values start at 0). Draws from a CPU
// generator seeded with `seed` in parameter-name order, so the result is the same on any device.
void InitTransformerWeights(Transformer& model, double std, uint64_t seed);

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_TRANSFORMER_H_
