// Process-wide runtime settings every role applies at start: LibTorch's intra-op thread count
// (Debian's LibTorch starts with one thread; with OpenBLAS and an explicit count a 1024² fp32
// matmul ran 60× faster on 2 cores) and a one-line description of the build.
#ifndef PELICAN_COMMON_RUNTIME_H_
#define PELICAN_COMMON_RUNTIME_H_

#include <cstdint>
#include <string>

namespace pelican {

// The cores this process may run on (its CPU affinity mask, as set by taskset, a cgroup cpuset or
// Slurm), at least 1.
int AvailableCores();

// The thread count a role set to 0 ("automatic") uses: OMP_NUM_THREADS when it is set to a
// positive number (the convention OpenMP programs and PyTorch follow), else AvailableCores().
int DefaultThreads();

// Sets LibTorch's intra-op threads to `requested`, or to DefaultThreads() when 0. Returns the count
// in effect.
int ConfigureThreads(uint32_t requested);

// "pelican 0.1.0 (git 1a2b3c) LibTorch 1.13.1, CUDA devices: 0, NCCL 2.27.3" and so on.
std::string BuildDescription();

}  // namespace pelican

#endif  // PELICAN_COMMON_RUNTIME_H_
