// Data parallelism for the learner (DESIGN.md, "The learner" → Data parallel): R ranks each
// compute gradients on their shard of the batch, all-reduce them to the mean, and step the same
// optimizer, so parameters stay identical on every rank.
//
//   env → RankInfoFromEnv → CreateProcessGroup → { BroadcastBytes(shard) → backward →
//                                                 AllReduceMean(grads) → optimizer step }
//
// Backends: Gloo over TCP for CPU tensors (and CUDA tensors staged through host memory); NCCL for
// CUDA tensors when built with it. Ranks meet through a small TCP store hosted by rank 0 at
// MASTER_ADDR:MASTER_PORT (tcp_store.h). Every collective has a timeout: a hung or dead peer makes
// the call return an error naming it, never block forever.
#ifndef PELICAN_LEARNER_DISTRIBUTED_H_
#define PELICAN_LEARNER_DISTRIBUTED_H_

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pelican {

// Where this process sits in the job.
struct RankInfo {
  int rank = 0;                           // 0 .. world_size-1
  int world_size = 1;                     // number of data-parallel ranks
  std::string master_addr = "127.0.0.1";  // host of rank 0, which serves the rendezvous store
  int master_port = 29500;
  int local_rank = 0;  // index among the ranks on this host; picks the GPU
};

// The environment as a function, so tests need not touch the real one. Returns nullopt for an
// unset variable.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the rank layout from the environment. Each field takes the first variable that is set:
//   rank        RANK,        SLURM_PROCID                     (default 0)
//   world_size  WORLD_SIZE,  SLURM_NTASKS                     (default 1)
//   local_rank  LOCAL_RANK,  SLURM_LOCALID                    (default 0)
//   master_addr MASTER_ADDR, first host of SLURM_JOB_NODELIST, SLURM_LAUNCH_NODE_IPADDR
//                                                             (default 127.0.0.1)
//   master_port MASTER_PORT                                   (default 29500)
// so the torchrun-style variables win over Slurm's, field by field: an sbatch script may export
// MASTER_ADDR/MASTER_PORT and let srun provide the ranks. A variable that is set but malformed is
// an error even when a fallback exists: INVALID_ARGUMENT naming the variable and its value, also
// for rank >= world_size, world_size < 1, negative ranks, ports outside 1..65535 and an empty or
// unparsable address.
absl::StatusOr<RankInfo> RankInfoFromEnv(const EnvLookup& getenv);
// The same, from the process environment (getenv(3)).
absl::StatusOr<RankInfo> RankInfoFromEnv();

// The device this rank computes on, from run.device: "cuda" without an index is cuda:LOCAL_RANK,
// so that the ranks on one host each take their own GPU (as torchrun and Slurm launch them); an
// explicit "cuda:N" or "cpu" is kept. Empty means "cpu". INVALID_ARGUMENT for a string LibTorch
// does not parse as a device.
absl::StatusOr<torch::Device> RankDevice(const std::string& configured, const RankInfo& info);

// A group of ranks over which the trainer all-reduces gradients and broadcasts tensors.
//
// Every collective must be called by every rank, in the same order, with matching arguments: the
// same number of tensors with the same shapes, dtypes and order, and the same root. Tensors may
// be non-contiguous, may require grad (collectives run under NoGradGuard) and may mix dtypes and
// devices; undefined tensors are rejected.
//
// After a failure (timeout, dead peer) the group is broken: the transport's state is unknown, so
// every later call returns FAILED_PRECONDITION carrying the first error. The job should exit and
// restart from its last checkpoint.
//
// Not thread-safe: call it from one thread (the training loop).
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  // Replaces each floating-point tensor by its mean over the ranks (sum, then divide by
  // world_size), in place. Tensors are packed in order into buckets of at most bucket_bytes (a
  // tensor larger than that is split), one collective per bucket: flatten → reduce → copy back.
  // Over Gloo the result is bit-identical on every rank (one rank reduces each chunk and sends it
  // on); NCCL's ring and tree behave so in practice, untested here. Errors: INVALID_ARGUMENT for an
  // undefined or non-floating-point tensor; DEADLINE_EXCEEDED when a peer does not answer within
  // the timeout, naming the rank(s) that did not reach this collective when the store can tell,
  // otherwise the bucket that timed out; UNAVAILABLE when a peer's connection broke.
  virtual absl::Status AllReduceMean(std::vector<torch::Tensor>& tensors) = 0;
  // Overwrites each tensor with root's, in place (any dtype). REQUIRES: 0 <= root < world_size.
  virtual absl::Status Broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
  // Returns once every rank has called it (or with an error after the timeout).
  virtual absl::Status Barrier() = 0;
  // Sends root's *bytes to every rank, which need not know its size beforehand. Used to ship each
  // rank its shard of the batch as a serialized proto. Always over Gloo (host memory).
  virtual absl::Status BroadcastBytes(std::string* bytes, int root) = 0;
};

struct ProcessGroupOptions {
  // Deadline of each collective (each bucket of it), and of the rendezvous at creation.
  absl::Duration timeout = absl::Seconds(60);
  // Fusion bucket size of AllReduceMean and Broadcast; 25 MiB as in PyTorch's DDP.
  size_t bucket_bytes = 25 << 20;
  // "gloo": Gloo for everything, CUDA tensors staged through host memory.
  // "nccl": NCCL for tensor collectives, which then must be on CUDA (needs a build with NCCL).
  // "auto": NCCL for CUDA tensors when built with it, Gloo otherwise.
  // Barrier and BroadcastBytes use Gloo in all cases. The NCCL communicator is created at the
  // first collective on CUDA tensors, on their device.
  std::string backend = "auto";
};

// world_size == 1: a local group with no network; collectives only validate their arguments.
// Otherwise rank 0 starts the store on master_port (bound to master_addr when that is an IP
// address, to all interfaces when it is a host name), every rank joins, and Gloo connects a full
// mesh of TCP pairs. A rank advertises its own host name to its peers, 127.0.0.1 when master_addr
// is a loopback address, or the interface named by GLOO_SOCKET_IFNAME when that is set. Fails with
// DEADLINE_EXCEEDED naming the ranks that did not join within options.timeout, UNAVAILABLE when
// rank 0's store cannot be reached, INVALID_ARGUMENT for bad options. Ignores SIGPIPE
// in the process (as gRPC does) so that a peer's death is an error status, not a silent exit.
// Call on every rank. Finish with Barrier() before destroying the group, so that no rank closes
// its connections (or, on rank 0, the store) while a peer is still reading from them.
absl::StatusOr<std::unique_ptr<ProcessGroup>> CreateProcessGroup(
    const RankInfo& info, const ProcessGroupOptions& options);

namespace distributed_internal {

// A run of elements of one tensor, seen flat: elements [offset, offset + numel) of tensor `index`.
struct BucketPiece {
  size_t index = 0;
  int64_t offset = 0;
  int64_t numel = 0;
};
// Packs the tensors, in order, into buckets of at most max(bucket_bytes, one element) bytes, each
// of a single dtype and device; a tensor larger than a bucket is split across buckets. Empty
// tensors are skipped. Exposed for tests.
std::vector<std::vector<BucketPiece>> PlanBuckets(const std::vector<torch::Tensor>& tensors,
                                                  size_t bucket_bytes);

}  // namespace distributed_internal
}  // namespace pelican

#endif  // PELICAN_LEARNER_DISTRIBUTED_H_
