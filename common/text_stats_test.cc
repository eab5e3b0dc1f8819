#include "common/text_stats.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace pelican {
namespace {

using Seqs = std::vector<std::vector<int32_t>>;

// Naive reference: n-grams as vectors in an ordered set.
std::vector<std::vector<int32_t>> Ngrams(const std::vector<int32_t>& ids, int n) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i + n <= ids.size(); ++i)
    out.emplace_back(ids.begin() + i, ids.begin() + i + n);
  return out;
}

TEST(TextStatsTest, CountsOfAHandWorkedSequence) {
  // "the cat the cat the" as ids: bigrams (1,2) (2,1) (1,2) (2,1): 4 total, 2 distinct.
  const std::vector<int32_t> ids = {1, 2, 1, 2, 1};
  const NgramCounts c = CountNgrams(ids, 2);
  EXPECT_EQ(c.total, 4);
  EXPECT_EQ(c.distinct, 2);
  EXPECT_DOUBLE_EQ(RepeatedNgramFraction(ids, 2), 0.5);
  EXPECT_DOUBLE_EQ(RepeatedNgramFraction(ids, 1), 3.0 / 5.0);  // 5 unigrams, 2 distinct
  EXPECT_DOUBLE_EQ(RepeatedNgramFraction(ids, 5), 0.0);        // one 5-gram
}

TEST(TextStatsTest, TheTheTheIsAlmostAllRepeats) {
  const std::vector<int32_t> ids(100, 7);
  EXPECT_DOUBLE_EQ(RepeatedNgramFraction(ids, 3), 97.0 / 98.0);
}

TEST(TextStatsTest, SequenceShorterThanTheOrderRepeatsNothing) {
  EXPECT_EQ(CountNgrams({}, 3).total, 0);
  EXPECT_DOUBLE_EQ(RepeatedNgramFraction({}, 3), 0.0);
  const std::vector<int32_t> two = {4, 4};
  EXPECT_EQ(CountNgrams(two, 3).total, 0);
  EXPECT_DOUBLE_EQ(RepeatedNgramFraction(two, 3), 0.0);
}

TEST(TextStatsTest, NgramsAreComparedByContentNotPosition) {
  // (1,2,3) and (2,3,1) share all tokens but differ as trigrams.
  const std::vector<int32_t> ids = {1, 2, 3, 1, 2, 3, 1};
  const NgramCounts c = CountNgrams(ids, 3);
  EXPECT_EQ(c.total, 5);
  EXPECT_EQ(c.distinct, 3);  // 123 231 312
}

TEST(TextStatsTest, IdenticalCompletionsCollapseDistinctNButDoNotRepeat) {
  const Seqs same = {{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}};
  auto s = ComputeTextStats(same, 2);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->sequences, 3);
  EXPECT_EQ(s->tokens, 12);
  EXPECT_DOUBLE_EQ(s->mean_length, 4.0);
  EXPECT_EQ(s->ngrams, 9);
  EXPECT_EQ(s->distinct_ngrams, 3);
  EXPECT_EQ(s->repeated_ngrams, 0);
  EXPECT_DOUBLE_EQ(s->distinct_n, 3.0 / 9.0);
  EXPECT_DOUBLE_EQ(s->repeated_ngram_fraction, 0.0);
}

TEST(TextStatsTest, PooledRepeatedFractionWeighsByLength) {
  // 10 repeats of 11 bigrams in the long one, 0 of 1 in the short one: 10 / 12, not the mean of
  // per-sequence fractions (10/11 + 0) / 2.
  const Seqs seqs = {std::vector<int32_t>(12, 5), {1, 2}};
  auto s = ComputeTextStats(seqs, 2);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ngrams, 12);
  EXPECT_EQ(s->repeated_ngrams, 10);
  EXPECT_DOUBLE_EQ(s->repeated_ngram_fraction, 10.0 / 12.0);
  EXPECT_DOUBLE_EQ(s->mean_length, 7.0);
}

TEST(TextStatsTest, ShortSequencesCountTowardsLengthButHaveNoNgrams) {
  const Seqs seqs = {{1}, {1, 2, 3}};
  auto s = ComputeTextStats(seqs, 3);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ngrams, 1);
  EXPECT_DOUBLE_EQ(s->distinct_n, 1.0);
  EXPECT_DOUBLE_EQ(s->mean_length, 2.0);
}

TEST(TextStatsTest, StatisticsWithoutAValueAreErrors) {
  EXPECT_EQ(ComputeTextStats(Seqs{}, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeTextStats(Seqs{{1, 2}, {3}}, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputeTextStats(Seqs{{1, 2}}, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DistinctN({}, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeanLength({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TextStatsTest, SpanOverloadsAgree) {
  const std::vector<int32_t> a = {1, 2, 1, 2}, b = {3};
  const std::vector<TokenSpan> spans = {a, b};
  auto d = DistinctN(spans, 2);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_DOUBLE_EQ(*d, 2.0 / 3.0);
  auto m = MeanLength(spans);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(*m, 2.5);
}

TEST(TextStatsTest, MatchesANaiveCountOnRandomSequences) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 4);
    const int vocab = 2 + static_cast<int>(rng() % 5);  // small vocabularies repeat often
    Seqs seqs(1 + rng() % 6);
    for (auto& s : seqs) {
      s.resize(rng() % 20);
      for (int32_t& t : s) t = static_cast<int32_t>(rng() % vocab);
    }
    std::set<std::vector<int32_t>> across;
    int64_t total = 0, repeated = 0, tokens = 0;
    for (const auto& s : seqs) {
      const auto grams = Ngrams(s, n);
      const std::set<std::vector<int32_t>> within(grams.begin(), grams.end());
      total += static_cast<int64_t>(grams.size());
      repeated += static_cast<int64_t>(grams.size() - within.size());
      tokens += static_cast<int64_t>(s.size());
      across.insert(grams.begin(), grams.end());
      const NgramCounts c = CountNgrams(s, n);
      EXPECT_EQ(c.total, static_cast<int64_t>(grams.size()));
      EXPECT_EQ(c.distinct, static_cast<int64_t>(within.size()));
    }
    auto st = ComputeTextStats(seqs, n);
    if (total == 0) {
      EXPECT_FALSE(st.ok());
      continue;
    }
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->ngrams, total);
    EXPECT_EQ(st->distinct_ngrams, static_cast<int64_t>(across.size()));
    EXPECT_EQ(st->repeated_ngrams, repeated);
    EXPECT_EQ(st->tokens, tokens);
    EXPECT_DOUBLE_EQ(st->distinct_n, static_cast<double>(across.size()) / total);
    EXPECT_DOUBLE_EQ(st->repeated_ngram_fraction, static_cast<double>(repeated) / total);
  }
}

}  // namespace
}  // namespace pelican
