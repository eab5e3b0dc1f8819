#include "reward_service/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace pelican {
namespace {

using Batcher = DynamicBatcher<int, double>;

// A scorer that records batch sizes and returns 2 × sample.
struct Recorder {
  std::mutex mu;
  std::vector<size_t> sizes;
  std::atomic<int> calls{0};
  absl::Duration delay = absl::ZeroDuration();
  Batcher::ScoreFn Fn() {
    return [this](const std::vector<const int*>& batch) {
      calls++;
      if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
      {
        std::lock_guard<std::mutex> lock(mu);
        sizes.push_back(batch.size());
      }
      std::vector<double> out;
      for (const int* s : batch) out.push_back(2.0 * *s);
      return out;
    };
  }
};

struct Waiter {
  std::promise<absl::StatusOr<std::vector<double>>> p;
  Batcher::DoneFn Fn() {
    return [this](absl::StatusOr<std::vector<double>> r) { p.set_value(std::move(r)); };
  }
  absl::StatusOr<std::vector<double>> Get() { return p.get_future().get(); }
};

absl::Time Later() { return absl::Now() + absl::Seconds(30); }

TEST(BatcherTest, ConcurrentCallsShareBatchesAndGetTheirOwnResults) {
  Recorder rec;
  BatcherOptions opt;
  opt.max_batch_size = 8;
  opt.max_wait = absl::Milliseconds(200);
  Batcher b(opt, rec.Fn());
  Waiter w1, w2;
  ASSERT_TRUE(b.Submit({1, 2, 3}, {}, Later(), w1.Fn()).ok());
  ASSERT_TRUE(b.Submit({10, 20, 30, 40, 50}, {}, Later(), w2.Fn()).ok());
  auto r1 = w1.Get();
  auto r2 = w2.Get();
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(*r1, (std::vector<double>{2, 4, 6}));
  EXPECT_EQ(*r2, (std::vector<double>{20, 40, 60, 80, 100}));
  // Eight samples from two calls filled one batch.
  EXPECT_EQ(rec.sizes, (std::vector<size_t>{8}));
}

TEST(BatcherTest, PartialBatchClosesAfterMaxWait) {
  Recorder rec;
  BatcherOptions opt;
  opt.max_batch_size = 64;
  opt.max_wait = absl::Milliseconds(20);
  Batcher b(opt, rec.Fn());
  Waiter w;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(b.Submit({7}, {}, Later(), w.Fn()).ok());
  ASSERT_TRUE(w.Get().ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(15));
  EXPECT_EQ(rec.sizes, (std::vector<size_t>{1}));
}

TEST(BatcherTest, TokenBudgetSplitsBatches) {
  Recorder rec;
  BatcherOptions opt;
  opt.max_batch_size = 100;
  opt.max_batch_tokens = 10;
  opt.max_wait = absl::Milliseconds(100);
  Batcher b(opt, rec.Fn());
  Waiter w;
  ASSERT_TRUE(b.Submit({1, 2, 3, 4}, {4, 4, 4, 4}, Later(), w.Fn()).ok());
  ASSERT_TRUE(w.Get().ok());
  EXPECT_EQ(rec.sizes, (std::vector<size_t>{2, 2}));
}

TEST(BatcherTest, FullQueueIsRefusedWithoutQueueingAnything) {
  Recorder rec;
  rec.delay = absl::Milliseconds(300);
  BatcherOptions opt;
  opt.max_batch_size = 2;
  opt.max_wait = absl::ZeroDuration();
  opt.capacity = 4;
  Batcher b(opt, rec.Fn());
  Waiter busy;
  ASSERT_TRUE(b.Submit({1, 2}, {}, Later(), busy.Fn()).ok());
  // Wait until the worker is inside the slow scorer with the first call.
  while (rec.calls.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  Waiter w1;
  ASSERT_TRUE(b.Submit({3, 4, 5}, {}, Later(), w1.Fn()).ok());
  const absl::Status full = b.Submit({6, 7}, {}, Later(), [](auto) { FAIL() << "not queued"; });
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_EQ(b.queue_depth(), 3u);
  EXPECT_TRUE(w1.Get().ok());
}

TEST(BatcherTest, ExpiredCallsAreNotScored) {
  Recorder rec;
  BatcherOptions opt;
  opt.max_wait = absl::Milliseconds(50);
  Batcher b(opt, rec.Fn());
  Waiter w;
  ASSERT_TRUE(b.Submit({1, 2}, {}, absl::Now() + absl::Milliseconds(1), w.Fn()).ok());
  auto r = w.Get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(rec.calls.load(), 0);
}

TEST(BatcherTest, ShutdownFinishesQueuedWorkThenRefuses) {
  Recorder rec;
  rec.delay = absl::Milliseconds(20);
  BatcherOptions opt;
  opt.max_batch_size = 1;
  opt.max_wait = absl::Seconds(10);
  Batcher b(opt, rec.Fn());
  std::vector<std::unique_ptr<Waiter>> ws;
  for (int i = 0; i < 5; ++i) {
    ws.push_back(std::make_unique<Waiter>());
    ASSERT_TRUE(b.Submit({i}, {}, Later(), ws.back()->Fn()).ok());
  }
  b.Shutdown();
  for (int i = 0; i < 5; ++i) {
    auto r = ws[i]->Get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)[0], 2.0 * i);
  }
  EXPECT_EQ(b.Submit({1}, {}, Later(), [](auto) {}).code(), absl::StatusCode::kUnavailable);
}

TEST(BatcherTest, EmptyCallCompletesAtOnce) {
  Recorder rec;
  Batcher b(BatcherOptions{}, rec.Fn());
  Waiter w;
  ASSERT_TRUE(b.Submit({}, {}, Later(), w.Fn()).ok());
  auto r = w.Get();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace pelican
