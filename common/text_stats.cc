#include "common/text_stats.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

// Spans hash and compare by content, so the sets count n-grams exactly. They view the caller's ids.
using NgramSet = absl::flat_hash_set<TokenSpan>;

int64_t NumNgrams(TokenSpan ids, int n) {
  return ids.size() >= static_cast<size_t>(n) ? static_cast<int64_t>(ids.size()) - n + 1 : 0;
}

// Adds the n-grams of `ids` to `seen`; returns how many of them were new.
int64_t InsertNgrams(TokenSpan ids, int n, NgramSet& seen) {
  int64_t added = 0;
  const int64_t count = NumNgrams(ids, n);
  for (int64_t i = 0; i < count; ++i) added += seen.insert(ids.subspan(i, n)).second ? 1 : 0;
  return added;
}

}  // namespace

NgramCounts CountNgrams(TokenSpan ids, int n) {
  PELICAN_CHECK(n >= 1) << "n-gram order must be >= 1, got " << n;
  NgramSet seen;
  seen.reserve(NumNgrams(ids, n));
  NgramCounts c;
  c.total = NumNgrams(ids, n);
  c.distinct = InsertNgrams(ids, n, seen);
  return c;
}

double RepeatedNgramFraction(TokenSpan ids, int n) {
  const NgramCounts c = CountNgrams(ids, n);
  if (c.total == 0) return 0.0;
  return static_cast<double>(c.total - c.distinct) / static_cast<double>(c.total);
}

absl::StatusOr<TextStats> ComputeTextStats(absl::Span<const TokenSpan> sequences, int n) {
  if (n < 1) return absl::InvalidArgumentError(absl::StrCat("n-gram order must be >= 1, got ", n));
  if (sequences.empty()) return absl::InvalidArgumentError("no sequences to compute statistics of");
  TextStats s;
  s.sequences = static_cast<int64_t>(sequences.size());
  NgramSet across;
  NgramSet within;
  for (TokenSpan ids : sequences) {
    s.tokens += static_cast<int64_t>(ids.size());
    const int64_t count = NumNgrams(ids, n);
    s.ngrams += count;
    within.clear();
    s.repeated_ngrams += count - InsertNgrams(ids, n, within);
    s.distinct_ngrams += InsertNgrams(ids, n, across);
  }
  if (s.ngrams == 0) {
    return absl::InvalidArgumentError(absl::StrCat("no ", n, "-grams: all ", s.sequences,
                                                   " sequences are shorter than ", n, " tokens"));
  }
  s.mean_length = static_cast<double>(s.tokens) / static_cast<double>(s.sequences);
  s.distinct_n = static_cast<double>(s.distinct_ngrams) / static_cast<double>(s.ngrams);
  s.repeated_ngram_fraction =
      static_cast<double>(s.repeated_ngrams) / static_cast<double>(s.ngrams);
  return s;
}

absl::StatusOr<TextStats> ComputeTextStats(const std::vector<std::vector<int32_t>>& sequences,
                                           int n) {
  std::vector<TokenSpan> spans(sequences.begin(), sequences.end());
  return ComputeTextStats(spans, n);
}

absl::StatusOr<double> DistinctN(absl::Span<const TokenSpan> sequences, int n) {
  ASSIGN_OR_RETURN(const TextStats s, ComputeTextStats(sequences, n));
  return s.distinct_n;
}

absl::StatusOr<double> MeanLength(absl::Span<const TokenSpan> sequences) {
  if (sequences.empty()) return absl::InvalidArgumentError("mean length of no sequences");
  int64_t tokens = 0;
  for (TokenSpan ids : sequences) tokens += static_cast<int64_t>(ids.size());
  return static_cast<double>(tokens) / static_cast<double>(sequences.size());
}

}  // namespace pelican
