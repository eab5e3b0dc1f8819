// Masked reductions and loss aggregation against scalar loops, plus the argument checks.
#include "learner/masked.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "learner/tensor_checks.h"
#include "learner/test_util.h"

namespace pelican {
namespace {

using learner_testing::ExpectClose;
using learner_testing::F64;
using learner_testing::Item;

struct Moments {
  double count = 0, mean = 0, var_unbiased = 0, var_biased = 0;
};

Moments NaiveMoments(const torch::Tensor& x, const torch::Tensor& mask) {
  auto X = x.accessor<double, 2>();
  auto M = mask.accessor<double, 2>();
  Moments m;
  double sum = 0;
  for (int64_t b = 0; b < x.size(0); ++b) {
    for (int64_t t = 0; t < x.size(1); ++t) {
      if (M[b][t] > 0) {
        m.count += 1;
        sum += X[b][t];
      }
    }
  }
  if (m.count == 0) return m;
  m.mean = sum / m.count;
  double ss = 0;
  for (int64_t b = 0; b < x.size(0); ++b) {
    for (int64_t t = 0; t < x.size(1); ++t) {
      if (M[b][t] > 0) ss += (X[b][t] - m.mean) * (X[b][t] - m.mean);
    }
  }
  m.var_biased = ss / m.count;
  m.var_unbiased = m.count > 1 ? ss / (m.count - 1) : 0.0;
  return m;
}

// The three aggregation modes, spelled out per row.
double NaiveAggregate(const torch::Tensor& x, const torch::Tensor& mask, v1::LossAggregation mode) {
  auto X = x.accessor<double, 2>();
  auto M = mask.accessor<double, 2>();
  double total = 0, tokens = 0, seq_total = 0, rows = 0;
  for (int64_t b = 0; b < x.size(0); ++b) {
    double row_sum = 0, row_n = 0;
    for (int64_t t = 0; t < x.size(1); ++t) {
      if (M[b][t] > 0) {
        row_sum += X[b][t];
        row_n += 1;
      }
    }
    total += row_sum;
    tokens += row_n;
    if (row_n > 0) {
      seq_total += mode == v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN ? row_sum / row_n : row_sum;
      rows += 1;
    }
  }
  if (mode == v1::LOSS_AGGREGATION_TOKEN_MEAN) return tokens > 0 ? total / tokens : 0.0;
  return rows > 0 ? seq_total / rows : 0.0;
}

TEST(MaskedTest, MeanAndVarianceMatchLoops) {
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({6, 9}, F64());
  torch::Tensor mask = learner_testing::RandomPrefixMask(6, 9);
  Moments m = NaiveMoments(x, mask);
  EXPECT_NEAR(Item(MaskedMean(x, mask)), m.mean, 1e-12);
  EXPECT_NEAR(Item(MaskedVar(x, mask)), m.var_unbiased, 1e-12);
  EXPECT_NEAR(Item(MaskedVar(x, mask, /*unbiased=*/false)), m.var_biased, 1e-12);
  EXPECT_NEAR(Item(MaskedSum(x, mask)), m.mean * m.count, 1e-10);
  EXPECT_EQ(Item(MaskedCount(x, mask)), m.count);

  torch::Tensor row_means = MaskedMean(x, mask, 1);
  ASSERT_EQ(row_means.sizes(), torch::IntArrayRef({6}));
  for (int64_t b = 0; b < 6; ++b) {
    Moments row = NaiveMoments(x.slice(0, b, b + 1), mask.slice(0, b, b + 1));
    EXPECT_NEAR(Item(row_means[b]), row.mean, 1e-12) << "row " << b;  // empty row 1 -> 0
  }
}

TEST(MaskedTest, EmptyAndSingleTokenGiveZeroNotNan) {
  torch::Tensor x = torch::randn({2, 3}, F64());
  torch::Tensor none = torch::zeros({2, 3}, F64());
  EXPECT_EQ(Item(MaskedMean(x, none)), 0.0);
  EXPECT_EQ(Item(MaskedVar(x, none)), 0.0);
  ExpectClose(MaskedWhiten(x, none), torch::zeros({2, 3}, F64()), 0.0);
  torch::Tensor one = none.clone();
  one[1][2] = 1.0;
  EXPECT_EQ(Item(MaskedMean(x, one)), Item(x[1][2]));
  EXPECT_EQ(Item(MaskedVar(x, one)), 0.0);  // unbiased variance of one sample: defined as 0
}

TEST(MaskedTest, BoolMaskEqualsFloatMask) {
  torch::manual_seed(2);
  torch::Tensor x = torch::randn({5, 7}, F64());
  torch::Tensor mask = learner_testing::RandomPrefixMask(5, 7);
  torch::Tensor bool_mask = mask.to(torch::kBool);
  EXPECT_DOUBLE_EQ(Item(MaskedMean(x, mask)), Item(MaskedMean(x, bool_mask)));
  EXPECT_DOUBLE_EQ(Item(MaskedVar(x, mask)), Item(MaskedVar(x, bool_mask)));
  ExpectClose(MaskedWhiten(x, bool_mask), MaskedWhiten(x, mask), 0.0);
}

TEST(MaskedTest, NanInPaddingReachesNeitherResultNorGradient) {
  torch::manual_seed(3);
  torch::Tensor mask = learner_testing::RandomPrefixMask(4, 6);
  torch::Tensor x = learner_testing::NanPadding(torch::randn({4, 6}, F64()), mask);
  x.requires_grad_(true);
  torch::Tensor mean = MaskedMean(x, mask);
  ASSERT_TRUE(std::isfinite(Item(mean)));
  mean.backward();
  torch::Tensor expected_grad = mask / mask.sum();
  ExpectClose(x.grad(), expected_grad, 1e-15, "d mean / d x");
}

TEST(MaskedTest, WhitenMatchesLoopAndShiftMeanKeepsTheMean) {
  torch::manual_seed(4);
  torch::Tensor x = 3.0 + 2.0 * torch::randn({5, 8}, F64());
  torch::Tensor mask = learner_testing::RandomPrefixMask(5, 8);
  Moments m = NaiveMoments(x, mask);
  const double eps = 1e-8;
  torch::Tensor expected = torch::zeros_like(x);
  auto X = x.accessor<double, 2>();
  auto M = mask.accessor<double, 2>();
  auto E = expected.accessor<double, 2>();
  for (int64_t b = 0; b < 5; ++b) {
    for (int64_t t = 0; t < 8; ++t) {
      if (M[b][t] > 0) E[b][t] = (X[b][t] - m.mean) / std::sqrt(m.var_unbiased + eps);
    }
  }
  ExpectClose(MaskedWhiten(x, mask, /*shift_mean=*/true, eps), expected, 1e-12, "whiten");

  torch::Tensor scaled = MaskedWhiten(x, mask, /*shift_mean=*/false, eps);
  EXPECT_NEAR(Item(MaskedMean(scaled, mask)), m.mean, 1e-12);
  EXPECT_NEAR(Item(MaskedVar(scaled, mask)), 1.0, 1e-6);
  ExpectClose(scaled * (1 - mask), torch::zeros_like(x), 0.0, "padding");
}

TEST(MaskedTest, AggregationModesMatchLoops) {
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({7, 10}, F64());
  torch::Tensor mask = learner_testing::RandomPrefixMask(7, 10);
  for (auto mode : {v1::LOSS_AGGREGATION_TOKEN_MEAN, v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN,
                    v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM}) {
    EXPECT_NEAR(Item(AggregateLoss(x, mask, mode)), NaiveAggregate(x, mask, mode), 1e-12)
        << v1::LossAggregation_Name(mode);
  }
}

TEST(MaskedTest, FullyMaskedRowsDoNotCountInSequenceMeans) {
  torch::manual_seed(6);
  torch::Tensor x = torch::randn({3, 4}, F64());
  torch::Tensor mask = learner_testing::PrefixMask({4, 2, 3}, 4);
  // The same batch with two fully masked rows (holding huge values) added.
  torch::Tensor x_more = torch::cat({x, torch::full({2, 4}, 1e30, F64())});
  torch::Tensor mask_more = torch::cat({mask, torch::zeros({2, 4}, F64())});
  for (auto mode : {v1::LOSS_AGGREGATION_TOKEN_MEAN, v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN,
                    v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM}) {
    EXPECT_NEAR(Item(AggregateLoss(x_more, mask_more, mode)), Item(AggregateLoss(x, mask, mode)),
                1e-12)
        << v1::LossAggregation_Name(mode);
    EXPECT_EQ(Item(AggregateLoss(x, torch::zeros_like(mask), mode)), 0.0);
  }
  // The modes really differ: rows of 4, 2 and 3 tokens weigh differently.
  EXPECT_NE(Item(AggregateLoss(x, mask, v1::LOSS_AGGREGATION_TOKEN_MEAN)),
            Item(AggregateLoss(x, mask, v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_MEAN)));
}

TEST(TensorChecksTest, MaskMustBeTwoDimensionalZeroOrOne) {
  EXPECT_TRUE(ValidateMask(torch::ones({2, 3}, F64())).ok());
  EXPECT_TRUE(ValidateMask(torch::ones({2, 3}, torch::kBool)).ok());
  EXPECT_TRUE(ValidateMask(torch::ones({0, 3}, F64())).ok());
  EXPECT_EQ(ValidateMask(torch::ones({6}, F64())).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMask(torch::full({2, 3}, 0.5, F64())).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMask(torch::ones({2, 3}, torch::kLong)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMask(torch::Tensor()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TensorChecksTest, ErrorsNameTheArgumentAndBothShapes) {
  absl::Status status =
      ValidateLikeMask("advantages", torch::zeros({4, 6}, F64()), torch::ones({4, 7}, F64()));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("advantages"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("[4, 7]"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("[4, 6]"), absl::string_view::npos) << status;
  EXPECT_FALSE(
      ValidateLikeMask("x", torch::zeros({4, 7}, torch::kLong), torch::ones({4, 7}, F64())).ok());
  EXPECT_FALSE(ValidatePerSequence("rewards", torch::zeros({3}, F64()), torch::ones({4, 7})).ok());
  EXPECT_TRUE(ValidatePerSequence("rewards", torch::zeros({4}, F64()), torch::ones({4, 7})).ok());
  EXPECT_FALSE(ValidateFinite("r", torch::tensor({1.0, std::nan("")})).ok());
  EXPECT_FALSE(
      ValidateFinite("r", torch::tensor({1.0, std::numeric_limits<double>::infinity()})).ok());
  EXPECT_FALSE(ValidateLossAggregation(v1::LOSS_AGGREGATION_UNSPECIFIED).ok());
  EXPECT_TRUE(ValidateLossAggregation(v1::LOSS_AGGREGATION_SEQ_MEAN_TOKEN_SUM).ok());
}

}  // namespace
}  // namespace pelican
