// Log-probs, entropy, truncated IS weights, the PPO policy and value losses and the entropy bonus,
// each against a scalar loop; gradients against their closed forms.
#include "learner/losses.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "learner/masked.h"
#include "learner/test_util.h"

namespace pelican {
namespace {

using learner_testing::ExpectClose;
using learner_testing::F64;
using learner_testing::Item;

constexpr v1::LossAggregation kModes[] = {v1::LOSS_AGGREGATION_TOKEN_MEAN,
                                          v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN,
                                          v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM};

// log sum_v exp(z_v) of one position, shifted by the maximum.
double NaiveLogSumExp(const torch::Tensor& logits, int64_t b, int64_t t) {
  const int64_t V = logits.size(2);
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t v = 0; v < V; ++v) max = std::max(max, Item(logits[b][t][v]));
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(Item(logits[b][t][v]) - max);
  return max + std::log(sum);
}

TEST(LogProbsFromLogitsTest, MatchesLoopAndIgnoresPaddingIds) {
  torch::manual_seed(40);
  const int64_t B = 4, T = 5, V = 11;
  torch::Tensor logits = 4 * torch::randn({B, T, V}, F64());
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor tokens = torch::randint(0, V, {B, T}, torch::kLong).masked_fill(mask.eq(0), -100);
  torch::Tensor expected = torch::zeros({B, T}, F64());
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) == 0) continue;
      expected[b][t] =
          Item(logits[b][t][tokens[b][t].item<int64_t>()]) - NaiveLogSumExp(logits, b, t);
    }
  }
  absl::StatusOr<torch::Tensor> logprobs = LogProbsFromLogits(logits, tokens, mask);
  ASSERT_TRUE(logprobs.ok()) << logprobs.status();
  ExpectClose(*logprobs, expected, 1e-12);

  // bf16 logits are computed in float32.
  torch::Tensor bf16 = *LogProbsFromLogits(logits.to(torch::kBFloat16), tokens, mask);
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat);
  ExpectClose(bf16, expected, 0.2, "bf16");
}

TEST(LogProbsFromLogitsTest, RejectsOutOfVocabularyIdsAndBadShapes) {
  torch::Tensor logits = torch::zeros({1, 2, 5}, F64());
  torch::Tensor mask = torch::ones({1, 2}, F64());
  absl::Status status = LogProbsFromLogits(logits, torch::tensor({{0, 5}}), mask).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("[0, 5)"), absl::string_view::npos) << status;
  EXPECT_FALSE(LogProbsFromLogits(logits, torch::tensor({{-1, 0}}), mask).ok());
  EXPECT_FALSE(LogProbsFromLogits(logits, torch::tensor({{0.0, 1.0}}), mask).ok());
  EXPECT_FALSE(
      LogProbsFromLogits(torch::zeros({1, 3, 5}, F64()), torch::tensor({{0, 1}}), mask).ok());
}

TEST(EntropyFromLogitsTest, MatchesLoop) {
  torch::manual_seed(41);
  const int64_t B = 3, T = 4, V = 9;
  torch::Tensor logits = 3 * torch::randn({B, T, V}, F64());
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor expected = torch::zeros({B, T}, F64());
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) == 0) continue;
      const double lse = NaiveLogSumExp(logits, b, t);
      double h = 0;
      for (int64_t v = 0; v < V; ++v) {
        const double log_p = Item(logits[b][t][v]) - lse;
        h -= std::exp(log_p) * log_p;
      }
      expected[b][t] = h;
    }
  }
  ExpectClose(*EntropyFromLogits(logits, mask), expected, 1e-12);
}

TEST(EntropyFromLogitsTest, UniformIsLogVAndBannedTokensKeepGradientsFinite) {
  torch::Tensor mask = torch::ones({1, 2}, F64());
  const double inf = std::numeric_limits<double>::infinity();
  torch::Tensor logits =
      torch::tensor({0.0, 0.0, 0.0, 0.0, 2.0, -inf, 2.0, -inf}, F64()).reshape({1, 2, 4});
  logits.requires_grad_(true);
  torch::Tensor h = *EntropyFromLogits(logits, mask);
  EXPECT_NEAR(Item(h[0][0]), std::log(4.0), 1e-12);
  EXPECT_NEAR(Item(h[0][1]), std::log(2.0), 1e-12);  // two equal survivors
  h.sum().backward();
  EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>()) << logits.grad();
}

TEST(TruncatedIsWeightsTest, CapsTheRatioPerToken) {
  torch::manual_seed(42);
  const int64_t B = 5, T = 6;
  const double cap = 2.0;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor old_lp = -2 * torch::rand({B, T}, F64());
  torch::Tensor sampling_lp = -2 * torch::rand({B, T}, F64());
  sampling_lp[0][0] = -1e6;  // the actor found it impossible: ratio overflows to inf
  torch::Tensor expected = torch::zeros({B, T}, F64());
  double truncated = 0, n = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) == 0) continue;
      const double ratio = std::exp(Item(old_lp[b][t]) - Item(sampling_lp[b][t]));
      expected[b][t] = std::min(ratio, cap);
      truncated += ratio > cap;
      n += 1;
    }
  }
  absl::StatusOr<TruncatedIsResult> is =
      TruncatedIsWeights(old_lp, learner_testing::NanPadding(sampling_lp, mask), mask, cap);
  ASSERT_TRUE(is.ok()) << is.status();
  ExpectClose(is->weights, expected, 1e-12);
  EXPECT_GT(truncated, 0);
  EXPECT_NEAR(Item(is->truncated_fraction), truncated / n, 1e-12);
  // cap = 1 never up-weights; same policy gives weight 1.
  EXPECT_LE(TruncatedIsWeights(old_lp, sampling_lp, mask, 1.0)->weights.max().item<double>(), 1.0);
  ExpectClose(TruncatedIsWeights(old_lp, old_lp, mask, cap)->weights, mask, 0.0, "same policy");
  EXPECT_FALSE(TruncatedIsWeights(old_lp, sampling_lp, mask, 0.5).ok());
}

struct NaivePpo {
  torch::Tensor per_token;
  torch::Tensor grad;  // d per_token[b, t] / d logprobs[b, t]
  double clip_fraction = 0, approx_kl = 0;
};

NaivePpo NaivePolicyLoss(const torch::Tensor& lp, const torch::Tensor& old_lp,
                         const torch::Tensor& adv, const torch::Tensor& mask, double eps,
                         const torch::Tensor& weights) {
  const int64_t B = mask.size(0), T = mask.size(1);
  NaivePpo out{torch::zeros({B, T}, F64()), torch::zeros({B, T}, F64())};
  double n = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) == 0) continue;
      const double a = Item(adv[b][t]);
      const double w = weights.defined() ? Item(weights[b][t]) : 1.0;
      const double ratio = std::exp(Item(lp[b][t]) - Item(old_lp[b][t]));
      const double unclipped = -a * ratio;
      const double clipped = -a * std::min(std::max(ratio, 1 - eps), 1 + eps);
      out.per_token[b][t] = w * std::max(unclipped, clipped);
      // The clipped term is constant in logprobs, so only the unclipped one carries a gradient.
      out.grad[b][t] = clipped > unclipped ? 0.0 : w * -a * ratio;
      out.clip_fraction += clipped > unclipped;
      out.approx_kl += ratio - 1 - std::log(ratio);
      n += 1;
    }
  }
  out.clip_fraction /= n;
  out.approx_kl /= n;
  return out;
}

TEST(PpoPolicyLossTest, MatchesLoopForEveryAggregation) {
  torch::manual_seed(43);
  const int64_t B = 6, T = 7;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor old_lp = -torch::rand({B, T}, F64()) * 2;
  torch::Tensor new_lp = old_lp + 0.3 * torch::randn({B, T}, F64());  // some ratios clip
  torch::Tensor adv = torch::randn({B, T}, F64());
  NaivePpo expected = NaivePolicyLoss(new_lp, old_lp, adv, mask, 0.2, {});
  ASSERT_GT(expected.clip_fraction, 0.0);
  ASSERT_LT(expected.clip_fraction, 1.0);
  for (auto mode : kModes) {
    torch::Tensor lp = new_lp.clone().requires_grad_(true);
    absl::StatusOr<PolicyLossResult> result = PpoPolicyLoss(lp, old_lp, adv, mask, {0.2, mode});
    ASSERT_TRUE(result.ok()) << result.status();
    ExpectClose(result->per_token_loss, expected.per_token, 1e-12, "per token");
    EXPECT_NEAR(Item(result->loss), Item(AggregateLoss(expected.per_token, mask, mode)), 1e-12);
    EXPECT_NEAR(Item(result->clip_fraction), expected.clip_fraction, 1e-12);
    EXPECT_NEAR(Item(result->approx_kl), expected.approx_kl, 1e-12);
    if (mode == v1::LOSS_AGGREGATION_TOKEN_MEAN) {
      result->loss.backward();
      ExpectClose(lp.grad(), expected.grad / mask.sum(), 1e-12, "grad");
    }
  }
}

TEST(PpoPolicyLossTest, OnPolicyIsMinusMeanAdvantage) {
  torch::manual_seed(44);
  torch::Tensor mask = learner_testing::RandomPrefixMask(4, 5);
  torch::Tensor lp = -torch::rand({4, 5}, F64());
  torch::Tensor adv = torch::randn({4, 5}, F64());
  PolicyLossResult result = *PpoPolicyLoss(lp, lp, adv, mask, {});
  EXPECT_NEAR(Item(result.loss), -Item(MaskedMean(adv, mask)), 1e-12);
  EXPECT_EQ(Item(result.clip_fraction), 0.0);
  EXPECT_EQ(Item(result.approx_kl), 0.0);
}

TEST(PpoPolicyLossTest, ImportanceWeightsScaleEachToken) {
  torch::manual_seed(45);
  torch::Tensor mask = learner_testing::RandomPrefixMask(4, 6);
  torch::Tensor old_lp = -torch::rand({4, 6}, F64());
  torch::Tensor lp = (old_lp + 0.3 * torch::randn({4, 6}, F64())).requires_grad_(true);
  torch::Tensor adv = torch::randn({4, 6}, F64());
  torch::Tensor w = 2 * torch::rand({4, 6}, F64());
  NaivePpo expected = NaivePolicyLoss(lp.detach(), old_lp, adv, mask, 0.2, w);
  PolicyLossResult result = *PpoPolicyLoss(lp, old_lp, adv, mask, {}, w);
  ExpectClose(result.per_token_loss, expected.per_token, 1e-12);
  result.loss.backward();
  ExpectClose(lp.grad(), expected.grad / mask.sum(), 1e-12, "grad");
}

TEST(PpoPolicyLossTest, PaddingAndEmptyRowsContributeNothing) {
  torch::manual_seed(46);
  torch::Tensor mask = learner_testing::RandomPrefixMask(5, 6);  // row 1 fully masked
  torch::Tensor old_lp = -torch::rand({5, 6}, F64());
  torch::Tensor lp_clean = old_lp + 0.2 * torch::randn({5, 6}, F64());
  torch::Tensor adv = torch::randn({5, 6}, F64());
  torch::Tensor w = torch::rand({5, 6}, F64());
  for (auto mode : kModes) {
    torch::Tensor lp = lp_clean.clone().requires_grad_(true);
    PolicyLossResult clean = *PpoPolicyLoss(lp, old_lp, adv, mask, {0.2, mode}, w);
    clean.loss.backward();
    // NaN everywhere in the padding of every input, the logprobs included.
    torch::Tensor lp_dirty = learner_testing::NanPadding(lp_clean, mask).requires_grad_(true);
    PolicyLossResult dirty = *PpoPolicyLoss(lp_dirty, learner_testing::NanPadding(old_lp, mask),
                                            learner_testing::NanPadding(adv, mask), mask,
                                            {0.2, mode}, learner_testing::NanPadding(w, mask));
    dirty.loss.backward();
    EXPECT_EQ(Item(dirty.loss), Item(clean.loss)) << v1::LossAggregation_Name(mode);
    ExpectClose(lp_dirty.grad(), lp.grad(), 0.0, "grad");
    ExpectClose(lp.grad() * (1 - mask), torch::zeros({5, 6}, F64()), 0.0, "no grad in padding");
  }
}

TEST(PpoPolicyLossTest, RejectsBadOptionsAndShapes) {
  torch::Tensor mask = torch::ones({2, 3}, F64());
  torch::Tensor x = torch::zeros({2, 3}, F64());
  EXPECT_FALSE(PpoPolicyLoss(x, x, x, mask, {0.0, v1::LOSS_AGGREGATION_TOKEN_MEAN}).ok());
  EXPECT_FALSE(PpoPolicyLoss(x, x, x, mask, {0.2, v1::LOSS_AGGREGATION_UNSPECIFIED}).ok());
  absl::Status status = PpoPolicyLoss(x, x, torch::zeros({3, 2}, F64()), mask, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("advantages"), absl::string_view::npos) << status;
  EXPECT_FALSE(PpoPolicyLoss(x, x, x, mask, {}, torch::zeros({2, 2}, F64())).ok());
}

TEST(ClippedValueLossTest, MatchesLoopAndClipsAroundOldValues) {
  torch::manual_seed(47);
  const int64_t B = 5, T = 6;
  const double eps = 0.2;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor old_v = torch::randn({B, T}, F64());
  torch::Tensor new_v = old_v + 0.4 * torch::randn({B, T}, F64());
  torch::Tensor ret = old_v + torch::randn({B, T}, F64());
  torch::Tensor expected = torch::zeros({B, T}, F64()), expected_unclipped = expected.clone();
  torch::Tensor expected_grad = torch::zeros({B, T}, F64());
  double clipped_count = 0, n = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) == 0) continue;
      const double v = Item(new_v[b][t]), o = Item(old_v[b][t]), r = Item(ret[b][t]);
      const double vc = o + std::min(std::max(v - o, -eps), eps);
      const double l1 = (v - r) * (v - r), l2 = (vc - r) * (vc - r);
      expected[b][t] = 0.5 * std::max(l1, l2);
      expected_unclipped[b][t] = 0.5 * l1;
      // Where the clipped term wins and v is outside the band, it is constant in v.
      const bool outside = std::abs(v - o) > eps;
      expected_grad[b][t] = l2 > l1 ? (outside ? 0.0 : v - r) : v - r;
      clipped_count += l2 > l1;
      n += 1;
    }
  }
  ASSERT_GT(clipped_count, 0);
  for (auto mode : kModes) {
    torch::Tensor v = new_v.clone().requires_grad_(true);
    absl::StatusOr<ValueLossResult> result = ClippedValueLoss(v, old_v, ret, mask, eps, mode);
    ASSERT_TRUE(result.ok()) << result.status();
    ExpectClose(result->per_token_loss, expected, 1e-12);
    EXPECT_NEAR(Item(result->loss), Item(AggregateLoss(expected, mask, mode)), 1e-12);
    EXPECT_NEAR(Item(result->clip_fraction), clipped_count / n, 1e-12);
    if (mode == v1::LOSS_AGGREGATION_TOKEN_MEAN) {
      result->loss.backward();
      ExpectClose(v.grad(), expected_grad / n, 1e-12, "grad");
    }
  }
  ValueLossResult off =
      *ClippedValueLoss(new_v, old_v, ret, mask, 0.0, v1::LOSS_AGGREGATION_TOKEN_MEAN);
  ExpectClose(off.per_token_loss, expected_unclipped, 1e-12, "no clipping");
  EXPECT_EQ(Item(off.clip_fraction), 0.0);
  EXPECT_FALSE(
      ClippedValueLoss(new_v, old_v, ret, mask, -0.1, v1::LOSS_AGGREGATION_TOKEN_MEAN).ok());
  EXPECT_FALSE(
      ClippedValueLoss(new_v, old_v, ret.slice(1, 0, 5), mask, 0.2, v1::LOSS_AGGREGATION_TOKEN_MEAN)
          .ok());
}

TEST(EntropyLossTest, IsMinusCoefTimesAggregatedEntropy) {
  torch::manual_seed(48);
  torch::Tensor mask = learner_testing::RandomPrefixMask(4, 5);
  torch::Tensor logits = torch::randn({4, 5, 7}, F64()).requires_grad_(true);
  torch::Tensor entropy = *EntropyFromLogits(logits, mask);
  for (auto mode : kModes) {
    const double expected = -0.01 * Item(AggregateLoss(entropy, mask, mode));
    EXPECT_NEAR(Item(*EntropyLoss(entropy, mask, 0.01, mode)), expected, 1e-15);
    EXPECT_NEAR(Item(*EntropyLossFromLogits(logits, mask, 0.01, mode)), expected, 1e-15);
  }
  // Minimising the bonus raises entropy: one gradient step flattens the distributions.
  torch::Tensor loss = *EntropyLossFromLogits(logits, mask, 1.0, v1::LOSS_AGGREGATION_TOKEN_MEAN);
  loss.backward();
  torch::Tensor stepped = (logits - 0.5 * logits.grad()).detach();
  EXPECT_GT(Item(MaskedMean(*EntropyFromLogits(stepped, mask), mask)),
            Item(MaskedMean(entropy, mask)));
  EXPECT_FALSE(EntropyLoss(entropy, mask, -1.0, v1::LOSS_AGGREGATION_TOKEN_MEAN).ok());
}

}  // namespace
}  // namespace pelican
