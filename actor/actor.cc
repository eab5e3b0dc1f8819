#include "actor/actor.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "actor/rollout.h"
#include "common/config.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/model/hf_model.h"
#include "common/retry.h"
#include "common/reward_client.h"
#include "common/status_macros.h"
#include "common/tokenizer/tokenizer.h"
#include "common/weight_codec.h"
#include "pelican/v1/learner.grpc.pb.h"

namespace pelican {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string DefaultName() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

struct ActorMetrics {
  explicit ActorMetrics(prometheus::Registry& r)
      : samples(prometheus::BuildCounter()
                    .Name("pelican_actor_samples_total")
                    .Help("Completions generated and pushed")
                    .Register(r)
                    .Add({})),
        tokens(prometheus::BuildCounter()
                   .Name("pelican_actor_tokens_generated_total")
                   .Help("Completion tokens generated")
                   .Register(r)
                   .Add({})),
        generate_s(prometheus::BuildHistogram()
                       .Name("pelican_actor_generate_seconds")
                       .Help("Generating one batch")
                       .Register(r)
                       .Add({}, LatencyBucketsSeconds())),
        score_s(prometheus::BuildHistogram()
                    .Name("pelican_actor_score_seconds")
                    .Help("Scoring one batch, retries included")
                    .Register(r)
                    .Add({}, LatencyBucketsSeconds())),
        pushes(prometheus::BuildCounter()
                   .Name("pelican_actor_pushes_total")
                   .Help("PushRollouts calls by final status code")
                   .Register(r)),
        reward_errors(prometheus::BuildCounter()
                          .Name("pelican_actor_reward_errors_total")
                          .Help("Score calls or samples that got no reward, by code")
                          .Register(r)),
        retries(prometheus::BuildCounter()
                    .Name("pelican_actor_retries_total")
                    .Help("Retried calls by RPC")
                    .Register(r)),
        version(prometheus::BuildGauge()
                    .Name("pelican_actor_policy_version")
                    .Help("Policy version the actor samples with")
                    .Register(r)
                    .Add({})),
        sync_s(prometheus::BuildHistogram()
                   .Name("pelican_actor_weight_sync_seconds")
                   .Help("Receiving and applying one policy version")
                   .Register(r)
                   .Add({}, LatencyBucketsSeconds())),
        weight_bytes(prometheus::BuildCounter()
                         .Name("pelican_actor_weight_bytes_total")
                         .Help("Bytes of weights received")
                         .Register(r)
                         .Add({})) {
    // Children that exist from the start, so dashboards show 0 rather than "no data": every
    // RPC retried, and the codes a Score call fails with after its retries.
    for (const char* rpc : {"score", "push", "lease"}) retries.Add({{"rpc", rpc}});
    for (const char* code : {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"}) {
      reward_errors.Add({{"code", code}});
    }
  }

  prometheus::Counter& samples;
  prometheus::Counter& tokens;
  prometheus::Histogram& generate_s;
  prometheus::Histogram& score_s;
  prometheus::Family<prometheus::Counter>& pushes;
  prometheus::Family<prometheus::Counter>& reward_errors;
  prometheus::Family<prometheus::Counter>& retries;
  prometheus::Gauge& version;
  prometheus::Histogram& sync_s;
  prometheus::Counter& weight_bytes;
};

}  // namespace

// Longest a LeasePrompts call waits for a learner that is down before it is retried (so SIGTERM is
// noticed within about this time).
constexpr absl::Duration kLeaseWait = absl::Seconds(5);

class Actor::Impl {
 public:
  explicit Impl(const RpcSettings& rpc) : rpc_(rpc) {}
  absl::Status Init(const v1::RunConfig& config, const ActorOptions& options);
  absl::Status Run(SignalWatcher& signals);
  ~Impl();

 private:
  absl::Status Register(SignalWatcher& signals);
  void WatchWeights();
  // Applies the newest complete version, if one arrived since the last call.
  absl::Status ApplyPendingWeights();
  // One lease → generate → score → push round. Sets *done when the learner says so.
  absl::Status Round(bool* done);
  absl::Status Push(std::vector<v1::Trajectory> trajectories);
  // A context for a call to the learner that waits for the channel to connect (up to `deadline`,
  // the RPC default when absent) instead of failing at once while it is down. A synchronous
  // client's channel makes progress only while a call waits on it: failing fast and sleeping
  // between retries left actors unable to reconnect to a restarted learner for tens of seconds.
  std::unique_ptr<grpc::ClientContext> LearnerCallContext(
      std::optional<absl::Duration> deadline) const {
    auto ctx = rpc_.NewClientContext(deadline);
    ctx->set_wait_for_ready(true);
    return ctx;
  }

  v1::RunConfig config_;
  const RpcSettings rpc_;
  ActorOptions options_;
  std::unique_ptr<Tokenizer> tokenizer_;
  LoadedModel model_;
  GenerateOptions generate_;  // from the config and the model, at start
  RetryPolicy retry_;         // every call: actors.max_retries retries with jittered backoff
  std::unique_ptr<v1::LearnerService::Stub> learner_;
  std::unique_ptr<RewardClient> reward_;
  std::unique_ptr<ActorMetrics> metrics_;
  std::string actor_id_;
  uint64_t version_ = 0;  // of the weights in model_
  uint64_t batch_seq_ = 0;
  uint64_t round_ = 0;
  std::mt19937_64 rng_;

  // The weight stream.
  std::thread watcher_;
  std::mutex mu_;
  std::unique_ptr<grpc::ClientContext> watch_context_;     // guarded by mu_
  std::optional<std::pair<uint64_t, TensorMap>> pending_;  // guarded by mu_
  double pending_receive_s_ = 0;                           // guarded by mu_
  bool stopping_ = false;                                  // guarded by mu_
};

absl::Status Actor::Impl::Init(const v1::RunConfig& config, const ActorOptions& options) {
  config_ = config;
  const RpcSettings& rpc = rpc_;
  options_ = options;
  // The name is the actor's id at the learner, which keeps a push window per id: a restarted
  // process must not reuse its predecessor's id (its batch numbers restart at 1), so the pid
  // and a random suffix are part of it.
  std::random_device entropy;
  options_.name = absl::StrCat(options_.name.empty() ? DefaultName() : options_.name, "/", getpid(),
                               "-", absl::Hex(entropy() & 0xffff));
  const v1::ModelSection& model = config.model();
  if (model.policy().empty()) {
    return absl::InvalidArgumentError("model.policy is not set: the actor needs the model dir");
  }
  ASSIGN_OR_RETURN(tokenizer_, Tokenizer::FromFile(TokenizerPath(model)));
  LoadOptions load;
  load.device = torch::Device(config.run().device().empty() ? "cpu" : config.run().device());
  load.dtype = model.dtype() == v1::DTYPE_NAME_BFLOAT16  ? torch::kBFloat16
               : model.dtype() == v1::DTYPE_NAME_FLOAT16 ? torch::kFloat16
                                                         : torch::kFloat32;
  ASSIGN_OR_RETURN(model_, LoadModel(model.policy(), load));
  ASSIGN_OR_RETURN(generate_, ActorGenerateOptions(config, model_.generation));
  learner_ = v1::LearnerService::NewStub(rpc.MakeChannel(options.learner));
  retry_.max_attempts = static_cast<int>(config.actors().max_retries()) + 1;
  reward_ = std::make_unique<RewardClient>(options.reward, rpc, retry_,
                                           absl::Seconds(config.actors().score_deadline_s()));
  if (options.registry) metrics_ = std::make_unique<ActorMetrics>(*options.registry);
  rng_.seed(config.run().seed() ^ std::hash<std::string>()(options_.name));
  return absl::OkStatus();
}

Actor::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (watch_context_) watch_context_->TryCancel();
  }
  if (watcher_.joinable()) watcher_.join();
}

absl::Status Actor::Impl::Register(SignalWatcher& signals) {
  v1::RegisterActorRequest request;
  request.set_actor_name(options_.name);
  request.set_config_fingerprint(ConfigFingerprint(config_));
  request.set_tokenizer_fingerprint(tokenizer_->fingerprint());
  // The learner may still be starting (loading models): keep trying for a while.
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    v1::RegisterActorResponse response;
    auto ctx = LearnerCallContext(absl::Seconds(10));
    grpc::Status st = learner_->RegisterActor(ctx.get(), request, &response);
    if (st.ok()) {
      actor_id_ = response.actor_id();
      PELICAN_LOG(INFO) << "registered as " << actor_id_ << " with run " << response.run_id()
                        << " at policy version " << response.policy_version();
      return absl::OkStatus();
    }
    const absl::Status status = FromGrpcStatus(st);
    if (!IsRetryable(status) || Since(start) > 120 || signals.shutdown_requested()) {
      return Annotate(status, absl::StrCat("registering with the learner at ", options_.learner));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void Actor::Impl::WatchWeights() {
  // Reconnects after a broken stream. Each connection asks for the learner's current version
  // whatever this actor holds: a learner resumed from a checkpoint may be behind the version the
  // actor last saw, and its weights are the ones to sample with.
  while (true) {
    grpc::ClientContext* ctx;  // owned by watch_context_, so the destructor can cancel it
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      watch_context_ = rpc_.NewClientContext(absl::InfiniteDuration());
      ctx = watch_context_.get();
    }
    v1::WatchWeightsRequest request;
    request.set_actor_id(actor_id_);
    request.set_have_version(0);
    auto reader = learner_->WatchWeights(ctx, request);
    WeightAssembler assembler;
    v1::WeightChunk chunk;
    auto first_chunk = std::chrono::steady_clock::now();
    while (reader->Read(&chunk)) {
      if (chunk.chunk_index() == 0) first_chunk = std::chrono::steady_clock::now();
      if (metrics_) metrics_->weight_bytes.Increment(static_cast<double>(chunk.data().size()));
      absl::StatusOr<std::optional<TensorMap>> done = assembler.Add(chunk);
      if (!done.ok()) {
        PELICAN_LOG(WARNING) << "weight stream: " << done.status() << "; waiting for the next";
        continue;
      }
      if (done->has_value()) {
        std::lock_guard<std::mutex> lock(mu_);
        pending_.emplace(chunk.policy_version(), std::move(**done));
        pending_receive_s_ = Since(first_chunk);
      }
    }
    grpc::Status st = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (st.ok()) return;  // the learner closed the store: the run is over
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

absl::Status Actor::Impl::ApplyPendingWeights() {
  std::optional<std::pair<uint64_t, TensorMap>> pending;
  double receive_s = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(pending_);
    receive_s = pending_receive_s_;
  }
  if (!pending || pending->first == version_) return absl::OkStatus();
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  auto params = model_.model->named_parameters();
  for (auto& item : params) {
    auto it = pending->second.find(item.key());
    if (it == pending->second.end()) {
      return absl::DataLossError(
          absl::StrCat("weights of version ", pending->first, " lack tensor ", item.key()));
    }
    if (it->second.sizes() != item.value().sizes()) {
      return absl::DataLossError(absl::StrCat("weights of version ", pending->first, ": tensor ",
                                              item.key(), " has another shape than the model's"));
    }
    item.value().copy_(it->second);
  }
  version_ = pending->first;
  if (metrics_) {
    metrics_->version.Set(static_cast<double>(version_));
    metrics_->sync_s.Observe(receive_s + Since(start));
  }
  return absl::OkStatus();
}

absl::Status Actor::Impl::Push(std::vector<v1::Trajectory> trajectories) {
  v1::PushRolloutsRequest request;
  request.set_actor_id(actor_id_);
  request.set_batch_seq(++batch_seq_);
  for (v1::Trajectory& t : trajectories) *request.add_trajectories() = std::move(t);
  absl::Status status = CallWithRetry(retry_, nullptr, &rng_, [&](int attempt) {
    if (attempt > 0 && metrics_) metrics_->retries.Add({{"rpc", "push"}}).Increment();
    v1::PushRolloutsResponse response;
    auto ctx = LearnerCallContext(std::nullopt);
    return FromGrpcStatus(learner_->PushRollouts(ctx.get(), request, &response));
  });
  if (metrics_) {
    metrics_->pushes.Add({{"code", absl::StatusCodeToString(status.code())}}).Increment();
  }
  return status;
}

absl::Status Actor::Impl::Round(bool* done) {
  RETURN_IF_ERROR(ApplyPendingWeights());
  v1::LeasePromptsRequest lease_request;
  lease_request.set_actor_id(actor_id_);
  lease_request.set_n(config_.actors().prompts_per_batch());
  v1::LeasePromptsResponse leased;
  RETURN_IF_ERROR(CallWithRetry(retry_, nullptr, &rng_, [&](int attempt) {
    if (attempt > 0 && metrics_) metrics_->retries.Add({{"rpc", "lease"}}).Increment();
    auto ctx = LearnerCallContext(kLeaseWait);
    return FromGrpcStatus(learner_->LeasePrompts(ctx.get(), lease_request, &leased));
  }));
  if (leased.done()) {
    *done = true;
    return absl::OkStatus();
  }
  if (leased.prompts().empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return absl::OkStatus();
  }

  at::Generator gen = at::detail::createCPUGenerator(rng_());
  const RolloutSource source{actor_id_, absl::StrCat(actor_id_, "-", round_, "-"), version_};
  ASSIGN_OR_RETURN(Rollouts rollouts, GenerateAndScore(model_.model, *tokenizer_, leased.prompts(),
                                                       generate_, gen, *reward_, source));
  if (metrics_) {
    metrics_->generate_s.Observe(rollouts.generate_s);
    metrics_->score_s.Observe(rollouts.score_s);
    if (rollouts.score_retries > 0) {
      metrics_->retries.Add({{"rpc", "score"}})
          .Increment(static_cast<double>(rollouts.score_retries));
    }
    for (absl::StatusCode code : rollouts.sample_errors) {
      metrics_->reward_errors.Add({{"code", absl::StatusCodeToString(code)}}).Increment();
    }
  }
  if (!rollouts.score_status.ok()) {
    // Nothing is pushed; the leases expire and are handed out again.
    if (metrics_) {
      metrics_->reward_errors
          .Add({{"code", absl::StatusCodeToString(rollouts.score_status.code())}})
          .Increment();
    }
    PELICAN_LOG(WARNING) << "scoring failed, " << leased.prompts_size()
                         << " leases left to expire: " << rollouts.score_status;
    return absl::OkStatus();
  }
  if (metrics_) metrics_->tokens.Increment(static_cast<double>(rollouts.completion_tokens));
  std::vector<v1::Trajectory> trajectories = std::move(rollouts.trajectories);
  ++round_;
  if (trajectories.empty()) return absl::OkStatus();
  const size_t n = trajectories.size();
  absl::Status pushed = Push(std::move(trajectories));
  if (!pushed.ok()) {
    PELICAN_LOG(WARNING) << "push failed for good; its leases will expire: " << pushed;
    return IsRetryable(pushed) ? absl::OkStatus() : pushed;
  }
  if (metrics_) metrics_->samples.Increment(static_cast<double>(n));
  return absl::OkStatus();
}

absl::Status Actor::Impl::Run(SignalWatcher& signals) {
  RETURN_IF_ERROR(Register(signals));
  watcher_ = std::thread([this] { WatchWeights(); });
  // Never sample with anything but the learner's weights.
  const auto start = std::chrono::steady_clock::now();
  while (version_ == 0) {
    if (signals.shutdown_requested()) return absl::OkStatus();
    if (Since(start) > 300) {
      return absl::DeadlineExceededError("no weights from the learner within 300 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    RETURN_IF_ERROR(ApplyPendingWeights());
  }
  PELICAN_LOG(INFO) << "sampling with policy version " << version_;
  bool done = false;
  while (!done && !signals.shutdown_requested()) {
    absl::Status status = Round(&done);
    if (!status.ok()) {
      // CANCELLED: the learner's server went down mid-call (a restart); wait for it like for
      // UNAVAILABLE.
      if (!IsRetryable(status) && !absl::IsCancelled(status)) return status;
      // The learner is unreachable for now (restarting?): wait and try again.
      PELICAN_LOG(WARNING) << status << "; retrying in 1 s";
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  PELICAN_LOG(INFO) << (done ? "the learner finished the run" : "shutting down") << " after "
                    << batch_seq_ << " pushes";
  return absl::OkStatus();
}

Actor::Actor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Actor::~Actor() = default;

absl::StatusOr<std::unique_ptr<Actor>> Actor::Create(const v1::RunConfig& config,
                                                     const RpcSettings& rpc,
                                                     const ActorOptions& options) {
  auto impl = std::make_unique<Impl>(rpc);
  RETURN_IF_ERROR(impl->Init(config, options));
  return std::unique_ptr<Actor>(new Actor(std::move(impl)));
}

absl::Status Actor::Run(SignalWatcher& signals) { return impl_->Run(signals); }

}  // namespace pelican
