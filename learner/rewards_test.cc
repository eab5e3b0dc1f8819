// RunningMoments, reward normalisation and clipping, and sequence rewards placed on tokens.
#include "learner/rewards.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "learner/test_util.h"

namespace pelican {
namespace {

using learner_testing::ExpectClose;
using learner_testing::F64;

// Two-pass mean and unbiased variance of everything in `xs`.
void TwoPass(const std::vector<double>& xs, double* mean, double* var) {
  double sum = 0;
  for (double x : xs) sum += x;
  *mean = sum / xs.size();
  double ss = 0;
  for (double x : xs) ss += (x - *mean) * (x - *mean);
  *var = xs.size() > 1 ? ss / (xs.size() - 1) : 0.0;
}

TEST(RunningMomentsTest, BatchesOfAnySizeMatchTwoPassOverTheStream) {
  torch::manual_seed(10);
  RunningMoments moments;
  std::vector<double> seen;
  for (int64_t n : {5, 1, 0, 17, 2, 1, 40}) {
    torch::Tensor batch = 2.5 + 3.0 * torch::randn({n}, F64());
    ASSERT_TRUE(moments.Update(batch).ok());
    for (int64_t i = 0; i < n; ++i) seen.push_back(batch[i].item<double>());
    double mean, var;
    TwoPass(seen, &mean, &var);
    EXPECT_EQ(moments.count, static_cast<int64_t>(seen.size()));
    EXPECT_NEAR(moments.mean, mean, 1e-12);
    EXPECT_NEAR(moments.Variance(), var, 1e-10);
    EXPECT_NEAR(moments.Std(), std::sqrt(var), 1e-10);
  }
}

TEST(RunningMomentsTest, MergeEqualsOneAccumulatorThatSawBoth) {
  torch::manual_seed(11);
  torch::Tensor a = torch::randn({13}, F64());
  torch::Tensor b = 10.0 + torch::randn({4}, F64());
  RunningMoments left, right, both;
  ASSERT_TRUE(left.Update(a).ok());
  ASSERT_TRUE(right.Update(b).ok());
  ASSERT_TRUE(both.Update(torch::cat({a, b})).ok());
  RunningMoments merged = left;
  merged.Merge(right);
  EXPECT_EQ(merged.count, both.count);
  EXPECT_NEAR(merged.mean, both.mean, 1e-12);
  EXPECT_NEAR(merged.m2, both.m2, 1e-9);

  RunningMoments empty;
  RunningMoments copy = left;
  copy.Merge(empty);
  EXPECT_EQ(copy.count, left.count);
  EXPECT_EQ(copy.mean, left.mean);
  empty.Merge(left);
  EXPECT_EQ(empty.mean, left.mean);
  EXPECT_EQ(empty.m2, left.m2);
}

TEST(RunningMomentsTest, OneAtATimeStaysAccurateFarFromZero) {
  // Sum-of-squares formulas lose every digit of the variance at an offset of 1e9; Welford/Chan
  // updates must not.
  RunningMoments moments;
  std::vector<double> seen;
  for (int i = 0; i < 1000; ++i) {
    const double x = 1e9 + (i % 7) * 0.25;
    seen.push_back(x);
    ASSERT_TRUE(moments.Update(torch::tensor({x}, F64())).ok());
  }
  double mean, var;
  TwoPass(seen, &mean, &var);
  EXPECT_NEAR(moments.mean, mean, 1e-6);
  EXPECT_NEAR(moments.Variance(), var, 1e-6 * var);
}

TEST(RunningMomentsTest, NonFiniteRewardIsRejectedAndStateKept) {
  RunningMoments moments;
  ASSERT_TRUE(moments.Update(torch::tensor({1.0, 2.0, 4.0}, F64())).ok());
  const RunningMoments before = moments;
  absl::Status status = moments.Update(torch::tensor({1.0, std::nan("")}, F64()));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(moments.count, before.count);
  EXPECT_EQ(moments.mean, before.mean);
  EXPECT_EQ(moments.m2, before.m2);
  EXPECT_FALSE(moments.Update(torch::tensor({1, 2})).ok());  // integers: not rewards
}

TEST(RunningMomentsTest, SavedStateResumesIdentically) {
  torch::manual_seed(12);
  RunningMoments live;
  ASSERT_TRUE(live.Update(torch::randn({9}, F64())).ok());
  const RunningMoments saved{live.count, live.mean, live.m2};  // what a checkpoint writes
  RunningMoments resumed = saved;
  torch::Tensor next = torch::randn({6}, F64());
  ASSERT_TRUE(live.Update(next).ok());
  ASSERT_TRUE(resumed.Update(next).ok());
  EXPECT_EQ(resumed.count, live.count);
  EXPECT_EQ(resumed.mean, live.mean);
  EXPECT_EQ(resumed.m2, live.m2);
}

TEST(NormalizeRewardsTest, ShiftsAndScalesByRunningStatistics) {
  RunningMoments moments;
  ASSERT_TRUE(moments.Update(torch::tensor({1.0, 3.0, 5.0, 7.0}, F64())).ok());
  // mean 4, unbiased var (9 + 1 + 1 + 9) / 3.
  const double std = std::sqrt(20.0 / 3.0);
  torch::Tensor r = torch::tensor({0.0, 4.0, 10.0}, F64());
  ExpectClose(*NormalizeRewards(r, moments, /*shift_mean=*/true),
              torch::tensor({-4.0 / std, 0.0, 6.0 / std}, F64()), 1e-12, "shift");
  ExpectClose(*NormalizeRewards(r, moments, /*shift_mean=*/false),
              torch::tensor({0.0, 4.0 / std, 10.0 / std}, F64()), 1e-12, "scale only");
}

TEST(NormalizeRewardsTest, NoSpreadYetMeansNoScaling) {
  torch::Tensor r = torch::tensor({1.0, 1.0}, F64());
  RunningMoments one;
  ASSERT_TRUE(one.Update(torch::tensor({1.0}, F64())).ok());
  ExpectClose(*NormalizeRewards(r, one, /*shift_mean=*/false), r, 0.0, "count 1");
  RunningMoments constant;
  ASSERT_TRUE(constant.Update(torch::tensor({1.0, 1.0, 1.0}, F64())).ok());
  ExpectClose(*NormalizeRewards(r, constant, /*shift_mean=*/false), r, 0.0, "std 0");
  ExpectClose(*NormalizeRewards(r, constant, /*shift_mean=*/true), torch::zeros({2}, F64()), 0.0,
              "std 0, shifted");
}

TEST(ClipRewardsTest, ClampsSymmetricallyAndZeroIsOff) {
  torch::Tensor r = torch::tensor({-7.0, -0.5, 0.0, 2.0, 9.0}, F64());
  ExpectClose(*ClipRewards(r, 2.0), torch::tensor({-2.0, -0.5, 0.0, 2.0, 2.0}, F64()), 0.0);
  ExpectClose(*ClipRewards(r, 0.0), r, 0.0);
  EXPECT_EQ(ClipRewards(r, -1.0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenRewardsFromSequenceTest, RewardSitsOnTheLastRealToken) {
  torch::manual_seed(13);
  const int64_t B = 6, T = 8;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  mask[4] = torch::tensor({1., 0., 1., 1., 0., 0., 0., 0.}, F64());  // a hole, then EOS at 3
  torch::Tensor r = torch::randn({B}, F64());
  torch::Tensor expected = torch::zeros({B, T}, F64());
  auto M = mask.accessor<double, 2>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t last = -1;
    for (int64_t t = 0; t < T; ++t) {
      if (M[b][t] > 0) last = t;
    }
    if (last >= 0) expected[b][last] = r[b];
  }
  absl::StatusOr<torch::Tensor> token_rewards = TokenRewardsFromSequence(r, mask);
  ASSERT_TRUE(token_rewards.ok()) << token_rewards.status();
  ExpectClose(*token_rewards, expected, 0.0);
  EXPECT_EQ(token_rewards->select(0, 1).abs().sum().item<double>(), 0.0);  // fully masked row
  EXPECT_EQ((*token_rewards)[4][3].item<double>(), r[4].item<double>());
  ExpectClose(*TokenRewardsFromSequence(r, mask.to(torch::kBool)), expected, 0.0, "bool mask");
}

TEST(TokenRewardsFromSequenceTest, RejectsMismatchedShapes) {
  torch::Tensor mask = torch::ones({3, 4}, F64());
  EXPECT_EQ(TokenRewardsFromSequence(torch::zeros({4}, F64()), mask).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenRewardsFromSequence(torch::zeros({3, 1}, F64()), mask).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pelican
