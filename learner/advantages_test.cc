// Advantage estimators against scalar loops, and the edge cases every estimator must survive:
// gamma = 0, lambda = 0 and 1, EOS mid-sequence, holes, fully masked rows, equal-reward groups,
// single-sample groups.
#include "learner/advantages.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "learner/test_util.h"

namespace pelican {
namespace {

using learner_testing::ExpectClose;
using learner_testing::F64;
using learner_testing::Item;

// GAE from its definition rather than its recursion: over the real positions t_0 < t_1 < ... of a
// row, delta_k = r_k + gamma V_{k+1} - V_k (V after the last = 0) and A_k = sum_l (gamma
// lambda)^l delta_{k+l}.
GaeResult NaiveGae(const torch::Tensor& rewards, const torch::Tensor& values,
                   const torch::Tensor& mask, double gamma, double lambda) {
  const int64_t B = mask.size(0), T = mask.size(1);
  torch::Tensor adv = torch::zeros({B, T}, F64()), ret = torch::zeros({B, T}, F64());
  auto R = rewards.accessor<double, 2>();
  auto V = values.accessor<double, 2>();
  auto M = mask.accessor<double, 2>();
  auto A = adv.accessor<double, 2>();
  auto G = ret.accessor<double, 2>();
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> real;
    for (int64_t t = 0; t < T; ++t) {
      if (M[b][t] > 0) real.push_back(t);
    }
    const size_t n = real.size();
    std::vector<double> delta(n);
    for (size_t k = 0; k < n; ++k) {
      const double next_v = k + 1 < n ? V[b][real[k + 1]] : 0.0;
      delta[k] = R[b][real[k]] + gamma * next_v - V[b][real[k]];
    }
    for (size_t k = 0; k < n; ++k) {
      double a = 0;
      for (size_t l = 0; k + l < n; ++l) a += std::pow(gamma * lambda, l) * delta[k + l];
      A[b][real[k]] = a;
      G[b][real[k]] = a + V[b][real[k]];
    }
  }
  return GaeResult{adv, ret};
}

void ExpectGaeMatchesNaive(const torch::Tensor& rewards, const torch::Tensor& values,
                           const torch::Tensor& mask, double gamma, double lambda) {
  absl::StatusOr<GaeResult> gae = Gae(rewards, values, mask, gamma, lambda);
  ASSERT_TRUE(gae.ok()) << gae.status();
  GaeResult expected = NaiveGae(rewards, values, mask, gamma, lambda);
  ExpectClose(gae->advantages, expected.advantages, 1e-10, "advantages");
  ExpectClose(gae->returns, expected.returns, 1e-10, "returns");
}

TEST(GaeTest, MatchesTheDefinitionOnRandomBatches) {
  torch::manual_seed(30);
  for (double gamma : {0.0, 0.9, 1.0}) {
    for (double lambda : {0.0, 0.95, 1.0}) {
      torch::Tensor mask = learner_testing::RandomPrefixMask(6, 9);
      torch::Tensor rewards = torch::randn({6, 9}, F64());
      torch::Tensor values = torch::randn({6, 9}, F64());
      SCOPED_TRACE(testing::Message() << "gamma " << gamma << " lambda " << lambda);
      ExpectGaeMatchesNaive(rewards, values, mask, gamma, lambda);
    }
  }
}

TEST(GaeTest, HolesInTheMaskAreSteppedOver) {
  torch::manual_seed(31);
  torch::Tensor mask = learner_testing::RandomHoleMask(5, 12);
  ExpectGaeMatchesNaive(torch::randn({5, 12}, F64()), torch::randn({5, 12}, F64()), mask, 0.97,
                        0.9);
}

TEST(GaeTest, GammaZeroIsRewardMinusValue) {
  torch::manual_seed(32);
  torch::Tensor mask = learner_testing::RandomPrefixMask(4, 5);
  torch::Tensor r = torch::randn({4, 5}, F64()), v = torch::randn({4, 5}, F64());
  GaeResult gae = *Gae(r, v, mask, /*gamma=*/0.0, /*lambda=*/0.95);
  ExpectClose(gae.advantages, (r - v) * mask, 1e-12, "advantages");
  ExpectClose(gae.returns, r * mask, 1e-12, "returns");
}

TEST(GaeTest, LambdaZeroIsOneStepTd) {
  torch::Tensor mask = learner_testing::PrefixMask({3}, 4);
  torch::Tensor r = torch::tensor({{1.0, 2.0, 3.0, 99.0}}, F64());
  torch::Tensor v = torch::tensor({{0.5, 0.25, 2.0, 99.0}}, F64());
  GaeResult gae = *Gae(r, v, mask, /*gamma=*/0.5, /*lambda=*/0.0);
  // A_t = r_t + 0.5 V_{t+1} - V_t, with V after the last real token (t = 2) equal to 0.
  ExpectClose(gae.advantages,
              torch::tensor({{1.0 + 0.125 - 0.5, 2.0 + 1.0 - 0.25, 3.0 - 2.0, 0.0}}, F64()), 1e-15);
}

TEST(GaeTest, LambdaOneGammaOneIsMonteCarloReturnMinusValue) {
  // EOS at t = 1: the padding after it (even with NaN) must neither bootstrap nor add reward.
  torch::Tensor mask = learner_testing::PrefixMask({2}, 4);
  torch::Tensor r = torch::tensor({{0.0, 1.0, std::nan(""), 5.0}}, F64());
  torch::Tensor v = torch::tensor({{0.5, 0.2, 9.0, std::nan("")}}, F64());
  GaeResult gae = *Gae(r, v, mask, 1.0, 1.0);
  ExpectClose(gae.advantages, torch::tensor({{1.0 - 0.5, 1.0 - 0.2, 0.0, 0.0}}, F64()), 1e-15);
  ExpectClose(gae.returns, torch::tensor({{1.0, 1.0, 0.0, 0.0}}, F64()), 1e-15);
}

TEST(GaeTest, FullyMaskedRowsAndNanPaddingGiveZerosNotNan) {
  torch::manual_seed(33);
  torch::Tensor mask = learner_testing::RandomPrefixMask(5, 6);
  torch::Tensor r = torch::randn({5, 6}, F64()), v = torch::randn({5, 6}, F64());
  GaeResult clean = *Gae(r, v, mask, 0.99, 0.95);
  GaeResult dirty = *Gae(learner_testing::NanPadding(r, mask), learner_testing::NanPadding(v, mask),
                         mask, 0.99, 0.95);
  ExpectClose(dirty.advantages, clean.advantages, 0.0, "advantages");
  ExpectClose(dirty.returns, clean.returns, 0.0, "returns");
  EXPECT_EQ(clean.advantages[1].abs().sum().item<double>(), 0.0);  // row 1 is fully masked
  // A bool mask and float32 inputs give the same numbers (to float precision).
  GaeResult f32 = *Gae(r.to(torch::kFloat), v.to(torch::kFloat), mask.to(torch::kBool), 0.99, 0.95);
  EXPECT_EQ(f32.advantages.scalar_type(), torch::kFloat);
  ExpectClose(f32.advantages, clean.advantages, 1e-5, "float32");
}

TEST(GaeTest, RejectsBadArguments) {
  torch::Tensor mask = torch::ones({2, 3}, F64());
  torch::Tensor x = torch::zeros({2, 3}, F64());
  EXPECT_EQ(Gae(x, x, mask, 1.5, 0.9).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Gae(x, x, mask, 0.9, -0.1).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status shape = Gae(x, torch::zeros({2, 4}, F64()), mask, 0.9, 0.9).status();
  EXPECT_EQ(shape.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(shape.message().find("values"), absl::string_view::npos) << shape;
  EXPECT_FALSE(Gae(x, x, torch::full({2, 3}, 0.5, F64()), 0.9, 0.9).ok());
}

// Per-group loops for GRPO (unbiased std) and RLOO (mean of the others), broadcast on the mask.
torch::Tensor NaiveGroupAdvantages(const torch::Tensor& rewards, const torch::Tensor& mask,
                                   int64_t G, bool rloo, bool scale_by_std, double eps) {
  const int64_t B = mask.size(0), T = mask.size(1);
  torch::Tensor out = torch::zeros({B, T}, F64());
  for (int64_t g0 = 0; g0 < B; g0 += G) {
    double sum = 0;
    for (int64_t i = g0; i < g0 + G; ++i) sum += Item(rewards[i]);
    const double mean = sum / G;
    double ss = 0;
    for (int64_t i = g0; i < g0 + G; ++i) ss += std::pow(Item(rewards[i]) - mean, 2);
    const double std = G > 1 ? std::sqrt(ss / (G - 1)) : 0.0;
    for (int64_t i = g0; i < g0 + G; ++i) {
      double a;
      if (rloo) {
        double others = 0;
        for (int64_t j = g0; j < g0 + G; ++j) {
          if (j != i) others += Item(rewards[j]);
        }
        a = G > 1 ? Item(rewards[i]) - others / (G - 1) : 0.0;
      } else {
        a = Item(rewards[i]) - mean;
        if (scale_by_std) a /= std + eps;
      }
      for (int64_t t = 0; t < T; ++t) out[i][t] = a * Item(mask[i][t]);
    }
  }
  return out;
}

TEST(GrpoTest, MatchesGroupLoops) {
  torch::manual_seed(34);
  for (int64_t G : {2, 3, 4}) {
    const int64_t B = 4 * G, T = 6;
    torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
    torch::Tensor r = torch::randn({B}, F64());
    for (bool scale : {true, false}) {
      absl::StatusOr<torch::Tensor> adv = GrpoAdvantages(r, mask, G, scale, 1e-6);
      ASSERT_TRUE(adv.ok()) << adv.status();
      ExpectClose(*adv, NaiveGroupAdvantages(r, mask, G, false, scale, 1e-6), 1e-12,
                  testing::PrintToString(G));
    }
  }
}

TEST(GrpoTest, EqualRewardsAndSingleSampleGroupsGiveZero) {
  torch::Tensor mask = learner_testing::PrefixMask({3, 2, 3, 0, 1, 3}, 3);
  // Group 0: all 1 (exact), group 1: all 0.1 (mean rounds), group 2 differs.
  torch::Tensor r = torch::tensor({1.0, 1.0, 0.1, 0.1, 0.0, 1.0}, F64());
  torch::Tensor adv = *GrpoAdvantages(r, mask, 2);
  ExpectClose(adv.slice(0, 0, 4), torch::zeros({4, 3}, F64()), 1e-9, "equal groups");
  EXPECT_GT(adv.abs().sum().item<double>(), 0.5);  // group 2 is not 0
  ExpectClose(*GrpoAdvantages(r, mask, 1), torch::zeros({6, 3}, F64()), 0.0, "G = 1");
  ExpectClose(*RlooAdvantages(r, mask, 2), NaiveGroupAdvantages(r, mask, 2, true, false, 0), 1e-12,
              "rloo");
  ExpectClose(RlooAdvantages(r, mask, 2)->slice(0, 0, 4), torch::zeros({4, 3}, F64()), 1e-12);
  ExpectClose(*RlooAdvantages(r, mask, 1), torch::zeros({6, 3}, F64()), 0.0, "rloo G = 1");
}

TEST(GrpoTest, RejectsBadGroupsAndRewards) {
  torch::Tensor mask = torch::ones({6, 2}, F64());
  torch::Tensor r = torch::randn({6}, F64());
  EXPECT_EQ(GrpoAdvantages(r, mask, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpoAdvantages(r, mask, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RlooAdvantages(r, mask, 4).status().code(), absl::StatusCode::kInvalidArgument);
  r[2] = std::nan("");
  EXPECT_EQ(GrpoAdvantages(r, mask, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RlooAdvantages(r, mask, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(GrpoAdvantages(torch::randn({5}, F64()), mask, 1).ok());
}

TEST(RlooTest, MatchesLeaveOneOutLoops) {
  torch::manual_seed(35);
  for (int64_t G : {2, 4, 5}) {
    const int64_t B = 3 * G, T = 7;
    torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
    torch::Tensor r = torch::randn({B}, F64());
    absl::StatusOr<torch::Tensor> adv = RlooAdvantages(r, mask, G);
    ASSERT_TRUE(adv.ok()) << adv.status();
    ExpectClose(*adv, NaiveGroupAdvantages(r, mask, G, true, false, 0), 1e-12);
  }
}

TEST(ReinforcePlusPlusTest, DiscountedReturnsWhitenedOverTheBatch) {
  torch::manual_seed(36);
  const int64_t B = 6, T = 8;
  const double gamma = 0.9;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor r = torch::randn({B, T}, F64());
  torch::Tensor returns = torch::zeros({B, T}, F64());
  double sum = 0, n = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) == 0) continue;
      double g = 0;
      for (int64_t u = t; u < T; ++u) g += std::pow(gamma, u - t) * Item(r[b][u] * mask[b][u]);
      returns[b][t] = g;
      sum += g;
      n += 1;
    }
  }
  const double mean = sum / n;
  double ss = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) > 0) ss += std::pow(Item(returns[b][t]) - mean, 2);
    }
  }
  const double std = std::sqrt(ss / (n - 1) + 1e-8);
  torch::Tensor expected_adv = (returns - mean) / std * mask;

  absl::StatusOr<ReinforcePlusPlusResult> result =
      ReinforcePlusPlus(learner_testing::NanPadding(r, mask), mask, gamma);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectClose(result->returns, returns, 1e-12, "returns");
  ExpectClose(result->advantages, expected_adv, 1e-10, "advantages");
  EXPECT_FALSE(ReinforcePlusPlus(r, mask, 1.01).ok());
}

TEST(WhitenAdvantagesTest, ZeroMeanUnitVarianceOverRealTokens) {
  torch::manual_seed(37);
  torch::Tensor mask = learner_testing::RandomPrefixMask(5, 7);
  torch::Tensor adv = 5 + 3 * torch::randn({5, 7}, F64());
  torch::Tensor w = *WhitenAdvantages(adv, mask);
  double sum = 0, ss = 0, n = 0;
  for (int64_t b = 0; b < 5; ++b) {
    for (int64_t t = 0; t < 7; ++t) {
      if (Item(mask[b][t]) > 0) {
        sum += Item(w[b][t]);
        n += 1;
      } else {
        EXPECT_EQ(Item(w[b][t]), 0.0);
      }
    }
  }
  for (int64_t b = 0; b < 5; ++b) {
    for (int64_t t = 0; t < 7; ++t) {
      if (Item(mask[b][t]) > 0) ss += std::pow(Item(w[b][t]) - sum / n, 2);
    }
  }
  EXPECT_NEAR(sum / n, 0.0, 1e-12);
  EXPECT_NEAR(ss / (n - 1), 1.0, 1e-6);
  EXPECT_FALSE(WhitenAdvantages(adv, torch::ones({5, 6}, F64())).ok());
}

}  // namespace
}  // namespace pelican
