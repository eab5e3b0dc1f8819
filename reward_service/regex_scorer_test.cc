#include "reward_service/regex_scorer.h"

#include <gtest/gtest.h>

#include <thread>

#include "reward_service/scorer_testing.h"

namespace pelican::reward {
namespace {

using testing::Inputs;
using testing::OwnedSample;
using testing::TextSample;

std::unique_ptr<RegexScorer> Make(const std::string& pattern,
                                  uint32_t limit = RegexScorer::kDefaultMatchLimit) {
  auto s = RegexScorer::Create("re", pattern, limit);
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(s).value();
}

TEST(RegexScorerTest, MatchesAnywhereInTheCompletion) {
  auto s = Make(R"(####\s*-?\d+\s*$)");
  const std::vector<OwnedSample> samples = {TextSample("so\n#### 42"), TextSample("#### x"),
                                            TextSample("no")};
  auto out = s->ScoreBatch(Inputs(samples));
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0].ok() && out[1].ok() && out[2].ok());
  EXPECT_EQ(out[0]->value, 1.0);
  EXPECT_EQ(out[1]->value, 0.0);
  EXPECT_EQ(out[2]->value, 0.0);
  EXPECT_EQ(s->pattern(), R"(####\s*-?\d+\s*$)");
}

TEST(RegexScorerTest, PatternsAreUtf8) {
  auto s = Make("^.{2}$");  // two characters, not two bytes
  EXPECT_TRUE(*s->Matches("é!"));
  EXPECT_FALSE(*s->Matches("ab!"));
  auto pelican = Make("pélican");
  EXPECT_TRUE(*pelican->Matches("a pélican joke"));
}

TEST(RegexScorerTest, InvalidUtf8InTheCompletionMatchesNothingButIsNotAnError) {
  auto s = Make("joke");
  const std::string broken = std::string("a \xC3 joke");  // a lone lead byte
  absl::StatusOr<bool> m = s->Matches(broken);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(*m);
  auto any = Make("^a.");
  EXPECT_FALSE(*any->Matches(std::string("a\xC3")));
}

TEST(RegexScorerTest, AnInvalidPatternIsAConstructionErrorWithMessageAndOffset) {
  auto s = RegexScorer::Create("fmt", "ab(c");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(s.status().message());
  EXPECT_NE(msg.find("'fmt'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing closing parenthesis"), std::string::npos) << msg;

  EXPECT_EQ(RegexScorer::Create("fmt", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RegexScorer::Create("fmt", "\xFF").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RegexScorerTest, CatastrophicBacktrackingIsAPerSampleError) {
  auto s = Make("^(a+)+$", /*limit=*/10000);
  const std::vector<OwnedSample> samples = {TextSample(std::string(40, 'a') + "b"),
                                            TextSample("aaa")};
  auto out = s->ScoreBatch(Inputs(samples));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kResourceExhausted) << out[0].status();
  ASSERT_TRUE(out[1].ok());
  EXPECT_EQ(out[1]->value, 1.0);
}

TEST(RegexScorerTest, ASampleWithoutTextIsAnError) {
  auto s = Make("x");
  OwnedSample sample;
  sample.completion_ids = {3};
  auto out = s->ScoreBatch(Inputs({sample}));
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RegexScorerTest, ConcurrentBatchesAgree) {
  auto s = Make(R"(\d{3})");
  std::vector<OwnedSample> samples;
  for (int i = 0; i < 64; ++i) samples.push_back(TextSample(i % 2 ? "n=123" : "n=12"));
  const std::vector<ScoreInput> inputs = Inputs(samples);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int rep = 0; rep < 50; ++rep) {
        auto out = s->ScoreBatch(inputs);
        for (size_t i = 0; i < out.size(); ++i) {
          if (!out[i].ok() || out[i]->value != (i % 2 ? 1.0 : 0.0)) ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace pelican::reward
