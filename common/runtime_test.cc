#include "common/runtime.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <torch/torch.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace pelican {
namespace {

// Sets OMP_NUM_THREADS for one test and puts the previous value back.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(const char* value) {
    if (const char* old = std::getenv("OMP_NUM_THREADS")) old_ = old;
    if (value == nullptr) {
      unsetenv("OMP_NUM_THREADS");
    } else {
      setenv("OMP_NUM_THREADS", value, 1);
    }
  }
  ~ScopedOmpThreads() {
    if (old_) {
      setenv("OMP_NUM_THREADS", old_->c_str(), 1);
    } else {
      unsetenv("OMP_NUM_THREADS");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(Runtime, AvailableCoresFollowsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(AvailableCores(), CPU_COUNT(&set));
}

TEST(Runtime, AutomaticThreadsReadOmpNumThreadsWhenValid) {
  {
    ScopedOmpThreads env("3");
    EXPECT_EQ(DefaultThreads(), 3);
  }
  for (const char* bad : {"0", "-2", "many", ""}) {
    ScopedOmpThreads env(bad);
    EXPECT_EQ(DefaultThreads(), AvailableCores()) << "OMP_NUM_THREADS=" << bad;
  }
  ScopedOmpThreads unset(nullptr);
  EXPECT_EQ(DefaultThreads(), AvailableCores());
}

TEST(Runtime, ConfigureThreadsSetsLibTorch) {
  const int before = at::get_num_threads();
  EXPECT_EQ(ConfigureThreads(2), 2);
  EXPECT_EQ(at::get_num_threads(), 2);
  {
    ScopedOmpThreads env("1");
    EXPECT_EQ(ConfigureThreads(0), 1);
  }
  at::set_num_threads(before);
}

}  // namespace
}  // namespace pelican
