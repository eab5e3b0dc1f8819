#include "common/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

namespace pelican {
namespace {

// Each test forks so that the process-wide watcher and the real signals stay inside the child.
// The child's exit code reports what it saw.
int RunInChild(int (*body)()) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(SignalsTest, SigtermRequestsShutdownAndRunsCallbacks) {
  EXPECT_EQ(RunInChild([] {
              SignalWatcher& w = SignalWatcher::Install();
              static std::atomic<int> called{0};
              w.OnShutdown([] { called++; });
              if (w.shutdown_requested()) return 1;
              kill(getpid(), SIGTERM);
              if (!w.WaitForShutdown(absl::Seconds(10))) return 2;
              if (w.shutdown_signal() != SIGTERM) return 3;
              if (called.load() != 1) return 4;
              // A callback added after the request runs at once.
              w.OnShutdown([] { called++; });
              return called.load() == 2 ? 0 : 5;
            }),
            0);
}

TEST(SignalsTest, SigusrOneRequestsACheckpointOnce) {
  EXPECT_EQ(RunInChild([] {
              SignalWatcher& w = SignalWatcher::Install();
              if (w.TakeCheckpointRequest()) return 1;
              kill(getpid(), SIGUSR1);
              for (int i = 0; i < 1000 && !w.TakeCheckpointRequest(); ++i) {
                if (i == 999) return 2;
                usleep(5000);
              }
              if (w.TakeCheckpointRequest()) return 3;  // consumed
              return w.shutdown_requested() ? 4 : 0;
            }),
            0);
}

TEST(SignalsTest, SecondSigintExitsAtOnce) {
  EXPECT_EQ(RunInChild([] {
              SignalWatcher& w = SignalWatcher::Install();
              kill(getpid(), SIGINT);
              if (!w.WaitForShutdown(absl::Seconds(10))) return 2;
              kill(getpid(), SIGINT);
              sleep(10);
              return 3;  // not reached: the watcher exits with 130
            }),
            130);
}

TEST(SignalsTest, WaitTimesOutWithoutASignal) {
  EXPECT_EQ(RunInChild([] {
              SignalWatcher& w = SignalWatcher::Install();
              if (w.WaitForShutdown(absl::Milliseconds(50))) return 1;
              w.RequestShutdown();
              return w.WaitForShutdown(absl::Seconds(1)) && w.shutdown_signal() == 0 ? 0 : 2;
            }),
            0);
}

}  // namespace
}  // namespace pelican
