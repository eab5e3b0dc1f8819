// Gloo, the CPU transport of distributed.h's process group: LibTorch's c10d::ProcessGroupGloo
// (the Gloo compiled into libtorch_cpu, the one PyTorch's torch.distributed runs), behind
// functions that return absl::Status. c10d reports failures by throwing, and this is the one
// place that catches. A timed-out operation is DEADLINE_EXCEEDED, a broken connection
// UNAVAILABLE, anything else INTERNAL; each message starts with the caller's `what`.
//
// Ranks exchange their Gloo addresses through our TcpStoreClient (tcp_store.h), seen by c10d as
// a c10d::Store. After any failure the group is unusable (Gloo closes all pairs on a timeout).
#ifndef PELICAN_LEARNER_GLOO_OPS_H_
#define PELICAN_LEARNER_GLOO_OPS_H_

#include <torch/torch.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pelican {

class TcpStoreClient;
// A connected c10d::ProcessGroupGloo; opaque so that LibTorch's c10d headers (and the Gloo
// headers they include) stay inside gloo_ops.cc.
class GlooGroup;

// How a rank's Gloo device picks the address its peers connect to: the interface `iface` when
// not empty, else the address `hostname` resolves to.
struct GlooAddress {
  std::string hostname;
  std::string iface;
};

// Connects this rank to every other one over TCP, exchanging addresses through `store` (keys
// under "gloo/"). Every rank calls it; it returns when the mesh is complete or after `timeout`,
// which is also the deadline of every later operation of the group. `store` must outlive it.
absl::StatusOr<std::shared_ptr<GlooGroup>> GlooConnect(TcpStoreClient* store, int rank,
                                                       int world_size, const GlooAddress& address,
                                                       absl::Duration timeout);

// Operations must be called by every rank in the same order.

// In place: flat = sum over ranks of flat. `flat` is a contiguous CPU tensor of a floating-point
// dtype (float, double, half, bfloat16). Every rank ends with the same bits: Gloo's ring has one
// rank reduce each chunk and send the result to the others.
absl::Status GlooAllReduceSum(GlooGroup& group, torch::Tensor& flat, absl::string_view what);
// In place: the `bytes` bytes at `data` become root's.
absl::Status GlooBroadcast(GlooGroup& group, void* data, size_t bytes, int root,
                           absl::string_view what);
absl::Status GlooBarrier(GlooGroup& group, absl::string_view what);

}  // namespace pelican

#endif  // PELICAN_LEARNER_GLOO_OPS_H_
