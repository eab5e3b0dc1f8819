#include "common/runtime.h"

#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/version.h"

#ifdef PELICAN_HAVE_NCCL
#include <nccl.h>
#endif

namespace pelican {

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int DefaultThreads() {
  int n = 0;
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return AvailableCores();
}

int ConfigureThreads(uint32_t requested) {
  const int n = requested > 0 ? static_cast<int>(requested) : DefaultThreads();
  at::set_num_threads(n);
  return at::get_num_threads();
}

std::string BuildDescription() {
  std::string nccl = "NCCL not built";
#ifdef PELICAN_HAVE_NCCL
  int v = 0;
  if (ncclGetVersion(&v) == ncclSuccess) {
    // NCCL >= 2.9 encodes MAJOR*10000 + MINOR*100 + PATCH.
    nccl = absl::StrCat("NCCL ", v / 10000, ".", (v / 100) % 100, ".", v % 100);
  }
#endif
  return absl::StrCat("pelican ", kPelicanVersion, " (git ", kPelicanGitSha, "), LibTorch ",
                      TORCH_VERSION, ", CUDA devices: ",
                      torch::cuda::is_available() ? torch::cuda::device_count() : 0, ", ", nccl);
}

}  // namespace pelican
