#include "learner/weight_store.h"

#include <vector>

#include "common/status_macros.h"

namespace pelican {

void WeightStore::Publish(std::shared_ptr<const EncodedWeights> weights) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    PELICAN_CHECK(latest_ == nullptr || weights->version > latest_->version)
        << "published v" << weights->version << " after v" << latest_->version;
    latest_ = std::move(weights);
  }
  Notify();
}

std::shared_ptr<const EncodedWeights> WeightStore::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

uint64_t WeightStore::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_ == nullptr ? 0 : latest_->version;
}

int WeightStore::Subscribe(std::function<void()> on_change) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_[next_id_] = std::move(on_change);
  return next_id_++;
}

void WeightStore::Unsubscribe(int id) {
  // Waits for a Notify in progress, so the callback never runs after Unsubscribe returns.
  std::lock_guard<std::mutex> notify_lock(notify_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.erase(id);
}

void WeightStore::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  Notify();
}

bool WeightStore::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void WeightStore::Notify() {
  std::lock_guard<std::mutex> notify_lock(notify_mu_);
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, cb] : subscribers_) callbacks.push_back(cb);
  }
  for (auto& cb : callbacks) cb();
}

}  // namespace pelican
