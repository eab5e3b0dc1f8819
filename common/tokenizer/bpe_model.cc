#include "common/tokenizer/bpe_model.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/tokenizer/byte_level.h"

namespace pelican::tokenizer {
namespace {

// A symbol of the word being merged; merged-away symbols keep len == 0 (HF's Word).
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  int32_t len;
};

struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
};

// Orders the queue so that the lowest rank, then the leftmost position, comes out first.
struct LaterCandidate {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(const BpeConfig& config) {
  std::unique_ptr<BpeModel> m(new BpeModel());
  m->vocab_.reserve(config.vocab.size());
  for (const auto& [token, id] : config.vocab) {
    if (id < 0) return absl::InvalidArgumentError(absl::StrCat("model.vocab: negative id ", id));
    m->vocab_[token] = id;
    m->vocab_r_[id] = token;
    m->max_id_ = std::max(m->max_id_, id);
    std::string bytes;
    if (ByteLevelToBytes(token, &bytes)) m->bytes_to_id_.emplace(std::move(bytes), id);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = m->vocab_.find(BytesToByteLevel(std::string(1, static_cast<char>(b))));
    m->byte_ids_[b] = it == m->vocab_.end() ? -1 : it->second;
  }
  m->merges_.reserve(config.merges.size());
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    const auto& [left, right] = config.merges[rank];
    auto l = m->vocab_.find(left);
    auto r = m->vocab_.find(right);
    auto merged = m->vocab_.find(left + right);
    if (l == m->vocab_.end() || r == m->vocab_.end() || merged == m->vocab_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("model.merges[", rank, "] '", left, " ", right,
                                                     "': a token is not in the vocabulary"));
    }
    // A repeated pair keeps its last rank, as HF's map does.
    m->merges_[PairKey(l->second, r->second)] = {static_cast<int32_t>(rank), merged->second};
  }
  m->ignore_merges_ = config.ignore_merges;
  m->fuse_unk_ = config.fuse_unk;
  if (config.unk_token.has_value()) {
    auto it = m->vocab_.find(*config.unk_token);
    if (it == m->vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.unk_token '", *config.unk_token, "' is not in the vocabulary"));
    }
    m->unk_id_ = it->second;
  }
  if (config.cache_capacity > 0) m->cache_ = std::make_unique<WordCache>(config.cache_capacity);
  return m;
}

const BpeModel::MergeResult* BpeModel::FindMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::Tokenize(absl::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    auto it = bytes_to_id_.find(piece);
    if (it != bytes_to_id_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (cache_ != nullptr && cache_->Lookup(piece, ids)) return;
  const size_t begin = ids->size();
  MergeWord(piece, ids);
  if (cache_ != nullptr) cache_->Insert(piece, *ids, begin, ids->size());
}

void BpeModel::MergeWord(absl::string_view piece, std::vector<int32_t>* ids) const {
  // One symbol per byte; a byte without a token becomes unk (runs fused if asked) or is dropped.
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  bool previous_unk = false;
  for (unsigned char b : piece) {
    int32_t id = byte_ids_[b];
    if (id < 0) {
      if (unk_id_ < 0) continue;
      if (fuse_unk_ && previous_unk) {
        symbols.back().len += 1;
        continue;
      }
      id = unk_id_;
    }
    previous_unk = byte_ids_[b] < 0;
    const int32_t pos = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, pos - 1, -1, 1});
    if (pos > 0) symbols[pos - 1].next = pos;
  }
  const int32_t n = static_cast<int32_t>(symbols.size());

  thread_local std::vector<Candidate> queue;
  queue.clear();
  const LaterCandidate later;
  auto push = [&](const Candidate& c) {
    queue.push_back(c);
    std::push_heap(queue.begin(), queue.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const MergeResult* m = FindMerge(symbols[i].id, symbols[i + 1].id)) {
      queue.push_back({m->rank, i, m->new_id});
    }
  }
  std::make_heap(queue.begin(), queue.end(), later);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), later);
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& current = symbols[top.pos];
    if (current.len == 0 || current.next == -1) continue;
    Symbol& right = symbols[current.next];
    // Skip entries made stale by an earlier merge.
    const MergeResult* m = FindMerge(current.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;
    current.id = top.new_id;
    current.len += right.len;
    current.next = right.next;
    right.len = 0;
    if (current.next != -1) symbols[current.next].prev = top.pos;
    if (current.prev != -1) {
      if (const MergeResult* p = FindMerge(symbols[current.prev].id, current.id)) {
        push({p->rank, current.prev, p->new_id});
      }
    }
    if (current.next != -1) {
      if (const MergeResult* q = FindMerge(current.id, symbols[current.next].id)) {
        push({q->rank, top.pos, q->new_id});
      }
    }
  }
  for (int32_t i = 0; i < n; ++i) {
    if (symbols[i].len != 0) ids->push_back(symbols[i].id);
  }
}

std::optional<int32_t> BpeModel::TokenToId(absl::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  auto it = vocab_r_.find(id);
  return it == vocab_r_.end() ? nullptr : &it->second;
}

}  // namespace pelican::tokenizer
