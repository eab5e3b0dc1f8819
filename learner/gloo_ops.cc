#include "learner/gloo_ops.h"

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/common/logging.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/attr.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "learner/tcp_store.h"

namespace pelican {
namespace {

template <typename Fn>
absl::Status CatchGloo(absl::string_view what, absl::Duration timeout, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const gloo::IoException& e) {
    // A recv that timed out says "Timed out waiting ...ms for recv operation to complete"; other
    // I/O errors mean a connection broke (peer died, network).
    const std::string msg = e.what();
    if (absl::StrContains(msg, "Timed out") || absl::StrContains(msg, "timeout")) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, " timed out after ", absl::FormatDuration(timeout), " (Gloo: ", msg, ")"));
    }
    return absl::UnavailableError(
        absl::StrCat(what, " failed, a peer's connection broke (Gloo: ", msg, ")"));
  } catch (const gloo::EnforceNotMet& e) {
    return absl::InternalError(absl::StrCat(what, ": Gloo check failed: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
}

// c = a + b, elementwise; Gloo's reduction callback.
template <typename T>
void SumInto(void* c, const void* a, const void* b, size_t n) {
  T* out = static_cast<T*>(c);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] + y[i];
}

// gloo::rendezvous::Store over our TCP store, for Gloo's address exchange. Gloo expects failures
// as exceptions; CatchGloo turns them back into a status.
class GlooStore final : public gloo::rendezvous::Store {
 public:
  GlooStore(TcpStoreClient* client, absl::Duration timeout) : client_(client), timeout_(timeout) {}
  void set(const std::string& key, const std::vector<char>& data) override {
    ThrowIfError(client_->Set("gloo/" + key, std::string(data.begin(), data.end())));
  }
  std::vector<char> get(const std::string& key) override {
    absl::StatusOr<std::string> value = client_->Get("gloo/" + key, timeout_);
    ThrowIfError(value.status());
    return std::vector<char>(value->begin(), value->end());
  }
  void wait(const std::vector<std::string>& keys) override {
    wait(keys, absl::ToChronoMilliseconds(timeout_));
  }
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override {
    const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
    for (const std::string& key : keys) {
      ThrowIfError(client_->Get("gloo/" + key, deadline - absl::Now()).status());
    }
  }

 private:
  static void ThrowIfError(const absl::Status& status) {
    if (status.ok()) return;
    // "timeout" makes CatchGloo report an unset key as DEADLINE_EXCEEDED, as it is one.
    const bool unset = status.code() == absl::StatusCode::kNotFound;
    throw gloo::IoException(absl::StrCat(unset ? "timeout: " : "", status.ToString()));
  }
  TcpStoreClient* const client_;
  const absl::Duration timeout_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<gloo::Context>> GlooConnect(TcpStoreClient* store, int rank,
                                                           int world_size,
                                                           const GlooAddress& address,
                                                           absl::Duration timeout) {
  std::shared_ptr<gloo::Context> result;
  absl::Status status = CatchGloo(
      absl::StrCat("Gloo connect of rank ", rank, " (via ", store->address(), ")"), timeout, [&] {
        gloo::transport::tcp::attr attr;
        attr.hostname = address.hostname;
        attr.iface = address.iface;
        std::shared_ptr<gloo::transport::Device> device = gloo::transport::tcp::CreateDevice(attr);
        // The context keeps the device (and its event loop thread) alive.
        auto context = std::make_shared<gloo::rendezvous::Context>(rank, world_size);
        context->setTimeout(absl::ToChronoMilliseconds(timeout));
        GlooStore gloo_store(store, timeout);
        context->connectFullMesh(gloo_store, device);
        result = std::move(context);
      });
  if (!status.ok()) return status;
  return result;
}

absl::Status GlooAllReduceSum(const std::shared_ptr<gloo::Context>& context, torch::Tensor& flat,
                              uint32_t tag, absl::Duration timeout, absl::string_view what) {
  return CatchGloo(what, timeout, [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(
        torch::kHalf, torch::kBFloat16, flat.scalar_type(), "GlooAllReduceSum", [&] {
          gloo::AllreduceOptions opts(context);
          opts.setOutput(flat.data_ptr<scalar_t>(), static_cast<size_t>(flat.numel()));
          opts.setReduceFunction(&SumInto<scalar_t>);
          opts.setTag(tag);
          opts.setTimeout(absl::ToChronoMilliseconds(timeout));
          gloo::allreduce(opts);
        });
  });
}

absl::Status GlooBroadcast(const std::shared_ptr<gloo::Context>& context, void* data, size_t bytes,
                           int root, uint32_t tag, absl::Duration timeout, absl::string_view what) {
  return CatchGloo(what, timeout, [&] {
    gloo::BroadcastOptions opts(context);
    opts.setOutput(static_cast<uint8_t*>(data), bytes);
    opts.setRoot(root);
    opts.setTag(tag);
    opts.setTimeout(absl::ToChronoMilliseconds(timeout));
    gloo::broadcast(opts);
  });
}

absl::Status GlooBarrier(const std::shared_ptr<gloo::Context>& context, uint32_t tag,
                         absl::Duration timeout, absl::string_view what) {
  return CatchGloo(what, timeout, [&] {
    gloo::BarrierOptions opts(context);
    opts.setTag(tag);
    opts.setTimeout(absl::ToChronoMilliseconds(timeout));
    gloo::barrier(opts);
  });
}

}  // namespace pelican
