#include "learner/learner_service.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

grpc::Status Precondition(const std::string& what) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, what);
}

// Streams weight versions to one actor: the latest version at once if newer than what the actor
// has, then each newer version as it is published (a version superseded while another was being
// sent is skipped). Ends OK when the store closes, CANCELLED when the actor goes away.
class WeightsWriter final : public grpc::ServerWriteReactor<v1::WeightChunk> {
 public:
  WeightsWriter(WeightStore* store, uint64_t have_version) : store_(store), sent_(have_version) {
    subscription_ = store_->Subscribe([this] { Pump(); });
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        finished_ = true;
      } else if (current_ != nullptr && ++next_chunk_ == current_->num_chunks()) {
        sent_ = current_->version;
        current_.reset();
      }
    }
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "weight stream write failed"));
      return;
    }
    Pump();
  }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    store_->Unsubscribe(subscription_);
    delete this;
  }

 private:
  // Starts the next write if none is in flight and there is something to send.
  void Pump() {
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_ || writing_) return;
      if (current_ == nullptr) {
        auto latest = store_->Latest();
        if (latest != nullptr && latest->version > sent_) {
          current_ = std::move(latest);
          next_chunk_ = 0;
        } else if (store_->closed()) {
          finished_ = finish = true;
        }
      }
      if (current_ != nullptr) {
        writing_ = true;
        // current_ keeps the message alive until OnWriteDone.
        StartWrite(&current_->Chunk(next_chunk_));
      }
    }
    if (finish) Finish(grpc::Status::OK);
  }

  WeightStore* const store_;
  int subscription_ = 0;
  std::mutex mu_;
  uint64_t sent_;                                  // guarded by mu_
  std::shared_ptr<const EncodedWeights> current_;  // guarded by mu_
  uint32_t next_chunk_ = 0;                        // guarded by mu_
  bool writing_ = false;                           // guarded by mu_
  bool finished_ = false;                          // guarded by mu_
};

// Answers a refused WatchWeights call.
class RefusedWriter final : public grpc::ServerWriteReactor<v1::WeightChunk> {
 public:
  void OnDone() override { delete this; }
};

}  // namespace

LearnerService::LearnerService(LearnerServiceOptions options, PromptLedger* ledger,
                               WeightStore* weights, const RpcSettings& rpc, Clock* clock)
    : options_(std::move(options)), ledger_(ledger), weights_(weights), rpc_(rpc), clock_(clock) {}

void LearnerService::Seen(const std::string& actor_id) {
  std::lock_guard<std::mutex> lock(mu_);
  last_seen_[actor_id] = clock_->Now();
}

uint32_t LearnerService::actors_connected() const {
  const absl::Time now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t n = 0;
  for (const auto& [id, t] : last_seen_) n += now - t <= options_.actor_timeout;
  return n;
}

uint32_t LearnerService::actors_not_told_done() const {
  const absl::Time now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t n = 0;
  for (const auto& [id, t] : last_seen_) {
    n += now - t <= options_.actor_timeout && told_done_.count(id) == 0;
  }
  return n;
}

grpc::ServerUnaryReactor* LearnerService::RegisterActor(grpc::CallbackServerContext* ctx,
                                                        const v1::RegisterActorRequest* request,
                                                        v1::RegisterActorResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status st = rpc_.Authorize(*ctx);
  if (st.ok() && request->actor_name().empty()) {
    st = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "actor_name is empty");
  } else if (st.ok() && request->config_fingerprint() != options_.config_fingerprint) {
    st = Precondition(absl::StrCat("config fingerprint ", request->config_fingerprint(),
                                   " differs from the learner's ", options_.config_fingerprint,
                                   ": start the actor with the learner's config"));
  } else if (st.ok() && !options_.tokenizer_fingerprint.empty() &&
             request->tokenizer_fingerprint() != options_.tokenizer_fingerprint) {
    st = Precondition(absl::StrCat("tokenizer fingerprint ", request->tokenizer_fingerprint(),
                                   " differs from the learner's ", options_.tokenizer_fingerprint));
  }
  if (st.ok()) {
    // Actors choose unique names (host, pid, random suffix); the name is the id, so an actor that
    // reconnects, or outlives a learner restart, keeps its leases and push window.
    response->set_actor_id(request->actor_name());
    response->set_run_id(options_.run_id);
    response->set_config_fingerprint(options_.config_fingerprint);
    response->set_policy_version(weights_->version());
    Seen(request->actor_name());
    PELICAN_LOG(INFO) << "actor " << request->actor_name() << " registered";
  }
  reactor->Finish(st);
  return reactor;
}

grpc::ServerUnaryReactor* LearnerService::LeasePrompts(grpc::CallbackServerContext* ctx,
                                                       const v1::LeasePromptsRequest* request,
                                                       v1::LeasePromptsResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status st = rpc_.Authorize(*ctx);
  if (st.ok()) {
    Seen(request->actor_id());
    response->set_policy_version(weights_->version());
    if (done_.load()) {
      response->set_done(true);
      std::lock_guard<std::mutex> lock(mu_);
      told_done_.insert(request->actor_id());
    } else {
      auto leased = ledger_->Lease(request->actor_id(), request->n());
      if (leased.ok()) {
        for (auto& p : *leased) *response->add_prompts() = std::move(p);
      } else {
        st = ToGrpcStatus(leased.status());
      }
    }
  }
  reactor->Finish(st);
  return reactor;
}

absl::Status ValidateTrajectory(const v1::Trajectory& t, int index, int64_t vocab_size) {
  const std::string where = absl::StrCat("trajectory ", index, " ('", t.trajectory_id(), "')");
  auto check_ids = [&](const google::protobuf::RepeatedField<int32_t>& ids,
                       absl::string_view field) -> absl::Status {
    for (int i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || (vocab_size > 0 && ids[i] >= vocab_size)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": ", field, "[", i, "] = ", ids[i], " is outside the vocabulary [0, ",
            vocab_size > 0 ? absl::StrCat(vocab_size) : std::string("..."), ")"));
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check_ids(t.prompt_ids(), "prompt_ids"));
  RETURN_IF_ERROR(check_ids(t.completion_ids(), "completion_ids"));
  if (t.completion_ids().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": completion_ids is empty"));
  }
  if (t.logprobs_size() != t.completion_ids_size()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", t.logprobs_size(), " logprobs for ",
                                                   t.completion_ids_size(), " completion ids"));
  }
  for (int i = 0; i < t.logprobs_size(); ++i) {
    if (!std::isfinite(t.logprobs(i)) || t.logprobs(i) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": logprobs[", i, "] = ", t.logprobs(i),
                                                     " is not a log-probability"));
    }
  }
  if (!std::isfinite(t.reward())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": reward ", t.reward(), " is not finite"));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LearnerService::PushRollouts(grpc::CallbackServerContext* ctx,
                                                       const v1::PushRolloutsRequest* request,
                                                       v1::PushRolloutsResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status st = rpc_.Authorize(*ctx);
  if (st.ok() && request->actor_id().empty()) {
    st = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "actor_id is empty");
  }
  for (int i = 0; st.ok() && i < request->trajectories_size(); ++i) {
    if (absl::Status bad = ValidateTrajectory(request->trajectories(i), i, options_.vocab_size);
        !bad.ok()) {
      PELICAN_LOG(WARNING) << "PushRollouts from " << request->actor_id() << " batch "
                           << request->batch_seq() << " refused: " << bad.message();
      st = ToGrpcStatus(bad);
    }
  }
  if (st.ok()) {
    Seen(request->actor_id());
    std::vector<v1::Trajectory> trajectories(request->trajectories().begin(),
                                             request->trajectories().end());
    auto pushed = ledger_->Push(request->actor_id(), request->batch_seq(), std::move(trajectories));
    if (pushed.ok()) {
      *response = *std::move(pushed);
    } else {
      st = ToGrpcStatus(pushed.status());
    }
  }
  reactor->Finish(st);
  return reactor;
}

grpc::ServerWriteReactor<v1::WeightChunk>* LearnerService::WatchWeights(
    grpc::CallbackServerContext* ctx, const v1::WatchWeightsRequest* request) {
  if (grpc::Status st = rpc_.Authorize(*ctx); !st.ok()) {
    auto* reactor = new RefusedWriter();
    reactor->Finish(st);
    return reactor;
  }
  if (!request->actor_id().empty()) Seen(request->actor_id());
  return new WeightsWriter(weights_, request->have_version());
}

grpc::ServerUnaryReactor* LearnerService::GetStatus(grpc::CallbackServerContext* ctx,
                                                    const v1::GetStatusRequest*,
                                                    v1::LearnerStatus* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status st = rpc_.Authorize(*ctx);
  if (st.ok()) {
    const LedgerStats stats = ledger_->Stats();
    response->set_run_id(options_.run_id);
    response->set_step(step_.load());
    response->set_policy_version(weights_->version());
    response->set_actors_connected(actors_connected());
    response->set_queue_size(static_cast<uint32_t>(stats.queued));
    *response->mutable_ledger() = stats.ToProto();
    response->set_done(done_.load());
  }
  reactor->Finish(st);
  return reactor;
}

}  // namespace pelican
