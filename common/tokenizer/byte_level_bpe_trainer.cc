#include "common/tokenizer/byte_level_bpe_trainer.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <queue>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tokenizer/added_vocabulary.h"
#include "common/tokenizer/byte_level.h"
#include "common/tokenizer/pre_tokenizer.h"
#include "common/tokenizer/utf8.h"

namespace pelican {
namespace {

using tokenizer::AddedTokenMatcher;

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

// The state of training: words as symbol sequences, and how often each adjacent pair occurs.
class Trainer {
 public:
  explicit Trainer(std::vector<Word> words) : words_(std::move(words)) {
    for (int b = 0; b < 256; ++b) AddToken(std::string(1, static_cast<char>(b)));
    for (size_t w = 0; w < words_.size(); ++w) {
      const auto& s = words_[w].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) Count(s[i], s[i + 1], words_[w].count, w);
    }
  }

  // Learns merges until `max_tokens` tokens exist or no pair is left.
  void Run(size_t max_tokens) {
    while (tokens_.size() < max_tokens) {
      int32_t a, b;
      if (!PopBest(&a, &b)) return;
      Merge(a, b);
    }
  }

  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }

 private:
  struct Candidate {
    int64_t count;
    int32_t a, b;
  };
  // Highest count first; then the smallest (left, right) spelling.
  struct Worse {
    const Trainer* t;
    bool operator()(const Candidate& x, const Candidate& y) const {
      if (x.count != y.count) return x.count < y.count;
      return std::tie(t->tokens_[x.a], t->tokens_[x.b]) >
             std::tie(t->tokens_[y.a], t->tokens_[y.b]);
    }
  };

  int32_t AddToken(const std::string& bytes) {
    auto [it, inserted] = ids_.try_emplace(bytes, static_cast<int32_t>(tokens_.size()));
    if (inserted) tokens_.push_back(bytes);
    return it->second;
  }

  void Count(int32_t a, int32_t b, int64_t delta, size_t word) {
    const uint64_t key = PairKey(a, b);
    int64_t& c = pair_counts_[key];
    c += delta;
    if (delta > 0) pair_words_[key].insert(static_cast<int32_t>(word));
    if (c > 0) queue_.push({c, a, b});  // the entry with the old count is now stale
  }

  // The best pair whose queued count is still current (entries go stale as counts change).
  bool PopBest(int32_t* a, int32_t* b) {
    while (!queue_.empty()) {
      const Candidate top = queue_.top();
      queue_.pop();
      auto it = pair_counts_.find(PairKey(top.a, top.b));
      if (it == pair_counts_.end() || it->second != top.count || top.count <= 0) continue;
      *a = top.a;
      *b = top.b;
      return true;
    }
    return false;
  }

  void Merge(int32_t a, int32_t b) {
    const int32_t merged = AddToken(tokens_[a] + tokens_[b]);
    merges_.emplace_back(a, b);
    const uint64_t key = PairKey(a, b);
    const absl::flat_hash_set<int32_t> words = std::move(pair_words_[key]);
    pair_words_.erase(key);
    for (int32_t w : words) {
      std::vector<int32_t>& s = words_[w].symbols;
      const int64_t n = words_[w].count;
      std::vector<int32_t> next;
      next.reserve(s.size());
      for (size_t i = 0; i + 1 < s.size(); ++i) Count(s[i], s[i + 1], -n, w);
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          next.push_back(merged);
          ++i;
        } else {
          next.push_back(s[i]);
        }
      }
      s = std::move(next);
      for (size_t i = 0; i + 1 < s.size(); ++i) Count(s[i], s[i + 1], n, w);
    }
  }

  std::vector<Word> words_;
  std::vector<std::string> tokens_;  // id -> raw bytes
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  absl::flat_hash_map<uint64_t, int64_t> pair_counts_;
  absl::flat_hash_map<uint64_t, absl::flat_hash_set<int32_t>> pair_words_;
  std::priority_queue<Candidate, std::vector<Candidate>, Worse> queue_{Worse{this}};
};

}  // namespace

absl::StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& corpus,
                                              int vocab_size,
                                              const std::vector<std::string>& special_tokens) {
  const int64_t min_size = 256 + static_cast<int64_t>(special_tokens.size());
  if (vocab_size < min_size) {
    return absl::InvalidArgumentError(absl::StrCat("vocab_size ", vocab_size, " < ", min_size,
                                                   " (256 bytes + the special tokens)"));
  }
  std::vector<AddedTokenMatcher::Entry> entries;
  absl::flat_hash_set<std::string> seen;
  for (const std::string& s : special_tokens) {
    if (s.empty() || !seen.insert(s).second || !tokenizer::IsValidUtf8(s)) {
      return absl::InvalidArgumentError(
          absl::StrCat("special token '", s, "' is empty, repeated or not UTF-8"));
    }
    entries.push_back({s, 0, false, false, false});
  }
  const AddedTokenMatcher specials(std::move(entries));
  ASSIGN_OR_RETURN(auto pre_tokenizer,
                   tokenizer::PreTokenizer::Create(
                       {tokenizer::SplitStep{tokenizer::kGpt2SplitPattern, true,
                                             tokenizer::SplitBehavior::kIsolated, false},
                        tokenizer::ByteLevelStep{false, false}}));

  absl::flat_hash_map<std::string, int64_t> counts;
  for (const std::string& raw : corpus) {
    const std::string text = tokenizer::ToValidUtf8(raw);
    specials.Split(text, [&](absl::string_view segment, int32_t id) {
      if (id >= 0) return;
      pre_tokenizer->Run(segment, [&](absl::string_view piece) { ++counts[piece]; });
    });
  }
  // Sorted so that the word order (and so nothing downstream) depends on hashing.
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (const auto& [piece, count] : sorted) {
    Word w{{}, count};
    for (unsigned char c : piece) w.symbols.push_back(c);
    words.push_back(std::move(w));
  }
  Trainer trainer(std::move(words));
  trainer.Run(static_cast<size_t>(vocab_size) - special_tokens.size());

  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < trainer.tokens().size(); ++id) {
    vocab[tokenizer::BytesToByteLevel(trainer.tokens()[id])] = id;
  }
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  for (const auto& [a, b] : trainer.merges()) {
    merges.push_back({tokenizer::BytesToByteLevel(trainer.tokens()[a]),
                      tokenizer::BytesToByteLevel(trainer.tokens()[b])});
  }
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    if (vocab.contains(special_tokens[i])) {
      return absl::InvalidArgumentError(absl::StrCat("special token '", special_tokens[i],
                                                     "' is spelled like a vocabulary token"));
    }
    added.push_back({{"id", trainer.tokens().size() + i},
                     {"content", special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const nlohmann::ordered_json byte_level = {{"type", "ByteLevel"},
                                             {"add_prefix_space", false},
                                             {"trim_offsets", true},
                                             {"use_regex", false}};
  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = std::move(added);
  j["normalizer"] = nullptr;
  nlohmann::ordered_json split = {
      {"type", "Split"},
      {"pattern", {{"Regex", std::string(tokenizer::kGpt2SplitPattern)}}},
      {"behavior", "Isolated"},
      {"invert", false}};
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  steps.push_back(std::move(split));
  steps.push_back(byte_level);
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", std::move(steps)}};
  j["post_processor"] = byte_level;
  j["decoder"] = byte_level;
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges)}};
  return j.dump(1);
}

}  // namespace pelican
