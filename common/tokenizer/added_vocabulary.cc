#include "common/tokenizer/added_vocabulary.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <utility>

#include "common/tokenizer/utf8.h"

namespace pelican::tokenizer {

bool IsRustWordChar(char32_t c) {
  const UChar32 u = static_cast<UChar32>(c);
  return u_hasBinaryProperty(u, UCHAR_ALPHABETIC) ||
         (U_GET_GC_MASK(u) & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0 ||
         u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL);
}

bool IsRustSpace(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE);
}

namespace {

bool EndsWithWord(absl::string_view s) {
  return !s.empty() && IsRustWordChar(DecodeLastUtf8(s, s.size()));
}

bool StartsWithWord(absl::string_view s) {
  if (s.empty()) return false;
  int len;
  return IsRustWordChar(DecodeUtf8(s, 0, &len));
}

// Start of the whitespace run that ends `s` (s.size() when there is none).
size_t TrailingSpaceStart(absl::string_view s) {
  size_t start = s.size();
  while (start > 0) {
    size_t prev = start - 1;
    while (prev > 0 && (static_cast<unsigned char>(s[prev]) & 0xC0) == 0x80) --prev;
    int len;
    if (!IsRustSpace(DecodeUtf8(s, prev, &len))) break;
    start = prev;
  }
  return start;
}

// Length of the whitespace run that starts `s`.
size_t LeadingSpaceLength(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    int len;
    if (!IsRustSpace(DecodeUtf8(s, i, &len))) break;
    i += len;
  }
  return i;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<Entry> entries) {
  for (Entry& e : entries) {
    if (!e.pattern.empty()) entries_.push_back(std::move(e));
  }
  for (int i = 0; i < static_cast<int>(entries_.size()); ++i) {
    by_first_byte_[static_cast<unsigned char>(entries_[i].pattern[0])].push_back(i);
  }
  for (auto& bucket : by_first_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](int a, int b) {
      return entries_[a].pattern.size() > entries_[b].pattern.size();
    });
  }
}

int AddedTokenMatcher::FindFrom(absl::string_view text, size_t from, size_t* start) const {
  for (size_t p = from; p < text.size(); ++p) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[p])];
    for (int index : bucket) {
      const std::string& pattern = entries_[index].pattern;
      if (text.size() - p >= pattern.size() && text.compare(p, pattern.size(), pattern) == 0) {
        *start = p;
        return index;
      }
    }
  }
  return -1;
}

void AddedTokenMatcher::Split(absl::string_view text,
                              absl::FunctionRef<void(absl::string_view, int32_t)> emit) const {
  if (entries_.empty()) {
    if (!text.empty()) emit(text, -1);
    return;
  }
  // The arithmetic mirrors HF's find_matches, including that a discarded single_word match still
  // moves the search past it and that rstrip does not move the search.
  size_t start_offset = 0;
  size_t search_from = 0;
  size_t match_start;
  int index;
  while ((index = FindFrom(text, search_from, &match_start)) >= 0) {
    const Entry& e = entries_[index];
    size_t start = match_start;
    size_t stop = match_start + e.pattern.size();
    search_from = stop;
    if (e.single_word) {
      const bool start_space = start == 0 || !EndsWithWord(text.substr(0, start));
      const bool stop_space = stop == text.size() || !StartsWithWord(text.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (e.lstrip) start = std::max(TrailingSpaceStart(text.substr(0, start)), start_offset);
    if (e.rstrip) stop += LeadingSpaceLength(text.substr(stop));
    if (start_offset < start) emit(text.substr(start_offset, start - start_offset), -1);
    emit(text.substr(start, stop - start), e.id);
    start_offset = stop;
  }
  if (start_offset < text.size()) emit(text.substr(start_offset), -1);
}

}  // namespace pelican::tokenizer
