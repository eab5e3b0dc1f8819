// A bounded map from a pre-tokenized piece to its BPE ids, so frequent words skip the merge loop.
// It only remembers results, so it never changes what Encode returns.
//
// Thread safety: all methods may be called concurrently. The map is split into shards, each with
// its own reader/writer lock, so threads encoding different words rarely wait for each other.
#ifndef PELICAN_COMMON_TOKENIZER_WORD_CACHE_H_
#define PELICAN_COMMON_TOKENIZER_WORD_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace pelican::tokenizer {

class WordCache {
 public:
  // Pieces longer than this are not cached (they are rare and would crowd out common words).
  static constexpr size_t kMaxWordBytes = 64;

  // Holds about `capacity` words; a shard that fills up is emptied and starts over.
  explicit WordCache(size_t capacity);

  // Appends the cached ids of `word` to `*ids` and returns true, or returns false.
  bool Lookup(absl::string_view word, std::vector<int32_t>* ids) const;
  // Remembers ids[begin..end) for `word`.
  void Insert(absl::string_view word, const std::vector<int32_t>& ids, size_t begin, size_t end);

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::vector<int32_t>> map ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(absl::string_view word) const;

  const size_t shard_capacity_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_WORD_CACHE_H_
