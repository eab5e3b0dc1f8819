#include "reward_service/sample_scoring.h"

#include <gtest/gtest.h>

#include "reward_service/penalties.h"
#include "reward_service/scorer_testing.h"
#include "reward_service/verifiers.h"

namespace pelican::reward {
namespace {

v1::Sample MakeSample(std::string id, std::vector<int32_t> completion_ids, std::string text,
                      std::string reference) {
  v1::Sample s;
  s.set_id(std::move(id));
  s.add_prompt_ids(1);
  for (int32_t t : completion_ids) s.add_completion_ids(t);
  s.set_completion_text(std::move(text));
  if (!reference.empty()) (*s.mutable_metadata())["reference"] = std::move(reference);
  s.set_stopped(true);
  return s;
}

// Decodes id k as the character '0' + k; fails on id 99.
absl::StatusOr<std::string> DigitDecoder(absl::Span<const int32_t> ids) {
  std::string out;
  for (int32_t t : ids) {
    if (t == 99) return absl::InvalidArgumentError("id 99 has no text");
    out += static_cast<char>('0' + t);
  }
  return out;
}

std::unique_ptr<CompositeScorer> ExactAndLength() {
  v1::ExactMatchScorer config;
  config.set_extract(v1::ANSWER_EXTRACTION_LAST_NUMBER);
  std::shared_ptr<Scorer> exact = std::move(ExactMatchScorer::Create("exact", config).value());
  auto c = CompositeScorer::Create(
      "default", {{exact, 1.0}, {std::make_shared<LengthPenaltyScorer>("length", 2), 0.5}});
  return std::move(c).value();
}

TEST(MakeScoreInputTest, ViewsIdsAndMetadataAndKeepsSentText) {
  const v1::Sample s = MakeSample("a", {4, 2}, "42", "42");
  auto in = MakeScoreInput(s, DigitDecoder);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->completion_ids.data(), s.completion_ids().data());
  EXPECT_EQ(in->completion_ids.size(), 2u);
  EXPECT_EQ(in->prompt_ids.size(), 1u);
  EXPECT_EQ(in->metadata, &s.metadata());
  EXPECT_EQ(in->completion_text, "42");
  EXPECT_TRUE(in->stopped);
}

TEST(MakeScoreInputTest, DecodesOnlyWhenTheTextIsMissing) {
  auto decoded = MakeScoreInput(MakeSample("a", {4, 2}, "", "42"), DigitDecoder);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->completion_text, "42");
  // No decoder: the text stays absent, so text scorers can say so.
  auto absent = MakeScoreInput(MakeSample("a", {4, 2}, "", "42"), TextDecoder());
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->completion_text.has_value());
  // No ids and no text: an empty completion, known to be empty.
  auto empty = MakeScoreInput(MakeSample("a", {}, "", "42"), TextDecoder());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->completion_text, "");
  auto failed = MakeScoreInput(MakeSample("a", {99}, "", "42"), DigitDecoder);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(failed.status().message().find("decoding completion_ids"), absl::string_view::npos);
}

TEST(ScoreSamplesTest, EachSampleGetsARewardOrItsOwnError) {
  auto scorer = ExactAndLength();
  const std::vector<v1::Sample> samples = {
      MakeSample("ok", {4, 2, 1}, "so 42", "42"),  // right, one token over: 1 - 0.5
      MakeSample("wrong", {4, 3}, "", "42"),       // decoded "43": wrong
      MakeSample("noref", {4, 2}, "42", ""),       // no reference: error
      MakeSample("undecodable", {99}, "", "42"),   // decoding fails: error
  };
  std::vector<const v1::Sample*> ptrs;
  for (const auto& s : samples) ptrs.push_back(&s);
  const std::vector<v1::SampleResult> out = ScoreSamples(*scorer, ptrs, DigitDecoder);
  ASSERT_EQ(out.size(), 4u);

  EXPECT_EQ(out[0].id(), "ok");
  EXPECT_EQ(out[0].code(), 0);
  ASSERT_TRUE(out[0].has_reward());
  EXPECT_DOUBLE_EQ(out[0].reward(), 0.5);
  ASSERT_EQ(out[0].components_size(), 2);
  EXPECT_EQ(out[0].components(0).name(), "exact");
  EXPECT_EQ(out[0].components(0).value(), 1.0);
  EXPECT_EQ(out[0].components(1).name(), "length");
  EXPECT_EQ(out[0].components(1).value(), -1.0);
  EXPECT_EQ(out[0].components(1).weight(), 0.5);

  EXPECT_EQ(out[1].id(), "wrong");
  ASSERT_TRUE(out[1].has_reward());
  EXPECT_DOUBLE_EQ(out[1].reward(), 0.0);

  // Failed samples carry a code and a message and no reward at all (not a 0).
  EXPECT_EQ(out[2].id(), "noref");
  EXPECT_EQ(out[2].code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(out[2].has_reward());
  EXPECT_EQ(out[2].components_size(), 0);
  EXPECT_NE(out[2].message().find("component 'exact'"), std::string::npos) << out[2].message();
  EXPECT_EQ(out[3].id(), "undecodable");
  EXPECT_EQ(out[3].code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(out[3].has_reward());
}

TEST(ScoreSamplesTest, WithoutADecoderTextScorersFailButTheBatchGoesOn) {
  auto scorer = ExactAndLength();
  const v1::Sample no_text = MakeSample("a", {4, 2}, "", "42");
  const v1::Sample with_text = MakeSample("b", {4, 2}, "42", "42");
  const std::vector<const v1::Sample*> ptrs = {&no_text, &with_text};
  const auto out = ScoreSamples(*scorer, ptrs, TextDecoder());
  EXPECT_EQ(out[0].code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(out[0].has_reward());
  EXPECT_EQ(out[1].code(), 0);
  EXPECT_DOUBLE_EQ(out[1].reward(), 1.0);
}

TEST(ScoreSamplesTest, AllSamplesFailingBeforeScoringDoesNotCallTheScorer) {
  auto fake = std::make_shared<testing::FakeScorer>(
      "f", [](const ScoreInput&, size_t) { return ScoreValue(1.0); });
  auto scorer = std::move(CompositeScorer::Create("default", {{fake, 1.0}}).value());
  const v1::Sample bad = MakeSample("x", {99}, "", "");
  const std::vector<const v1::Sample*> ptrs = {&bad};
  const auto out = ScoreSamples(*scorer, ptrs, DigitDecoder);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].code(), 0);
  EXPECT_EQ(fake->batches(), 0);
}

}  // namespace
}  // namespace pelican::reward
