// Process signals as requests: SIGTERM and SIGINT ask for a clean shutdown (a second SIGINT exits
// at once, for an impatient Ctrl-C), SIGUSR1 asks for a checkpoint. Signals are blocked in every
// thread and taken by one watcher thread with sigwait, so no work happens in a signal handler.
//
// REQUIRES: SignalWatcher::Install() is called in main before any thread is started (gRPC,
// LibTorch and prometheus all start threads), so that they inherit the blocked mask.
// Thread safety: all methods may be called from any thread.
#ifndef PELICAN_COMMON_SIGNALS_H_
#define PELICAN_COMMON_SIGNALS_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/time/time.h"

namespace pelican {

class SignalWatcher {
 public:
  // Installs the watcher once per process and returns it; later calls return the same one.
  static SignalWatcher& Install();

  bool shutdown_requested() const { return shutdown_.load(); }
  // The signal that asked for shutdown (0 when asked by RequestShutdown or not at all).
  int shutdown_signal() const { return shutdown_signal_.load(); }
  // True once per SIGUSR1 received since the last call.
  bool TakeCheckpointRequest();

  // Asks for shutdown as if SIGTERM had arrived, from code (tests, fatal component errors).
  void RequestShutdown();
  // Blocks until shutdown is requested or `timeout` passes; returns shutdown_requested().
  bool WaitForShutdown(absl::Duration timeout);
  // Runs `callback` on the watcher thread when shutdown is first requested (e.g. to call
  // grpc::Server::Shutdown). Callbacks added after the request run at once on the caller.
  void OnShutdown(std::function<void()> callback);

 private:
  SignalWatcher() = default;
  void Run();
  void TriggerShutdown(int signal);

  std::atomic<bool> shutdown_{false};
  std::atomic<int> shutdown_signal_{0};
  std::atomic<int> checkpoint_requests_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool triggered_ = false;                        // guarded by mu_
  std::vector<std::function<void()>> callbacks_;  // guarded by mu_
};

}  // namespace pelican

#endif  // PELICAN_COMMON_SIGNALS_H_
