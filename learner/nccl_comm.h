// One NCCL communicator with a deadline on every operation, for distributed.cc's CUDA path. Only
// compiled when PELICAN_HAVE_NCCL.
//
// NCCL has no timeouts of its own: a collective whose peer is gone spins on the GPU forever. So
// the communicator is created non-blocking, each operation is enqueued on our own stream, and the
// caller's thread polls ncclCommGetAsyncError + cudaStreamQuery until the operation is done, fails,
// or the deadline passes; then ncclCommAbort frees the communicator and the GPU.
#ifndef PELICAN_LEARNER_NCCL_COMM_H_
#define PELICAN_LEARNER_NCCL_COMM_H_

#include <c10/core/ScalarType.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pelican {

// Not thread-safe. Operations are synchronous: when one returns OK its result is in device memory
// and visible to later work on any stream.
class NcclComm {
 public:
  // A fresh ncclUniqueId as bytes; rank 0 makes it and ships it to the others (through the store).
  static absl::StatusOr<std::string> NewUniqueId();

  // Joins the communicator of `unique_id` as `rank` of `world_size` on CUDA device `device`,
  // waiting at most `timeout` for the other ranks (DEADLINE_EXCEEDED after).
  static absl::StatusOr<std::unique_ptr<NcclComm>> Create(const std::string& unique_id, int rank,
                                                          int world_size, int device,
                                                          absl::Duration timeout);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int device() const { return device_; }

  // In place: data[i] = mean over ranks of data[i], for `count` elements of `dtype` (float, double,
  // half, bfloat16) at device pointer `data`. `what` names the operation in error messages.
  //
  // Ordering: the operation runs on a stream created with cudaStreamCreate, which synchronizes with
  // the legacy default stream, where LibTorch queues work unless told otherwise. REQUIRES: the
  // buffer was written on the default stream (or that stream was synchronized).
  absl::Status AllReduceMean(void* data, size_t count, c10::ScalarType dtype,
                             absl::string_view what);
  // In place: `bytes` bytes at device pointer `data` become root's.
  absl::Status Broadcast(void* data, size_t bytes, int root, absl::string_view what);

 private:
  NcclComm(ncclComm_t comm, cudaStream_t stream, int device, absl::Duration timeout);
  // Polls until the last enqueued operation finishes; aborts the communicator on error/timeout.
  absl::Status Wait(absl::string_view what);
  absl::Status Abort(absl::Status why);

  ncclComm_t comm_;  // null after Abort
  cudaStream_t stream_;
  const int device_;
  const absl::Duration timeout_;
};

}  // namespace pelican

#endif  // PELICAN_LEARNER_NCCL_COMM_H_
