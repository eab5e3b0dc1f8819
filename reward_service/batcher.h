// Server-side dynamic batching for the reward service: samples from many concurrent Score calls
// are packed into batches for the scorer, so a reward model runs one forward for many actors.
//
//   Score call ──Submit(samples, deadline, done)──► bounded queue ──worker──► ScoreFn(batch)
//        ◄──────────────── done(results), once every sample of the call is scored ───┘
//
// A batch closes when it holds max_batch_size samples or max_batch_tokens tokens, or when its
// oldest sample has waited max_wait. Samples of a call whose deadline has passed are not scored;
// the call finishes with DEADLINE_EXCEEDED. The queue holds at most `capacity` samples; a call
// that does not fit is refused with RESOURCE_EXHAUSTED and nothing of it is queued.
//
// Thread safety: all public methods may be called from any thread. `done` runs on a worker
// thread (or on the caller of Shutdown) and must not block for long.
#ifndef PELICAN_REWARD_SERVICE_BATCHER_H_
#define PELICAN_REWARD_SERVICE_BATCHER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace pelican {

struct BatcherOptions {
  size_t max_batch_size = 64;
  size_t max_batch_tokens = 65536;
  absl::Duration max_wait = absl::Milliseconds(5);
  size_t capacity = 4096;
  int num_workers = 1;
};

// Sample: what the scorer reads; Result: what it returns for one sample.
template <typename Sample, typename Result>
class DynamicBatcher {
 public:
  // Scores one batch; must return one result per sample, in order. Called from worker threads,
  // at most num_workers at once.
  using ScoreFn = std::function<std::vector<Result>(const std::vector<const Sample*>& batch)>;
  using DoneFn = std::function<void(absl::StatusOr<std::vector<Result>>)>;

  DynamicBatcher(BatcherOptions options, ScoreFn score) : options_(options), score_(score) {
    for (int i = 0; i < options_.num_workers; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~DynamicBatcher() { Shutdown(); }
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues one call. `tokens[i]` is sample i's size for the token budget. Returns
  // RESOURCE_EXHAUSTED (nothing queued, `done` never runs) when the queue cannot take all of the
  // samples, UNAVAILABLE after Shutdown; otherwise OK, and `done` runs exactly once later.
  absl::Status Submit(std::vector<Sample> samples, const std::vector<int64_t>& tokens,
                      absl::Time deadline, DoneFn done) {
    auto call = std::make_shared<Call>();
    call->samples = std::move(samples);
    call->results.resize(call->samples.size());
    call->remaining = call->samples.size();
    call->deadline = deadline;
    call->done = std::move(done);
    std::unique_lock<std::mutex> lock(mu_);
    if (shutdown_) return absl::UnavailableError("the reward service is shutting down");
    if (queue_.size() + call->samples.size() > options_.capacity) {
      return absl::ResourceExhaustedError(absl::StrCat("reward queue full: ", queue_.size(),
                                                       " samples waiting, capacity ",
                                                       options_.capacity, "; retry with backoff"));
    }
    if (call->samples.empty()) {
      lock.unlock();
      call->done(std::vector<Result>());
      return absl::OkStatus();
    }
    const absl::Time now = absl::Now();
    for (size_t i = 0; i < call->samples.size(); ++i) {
      const int64_t t = tokens.empty() ? 0 : tokens[i];
      queued_tokens_ += t;
      queue_.push_back(Item{call, i, t, now});
    }
    lock.unlock();
    cv_.notify_all();
    return absl::OkStatus();
  }

  // Samples waiting to be batched.
  size_t queue_depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

  // Stops taking calls, scores everything already queued, and joins the workers. Idempotent.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  struct Call {
    std::vector<Sample> samples;
    std::vector<Result> results;
    size_t remaining = 0;  // guarded by the batcher's mu_
    bool failed = false;   // guarded by the batcher's mu_
    absl::Time deadline;
    DoneFn done;
  };
  struct Item {
    std::shared_ptr<Call> call;
    size_t index;
    int64_t tokens;
    absl::Time enqueued;
  };

  // Takes the next batch, waiting up to max_wait after the oldest item for it to fill. Returns
  // an empty batch only when shut down with nothing left.
  std::vector<Item> NextBatch() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return shutdown_ || !queue_.empty(); });
      if (queue_.empty()) return {};
      const absl::Time close_at = queue_.front().enqueued + options_.max_wait;
      while (!shutdown_ && !Full() && absl::Now() < close_at) {
        cv_.wait_for(lock, absl::ToChronoNanoseconds(close_at - absl::Now()));
        if (queue_.empty()) break;
      }
      if (queue_.empty()) continue;  // another worker took it
      std::vector<Item> batch;
      int64_t tokens = 0;
      while (!queue_.empty() && batch.size() < options_.max_batch_size) {
        const Item& next = queue_.front();
        if (!batch.empty() &&
            tokens + next.tokens > static_cast<int64_t>(options_.max_batch_tokens)) {
          break;
        }
        tokens += next.tokens;
        queued_tokens_ -= next.tokens;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      return batch;
    }
  }

  // REQUIRES: mu_ held.
  bool Full() const {
    return queue_.size() >= options_.max_batch_size ||
           queued_tokens_ >= static_cast<int64_t>(options_.max_batch_tokens);
  }

  void Work() {
    for (;;) {
      std::vector<Item> batch = NextBatch();
      if (batch.empty()) return;
      // Drop work nobody waits for any more.
      const absl::Time now = absl::Now();
      std::vector<Item> live;
      std::vector<std::shared_ptr<Call>> expired;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (Item& it : batch) {
          if (it.call->failed) continue;
          if (now > it.call->deadline) {
            it.call->failed = true;
            expired.push_back(it.call);
          } else {
            live.push_back(std::move(it));
          }
        }
      }
      for (auto& call : expired) {
        call->done(absl::DeadlineExceededError("the call's deadline passed before it was scored"));
      }
      if (live.empty()) continue;
      std::vector<const Sample*> samples;
      samples.reserve(live.size());
      for (const Item& it : live) samples.push_back(&it.call->samples[it.index]);
      std::vector<Result> results = score_(samples);
      PELICAN_CHECK(results.size() == samples.size())
          << "scorer returned " << results.size() << " results for " << samples.size()
          << " samples";
      std::vector<std::shared_ptr<Call>> finished;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (size_t i = 0; i < live.size(); ++i) {
          Call& call = *live[i].call;
          if (call.failed) continue;
          call.results[live[i].index] = std::move(results[i]);
          if (--call.remaining == 0) finished.push_back(live[i].call);
        }
      }
      for (auto& call : finished) call->done(std::move(call->results));
    }
  }

  // Constant after construction.
  const BatcherOptions options_;
  const ScoreFn score_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;     // guarded by mu_
  int64_t queued_tokens_ = 0;  // guarded by mu_
  bool shutdown_ = false;      // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace pelican

#endif  // PELICAN_REWARD_SERVICE_BATCHER_H_
