// KL estimators, KL in the reward and in the loss, and the KL coefficient controllers.
#include "learner/kl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "learner/test_util.h"

namespace pelican {
namespace {

using learner_testing::ExpectClose;
using learner_testing::F64;
using learner_testing::Item;

// Scalar estimator from Schulman's note, with d = logp - logp_ref.
double NaiveKl(double logp, double ref, v1::KlEstimator estimator) {
  const double d = logp - ref;
  switch (estimator) {
    case v1::KL_ESTIMATOR_K1:
      return d;
    case v1::KL_ESTIMATOR_K2:
      return 0.5 * d * d;
    default:
      return std::exp(ref - logp) - (ref - logp) - 1.0;
  }
}

constexpr v1::KlEstimator kEstimators[] = {v1::KL_ESTIMATOR_K1, v1::KL_ESTIMATOR_K2,
                                           v1::KL_ESTIMATOR_K3};

TEST(KlPerTokenTest, EstimatorsMatchScalarFormulas) {
  torch::manual_seed(20);
  const int64_t B = 5, T = 7;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor logp = -torch::rand({B, T}, F64()) * 3;
  torch::Tensor ref = -torch::rand({B, T}, F64()) * 3;
  for (auto estimator : kEstimators) {
    torch::Tensor expected = torch::zeros({B, T}, F64());
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < T; ++t) {
        if (Item(mask[b][t]) > 0) {
          expected[b][t] = NaiveKl(Item(logp[b][t]), Item(ref[b][t]), estimator);
        }
      }
    }
    absl::StatusOr<torch::Tensor> kl = KlPerToken(logp, ref, mask, estimator);
    ASSERT_TRUE(kl.ok()) << kl.status();
    ExpectClose(*kl, expected, 1e-12, v1::KlEstimator_Name(estimator));
    // NaN in the padding of either input changes nothing.
    ExpectClose(*KlPerToken(learner_testing::NanPadding(logp, mask),
                            learner_testing::NanPadding(ref, mask), mask, estimator),
                expected, 1e-12, "nan padding");
  }
}

TEST(KlPerTokenTest, ZeroAtTheReferenceAndK2K3NonNegative) {
  torch::manual_seed(21);
  torch::Tensor mask = torch::ones({3, 4}, F64());
  torch::Tensor logp = -torch::rand({3, 4}, F64());
  for (auto estimator : kEstimators) {
    ExpectClose(*KlPerToken(logp, logp, mask, estimator), torch::zeros({3, 4}, F64()), 0.0);
  }
  torch::Tensor other = logp + torch::randn({3, 4}, F64());
  EXPECT_GE(KlPerToken(logp, other, mask, v1::KL_ESTIMATOR_K2)->min().item<double>(), 0.0);
  EXPECT_GE(KlPerToken(logp, other, mask, v1::KL_ESTIMATOR_K3)->min().item<double>(), 0.0);
  EXPECT_LT(KlPerToken(logp, other, mask, v1::KL_ESTIMATOR_K1)->min().item<double>(), 0.0);
}

TEST(KlPerTokenTest, K3StaysFiniteWhenTheReferenceDisagreesWildly) {
  torch::Tensor mask = torch::ones({1, 2}, F64());
  torch::Tensor logp = torch::tensor({{-1000.0, -0.1}}, F64()).requires_grad_(true);
  torch::Tensor ref = torch::tensor({{-0.01, -0.1}}, F64());
  torch::Tensor kl = *KlPerToken(logp, ref, mask, v1::KL_ESTIMATOR_K3);
  EXPECT_TRUE(torch::isfinite(kl).all().item<bool>());
  EXPECT_GT(Item(kl[0][0]), 1e8);  // clamped at exp(20), still a large penalty
  kl.sum().backward();
  EXPECT_TRUE(torch::isfinite(logp.grad()).all().item<bool>());
}

TEST(KlPerTokenTest, RejectsUnspecifiedEstimatorAndBadShapes) {
  torch::Tensor mask = torch::ones({2, 3}, F64());
  torch::Tensor x = torch::zeros({2, 3}, F64());
  EXPECT_EQ(KlPerToken(x, x, mask, v1::KL_ESTIMATOR_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KlPerToken(x, torch::zeros({2, 4}, F64()), mask, v1::KL_ESTIMATOR_K1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KlPenalizedRewardsTest, PenaltyOnEveryRealTokenScoreOnTheLast) {
  torch::manual_seed(22);
  const int64_t B = 5, T = 6;
  const double coef = 0.3;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);  // includes EOS mid-row, empty row
  torch::Tensor kl = learner_testing::NanPadding(torch::randn({B, T}, F64()), mask);
  torch::Tensor scores = torch::randn({B}, F64());
  torch::Tensor expected = torch::zeros({B, T}, F64());
  for (int64_t b = 0; b < B; ++b) {
    int64_t last = -1;
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) > 0) {
        expected[b][t] = -coef * Item(kl[b][t]);
        last = t;
      }
    }
    if (last >= 0) expected[b][last] += scores[b];
  }
  absl::StatusOr<torch::Tensor> rewards = KlPenalizedRewards(scores, kl, mask, coef);
  ASSERT_TRUE(rewards.ok()) << rewards.status();
  ExpectClose(*rewards, expected, 1e-12);
  EXPECT_EQ(rewards->select(0, 1).abs().sum().item<double>(), 0.0);  // fully masked row
  EXPECT_FALSE(KlPenalizedRewards(scores, kl, mask, -0.1).ok());
}

TEST(KlLossTest, ScaledAggregateWithTheK3Gradient) {
  torch::manual_seed(23);
  const int64_t B = 4, T = 5;
  const double coef = 0.1;
  torch::Tensor mask = learner_testing::RandomPrefixMask(B, T);
  torch::Tensor logp = (-torch::rand({B, T}, F64())).requires_grad_(true);
  torch::Tensor ref = -torch::rand({B, T}, F64());
  torch::Tensor kl = *KlPerToken(logp, ref, mask, v1::KL_ESTIMATOR_K3);
  absl::StatusOr<torch::Tensor> loss = KlLoss(kl, mask, coef, v1::LOSS_AGGREGATION_TOKEN_MEAN);
  ASSERT_TRUE(loss.ok()) << loss.status();
  double sum = 0, n = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      if (Item(mask[b][t]) > 0) {
        sum += NaiveKl(Item(logp[b][t]), Item(ref[b][t]), v1::KL_ESTIMATOR_K3);
        n += 1;
      }
    }
  }
  EXPECT_NEAR(Item(*loss), coef * sum / n, 1e-12);
  loss->backward();
  // d/dlogp [exp(ref - logp) - (ref - logp) - 1] = 1 - exp(ref - logp).
  torch::Tensor expected_grad = coef * (1 - torch::exp(ref - logp.detach())) * mask / n;
  ExpectClose(logp.grad(), expected_grad, 1e-12, "grad");
  EXPECT_FALSE(KlLoss(kl, mask, coef, v1::LOSS_AGGREGATION_UNSPECIFIED).ok());
}

TEST(MeanSequenceKlTest, SumsTokensAveragesNonEmptySequences) {
  torch::Tensor mask = learner_testing::PrefixMask({3, 0, 1}, 3);
  torch::Tensor kl = torch::tensor({{0.1, 0.2, 0.3}, {9.0, 9.0, 9.0}, {0.5, 7.0, 7.0}}, F64());
  EXPECT_NEAR(Item(*MeanSequenceKl(kl, mask)), (0.6 + 0.5) / 2, 1e-12);
}

KlControllerConfig Adaptive(double coef, double target, double horizon) {
  KlControllerConfig config;
  config.kind = v1::KL_CONTROLLER_ADAPTIVE;
  config.initial_coef = coef;
  config.target = target;
  config.horizon = horizon;
  return config;
}

TEST(KlControllerTest, FixedNeverMoves) {
  KlControllerConfig config;
  config.initial_coef = 0.07;
  KlControllerState state = InitialKlControllerState(config);
  for (double kl : {0.0, 100.0, -3.0, 6.0}) state = *UpdateKlController(config, state, kl, 512);
  EXPECT_EQ(state.coef, 0.07);
}

TEST(KlControllerTest, AdaptiveFollowsTheZieglerUpdate) {
  const KlControllerConfig config = Adaptive(0.2, 6.0, 10000.0);
  KlControllerState state = InitialKlControllerState(config);
  double coef = 0.2;  // TRL's AdaptiveKLController, step by step
  const std::vector<double> observed = {6.0, 6.6, 5.7, 100.0, 0.0, -2.0, 7.1, 4.0};
  const std::vector<int64_t> samples = {64, 64, 128, 64, 32, 64, 256, 64};
  for (size_t i = 0; i < observed.size(); ++i) {
    double error = std::min(std::max(observed[i] / 6.0 - 1.0, -0.2), 0.2);
    coef *= 1.0 + error * static_cast<double>(samples[i]) / 10000.0;
    absl::StatusOr<KlControllerState> next =
        UpdateKlController(config, state, observed[i], samples[i]);
    ASSERT_TRUE(next.ok()) << next.status();
    state = *next;
    EXPECT_NEAR(state.coef, coef, 1e-15) << "step " << i;
  }
  // Above target the coefficient rises, below it falls, and the error is clipped at +-0.2.
  EXPECT_GT(UpdateKlController(config, {1.0}, 7.0, 100)->coef, 1.0);
  EXPECT_LT(UpdateKlController(config, {1.0}, 5.0, 100)->coef, 1.0);
  EXPECT_DOUBLE_EQ(UpdateKlController(config, {1.0}, 1e6, 100)->coef, 1.0 + 0.2 * 100 / 1e4);
  EXPECT_DOUBLE_EQ(UpdateKlController(config, {1.0}, 0.0, 100)->coef, 1.0 - 0.2 * 100 / 1e4);
  EXPECT_EQ(UpdateKlController(config, {1.0}, 0.0, 100000)->coef, 0.0);  // floored, not negative
}

TEST(KlControllerTest, SavedStateResumesIdentically) {
  const KlControllerConfig config = Adaptive(0.05, 2.0, 500.0);
  KlControllerState live = InitialKlControllerState(config);
  for (int i = 0; i < 5; ++i) live = *UpdateKlController(config, live, 1.0 + i, 32);
  const KlControllerState saved = live;  // what a checkpoint writes
  KlControllerState resumed = saved;
  for (int i = 0; i < 5; ++i) {
    live = *UpdateKlController(config, live, 3.0 - 0.5 * i, 32);
    resumed = *UpdateKlController(config, resumed, 3.0 - 0.5 * i, 32);
  }
  EXPECT_EQ(resumed.coef, live.coef);
  EXPECT_NE(live.coef, saved.coef);
}

TEST(KlControllerTest, ConfigFromProtoAndBadInputs) {
  v1::KlSection section;
  section.set_coef(0.1);
  section.set_controller(v1::KL_CONTROLLER_ADAPTIVE);
  section.set_target(3.0);
  section.set_horizon(1000.0);
  absl::StatusOr<KlControllerConfig> config = KlControllerConfigFromProto(section);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kind, v1::KL_CONTROLLER_ADAPTIVE);
  EXPECT_EQ(InitialKlControllerState(*config).coef, 0.1);
  EXPECT_EQ(config->target, 3.0);
  EXPECT_EQ(config->horizon, 1000.0);

  EXPECT_FALSE(UpdateKlController(*config, {0.1}, std::nan(""), 10).ok());
  EXPECT_FALSE(UpdateKlController(*config, {0.1}, 1.0, -1).ok());
  section.set_target(0.0);
  EXPECT_EQ(KlControllerConfigFromProto(section).status().code(),
            absl::StatusCode::kInvalidArgument);
  section.set_target(3.0);
  section.set_controller(v1::KL_CONTROLLER_UNSPECIFIED);
  EXPECT_FALSE(KlControllerConfigFromProto(section).ok());
  section.set_controller(v1::KL_CONTROLLER_FIXED);
  section.set_coef(-1.0);
  EXPECT_FALSE(KlControllerConfigFromProto(section).ok());
}

}  // namespace
}  // namespace pelican
