// Preallocated key/value cache for incremental decoding with the Transformer (transformer.h).
//
// Legend: B cache rows (sequences), K key/value heads, C capacity in slots, D head_dim.
//
// Slot s of row b holds the key and value of the s-th token fed for that row, padding included:
// slots are buffer positions, not RoPE positions (those come from the attention mask). A forward
// call with T new tokens writes slots [length, length + T) and advances `length` for all rows.
//
// Ownership: the tensors are owned by the cache; not thread-safe (one decoding loop uses one).
#ifndef PELICAN_COMMON_MODEL_KV_CACHE_H_
#define PELICAN_COMMON_MODEL_KV_CACHE_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "common/model/model_config.h"

namespace pelican {

struct KVCache {
  // One entry per layer, each [B, K, C, D].
  std::vector<torch::Tensor> keys;
  std::vector<torch::Tensor> values;
  // Slots filled so far (the same for every row).
  int64_t length = 0;

  int64_t batch() const { return keys.empty() ? 0 : keys[0].size(0); }
  int64_t capacity() const { return keys.empty() ? 0 : keys[0].size(2); }

  // Bytes a cache of `batch` rows and `capacity` slots takes for `config` in `dtype`.
  static int64_t Bytes(const ModelConfig& config, int64_t batch, int64_t capacity,
                       torch::ScalarType dtype);
  // Allocates (uninitialised) storage; `options` carries device and dtype.
  static KVCache Allocate(const ModelConfig& config, int64_t batch, int64_t capacity,
                          const torch::TensorOptions& options);
};

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_KV_CACHE_H_
