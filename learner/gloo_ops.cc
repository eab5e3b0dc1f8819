// Drives LibTorch's c10d. Its ProcessGroupGloo.hpp includes Gloo's headers for the types it
// names (held through pointers only); Debian's libgloo-dev provides them. Nothing here links
// Debian's libgloo: libtorch_cpu exports its own, newer Gloo under the same symbol names, and two
// copies in one process would call into each other.
#include "learner/gloo_ops.h"

#include <chrono>
#include <stdexcept>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "learner/tcp_store.h"

namespace pelican {

class GlooGroup {
 public:
  GlooGroup(c10::intrusive_ptr<c10d::ProcessGroupGloo> pg, absl::Duration timeout)
      : pg(std::move(pg)), timeout(timeout) {}
  const c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  const absl::Duration timeout;
};

namespace {

// Runs fn(), which throws on failure (c10d and Gloo do), and returns the status it meant.
template <typename Fn>
absl::Status CatchGloo(absl::string_view what, absl::Duration timeout, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    // A recv that timed out says "Timed out waiting ...ms for recv operation to complete" (our
    // store: "timeout: ..."); a broken connection (peer died, network) says which read or write
    // failed, or that the peer closed it.
    const std::string msg = e.what();
    const std::string lower = absl::AsciiStrToLower(msg);
    if (absl::StrContains(lower, "timed out") || absl::StrContains(lower, "timeout")) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, " timed out after ", absl::FormatDuration(timeout), " (Gloo: ", msg, ")"));
    }
    if (dynamic_cast<const c10::DistNetworkError*>(&e) != nullptr ||
        absl::StrContains(lower, "connection") || absl::StrContains(lower, "read error") ||
        absl::StrContains(lower, "write error") || absl::StrContains(lower, "unavailable")) {
      return absl::UnavailableError(
          absl::StrCat(what, " failed, a peer's connection broke (Gloo: ", msg, ")"));
    }
    return absl::InternalError(absl::StrCat(what, ": ", msg));
  }
}

// Our TCP store as a c10d::Store, for Gloo's address exchange (set, get, wait, check are all
// c10d's Gloo rendezvous uses). c10d expects failures as exceptions; CatchGloo turns them back
// into a status.
class StoreAdapter final : public c10d::Store {
 public:
  StoreAdapter(TcpStoreClient* client, std::chrono::milliseconds timeout)
      : c10d::Store(timeout), client_(client) {}

  c10::intrusive_ptr<Store> clone() override {
    return c10::make_intrusive<StoreAdapter>(client_, timeout_);
  }
  void set(const std::string& key, const std::vector<uint8_t>& value) override {
    ThrowIfError(client_->Set(Key(key), std::string(value.begin(), value.end())));
  }
  std::vector<uint8_t> get(const std::string& key) override {
    absl::StatusOr<std::string> value = client_->Get(Key(key), absl::FromChrono(timeout_));
    ThrowIfError(value.status());
    return std::vector<uint8_t>(value->begin(), value->end());
  }
  bool check(const std::vector<std::string>& keys) override {
    for (const std::string& key : keys) {
      absl::StatusOr<std::string> value = client_->Get(Key(key), absl::ZeroDuration());
      if (value.status().code() == absl::StatusCode::kNotFound) return false;
      ThrowIfError(value.status());
    }
    return true;
  }
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override {
    const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
    for (const std::string& key : keys) {
      ThrowIfError(client_->Get(Key(key), deadline - absl::Now()).status());
    }
  }
  // Not needed by the Gloo rendezvous, and our store cannot do them.
  int64_t add(const std::string& key, int64_t /*value*/) override { Unsupported("add", key); }
  bool deleteKey(const std::string& key) override { Unsupported("deleteKey", key); }
  int64_t getNumKeys() override { Unsupported("getNumKeys", ""); }

 private:
  static std::string Key(const std::string& key) { return "gloo/" + key; }
  static void ThrowIfError(const absl::Status& status) {
    if (status.ok()) return;
    // "timeout" makes CatchGloo report an unset key as DEADLINE_EXCEEDED, as it is one.
    const bool unset = status.code() == absl::StatusCode::kNotFound;
    throw std::runtime_error(absl::StrCat(unset ? "timeout: " : "", status.ToString()));
  }
  [[noreturn]] static void Unsupported(const char* op, const std::string& key) {
    throw std::logic_error(
        absl::StrCat("pelican's rendezvous store has no ", op, " (key '", key, "')"));
  }
  TcpStoreClient* const client_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<GlooGroup>> GlooConnect(TcpStoreClient* store, int rank,
                                                       int world_size, const GlooAddress& address,
                                                       absl::Duration timeout) {
  std::shared_ptr<GlooGroup> result;
  absl::Status status = CatchGloo(
      absl::StrCat("Gloo connect of rank ", rank, " (via ", store->address(), ")"), timeout, [&] {
        const std::chrono::milliseconds ms = absl::ToChronoMilliseconds(timeout);
        auto options = c10d::ProcessGroupGloo::Options::create(ms);
        options->devices.push_back(
            address.iface.empty()
                ? c10d::ProcessGroupGloo::createDeviceForHostname(address.hostname)
                : c10d::ProcessGroupGloo::createDeviceForInterface(address.iface));
        auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(
            c10::make_intrusive<StoreAdapter>(store, ms), rank, world_size, options);
        result = std::make_shared<GlooGroup>(std::move(pg), timeout);
      });
  if (!status.ok()) return status;
  return result;
}

absl::Status GlooAllReduceSum(GlooGroup& group, torch::Tensor& flat, absl::string_view what) {
  return CatchGloo(what, group.timeout, [&] {
    std::vector<at::Tensor> tensors = {flat};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    group.pg->allreduce(tensors, opts)->wait();
  });
}

absl::Status GlooBroadcast(GlooGroup& group, void* data, size_t bytes, int root,
                           absl::string_view what) {
  return CatchGloo(what, group.timeout, [&] {
    std::vector<at::Tensor> tensors = {
        torch::from_blob(data, {static_cast<int64_t>(bytes)}, torch::kUInt8)};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    group.pg->broadcast(tensors, opts)->wait();
  });
}

absl::Status GlooBarrier(GlooGroup& group, absl::string_view what) {
  return CatchGloo(what, group.timeout, [&] { group.pg->barrier()->wait(); });
}

}  // namespace pelican
