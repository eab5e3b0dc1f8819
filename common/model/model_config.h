// The parts of a Hugging Face model directory's config.json and generation_config.json that the
// Llama / Qwen2 / Qwen3 decoder needs, parsed strictly: a structural key that is missing or out of
// range, or an option this implementation does not compute (another activation, sliding-window
// attention, a rope_scaling type, quantization), is an error that names the key, so a model is
// never silently run with different maths than it was trained with.
//
//   config.json ──ParseModelConfig──► ModelConfig ──ModelConfigToJson──► config.json
#ifndef PELICAN_COMMON_MODEL_MODEL_CONFIG_H_
#define PELICAN_COMMON_MODEL_MODEL_CONFIG_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pelican {

enum class ModelType { kLlama, kQwen2, kQwen3 };

// "llama", "qwen2", "qwen3".
const char* ModelTypeName(ModelType type);

// Which output head(s) config.json's "architectures" asks for.
enum class HeadKind {
  kCausalLM,               // *ForCausalLM: lm_head (or tied embeddings) -> logits [.., V]
  kSequenceClassification  // *ForSequenceClassification: score.weight [num_labels, H]
};

// RoPE frequency scaling ("rope_scaling" in config.json). kNone also covers rope_type "default".
struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;
  // llama3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  ModelType model_type = ModelType::kLlama;
  HeadKind head = HeadKind::kCausalLM;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  // Per-head width; hidden_size / num_attention_heads unless config.json says otherwise (Qwen3).
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  // Bias on q_proj, k_proj, v_proj. Always on for Qwen2; "attention_bias" for Llama and Qwen3.
  bool qkv_bias = false;
  // Bias on o_proj: "attention_bias" for Llama and Qwen3, never for Qwen2.
  bool o_bias = false;
  // Per-head RMSNorm of q and k before RoPE (Qwen3: q_norm.weight, k_norm.weight [D]).
  bool qk_norm = false;
  // Weight dtype as saved ("torch_dtype"/"dtype"); the dtype a model runs in is chosen at load.
  torch::ScalarType torch_dtype = torch::kFloat32;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json allows an int or a list
  std::optional<int64_t> pad_token_id;
  // Rows of score.weight for kSequenceClassification (1 for a scalar reward model).
  int64_t num_labels = 1;
  // Written back verbatim, e.g. {"Qwen2ForSequenceClassification"}.
  std::vector<std::string> architectures;
  double initializer_range = 0.02;
};

// Parses config.json text. Errors are INVALID_ARGUMENT naming the key ("rope_scaling.rope_type:
// 'yarn' is not supported").
absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text);

// config.json text that Hugging Face transformers loads as the same model (keys sorted, indent 2).
std::string ModelConfigToJson(const ModelConfig& config);

// The HF architecture name for `config`'s type and head: "Qwen3ForCausalLM" etc.
std::string ArchitectureName(ModelType type, HeadKind head);

// generation_config.json: the ids generation needs. Sampling knobs come from SamplingSection.
struct GenerationConfig {
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;
};

absl::StatusOr<GenerationConfig> ParseGenerationConfig(absl::string_view json_text);
std::string GenerationConfigToJson(const GenerationConfig& config);

// "float32" / "bfloat16" / "float16" <-> ScalarType.
absl::StatusOr<torch::ScalarType> ParseTorchDtype(absl::string_view name);
const char* TorchDtypeName(torch::ScalarType type);

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_MODEL_CONFIG_H_
