// The newest published policy weights, shared by every WatchWeights stream. The trainer publishes
// each new version once (encoded and chunked once, not per watcher); watchers are told and stream
// the latest version when they are free, skipping versions that were superseded meanwhile.
//
// Thread safety: all methods are thread-safe. Callbacks run on the publishing thread; they may
// call Latest/version/closed but not Subscribe/Unsubscribe, and must not block. Once Unsubscribe
// returns, that callback never runs again.
#ifndef PELICAN_LEARNER_WEIGHT_STORE_H_
#define PELICAN_LEARNER_WEIGHT_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "common/weight_codec.h"

namespace pelican {

class WeightStore {
 public:
  // Makes `weights` the latest version and notifies every subscriber.
  // REQUIRES: weights->version is greater than the current version.
  void Publish(std::shared_ptr<const EncodedWeights> weights);
  // The latest version, or null before the first Publish.
  std::shared_ptr<const EncodedWeights> Latest() const;
  uint64_t version() const;

  // `on_change` runs after every Publish and on Close. Returns an id for Unsubscribe.
  int Subscribe(std::function<void()> on_change);
  void Unsubscribe(int id);

  // No more versions will come (the run is over): watchers end their streams.
  void Close();
  bool closed() const;

 private:
  void Notify();

  std::mutex notify_mu_;  // held while callbacks run; taken before mu_
  mutable std::mutex mu_;
  std::shared_ptr<const EncodedWeights> latest_;      // guarded by mu_
  std::map<int, std::function<void()>> subscribers_;  // guarded by mu_
  int next_id_ = 0;                                   // guarded by mu_
  bool closed_ = false;                               // guarded by mu_
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_WEIGHT_STORE_H_
