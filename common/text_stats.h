// Degenerate-text statistics over token ids, shared by the reward service's repetition penalty and
// the learner's reward-hacking guard (DESIGN.md, "Reward-hacking guard"):
//
//   completion ids ──► n-gram counts ──► repeated fraction (one sequence)
//   completions of a step ──► distinct-n, pooled repeated fraction, mean length ──► guard
//
// Definitions (n >= 1 is the n-gram order; a sequence of L tokens has max(0, L - n + 1) n-grams):
// - repeated n-gram fraction of one sequence: (n-grams - distinct n-grams) / n-grams, i.e. the
//   share of n-gram positions that repeat an n-gram seen earlier in the same sequence. A sequence
//   with no n-grams repeats nothing: 0.
// - pooled repeated fraction of a set: sum over sequences of repeats / sum of n-grams; long
//   degenerate sequences weigh in proportion to their length. Repeats are counted within each
//   sequence, never across sequences.
// - distinct-n of a set: distinct n-grams across the whole set / n-grams in the set. Unlike the
//   repeated fraction, it falls when different completions say the same thing.
// - mean length: mean number of tokens per sequence.
// Statistics that have no value for the input (distinct-n of a set without n-grams, the mean of an
// empty set) are errors, never a stand-in number.
//
// Counting is exact (n-grams are compared by content, not by hash). Functions are pure and
// thread-safe; they do not keep the spans.
#ifndef PELICAN_COMMON_TEXT_STATS_H_
#define PELICAN_COMMON_TEXT_STATS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace pelican {

// Token ids of one sequence, viewed.
using TokenSpan = absl::Span<const int32_t>;

struct NgramCounts {
  int64_t total = 0;     // n-gram positions
  int64_t distinct = 0;  // different n-grams among them
};

// N-gram counts of one sequence. REQUIRES: n >= 1.
NgramCounts CountNgrams(TokenSpan ids, int n);

// Repeated n-gram fraction of one sequence, in [0, 1). REQUIRES: n >= 1.
double RepeatedNgramFraction(TokenSpan ids, int n);

// Statistics of a set of sequences (e.g. the completions of one training step).
struct TextStats {
  int64_t sequences = 0;
  int64_t tokens = 0;
  double mean_length = 0;
  int64_t ngrams = 0;           // n-grams in the set
  int64_t distinct_ngrams = 0;  // distinct across the set
  int64_t repeated_ngrams = 0;  // repeats within sequences, summed
  // distinct_ngrams / ngrams.
  double distinct_n = 0;
  // repeated_ngrams / ngrams.
  double repeated_ngram_fraction = 0;
};

// All of TextStats for `sequences` at order n. INVALID_ARGUMENT when n < 1, when `sequences` is
// empty, or when the set holds no n-gram at all (every sequence shorter than n): then distinct-n
// has no value.
absl::StatusOr<TextStats> ComputeTextStats(absl::Span<const TokenSpan> sequences, int n);
absl::StatusOr<TextStats> ComputeTextStats(const std::vector<std::vector<int32_t>>& sequences,
                                           int n);

// Distinct-n alone; errors as ComputeTextStats.
absl::StatusOr<double> DistinctN(absl::Span<const TokenSpan> sequences, int n);

// Mean tokens per sequence; INVALID_ARGUMENT when `sequences` is empty.
absl::StatusOr<double> MeanLength(absl::Span<const TokenSpan> sequences);

}  // namespace pelican

#endif  // PELICAN_COMMON_TEXT_STATS_H_
