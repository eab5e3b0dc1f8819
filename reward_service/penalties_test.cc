#include "reward_service/penalties.h"

#include <gtest/gtest.h>

#include "reward_service/scorer_testing.h"

namespace pelican::reward {
namespace {

using testing::Inputs;
using testing::OwnedSample;

OwnedSample Ids(std::vector<int32_t> ids, bool stopped = true) {
  OwnedSample s;
  s.completion_ids = std::move(ids);
  s.stopped = stopped;
  return s;
}

std::vector<double> Values(Scorer& scorer, const std::vector<OwnedSample>& samples) {
  std::vector<double> values;
  for (const auto& r : scorer.ScoreBatch(Inputs(samples))) {
    EXPECT_TRUE(r.ok()) << r.status();
    values.push_back(r.ok() ? r->value : -999);
  }
  return values;
}

TEST(LengthPenaltyTest, ChargesOneUnitPerTokenBeyondTheTarget) {
  LengthPenaltyScorer s("len", 3);
  EXPECT_EQ(
      Values(s, {Ids({}), Ids({1, 2, 3}), Ids({1, 2, 3, 4}), Ids(std::vector<int32_t>(10, 1))}),
      (std::vector<double>{0, 0, -1, -7}));
  LengthPenaltyScorer zero("len", 0);
  EXPECT_EQ(Values(zero, {Ids({}), Ids({9, 9})}), (std::vector<double>{0, -2}));
}

TEST(RepetitionPenaltyTest, IsMinusTheRepeatedNgramFraction) {
  auto s = RepetitionPenaltyScorer::Create("rep", 2);
  ASSERT_TRUE(s.ok()) << s.status();
  // {1,2,1,2,1}: bigrams 12 21 12 21, half repeated. {1,2,3}: none. {7}: no bigram at all.
  EXPECT_EQ(Values(**s, {Ids({1, 2, 1, 2, 1}), Ids({1, 2, 3}), Ids({7}), Ids({})}),
            (std::vector<double>{-0.5, 0, 0, 0}));
  auto tri = RepetitionPenaltyScorer::Create("rep", 3);
  ASSERT_TRUE(tri.ok());
  EXPECT_DOUBLE_EQ(Values(**tri, {Ids(std::vector<int32_t>(50, 4))})[0], -47.0 / 48.0);
}

TEST(RepetitionPenaltyTest, RejectsAnOrderOutsideTheConfigRange) {
  EXPECT_EQ(RepetitionPenaltyScorer::Create("rep", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RepetitionPenaltyScorer::Create("rep", 65).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(RepetitionPenaltyScorer::Create("rep", 64).ok());
}

TEST(StopPenaltyTest, ChargesACompletionThatDidNotStop) {
  StopPenaltyScorer s("stop");
  EXPECT_EQ(Values(s, {Ids({1, 2}, true), Ids({1, 2}, false), Ids({}, false)}),
            (std::vector<double>{0, -1, -1}));
}

TEST(PenaltiesTest, TokenPenaltiesRefuseTextWithoutIds) {
  OwnedSample text_only;
  text_only.completion_text = "some words";
  LengthPenaltyScorer len("len", 0);
  auto rep = RepetitionPenaltyScorer::Create("rep", 1);
  ASSERT_TRUE(rep.ok());
  for (Scorer* s : std::vector<Scorer*>{&len, rep->get()}) {
    auto out = s->ScoreBatch(Inputs({text_only, Ids({1, 1})}));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].status().code(), absl::StatusCode::kInvalidArgument) << s->name();
    EXPECT_TRUE(out[1].ok()) << s->name();
  }
  // An empty completion (no ids, empty or absent text) is fine.
  OwnedSample empty;
  empty.completion_text = "";
  EXPECT_EQ(Values(len, {empty}), (std::vector<double>{0}));
}

}  // namespace
}  // namespace pelican::reward
