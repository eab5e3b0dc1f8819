#include "learner/nccl_comm.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

// Non-blocking communicators (the only way to bound ncclCommInitRank by a deadline) and
// ncclCommGetAsyncError reporting ncclInProgress need NCCL 2.14.
#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "pelican needs NCCL >= 2.14 for non-blocking communicators"
#endif

namespace pelican {
namespace {

// How often the waiting thread looks at the stream. Short against a collective's duration, long
// enough not to burn a core on the driver calls.
constexpr absl::Duration kPollInterval = absl::Microseconds(50);

absl::Status CudaError(cudaError_t err, absl::string_view call) {
  return absl::InternalError(
      absl::StrCat(call, " failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")"));
}

absl::Status NcclError(ncclResult_t r, ncclComm_t comm, absl::string_view call) {
  const char* detail = ncclGetLastError(comm);
  return absl::UnavailableError(absl::StrCat(call, " failed: ", ncclGetErrorString(r),
                                             detail != nullptr && *detail != 0 ? ": " : "",
                                             detail != nullptr ? detail : ""));
}

absl::StatusOr<ncclDataType_t> NcclType(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float:
      return ncclFloat32;
    case c10::ScalarType::Double:
      return ncclFloat64;
    case c10::ScalarType::Half:
      return ncclFloat16;
    case c10::ScalarType::BFloat16:
      return ncclBfloat16;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("NCCL all-reduce of ", c10::toString(dtype), " is not supported"));
  }
}

}  // namespace

absl::StatusOr<std::string> NcclComm::NewUniqueId() {
  ncclUniqueId id;
  const ncclResult_t r = ncclGetUniqueId(&id);
  if (r != ncclSuccess) return NcclError(r, nullptr, "ncclGetUniqueId");
  return std::string(id.internal, sizeof(id.internal));
}

absl::StatusOr<std::unique_ptr<NcclComm>> NcclComm::Create(const std::string& unique_id, int rank,
                                                           int world_size, int device,
                                                           absl::Duration timeout) {
  ncclUniqueId id;
  if (unique_id.size() != sizeof(id.internal)) {
    return absl::InvalidArgumentError(absl::StrCat("NCCL unique id has ", unique_id.size(),
                                                   " bytes, expected ", sizeof(id.internal)));
  }
  std::memcpy(id.internal, unique_id.data(), sizeof(id.internal));
  cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) return CudaError(err, absl::StrCat("cudaSetDevice(", device, ")"));
  cudaStream_t stream = nullptr;
  // cudaStreamCreate, not cudaStreamCreateWithFlags(cudaStreamNonBlocking): the implicit ordering
  // with the legacy default stream is what makes LibTorch's flatten/copy-back around us safe.
  err = cudaStreamCreate(&stream);
  if (err != cudaSuccess) return CudaError(err, "cudaStreamCreate");

  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  const ncclResult_t r = ncclCommInitRankConfig(&comm, world_size, id, rank, &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    cudaStreamDestroy(stream);
    return NcclError(r, comm, "ncclCommInitRankConfig");
  }
  // From here on the destructor owns comm and stream, and Wait aborts on error or timeout.
  std::unique_ptr<NcclComm> nccl(new NcclComm(comm, stream, device, timeout));
  RETURN_IF_ERROR(nccl->Wait(absl::StrCat("NCCL communicator setup (rank ", rank, " of ",
                                          world_size, ", cuda:", device, ")")));
  return nccl;
}

NcclComm::NcclComm(ncclComm_t comm, cudaStream_t stream, int device, absl::Duration timeout)
    : comm_(comm), stream_(stream), device_(device), timeout_(timeout) {}

NcclComm::~NcclComm() {
  // Abort, not ncclCommDestroy: destroy may wait on peers, and a destructor must never hang.
  // Every operation has completed (Wait is synchronous), so there is nothing to lose.
  if (comm_ != nullptr) ncclCommAbort(comm_);
  cudaStreamDestroy(stream_);
}

absl::Status NcclComm::Abort(absl::Status why) {
  if (comm_ != nullptr) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }
  return why;
}

absl::Status NcclComm::Wait(absl::string_view what) {
  const absl::Time deadline = absl::Now() + timeout_;
  while (true) {
    ncclResult_t async = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(comm_, &async);
    if (r != ncclSuccess) return Abort(NcclError(r, comm_, "ncclCommGetAsyncError"));
    if (async != ncclSuccess && async != ncclInProgress) {
      return Abort(NcclError(async, comm_, what));
    }
    if (async == ncclSuccess) {  // enqueued (or set up); now wait for the GPU to finish it
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess) return absl::OkStatus();
      if (q != cudaErrorNotReady) return Abort(CudaError(q, absl::StrCat(what, ": the stream")));
    }
    if (absl::Now() >= deadline) {
      return Abort(absl::DeadlineExceededError(absl::StrCat(
          what, " did not finish within ", absl::FormatDuration(timeout_),
          "; a peer rank is hung or gone (NCCL cannot tell which). Communicator aborted.")));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::Status NcclComm::AllReduceMean(void* data, size_t count, c10::ScalarType dtype,
                                     absl::string_view what) {
  if (comm_ == nullptr) return absl::FailedPreconditionError("NCCL communicator was aborted");
  ASSIGN_OR_RETURN(const ncclDataType_t type, NcclType(dtype));
  const cudaError_t err = cudaSetDevice(device_);
  if (err != cudaSuccess) return CudaError(err, "cudaSetDevice");
  const ncclResult_t r = ncclAllReduce(data, data, count, type, ncclAvg, comm_, stream_);
  if (r != ncclSuccess && r != ncclInProgress) return Abort(NcclError(r, comm_, what));
  return Wait(what);
}

absl::Status NcclComm::Broadcast(void* data, size_t bytes, int root, absl::string_view what) {
  if (comm_ == nullptr) return absl::FailedPreconditionError("NCCL communicator was aborted");
  const cudaError_t err = cudaSetDevice(device_);
  if (err != cudaSuccess) return CudaError(err, "cudaSetDevice");
  const ncclResult_t r = ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_);
  if (r != ncclSuccess && r != ncclInProgress) return Abort(NcclError(r, comm_, what));
  return Wait(what);
}

}  // namespace pelican
