#include "learner/push_window.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pelican {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(PushWindowTest, InOrderSeqsKeepOnlyTheTop) {
  PushWindow window;
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    EXPECT_FALSE(window.Contains(seq));
    window.Insert(seq);
    EXPECT_TRUE(window.Contains(seq));
  }
  EXPECT_EQ(window.top(), 100u);
  EXPECT_THAT(window.missing(), IsEmpty());
  EXPECT_TRUE(window.Contains(1));
  EXPECT_FALSE(window.Contains(101));
  EXPECT_FALSE(window.Contains(0));
}

TEST(PushWindowTest, GapsStayUnseenUntilFilled) {
  PushWindow window;
  window.Insert(1);
  window.Insert(3);
  window.Insert(6);
  EXPECT_EQ(window.top(), 6u);
  EXPECT_THAT(window.missing(), ElementsAre(2, 4, 5));
  EXPECT_FALSE(window.Contains(2));
  EXPECT_TRUE(window.Contains(3));
  window.Insert(4);  // a retry that was overtaken arrives
  EXPECT_THAT(window.missing(), ElementsAre(2, 5));
  EXPECT_TRUE(window.Contains(4));
  EXPECT_EQ(window.forgotten(), 0u);
}

TEST(PushWindowTest, APermanentGapCostsOneEntryNotOnePerLaterPush) {
  PushWindow window(/*max_missing=*/4);
  window.Insert(1);
  for (uint64_t seq = 3; seq <= 10000; ++seq) window.Insert(seq);  // seq 2 was given up on
  EXPECT_THAT(window.missing(), ElementsAre(2));
  EXPECT_FALSE(window.Contains(2));
  EXPECT_EQ(window.forgotten(), 0u);
}

TEST(PushWindowTest, BoundForgetsTheLowestGapsAndTreatsThemAsSeen) {
  PushWindow window(/*max_missing=*/2);
  window.Insert(1);
  window.Insert(3);  // gap 2
  window.Insert(5);  // gap 4
  EXPECT_THAT(window.missing(), ElementsAre(2, 4));
  window.Insert(7);  // gap 6: three gaps, the lowest is forgotten
  EXPECT_THAT(window.missing(), ElementsAre(4, 6));
  EXPECT_EQ(window.forgotten(), 1u);
  EXPECT_TRUE(window.Contains(2));  // a late push with seq 2 is answered as a duplicate now
  EXPECT_FALSE(window.Contains(4));

  // A far jump records only the highest gaps, without walking the whole range.
  window.Insert(uint64_t{1} << 60);
  EXPECT_EQ(window.missing().size(), 2u);
  EXPECT_EQ(*window.missing().rbegin(), (uint64_t{1} << 60) - 1);
  EXPECT_EQ(window.forgotten(), 1u + ((uint64_t{1} << 60) - 8));
}

TEST(PushWindowTest, RecordRoundTrip) {
  PushWindow window(/*max_missing=*/4);
  for (uint64_t seq : {1, 2, 4, 9}) window.Insert(seq);
  v1::PushWindowRecord record = window.ToRecord();
  record.set_actor_id("a");
  absl::StatusOr<PushWindow> restored = PushWindow::FromRecord(record, 4);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->top(), 9u);
  EXPECT_EQ(restored->missing(), window.missing());
  EXPECT_EQ(restored->forgotten(), window.forgotten());
  for (uint64_t seq = 0; seq <= 10; ++seq) {
    EXPECT_EQ(restored->Contains(seq), window.Contains(seq));
  }
}

TEST(PushWindowTest, FromRecordRefusesBrokenRecords) {
  v1::PushWindowRecord record;
  record.set_actor_id("a");
  record.set_top(5);
  record.add_missing(5);  // not below top
  EXPECT_EQ(PushWindow::FromRecord(record).status().code(), absl::StatusCode::kInvalidArgument);
  record.clear_missing();
  record.add_missing(0);
  EXPECT_EQ(PushWindow::FromRecord(record).status().code(), absl::StatusCode::kInvalidArgument);
  record.clear_missing();
  for (uint64_t seq : {2, 3, 4}) record.add_missing(seq);
  EXPECT_EQ(PushWindow::FromRecord(record, /*max_missing=*/2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(PushWindow::FromRecord(record, /*max_missing=*/3).ok());
}

}  // namespace
}  // namespace pelican
