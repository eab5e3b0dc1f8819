#include "learner/evaluation.h"

#include <gtest/gtest.h>

namespace pelican {
namespace {

EvalResult Scored(bool has_gold) {
  EvalResult r;
  r.has_gold = has_gold;
  // {prompt, completion, reference, gold score, training reward}
  r.samples = {{"p1", "To set sail!", "boat", 1.0, 2.0},
               {"p2", "!!!!!!", "boat", 0.0, 3.5},
               {"p3", "For no reason.", "boat", 0.4, -1.0},
               {"p4", "the the the", "drum", 0.0, 0.5}};
  return r;
}

TEST(HighRewardLowGold, KeepsWhatTheRewardLikesAndTheGoldDoesNot) {
  const std::vector<EvalSample> gamed = HighRewardLowGold(Scored(true), 1.0, 0.5);
  ASSERT_EQ(gamed.size(), 1u);
  EXPECT_EQ(gamed[0].completion, "!!!!!!");
  // Bounds are strict: a sample at the reward floor or the gold limit is not harvested.
  EXPECT_TRUE(HighRewardLowGold(Scored(true), 3.5, 0.5).empty());
  EXPECT_TRUE(HighRewardLowGold(Scored(true), 1.0, 0.0).empty());
  EXPECT_EQ(HighRewardLowGold(Scored(true), 0.0, 0.5).size(), 2u);
}

TEST(HighRewardLowGold, NothingWithoutGoldScorers) {
  // Without guard.gold the score is the training reward itself: nothing can disagree with it.
  EXPECT_TRUE(HighRewardLowGold(Scored(false), -10.0, 10.0).empty());
}

}  // namespace
}  // namespace pelican
