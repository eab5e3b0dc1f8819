#include "common/model/kv_cache.h"

namespace pelican {

int64_t KVCache::Bytes(const ModelConfig& config, int64_t batch, int64_t capacity,
                       torch::ScalarType dtype) {
  return 2 * config.num_hidden_layers * batch * config.num_key_value_heads * capacity *
         config.head_dim * static_cast<int64_t>(torch::elementSize(dtype));
}

KVCache KVCache::Allocate(const ModelConfig& config, int64_t batch, int64_t capacity,
                          const torch::TensorOptions& options) {
  KVCache cache;
  const std::vector<int64_t> shape = {batch, config.num_key_value_heads, capacity, config.head_dim};
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    cache.keys.push_back(torch::empty(shape, options));
    cache.values.push_back(torch::empty(shape, options));
  }
  return cache;
}

}  // namespace pelican
