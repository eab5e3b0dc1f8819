#include "common/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "common/logging.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  return set;
}

}  // namespace

SignalWatcher& SignalWatcher::Install() {
  static SignalWatcher* watcher = [] {
    sigset_t set = WatchedSignals();
    PELICAN_CHECK(pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0) << "pthread_sigmask failed";
    auto* w = new SignalWatcher;
    std::thread([w] { w->Run(); }).detach();
    return w;
  }();
  return *watcher;
}

void SignalWatcher::Run() {
  sigset_t set = WatchedSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      checkpoint_requests_.fetch_add(1);
      PELICAN_LOG(INFO) << "SIGUSR1: checkpoint requested";
      continue;
    }
    if (sig == SIGINT && shutdown_.load()) {
      PELICAN_LOG(WARNING) << "second SIGINT: exiting now";
      _exit(130);
    }
    PELICAN_LOG(INFO) << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ": shutting down cleanly";
    TriggerShutdown(sig);
  }
}

void SignalWatcher::TriggerShutdown(int signal) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (triggered_) return;
    triggered_ = true;
    shutdown_signal_.store(signal);
  }
  // Callbacks run before waiters wake, so a waiter sees their effects. One added meanwhile is
  // picked up by the next round.
  for (;;) {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (callbacks_.empty()) {
        shutdown_.store(true);
        break;
      }
      callbacks.swap(callbacks_);
    }
    for (auto& cb : callbacks) cb();
  }
  cv_.notify_all();
}

bool SignalWatcher::TakeCheckpointRequest() {
  int n = checkpoint_requests_.load();
  while (n > 0 && !checkpoint_requests_.compare_exchange_weak(n, 0)) {
  }
  return n > 0;
}

void SignalWatcher::RequestShutdown() { TriggerShutdown(0); }

bool SignalWatcher::WaitForShutdown(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto requested = [this] { return shutdown_.load(); };
  if (timeout == absl::InfiniteDuration()) {
    cv_.wait(lock, requested);
  } else {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), requested);
  }
  return shutdown_.load();
}

void SignalWatcher::OnShutdown(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shutdown_.load()) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

}  // namespace pelican
