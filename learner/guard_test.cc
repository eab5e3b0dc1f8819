#include "learner/guard.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

namespace pelican {
namespace {

v1::GuardSection Config() {
  v1::GuardSection c;
  c.set_enabled(true);
  c.set_gold_drop(0.2);
  c.set_max_repeat_ngram_fraction(0.5);
  return c;
}

GuardStepInput Step(uint64_t step, double reward, double kl = 0.1, double entropy = 1.0) {
  GuardStepInput in;
  in.step = step;
  in.reward_mean = reward;
  in.kl = kl;
  in.entropy = entropy;
  in.completions = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  return in;
}

// `steps` steps of reward `reward`, then a probe scoring `gold`.
GoldObservation Window(RewardGuard& guard, uint64_t* step, int steps, double reward, double gold) {
  for (int i = 0; i < steps; ++i) EXPECT_FALSE(guard.ObserveStep(Step(++*step, reward)));
  return guard.ObserveGold(*step, gold);
}

TEST(RewardGuard, TripsWhenGoldFallsWhileRewardRises) {
  RewardGuard guard(Config());
  uint64_t step = 0;
  EXPECT_TRUE(guard.ObserveGold(0, 0.5).best);  // the start: best so far
  EXPECT_TRUE(Window(guard, &step, 5, 0.4, 0.8).best);
  GoldObservation peak = Window(guard, &step, 5, 0.6, 0.9);
  EXPECT_TRUE(peak.best);
  EXPECT_EQ(guard.state().best_step(), 10u);
  // Gold falls 11%: within the 20% allowed.
  GoldObservation dip = Window(guard, &step, 5, 0.7, 0.8);
  EXPECT_FALSE(dip.best);
  EXPECT_FALSE(dip.trip);
  EXPECT_NEAR(*guard.value(GuardSignal::kGoldDrop), 0.1 / 0.9, 1e-12);
  // Gold falls 33% while the training reward is higher than at the peak: gaming, once it is
  // seen at two probes in a row.
  EXPECT_FALSE(Window(guard, &step, 5, 0.9, 0.6).trip);
  EXPECT_EQ(guard.state().gold_drop_streak(), 1u);
  GoldObservation gamed = Window(guard, &step, 5, 0.9, 0.6);
  ASSERT_TRUE(gamed.trip);
  EXPECT_EQ(gamed.trip->signal, GuardSignal::kGoldDrop);
  EXPECT_NEAR(gamed.trip->value, 0.3 / 0.9, 1e-12);
  EXPECT_DOUBLE_EQ(gamed.trip->threshold, 0.2);
  EXPECT_TRUE(guard.tripped());
  EXPECT_EQ(guard.state().trip_step(), 25u);
  EXPECT_EQ(guard.state().reason(), "gold_drop");
  EXPECT_EQ(guard.state().trips(), 1u);
  EXPECT_DOUBLE_EQ(guard.state().best_score(), 0.9);
  // Latched: no second trip until re-armed.
  EXPECT_FALSE(Window(guard, &step, 5, 0.95, 0.5).trip);
  guard.Rearm();
  EXPECT_FALSE(guard.tripped());
  EXPECT_FALSE(Window(guard, &step, 5, 0.95, 0.5).trip);
  ASSERT_TRUE(Window(guard, &step, 5, 0.95, 0.5).trip);
  EXPECT_EQ(guard.state().trips(), 2u);
}

TEST(RewardGuard, GoldFallingWithTheRewardIsNotGaming) {
  RewardGuard guard(Config());
  uint64_t step = 0;
  Window(guard, &step, 5, 0.8, 0.9);
  EXPECT_FALSE(Window(guard, &step, 5, 0.5, 0.4).trip);  // reward fell too
  EXPECT_FALSE(Window(guard, &step, 5, 0.5, 0.4).trip);
  EXPECT_GT(*guard.value(GuardSignal::kGoldDrop), 0.5);
  EXPECT_FALSE(guard.tripped());
}

TEST(RewardGuard, PerStepLimits) {
  v1::GuardSection config = Config();
  config.set_kl_budget(0.5);
  {
    RewardGuard guard(config);
    EXPECT_FALSE(guard.ObserveStep(Step(1, 0.5, 0.4)));
    std::optional<GuardTrip> trip = guard.ObserveStep(Step(2, 0.5, 0.6));
    ASSERT_TRUE(trip);
    EXPECT_EQ(trip->signal, GuardSignal::kKl);
    EXPECT_EQ(guard.state().trip_step(), 2u);
  }
  config.set_kl_budget(0);
  config.set_min_entropy(0.2);
  {
    RewardGuard guard(config);
    EXPECT_FALSE(guard.ObserveStep(Step(1, 0.5, 9.0, 0.3)));  // KL budget off
    std::optional<GuardTrip> trip = guard.ObserveStep(Step(2, 0.5, 0.1, 0.1));
    ASSERT_TRUE(trip);
    EXPECT_EQ(trip->signal, GuardSignal::kEntropy);
    EXPECT_DOUBLE_EQ(trip->threshold, 0.2);
  }
  {
    RewardGuard guard(Config());
    GuardStepInput in = Step(1, 0.5);
    in.completions = {{7, 7, 7, 7, 7, 7}};  // 4 trigrams, 3 repeats
    std::optional<GuardTrip> trip = guard.ObserveStep(in);
    ASSERT_TRUE(trip);
    EXPECT_EQ(trip->signal, GuardSignal::kRepeatNgram);
    EXPECT_DOUBLE_EQ(trip->value, 0.75);
    EXPECT_DOUBLE_EQ(*guard.value(GuardSignal::kDistinct2), 0.2);
  }
}

TEST(RewardGuard, ThresholdsOnlyForSignalsThatCanTrip) {
  RewardGuard guard(Config());
  EXPECT_DOUBLE_EQ(*guard.threshold(GuardSignal::kGoldDrop), 0.2);
  EXPECT_DOUBLE_EQ(*guard.threshold(GuardSignal::kRepeatNgram), 0.5);
  EXPECT_FALSE(guard.threshold(GuardSignal::kKl));  // budget 0 = off
  EXPECT_FALSE(guard.threshold(GuardSignal::kEntropy));
  EXPECT_FALSE(guard.threshold(GuardSignal::kDistinct2));
  EXPECT_FALSE(guard.value(GuardSignal::kGoldDrop));  // no probe yet
}

TEST(RewardGuard, WindowSignals) {
  RewardGuard guard(Config());
  uint64_t step = 0;
  auto window = [&](double kl, std::vector<int32_t> completion) {
    for (int i = 0; i < 2; ++i) {
      GuardStepInput in = Step(++step, 0.5, kl);
      in.completions = {completion};
      guard.ObserveStep(in);
    }
    guard.ObserveGold(step, 0.5);
  };
  window(0.1, {1, 2});
  EXPECT_DOUBLE_EQ(*guard.value(GuardSignal::kLengthDrift), 0.0);
  EXPECT_FALSE(guard.value(GuardSignal::kKlAccel));  // needs three windows
  window(0.2, {1, 2, 3});
  window(0.5, {1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(*guard.value(GuardSignal::kLengthDrift), 1.0);  // 4 tokens vs 2
  EXPECT_NEAR(*guard.value(GuardSignal::kKlAccel), (0.5 - 0.2) - (0.2 - 0.1), 1e-12);
  window(0.6, {1, 2});
  EXPECT_NEAR(*guard.value(GuardSignal::kKlAccel), (0.6 - 0.5) - (0.5 - 0.2), 1e-12);
}

TEST(RewardGuard, OneLowProbeIsNotATrip) {
  RewardGuard guard(Config());
  uint64_t step = 0;
  Window(guard, &step, 5, 0.5, 0.9);
  EXPECT_FALSE(Window(guard, &step, 5, 0.9, 0.5).trip);   // over the limit once
  EXPECT_FALSE(Window(guard, &step, 5, 0.9, 0.85).trip);  // back within it: the streak resets
  EXPECT_EQ(guard.state().gold_drop_streak(), 0u);
  EXPECT_FALSE(Window(guard, &step, 5, 0.9, 0.5).trip);
  EXPECT_FALSE(guard.tripped());
}

TEST(RewardGuard, RestoredStateContinuesTheSame) {
  RewardGuard a(Config()), b(Config());
  uint64_t step = 0;
  Window(a, &step, 3, 0.5, 0.9);
  Window(a, &step, 3, 0.9, 0.5);
  for (int i = 0; i < 2; ++i) a.ObserveStep(Step(++step, 0.9));
  b.Restore(a.state());
  for (RewardGuard* g : {&a, &b}) g->ObserveStep(Step(step + 1, 0.9));
  GoldObservation oa = a.ObserveGold(step + 1, 0.5), ob = b.ObserveGold(step + 1, 0.5);
  ASSERT_TRUE(oa.trip && ob.trip);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a.state(), b.state()));
}

}  // namespace
}  // namespace pelican
