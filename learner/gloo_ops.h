// Gloo, the CPU transport of distributed.h's process group, behind functions that return
// absl::Status: Gloo reports failures by throwing, and this is the one place that catches. A
// timed-out operation is DEADLINE_EXCEEDED, a broken connection UNAVAILABLE, a failed Gloo check
// INTERNAL; each message starts with the caller's `what`.
//
// After any failure the context is unusable (Gloo closes all pairs on a timeout).
#ifndef PELICAN_LEARNER_GLOO_OPS_H_
#define PELICAN_LEARNER_GLOO_OPS_H_

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gloo {
class Context;
}  // namespace gloo

namespace pelican {

class TcpStoreClient;

// How a rank's Gloo device picks the address its peers connect to: the interface `iface` when
// not empty, else the address `hostname` resolves to.
struct GlooAddress {
  std::string hostname;
  std::string iface;
};

// Connects this rank to every other one over TCP, exchanging addresses through `store` (keys
// under "gloo/"). Every rank calls it; it returns when the mesh is complete or after `timeout`.
absl::StatusOr<std::shared_ptr<gloo::Context>> GlooConnect(TcpStoreClient* store, int rank,
                                                           int world_size,
                                                           const GlooAddress& address,
                                                           absl::Duration timeout);

// The operations below take a `tag` that must be equal on all ranks for the same operation.

// In place: flat = sum over ranks of flat. `flat` is a contiguous CPU tensor of a floating-point
// dtype (float, double, half, bfloat16). Every rank ends with the same bits: Gloo's ring has one
// rank reduce each chunk and send the result to the others.
absl::Status GlooAllReduceSum(const std::shared_ptr<gloo::Context>& context, torch::Tensor& flat,
                              uint32_t tag, absl::Duration timeout, absl::string_view what);
// In place: the `bytes` bytes at `data` become root's.
absl::Status GlooBroadcast(const std::shared_ptr<gloo::Context>& context, void* data, size_t bytes,
                           int root, uint32_t tag, absl::Duration timeout, absl::string_view what);
absl::Status GlooBarrier(const std::shared_ptr<gloo::Context>& context, uint32_t tag,
                         absl::Duration timeout, absl::string_view what);

}  // namespace pelican

#endif  // PELICAN_LEARNER_GLOO_OPS_H_
