#include "reward_service/batch_validation.h"

#include <gtest/gtest.h>

namespace pelican::reward {
namespace {

std::unique_ptr<ScorerSet> Scorers() {
  v1::RewardSection section;
  v1::ScorerSpec* s = section.add_scorers();
  s->set_name("stop");
  s->mutable_stop_penalty();
  ScorerRegistry empty;
  return std::move(BuildScorerSet(section, empty).value());
}

v1::ScoreRequest Request(int samples, int prompt_len = 2, int completion_len = 3) {
  v1::ScoreRequest r;
  for (int i = 0; i < samples; ++i) {
    v1::Sample* s = r.add_samples();
    s->set_id("s" + std::to_string(i));
    for (int t = 0; t < prompt_len; ++t) s->add_prompt_ids(t);
    for (int t = 0; t < completion_len; ++t) s->add_completion_ids(t + 10);
  }
  return r;
}

void ExpectInvalid(const absl::Status& s, const std::string& message) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message(), message);
}

TEST(BatchValidationTest, AcceptsAWellFormedRequest) {
  auto scorers = Scorers();
  const BatchLimits limits{5, 100};
  EXPECT_TRUE(ValidateScoreRequest(Request(3), limits, *scorers).ok());
  v1::ScoreRequest named = Request(1);
  named.set_scorer("stop");
  EXPECT_TRUE(ValidateScoreRequest(named, limits, *scorers).ok());
  named.set_scorer("default");
  EXPECT_TRUE(ValidateScoreRequest(named, limits, *scorers).ok());
}

TEST(BatchValidationTest, RejectsAnEmptyRequest) {
  auto scorers = Scorers();
  ExpectInvalid(ValidateScoreRequest(v1::ScoreRequest(), BatchLimits{}, *scorers),
                "the request has no samples");
}

TEST(BatchValidationTest, RejectsAnUnknownScorer) {
  auto scorers = Scorers();
  v1::ScoreRequest r = Request(1);
  r.set_scorer("rm");
  ExpectInvalid(ValidateScoreRequest(r, BatchLimits{}, *scorers),
                "unknown scorer \"rm\"; this service offers: default, stop");
}

TEST(BatchValidationTest, RejectsAnOversizedSampleNamingIt) {
  auto scorers = Scorers();
  v1::ScoreRequest r = Request(3);
  r.mutable_samples(2)->add_completion_ids(11);  // 2 + 4 = 6 tokens
  ExpectInvalid(ValidateScoreRequest(r, BatchLimits{5, 0}, *scorers),
                "sample 2 (id \"s2\"): prompt + completion is 6 tokens, more than "
                "reward.max_sample_tokens = 5");
  EXPECT_TRUE(ValidateScoreRequest(r, BatchLimits{6, 0}, *scorers).ok());
}

TEST(BatchValidationTest, RejectsIdsOutsideTheVocabularyNamingSampleAndPosition) {
  auto scorers = Scorers();
  v1::ScoreRequest r = Request(2);
  r.mutable_samples(1)->set_completion_ids(2, 100);
  ExpectInvalid(ValidateScoreRequest(r, BatchLimits{100, 100}, *scorers),
                "sample 1 (id \"s1\"): completion_ids[2] = 100 is outside the vocabulary "
                "[0, 100)");
  EXPECT_TRUE(ValidateScoreRequest(r, BatchLimits{100, 101}, *scorers).ok());

  r.mutable_samples(0)->set_prompt_ids(1, -1);
  r.mutable_samples(0)->clear_id();
  ExpectInvalid(ValidateScoreRequest(r, BatchLimits{100, 0}, *scorers),
                "sample 0: prompt_ids[1] = -1 is negative");
}

TEST(BatchValidationTest, LimitsComeFromTheConfig) {
  v1::RewardSection section;
  section.set_max_sample_tokens(77);
  const BatchLimits limits = BatchLimits::FromConfig(section, 1000);
  EXPECT_EQ(limits.max_sample_tokens, 77);
  EXPECT_EQ(limits.vocab_size, 1000);
}

}  // namespace
}  // namespace pelican::reward
