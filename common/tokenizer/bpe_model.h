// Byte-level BPE: turns one pre-tokenized piece (raw bytes) into vocabulary ids by applying merges
// in rank order, exactly as HF tokenizers' BPE model does (lowest rank first, leftmost first among
// equal ranks; `ignore_merges` looks the whole piece up first).
//   piece bytes --one symbol per byte--> merge by rank --> ids
//
// Thread safety: immutable after Create except for the word cache, which is internally locked;
// Tokenize may be called concurrently.
#ifndef PELICAN_COMMON_TOKENIZER_BPE_MODEL_H_
#define PELICAN_COMMON_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tokenizer/word_cache.h"

namespace pelican::tokenizer {

struct BpeConfig {
  // Token spelling (byte-level alphabet) -> id.
  std::vector<std::pair<std::string, int32_t>> vocab;
  // Merge rules in rank order: (left, right) spellings; left + right must be in the vocabulary.
  std::vector<std::pair<std::string, std::string>> merges;
  bool ignore_merges = false;
  std::optional<std::string> unk_token;  // used for a byte whose token is missing
  bool fuse_unk = false;
  size_t cache_capacity = 10000;  // words remembered per tokenizer; 0 disables the cache
};

class BpeModel {
 public:
  // InvalidArgument for a merge whose parts or result are not in the vocabulary, or an unk_token
  // that is not.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(const BpeConfig& config);

  // Appends the ids of `piece` (raw bytes) to `*ids`.
  void Tokenize(absl::string_view piece, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(absl::string_view token) const;
  // The spelling of `id`, or null when the vocabulary has no such id.
  const std::string* IdToToken(int32_t id) const;
  // Number of entries in the vocabulary (HF's BPE get_vocab_size).
  size_t size() const { return vocab_.size(); }
  int32_t max_id() const { return max_id_; }

 private:
  struct MergeResult {
    int32_t rank;
    int32_t new_id;
  };

  BpeModel() = default;
  const MergeResult* FindMerge(int32_t left, int32_t right) const;
  void MergeWord(absl::string_view piece, std::vector<int32_t>* ids) const;

  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  // Constant after Create.
  absl::flat_hash_map<std::string, int32_t> vocab_;        // spelling -> id
  absl::flat_hash_map<int32_t, std::string> vocab_r_;      // id -> spelling
  absl::flat_hash_map<std::string, int32_t> bytes_to_id_;  // raw bytes -> id, for ignore_merges
  absl::flat_hash_map<uint64_t, MergeResult> merges_;
  std::array<int32_t, 256> byte_ids_;  // id of each single-byte token, -1 if missing
  bool ignore_merges_ = false;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  int32_t max_id_ = -1;
  std::unique_ptr<WordCache> cache_;  // null when disabled; internally synchronized
};

}  // namespace pelican::tokenizer

#endif  // PELICAN_COMMON_TOKENIZER_BPE_MODEL_H_
