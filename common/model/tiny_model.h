// Randomly initialised models in the real HF directory format, for the built-in CPU tasks and for
// tests: the same loading code then serves a 1M-parameter demo and a real Qwen checkpoint.
//
//   TinyModelShape + vocab + seed ──CreateTinyModel──► dir/{config.json, generation_config.json,
//                                                           model.safetensors}
//
// The tokenizer (tokenizer.json) is the caller's to add; its special ids go in TinyModelOptions.
#ifndef PELICAN_COMMON_MODEL_TINY_MODEL_H_
#define PELICAN_COMMON_MODEL_TINY_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model/model_config.h"
#include "pelican/v1/config.pb.h"

namespace pelican {

struct TinyModelOptions {
  // Llama by default; Qwen2 adds q/k/v biases, Qwen3 q/k norms (used by tests of those variants).
  ModelType model_type = ModelType::kLlama;
  // kSequenceClassification writes a reward model (score.weight [num_labels, H]).
  HeadKind head = HeadKind::kCausalLM;
  int64_t num_labels = 1;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  std::optional<int64_t> pad_token_id;
  // Std of the N(0, std²) weights (HF's initializer_range).
  double initializer_range = 0.02;
  double rope_theta = 10000.0;
  torch::ScalarType dtype = torch::kFloat32;
};

// The ModelConfig CreateTinyModel writes. INVALID_ARGUMENT when the shape is inconsistent
// (hidden_size not divisible by num_heads, num_heads not by num_kv_heads, odd head_dim, ...).
absl::StatusOr<ModelConfig> TinyModelConfig(const v1::TinyModelShape& shape, int64_t vocab_size,
                                            const TinyModelOptions& options = {});

// Writes a randomly initialised model (weights drawn with `seed`) into `dir`, creating it.
// The same arguments give byte-identical files.
absl::Status CreateTinyModel(const v1::TinyModelShape& shape, int64_t vocab_size, uint64_t seed,
                             const std::string& dir, const TinyModelOptions& options = {});

// Special tokens of the tokenizers CreateTinyModelWithTokenizer trains.
inline constexpr char kTinyEndOfText[] = "<|endoftext|>";  // EOS
inline constexpr char kTinyPad[] = "<|pad|>";

// A complete tiny model directory: a byte-level BPE tokenizer.json of at most `vocab_size` tokens
// (0 = the 256 bytes and the two special tokens, no merges) learned from `corpus`, and a model of
// `shape` sized to it, with EOS and pad set. Returns the tokenizer's JSON text.
absl::StatusOr<std::string> CreateTinyModelWithTokenizer(const v1::TinyModelShape& shape,
                                                         const std::vector<std::string>& corpus,
                                                         int vocab_size, uint64_t seed,
                                                         const std::string& dir,
                                                         TinyModelOptions options = {});

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_TINY_MODEL_H_
