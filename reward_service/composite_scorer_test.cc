#include "reward_service/composite_scorer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <thread>

#include "reward_service/scorer_testing.h"

namespace pelican::reward {
namespace {

using testing::FakeScorer;
using testing::Inputs;
using testing::OwnedSample;

// Scores sample i of a batch with v[i] (a value or an error).
std::shared_ptr<FakeScorer> Scripted(std::string name, std::vector<absl::StatusOr<ScoreValue>> v) {
  return std::make_shared<FakeScorer>(std::move(name),
                                      [v](const ScoreInput&, size_t i) { return v.at(i); });
}

// A scorer that returns the completion length.
std::shared_ptr<FakeScorer> Length(std::string name) {
  return std::make_shared<FakeScorer>(std::move(name), [](const ScoreInput& in, size_t) {
    return ScoreValue(static_cast<double>(in.completion_ids.size()));
  });
}

std::vector<OwnedSample> Samples(int n) {
  std::vector<OwnedSample> s(n);
  for (int i = 0; i < n; ++i) s[i].completion_ids.assign(i + 1, 1);
  return s;
}

std::unique_ptr<CompositeScorer> Make(std::vector<ComponentSpec> components) {
  auto c = CompositeScorer::Create("default", std::move(components));
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(c).value();
}

TEST(CompositeScorerTest, TotalIsTheWeightedSumWithEveryComponentReported) {
  auto c = Make({{Scripted("verifier", {1.0, 0.0}), 2.0, false},
                 {Scripted("length", {-3.0, 0.0}), 0.5, false}});
  const auto samples = Samples(2);
  auto out = c->Score(Inputs(samples));
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(out[0].status.ok()) << out[0].status;
  EXPECT_DOUBLE_EQ(out[0].total, 2.0 * 1.0 + 0.5 * -3.0);
  ASSERT_EQ(out[0].components.size(), 2u);
  EXPECT_EQ(out[0].components[0].name, "verifier");
  EXPECT_EQ(out[0].components[0].value, 1.0);
  EXPECT_EQ(out[0].components[0].weight, 2.0);
  EXPECT_EQ(out[0].components[1].name, "length");
  EXPECT_EQ(out[0].components[1].value, -3.0);
  EXPECT_EQ(out[0].components[1].raw_value, -3.0);
  EXPECT_EQ(out[0].components[1].weight, 0.5);
  EXPECT_DOUBLE_EQ(out[1].total, 0.0);
  EXPECT_EQ(c->component_names(), (std::vector<std::string>{"verifier", "length"}));
}

TEST(CompositeScorerTest, AnyFailingComponentFailsThatSampleOnly) {
  auto c = Make({{Scripted("a", {1.0, absl::InvalidArgumentError("no reference"), 1.0}), 1.0},
                 {Scripted("b", {1.0, absl::UnavailableError("model down"),
                                 absl::DeadlineExceededError("slow")}),
                  1.0}});
  const auto samples = Samples(3);
  auto out = c->Score(Inputs(samples));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_DOUBLE_EQ(out[0].total, 2.0);
  // Both failures are named; the code is the first component's.
  EXPECT_EQ(out[1].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out[1].status.message(), "component 'a': no reference; component 'b': model down");
  EXPECT_TRUE(out[1].components.empty());
  EXPECT_EQ(out[2].status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(out[2].status.message(), "component 'b': slow");
  auto stats = c->Stats();
  EXPECT_EQ(stats[0].failures, 1);
  EXPECT_EQ(stats[1].failures, 2);
  EXPECT_EQ(stats[0].count, 2);
  EXPECT_EQ(stats[1].count, 1);
}

TEST(CompositeScorerTest, MisbehavingComponentsFailSamplesWithInternal) {
  class Short : public Scorer {
   public:
    const std::string& name() const override { return name_; }
    std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput>) override {
      return {ScoreValue(1.0)};
    }
    std::string name_ = "short";
  };
  class Throws : public Scorer {
   public:
    const std::string& name() const override { return name_; }
    std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput>) override {
      throw std::runtime_error("CUDA out of memory");
    }
    std::string name_ = "throws";
  };
  const auto samples = Samples(3);
  for (std::shared_ptr<Scorer> bad : std::vector<std::shared_ptr<Scorer>>{
           std::make_shared<Short>(), std::make_shared<Throws>()}) {
    auto c = Make({{bad, 1.0}, {Length("len"), 1.0}});
    auto out = c->Score(Inputs(samples));
    ASSERT_EQ(out.size(), 3u);
    for (const CompositeResult& r : out) {
      EXPECT_EQ(r.status.code(), absl::StatusCode::kInternal) << bad->name();
    }
  }
  const double nan = std::nan("");
  const double inf = INFINITY;
  auto c = Make({{Scripted("odd", {nan, inf, ScoreValue(1.0, -1.0), ScoreValue(1.0, 0.5)}), 1.0}});
  const auto four = Samples(4);
  auto out = c->Score(Inputs(four));
  EXPECT_EQ(out[0].status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(out[1].status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(out[2].status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(out[3].status.ok());
  // Non-finite values never reach the running statistics.
  EXPECT_EQ(c->Stats()[0].count, 1);
}

TEST(CompositeScorerTest, NormalisesByTheRunningMeanAndStdIncludingThisBatch) {
  auto c = Make({{Length("len"), 2.0, /*normalize=*/true}, {Length("raw"), 1.0, false}});
  // Lengths 1, 2, 3: mean 2, population variance 2/3.
  const auto samples = Samples(3);
  auto out = c->Score(Inputs(samples));
  const double sd = std::sqrt(2.0 / 3.0 + RunningMoments::kEpsilon);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(out[i].status.ok());
    const double normalised = (i + 1 - 2.0) / sd;
    EXPECT_NEAR(out[i].components[0].value, normalised, 1e-12);
    EXPECT_EQ(out[i].components[0].raw_value, i + 1);
    EXPECT_EQ(out[i].components[1].value, i + 1);  // not normalised
    EXPECT_NEAR(out[i].total, 2.0 * normalised + (i + 1), 1e-12);
  }
  // A second batch {1}: the statistics now cover 1, 2, 3, 1 (mean 1.75, variance 0.6875).
  auto again = c->Score(Inputs(Samples(1)));
  EXPECT_NEAR(again[0].components[0].value, (1 - 1.75) / std::sqrt(0.6875 + 1e-8), 1e-12);
  auto stats = c->Stats();
  EXPECT_EQ(stats[0].name, "len");
  EXPECT_TRUE(stats[0].normalize);
  EXPECT_EQ(stats[0].count, 4);
  EXPECT_DOUBLE_EQ(stats[0].mean, 1.75);
  EXPECT_NEAR(stats[0].stddev, std::sqrt(0.6875), 1e-12);
  EXPECT_EQ(stats[0].weight, 2.0);
  EXPECT_FALSE(stats[1].normalize);
}

TEST(CompositeScorerTest, AConstantNormalisedComponentStaysFinite) {
  auto c = Make({{Scripted("const", {5.0, 5.0}), 1.0, true}});
  const auto samples = Samples(2);
  auto out = c->Score(Inputs(samples));
  for (const auto& r : out) {
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(r.total, 0.0);
  }
}

TEST(CompositeScorerTest, UncertaintiesAddInQuadratureWithWeights) {
  auto c = Make({{Scripted("rm", {ScoreValue(1.0, 0.3)}), 2.0},
                 {Scripted("rm2", {ScoreValue(1.0, 0.4)}), -1.0},
                 {Scripted("v", {1.0}), 1.0}});
  auto out = c->Score(Inputs(Samples(1)));
  ASSERT_TRUE(out[0].status.ok());
  EXPECT_NEAR(out[0].uncertainty, std::sqrt(0.6 * 0.6 + 0.4 * 0.4), 1e-12);
}

TEST(CompositeScorerTest, RejectsBadComponentLists) {
  EXPECT_FALSE(CompositeScorer::Create("c", {}).ok());
  EXPECT_FALSE(CompositeScorer::Create("c", {{nullptr, 1.0}}).ok());
  EXPECT_FALSE(CompositeScorer::Create("c", {{Length("a"), 1.0}, {Length("a"), 1.0}}).ok());
  EXPECT_FALSE(CompositeScorer::Create("c", {{Length(""), 1.0}}).ok());
  EXPECT_FALSE(CompositeScorer::Create("c", {{Length("a"), std::nan("")}}).ok());
}

TEST(CompositeScorerTest, ConcurrentBatchesKeepConsistentStatistics) {
  auto c = Make({{Length("len"), 1.0, true}});
  const auto samples = Samples(8);  // lengths 1..8
  const std::vector<ScoreInput> inputs = Inputs(samples);
  constexpr int kThreads = 4, kReps = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < kReps; ++r) {
        for (const auto& res : c->Score(inputs)) {
          if (!res.status.ok() || !std::isfinite(res.total)) ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto stats = c->Stats();
  EXPECT_EQ(stats[0].count, kThreads * kReps * 8);
  EXPECT_NEAR(stats[0].mean, 4.5, 1e-9);
  EXPECT_NEAR(stats[0].stddev, std::sqrt(63.0 / 12.0), 1e-9);  // variance of 1..8
}

}  // namespace
}  // namespace pelican::reward
