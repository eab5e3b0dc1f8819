#include "common/runtime.h"

#include <torch/torch.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/version.h"

#ifdef PELICAN_HAVE_NCCL
#include <nccl.h>
#endif

namespace pelican {

int ConfigureThreads(uint32_t requested) {
  const int n = requested > 0 ? static_cast<int>(requested)
                              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
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
