// Process groups (distributed.h): a local one for a single rank, and a networked one that runs
// collectives over Gloo (CPU) or NCCL (CUDA), with rendezvous and diagnostics through the TCP
// store on rank 0.
//
// Each collective: validate → publish "rank r entered collective #n" to the store → for each
// bucket { flatten → Gloo/NCCL → copy back } → on failure ask the store which ranks never entered
// collective #n, and mark the group broken.
#include "learner/distributed.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "learner/gloo_ops.h"
#include "learner/tcp_store.h"

#ifdef PELICAN_HAVE_NCCL
#include "learner/nccl_comm.h"
#endif

namespace pelican {

namespace distributed_internal {

std::vector<std::vector<BucketPiece>> PlanBuckets(const std::vector<torch::Tensor>& tensors,
                                                  size_t bucket_bytes) {
  std::vector<std::vector<BucketPiece>> buckets;
  size_t used = 0;  // bytes in buckets.back()
  for (size_t i = 0; i < tensors.size(); ++i) {
    const torch::Tensor& t = tensors[i];
    if (t.numel() == 0) continue;
    const size_t element = t.element_size();
    // A bucket holds one dtype on one device: it becomes one flat tensor.
    bool fresh = buckets.empty() || tensors[buckets.back().front().index].dtype() != t.dtype() ||
                 tensors[buckets.back().front().index].device() != t.device();
    for (int64_t offset = 0; offset < t.numel();) {
      int64_t room =
          used >= bucket_bytes ? 0 : static_cast<int64_t>((bucket_bytes - used) / element);
      if (fresh || room == 0) {
        buckets.emplace_back();
        used = 0;
        room = std::max<int64_t>(1, static_cast<int64_t>(bucket_bytes / element));
        fresh = false;
      }
      const int64_t n = std::min(room, t.numel() - offset);
      buckets.back().push_back(BucketPiece{i, offset, n});
      used += static_cast<size_t>(n) * element;
      offset += n;
    }
  }
  return buckets;
}

}  // namespace distributed_internal

namespace {

using distributed_internal::BucketPiece;

bool UsesNccl(const torch::Tensor& t, const ProcessGroupOptions& options) {
#ifdef PELICAN_HAVE_NCCL
  return t.is_cuda() && options.backend != "gloo";
#else
  return false;
#endif
}

absl::Status ValidateOptions(const ProcessGroupOptions& options) {
  if (options.backend != "auto" && options.backend != "gloo" && options.backend != "nccl") {
    return absl::InvalidArgumentError(absl::StrCat("process group backend '", options.backend,
                                                   "' is not one of auto, gloo, nccl"));
  }
#ifndef PELICAN_HAVE_NCCL
  if (options.backend == "nccl") {
    return absl::FailedPreconditionError(
        "process group backend 'nccl': this build has no NCCL (configure with the CUDA toolkit "
        "and NCCL installed, PELICAN_WITH_CUDA=ON)");
  }
#endif
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("process group timeout must be positive");
  }
  if (options.bucket_bytes == 0) {
    return absl::InvalidArgumentError("process group bucket_bytes must be positive");
  }
  return absl::OkStatus();
}

// Checks what every rank can check alone, before anything goes on the wire: an error here is the
// same on every rank, so no rank is left waiting in a collective the others skipped.
absl::Status ValidateTensors(const std::vector<torch::Tensor>& tensors, bool floating,
                             const ProcessGroupOptions& options, absl::string_view op) {
  int nccl_device = -1;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const torch::Tensor& t = tensors[i];
    if (!t.defined()) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": tensor ", i, " is undefined"));
    }
    if (floating && !t.is_floating_point()) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": tensor ", i, " is ",
                                                     c10::toString(t.scalar_type()),
                                                     "; the mean needs a floating-point dtype"));
    }
    if (options.backend == "nccl" && !t.is_cuda()) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": tensor ", i, " is on ", t.device().str(), "; backend 'nccl' needs CUDA tensors"));
    }
    if (UsesNccl(t, options)) {
      if (nccl_device >= 0 && t.device().index() != nccl_device) {
        return absl::InvalidArgumentError(absl::StrCat(op, ": tensors on cuda:", nccl_device,
                                                       " and ", t.device().str(),
                                                       "; one rank drives one GPU"));
      }
      nccl_device = t.device().index();
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRoot(int root, int world_size, absl::string_view op) {
  if (root < 0 || root >= world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": root ", root, " is not a rank of a group of ", world_size));
  }
  return absl::OkStatus();
}

// One rank: nothing to exchange, but the same argument checks, so that a single-process run
// catches the mistakes a multi-rank run would.
class LocalGroup final : public ProcessGroup {
 public:
  explicit LocalGroup(ProcessGroupOptions options) : options_(std::move(options)) {}
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  absl::Status AllReduceMean(std::vector<torch::Tensor>& tensors) override {
    return ValidateTensors(tensors, /*floating=*/true, options_, "AllReduceMean");
  }
  absl::Status Broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    RETURN_IF_ERROR(ValidateRoot(root, 1, "Broadcast"));
    return ValidateTensors(tensors, /*floating=*/false, options_, "Broadcast");
  }
  absl::Status Barrier() override { return absl::OkStatus(); }
  absl::Status BroadcastBytes(std::string* bytes, int root) override {
    return ValidateRoot(root, 1, "BroadcastBytes");
  }

 private:
  const ProcessGroupOptions options_;
};

bool IsLoopback(const std::string& host) {
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1";
}

bool IsIpLiteral(const std::string& host) {
  return !host.empty() && (host.find(':') != std::string::npos ||
                           host.find_first_not_of("0123456789.") == std::string::npos);
}

std::string EnteredKey(int rank) { return absl::StrCat("entered/", rank); }

// world_size > 1: Gloo over TCP, NCCL for CUDA tensors when built with it.
class NetworkGroup final : public ProcessGroup {
 public:
  static absl::StatusOr<std::unique_ptr<NetworkGroup>> Create(const RankInfo& info,
                                                              const ProcessGroupOptions& options);
  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }

  absl::Status AllReduceMean(std::vector<torch::Tensor>& tensors) override {
    RETURN_IF_ERROR(ValidateTensors(tensors, /*floating=*/true, options_, "AllReduceMean"));
    return RunCollective("all_reduce_mean", [&]() -> absl::Status {
      return Bucketed(tensors, "all_reduce_mean",
                      [&](torch::Tensor& flat, const std::string& what) {
                        return AllReduceBucket(flat, what);
                      });
    });
  }

  absl::Status Broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    RETURN_IF_ERROR(ValidateRoot(root, world_size_, "Broadcast"));
    RETURN_IF_ERROR(ValidateTensors(tensors, /*floating=*/false, options_, "Broadcast"));
    return RunCollective("broadcast", [&]() -> absl::Status {
      return Bucketed(tensors, "broadcast", [&](torch::Tensor& flat, const std::string& what) {
        return BroadcastBucket(flat, root, what);
      });
    });
  }

  absl::Status Barrier() override {
    return RunCollective("barrier",
                         [&]() -> absl::Status { return GlooBarrier(*gloo_, "barrier"); });
  }

  absl::Status BroadcastBytes(std::string* bytes, int root) override {
    RETURN_IF_ERROR(ValidateRoot(root, world_size_, "BroadcastBytes"));
    return RunCollective("broadcast_bytes", [&]() -> absl::Status {
      uint64_t size = rank_ == root ? bytes->size() : 0;
      RETURN_IF_ERROR(GlooBroadcast(*gloo_, &size, sizeof(size), root, "broadcast_bytes (size)"));
      if (rank_ != root) bytes->resize(size);
      if (size == 0) return absl::OkStatus();
      return GlooBroadcast(*gloo_, bytes->data(), size, root, "broadcast_bytes (payload)");
    });
  }

 private:
  NetworkGroup(const RankInfo& info, const ProcessGroupOptions& options)
      : rank_(info.rank), world_size_(info.world_size), options_(options) {}

  absl::Status Rendezvous(const RankInfo& info);
  absl::Status RunCollective(absl::string_view name, const std::function<absl::Status()>& body);
  absl::Status Diagnose(const absl::Status& failure, absl::string_view name);
  // Flattens each bucket of `tensors` into one contiguous tensor (on the GPU for NCCL, in host
  // memory for Gloo), runs `op` on it, and copies the result back.
  absl::Status Bucketed(
      std::vector<torch::Tensor>& tensors, absl::string_view name,
      const std::function<absl::Status(torch::Tensor& flat, const std::string& what)>& op);
  absl::Status AllReduceBucket(torch::Tensor& flat, const std::string& what);
  absl::Status BroadcastBucket(torch::Tensor& flat, int root, const std::string& what);
#ifdef PELICAN_HAVE_NCCL
  absl::Status EnsureNccl(int device);
#endif

  // Constant after construction.
  const int rank_;
  const int world_size_;
  const ProcessGroupOptions options_;
  // Destroyed in reverse order: the Gloo group before the store that introduced it, the client
  // before rank 0's server.
  std::unique_ptr<TcpStoreServer> store_server_;  // rank 0 only
  std::unique_ptr<TcpStoreClient> store_;
  std::shared_ptr<GlooGroup> gloo_;
#ifdef PELICAN_HAVE_NCCL
  std::unique_ptr<NcclComm> nccl_;  // made at the first collective on CUDA tensors
#endif

  // Changed by collectives, which are called from one thread.
  int64_t seq_ = 0;      // collectives entered; equal on all ranks between collectives
  absl::Status broken_;  // the first failure; the group is unusable after it
};

absl::StatusOr<std::unique_ptr<NetworkGroup>> NetworkGroup::Create(
    const RankInfo& info, const ProcessGroupOptions& options) {
  std::unique_ptr<NetworkGroup> group(new NetworkGroup(info, options));
  RETURN_IF_ERROR(group->Rendezvous(info));
  return group;
}

absl::Status NetworkGroup::Rendezvous(const RankInfo& info) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  const std::string where = absl::StrCat(info.master_addr, ":", info.master_port);
  if (rank_ == 0) {
    // Bind where peers will connect when that is a literal address (ListenTcp maps localhost);
    // a host name may resolve to any of this host's interfaces.
    const bool literal = IsIpLiteral(info.master_addr) || info.master_addr == "localhost";
    const std::string bind_host = literal ? info.master_addr : "0.0.0.0";
    ASSIGN_OR_RETURN(store_server_, TcpStoreServer::Start(bind_host, info.master_port));
  }
  ASSIGN_OR_RETURN(store_,
                   TcpStoreClient::Connect(info.master_addr, info.master_port, options_.timeout));

  // Join explicitly before Gloo does, so a missing rank is reported by number.
  RETURN_IF_ERROR(store_->Set(absl::StrCat("joined/", rank_), "1"));
  std::vector<int> missing;
  for (int r = 0; r < world_size_; ++r) {
    const absl::Duration wait = missing.empty() ? deadline - absl::Now() : absl::ZeroDuration();
    absl::StatusOr<std::string> joined = store_->Get(absl::StrCat("joined/", r), wait);
    if (joined.ok()) continue;
    if (joined.status().code() != absl::StatusCode::kNotFound) return joined.status();
    missing.push_back(r);
  }
  if (!missing.empty()) {
    return absl::DeadlineExceededError(
        absl::StrCat("rendezvous at ", where, ": rank(s) ", absl::StrJoin(missing, ", "), " of ",
                     world_size_, " did not join within ", absl::FormatDuration(options_.timeout)));
  }

  GlooAddress address;
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    address.iface = ifname;
  } else if (IsLoopback(info.master_addr)) {
    address.hostname = "127.0.0.1";
  } else {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    address.hostname = host;
  }
  ASSIGN_OR_RETURN(gloo_, GlooConnect(store_.get(), rank_, world_size_, address, options_.timeout));
  return absl::OkStatus();
}

absl::Status NetworkGroup::RunCollective(absl::string_view name,
                                         const std::function<absl::Status()>& body) {
  if (!broken_.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, ": the process group is unusable after an earlier failure: ", broken_.message()));
  }
  torch::NoGradGuard no_grad;  // in-place writes into parameters that require grad
  ++seq_;
  // Published before the collective so that a rank that times out can tell who never came.
  absl::Status status = store_->Set(EnteredKey(rank_), absl::StrCat(seq_, " ", name));
  if (status.ok()) status = body();
  if (status.ok()) return status;
  broken_ = Diagnose(status, name);
  PELICAN_LOG(ERROR) << broken_;
  return broken_;
}

absl::Status NetworkGroup::Diagnose(const absl::Status& failure, absl::string_view name) {
  std::string message = absl::StrCat(name, " #", seq_, " on rank ", rank_, " of ", world_size_,
                                     ": ", failure.message());
  if (failure.code() != absl::StatusCode::kDeadlineExceeded &&
      failure.code() != absl::StatusCode::kUnavailable) {
    return absl::Status(failure.code(), message);
  }
  // Ask the store what every peer last entered. A short deadline: if rank 0 (which hosts the
  // store) is the one that hangs, this must not double the wait.
  const absl::Duration probe = std::min(options_.timeout, absl::Seconds(5));
  std::vector<std::string> absent, elsewhere;
  for (int r = 0; r < world_size_; ++r) {
    if (r == rank_) continue;
    absl::StatusOr<std::string> entered = store_->Get(EnteredKey(r), absl::ZeroDuration(), probe);
    if (!entered.ok() && entered.status().code() != absl::StatusCode::kNotFound) {
      absl::StrAppend(&message, "; the store on rank 0 did not answer either (",
                      entered.status().message(), "), so rank 0 may be hung or gone");
      return absl::Status(failure.code(), message);
    }
    int64_t their_seq = 0;
    std::pair<std::string, std::string> parts = {"0", "nothing"};
    if (entered.ok()) parts = absl::StrSplit(*entered, absl::MaxSplits(' ', 1));
    if (!absl::SimpleAtoi(parts.first, &their_seq)) continue;
    if (their_seq < seq_) {
      absent.push_back(
          absl::StrCat("rank ", r, " (last entered: ", parts.second, " #", their_seq, ")"));
    } else if (their_seq == seq_ && parts.second != name) {
      elsewhere.push_back(absl::StrCat("rank ", r, " is in ", parts.second, " #", their_seq));
    }
  }
  if (!absent.empty()) {
    absl::StrAppend(&message, "; did not reach this collective: ", absl::StrJoin(absent, ", "));
  }
  if (!elsewhere.empty()) {
    absl::StrAppend(&message,
                    "; ranks disagree on the collective: ", absl::StrJoin(elsewhere, ", "));
  }
  if (absent.empty() && elsewhere.empty()) {
    // Which peer stalled inside the collective is not observable from here; name the suspects.
    std::vector<std::string> peers;
    for (int r = 0; r < world_size_; ++r) {
      if (r != rank_) peers.push_back(absl::StrCat("rank ", r));
    }
    absl::StrAppend(&message, "; every rank entered it, so a peer stalled or died inside it (",
                    peers.size() == 1 ? peers[0] : "one of " + absl::StrJoin(peers, ", "), ")");
  }
  return absl::Status(failure.code(), message);
}

absl::Status NetworkGroup::Bucketed(
    std::vector<torch::Tensor>& tensors, absl::string_view name,
    const std::function<absl::Status(torch::Tensor& flat, const std::string& what)>& op) {
  // Flat views of the tensors; a non-contiguous one is staged in a contiguous copy.
  std::vector<torch::Tensor> flat_views(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    flat_views[i] = tensors[i].contiguous().view({-1});
  }
  const auto buckets = distributed_internal::PlanBuckets(tensors, options_.bucket_bytes);
  for (size_t b = 0; b < buckets.size(); ++b) {
    const std::vector<BucketPiece>& pieces = buckets[b];
    const torch::Tensor& first = tensors[pieces.front().index];
    const torch::Device staging = UsesNccl(first, options_) ? first.device() : torch::kCPU;
    torch::Tensor flat;
    if (pieces.size() == 1 && first.device() == staging) {
      // One run of one tensor is already contiguous: work in place, no copies.
      flat = flat_views[pieces[0].index].narrow(0, pieces[0].offset, pieces[0].numel);
    } else {
      std::vector<torch::Tensor> parts;
      parts.reserve(pieces.size());
      for (const BucketPiece& p : pieces) {
        parts.push_back(flat_views[p.index].narrow(0, p.offset, p.numel));
      }
      flat = torch::cat(parts).to(staging);
    }
    const std::string what =
        absl::StrCat(name, " bucket ", b + 1, "/", buckets.size(), " (", flat.numel(), " x ",
                     c10::toString(flat.scalar_type()), ")");
    RETURN_IF_ERROR(op(flat, what));
    int64_t at = 0;
    for (const BucketPiece& p : pieces) {
      torch::Tensor dst = flat_views[p.index].narrow(0, p.offset, p.numel);
      if (dst.data_ptr() != flat.data_ptr() || dst.device() != flat.device()) {
        dst.copy_(flat.narrow(0, at, p.numel));
      }
      at += p.numel;
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].is_contiguous()) tensors[i].copy_(flat_views[i].view(tensors[i].sizes()));
  }
  return absl::OkStatus();
}

absl::Status NetworkGroup::AllReduceBucket(torch::Tensor& flat, const std::string& what) {
#ifdef PELICAN_HAVE_NCCL
  if (flat.is_cuda()) {
    RETURN_IF_ERROR(EnsureNccl(flat.device().index()));
    return nccl_->AllReduceMean(flat.data_ptr(), flat.numel(), flat.scalar_type(), what);
  }
#endif
  RETURN_IF_ERROR(GlooAllReduceSum(*gloo_, flat, what));
  flat.div_(world_size_);
  return absl::OkStatus();
}

absl::Status NetworkGroup::BroadcastBucket(torch::Tensor& flat, int root, const std::string& what) {
  const size_t bytes = static_cast<size_t>(flat.numel()) * flat.element_size();
#ifdef PELICAN_HAVE_NCCL
  if (flat.is_cuda()) {
    RETURN_IF_ERROR(EnsureNccl(flat.device().index()));
    return nccl_->Broadcast(flat.data_ptr(), bytes, root, what);
  }
#endif
  return GlooBroadcast(*gloo_, flat.data_ptr(), bytes, root, what);
}

#ifdef PELICAN_HAVE_NCCL
absl::Status NetworkGroup::EnsureNccl(int device) {
  if (nccl_ != nullptr) return absl::OkStatus();  // ValidateTensors keeps one device per rank
  std::string id;
  if (rank_ == 0) {
    ASSIGN_OR_RETURN(id, NcclComm::NewUniqueId());
    RETURN_IF_ERROR(store_->Set("nccl/id", id));
  } else {
    absl::StatusOr<std::string> got = store_->Get("nccl/id", options_.timeout);
    if (got.status().code() == absl::StatusCode::kNotFound) {
      return absl::DeadlineExceededError(
          absl::StrCat("rank 0 did not publish the NCCL unique id within ",
                       absl::FormatDuration(options_.timeout),
                       " (is it running a collective on CUDA tensors too?)"));
    }
    RETURN_IF_ERROR(got.status());
    id = *std::move(got);
  }
  ASSIGN_OR_RETURN(nccl_, NcclComm::Create(id, rank_, world_size_, device, options_.timeout));
  return absl::OkStatus();
}
#endif

}  // namespace

absl::StatusOr<std::unique_ptr<ProcessGroup>> CreateProcessGroup(
    const RankInfo& info, const ProcessGroupOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  if (info.world_size < 1 || info.rank < 0 || info.rank >= info.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", info.rank, " is not in a world of size ", info.world_size));
  }
  if (info.world_size == 1) return std::make_unique<LocalGroup>(options);
  if (info.master_port < 1 || info.master_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("master port ", info.master_port, " is not a TCP port (1..65535)"));
  }
  // A peer that dies leaves sockets whose next write raises SIGPIPE, which would kill this
  // process without a word; as an error status it reaches the log.
  struct sigaction old_action;
  if (sigaction(SIGPIPE, nullptr, &old_action) == 0 && old_action.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<NetworkGroup> group, NetworkGroup::Create(info, options));
  PELICAN_LOG(INFO) << "process group: rank " << info.rank << " of " << info.world_size << " via "
                    << info.master_addr << ":" << info.master_port << ", backend "
                    << options.backend << ", timeout " << absl::FormatDuration(options.timeout);
  return group;
}

}  // namespace pelican
