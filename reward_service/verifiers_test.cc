#include "reward_service/verifiers.h"

#include <gtest/gtest.h>

#include "reward_service/scorer_testing.h"

namespace pelican::reward {
namespace {

using testing::Inputs;
using testing::OwnedSample;
using testing::TextSample;

std::unique_ptr<ExactMatchScorer> Exact(v1::AnswerExtraction mode, double tolerance = 0) {
  v1::ExactMatchScorer config;
  config.set_extract(mode);
  config.set_tolerance(tolerance);
  auto s = ExactMatchScorer::Create("exact", config);
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(s).value();
}

// The single result of scoring one sample.
absl::StatusOr<ScoreValue> ScoreOne(Scorer& scorer, const OwnedSample& sample) {
  auto out = scorer.ScoreBatch(Inputs({sample}));
  EXPECT_EQ(out.size(), 1u);
  return out.at(0);
}

double Value(Scorer& scorer, const OwnedSample& sample) {
  absl::StatusOr<ScoreValue> r = ScoreOne(scorer, sample);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->value : -999;
}

TEST(ExactMatchScorerTest, RightAndWrongAnswersScoreOneAndZero) {
  auto s = Exact(v1::ANSWER_EXTRACTION_AUTO);
  EXPECT_EQ(Value(*s, TextSample("3+4 is 7\n#### 7", "7")), 1.0);
  EXPECT_EQ(Value(*s, TextSample("3+4 is 7\n#### 8", "7")), 0.0);
  EXPECT_EQ(Value(*s, TextSample("The total is $1,234.", "1234")), 1.0);
  EXPECT_EQ(Value(*s, TextSample("so \\boxed{\\frac{1}{2}}", "0.5")), 1.0);
  EXPECT_EQ(Value(*s, TextSample("5 = 5", " 5 ")), 1.0);
}

TEST(ExactMatchScorerTest, NoAnswerInTheCompletionIsAWrongAnswerNotAnError) {
  auto s = Exact(v1::ANSWER_EXTRACTION_HASHES);
  EXPECT_EQ(Value(*s, TextSample("the answer is 7", "7")), 0.0);
  EXPECT_EQ(Value(*s, TextSample("", "7")), 0.0);
}

TEST(ExactMatchScorerTest, AMissingOrEmptyReferenceIsAnError) {
  auto s = Exact(v1::ANSWER_EXTRACTION_AUTO);
  absl::StatusOr<ScoreValue> r = ScoreOne(*s, TextSample("#### 7"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("reference"), absl::string_view::npos) << r.status();
  for (const char* empty : {"", "   ", "#### "}) {
    r = ScoreOne(*s, TextSample("#### 7", empty));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "'" << empty << "'";
  }
  // A null metadata map counts as no metadata.
  OwnedSample sample = TextSample("#### 7");
  ScoreInput in = sample.Input();
  in.metadata = nullptr;
  auto out = s->ScoreBatch({in});
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExactMatchScorerTest, AMissingCompletionTextIsAnError) {
  auto s = Exact(v1::ANSWER_EXTRACTION_AUTO);
  OwnedSample sample = TextSample("", "7");
  sample.completion_text.reset();
  sample.completion_ids = {5, 6};
  EXPECT_EQ(ScoreOne(*s, sample).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ExactMatchScorerTest, AGsm8kSolutionAsReferenceIsReducedToItsAnswer) {
  auto s = Exact(v1::ANSWER_EXTRACTION_AUTO);
  const std::string reference = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72";
  EXPECT_EQ(Value(*s, TextSample("#### 72", reference)), 1.0);
  EXPECT_EQ(Value(*s, TextSample("#### 24", reference)), 0.0);
}

TEST(ExactMatchScorerTest, ToleranceAppliesToNumbers) {
  auto exact = Exact(v1::ANSWER_EXTRACTION_LAST_NUMBER);
  auto loose = Exact(v1::ANSWER_EXTRACTION_LAST_NUMBER, 0.01);
  EXPECT_EQ(Value(*exact, TextSample("about 3.14159", "3.14")), 0.0);
  EXPECT_EQ(Value(*loose, TextSample("about 3.14159", "3.14")), 1.0);
  EXPECT_EQ(Value(*loose, TextSample("about 3.16", "3.14")), 0.0);
}

TEST(ExactMatchScorerTest, WholeModeComparesTheTrimmedText) {
  auto s = Exact(v1::ANSWER_EXTRACTION_WHOLE);
  EXPECT_EQ(Value(*s, TextSample("  Paris\n", "Paris")), 1.0);
  EXPECT_EQ(Value(*s, TextSample("It is Paris", "Paris")), 0.0);
  EXPECT_EQ(Value(*s, TextSample("42.0", "42")), 1.0);  // numbers still compare as numbers
}

TEST(ExactMatchScorerTest, ScoresABatchInOrderWithPerSampleErrors) {
  auto s = Exact(v1::ANSWER_EXTRACTION_AUTO);
  const std::vector<OwnedSample> samples = {TextSample("#### 1", "1"), TextSample("#### 1"),
                                            TextSample("#### 2", "1")};
  auto out = s->ScoreBatch(Inputs(samples));
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0].ok());
  EXPECT_EQ(out[0]->value, 1.0);
  EXPECT_FALSE(out[1].ok());
  ASSERT_TRUE(out[2].ok());
  EXPECT_EQ(out[2]->value, 0.0);
  EXPECT_EQ(out[0]->uncertainty, 0.0);
}

TEST(ExactMatchScorerTest, RejectsABadTolerance) {
  v1::ExactMatchScorer config;
  config.set_tolerance(-1);
  EXPECT_EQ(ExactMatchScorer::Create("e", config).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.set_tolerance(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(ExactMatchScorer::Create("e", config).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FormatScorerTest, RewardsAnAnswerInTheExpectedForm) {
  FormatScorer hashes("format", v1::ANSWER_EXTRACTION_HASHES);
  FormatScorer boxed("format", v1::ANSWER_EXTRACTION_BOXED);
  EXPECT_EQ(Value(hashes, TextSample("work...\n#### 12")), 1.0);
  EXPECT_EQ(Value(hashes, TextSample("work... 12")), 0.0);
  EXPECT_EQ(Value(boxed, TextSample("\\boxed{12}")), 1.0);
  EXPECT_EQ(Value(boxed, TextSample("\\boxed{12")), 0.0);
  OwnedSample no_text;
  no_text.completion_ids = {1};
  EXPECT_EQ(ScoreOne(hashes, no_text).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace pelican::reward
