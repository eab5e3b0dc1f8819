// Hugging Face model directories: the format of every model pelican reads or writes (initial
// policy, reference, reward models, checkpoints), so a checkpoint's policy opens in transformers.
//
//   dir/config.json                 ModelConfig (model_config.h)
//   dir/generation_config.json      optional; GenerationConfig
//   dir/model.safetensors           or, when sharded:
//   dir/model.safetensors.index.json  {"metadata": {"total_size": N}, "weight_map": {name: file}}
//   dir/model-00001-of-0000K.safetensors ...
//   dir/tokenizer.json              written and read by the tokenizer, not here
//
// Loading is strict: every parameter of the model must be found with its exact shape, and a tensor
// the model does not use is an error naming it (except HF's rotary inv_freq buffers, lm_head
// when the embeddings are tied, and v_head when LoadOptions::value_head is off). Weights are
// converted to the requested dtype and device one tensor at a time, so peak memory is the model
// plus one tensor.
#ifndef PELICAN_COMMON_MODEL_HF_MODEL_H_
#define PELICAN_COMMON_MODEL_HF_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model/model_config.h"
#include "common/model/safetensors.h"
#include "common/model/transformer.h"

namespace pelican {

struct LoadOptions {
  torch::Device device = torch::kCPU;
  // Weights and compute dtype; nullopt = the checkpoint's torch_dtype.
  std::optional<torch::ScalarType> dtype;
  // Adds v_head; loaded when the checkpoint has it, else zero-initialised.
  bool value_head = false;
};

struct LoadedModel {
  ModelConfig config;
  // From generation_config.json; falls back to config.json's ids when that file is absent.
  GenerationConfig generation;
  Transformer model{nullptr};
};

// Reads config.json, generation_config.json and the weights of `dir`. The model is in eval mode.
absl::StatusOr<LoadedModel> LoadModel(const std::string& dir, const LoadOptions& options = {});

// Every tensor of `dir`'s checkpoint (single file or shards), as stored. For tools and tests.
absl::StatusOr<TensorMap> ReadModelTensors(const std::string& dir);

// HF's default shard size ("5GB").
inline constexpr int64_t kDefaultMaxShardBytes = 5'000'000'000;

struct SaveOptions {
  // Tensors go into model.safetensors when their total is at most this, else into shards of at
  // most this (a single larger tensor gets a shard of its own).
  int64_t max_shard_bytes = kDefaultMaxShardBytes;
};

// Writes `tensors` into `dir` (created if needed) as model.safetensors or shards + index, each file
// atomically, and removes the weight files of the other layout so the directory is unambiguous.
absl::Status WriteModelTensors(const std::string& dir, const TensorMap& tensors,
                               const SaveOptions& options = {});

// Writes config.json (torch_dtype set to the model's dtype), generation_config.json and weights.
absl::Status SaveModel(const std::string& dir, Transformer& model,
                       const GenerationConfig& generation, const SaveOptions& options = {});

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_HF_MODEL_H_
