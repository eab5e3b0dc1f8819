#include "common/tokenizer/word_cache.h"

#include "absl/hash/hash.h"

namespace pelican::tokenizer {

WordCache::WordCache(size_t capacity) : shard_capacity_((capacity + kShards - 1) / kShards) {}

WordCache::Shard& WordCache::ShardFor(absl::string_view word) const {
  return shards_[absl::Hash<absl::string_view>()(word) % kShards];
}

bool WordCache::Lookup(absl::string_view word, std::vector<int32_t>* ids) const {
  if (word.size() > kMaxWordBytes) return false;
  Shard& shard = ShardFor(word);
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.map.find(word);
  if (it == shard.map.end()) return false;
  ids->insert(ids->end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::Insert(absl::string_view word, const std::vector<int32_t>& ids, size_t begin,
                       size_t end) {
  if (word.size() > kMaxWordBytes || shard_capacity_ == 0) return;
  Shard& shard = ShardFor(word);
  absl::MutexLock lock(&shard.mu);
  if (shard.map.size() >= shard_capacity_) shard.map.clear();
  shard.map.try_emplace(word, ids.begin() + begin, ids.begin() + end);
}

}  // namespace pelican::tokenizer
