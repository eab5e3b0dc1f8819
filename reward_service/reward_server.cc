#include "reward_service/reward_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <atomic>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "pelican/v1/reward.grpc.pb.h"
#include "reward_service/batch_validation.h"
#include "reward_service/batcher.h"

namespace pelican::reward {
namespace {

// Samples are batched by pointer: a request outlives its samples' trip through the batcher
// because the call finishes only after every sample has a result.
using SampleBatcher = DynamicBatcher<const v1::Sample*, v1::SampleResult>;

const char* CodeName(grpc::StatusCode code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : "UNKNOWN";
}

// The service's metric families, built once; children are looked up per label value.
class Metrics {
 public:
  explicit Metrics(prometheus::Registry* registry) : registry_(registry) {
    if (registry_ == nullptr) return;
    calls_ = &prometheus::BuildCounter()
                  .Name("pelican_reward_calls_total")
                  .Help("Score calls by gRPC status code")
                  .Register(*registry_);
    latency_ = &prometheus::BuildHistogram()
                    .Name("pelican_reward_call_latency_seconds")
                    .Help("Score call latency, arrival to reply")
                    .Register(*registry_)
                    .Add({}, LatencyBucketsSeconds());
    batch_size_ = &prometheus::BuildHistogram()
                       .Name("pelican_reward_batch_size")
                       .Help("Samples per scoring batch")
                       .Register(*registry_)
                       .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128,
                                                                        256, 512, 1024});
    queue_depth_ = &prometheus::BuildGauge()
                        .Name("pelican_reward_queue_depth")
                        .Help("Samples waiting to be batched")
                        .Register(*registry_)
                        .Add({});
    samples_ = &prometheus::BuildCounter()
                    .Name("pelican_reward_samples_scored_total")
                    .Help("Samples scored, by scorer and outcome (ok or error)")
                    .Register(*registry_);
  }

  void Call(grpc::StatusCode code, absl::Duration elapsed) {
    if (registry_ == nullptr) return;
    calls_->Add({{"code", CodeName(code)}}).Increment();
    latency_->Observe(absl::ToDoubleSeconds(elapsed));
  }
  void Batch(const std::string& scorer, const std::vector<v1::SampleResult>& results) {
    if (registry_ == nullptr) return;
    batch_size_->Observe(static_cast<double>(results.size()));
    int ok = 0;
    for (const auto& r : results) ok += r.code() == 0;
    samples_->Add({{"scorer", scorer}, {"outcome", "ok"}}).Increment(ok);
    samples_->Add({{"scorer", scorer}, {"outcome", "error"}})
        .Increment(static_cast<double>(results.size() - ok));
  }
  void QueueDepth(size_t depth) {
    if (registry_ != nullptr) queue_depth_->Set(static_cast<double>(depth));
  }

 private:
  prometheus::Registry* registry_;
  prometheus::Family<prometheus::Counter>* calls_ = nullptr;
  prometheus::Histogram* latency_ = nullptr;
  prometheus::Histogram* batch_size_ = nullptr;
  prometheus::Gauge* queue_depth_ = nullptr;
  prometheus::Family<prometheus::Counter>* samples_ = nullptr;
};

}  // namespace

class RewardServer::Service final : public v1::RewardService::CallbackService {
 public:
  Service(const v1::RewardSection& config, std::unique_ptr<ScorerSet> scorers,
          const RpcSettings& rpc, RewardServerOptions options)
      : rpc_(rpc),
        scorers_(std::move(scorers)),
        limits_(BatchLimits::FromConfig(config, options.vocab_size)),
        options_(std::move(options)),
        metrics_(options_.registry.get()) {
    BatcherOptions bo;
    bo.max_batch_size = config.max_batch_size();
    bo.max_batch_tokens = config.max_batch_tokens();
    bo.max_wait = absl::Milliseconds(config.max_wait_ms());
    bo.capacity = config.queue_capacity();
    bo.num_workers = options_.workers;
    for (const std::string& name : scorers_->names()) {
      CompositeScorer* scorer = *scorers_->Find(name);
      batchers_[name] = std::make_unique<SampleBatcher>(
          bo, [this, scorer](const std::vector<const v1::Sample* const*>& batch) {
            std::vector<const v1::Sample*> samples;
            samples.reserve(batch.size());
            for (const v1::Sample* const* s : batch) samples.push_back(*s);
            std::vector<v1::SampleResult> results = ScoreSamples(*scorer, samples, options_.decode);
            metrics_.Batch(scorer->name(), results);
            return results;
          });
    }
  }

  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* ctx, const v1::ScoreRequest* request,
                                  v1::ScoreResponse* response) override {
    const absl::Time start = absl::Now();
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    auto finish = [this, reactor, start](const grpc::Status& st) {
      metrics_.Call(st.error_code(), absl::Now() - start);
      reactor->Finish(st);
    };
    if (draining_.load()) {
      finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the reward service is draining"));
      return reactor;
    }
    if (grpc::Status auth = rpc_.Authorize(*ctx); !auth.ok()) {
      finish(auth);
      return reactor;
    }
    auto scorer = scorers_->Find(request->scorer());
    if (!scorer.ok()) {
      finish(ToGrpcStatus(scorer.status()));
      return reactor;
    }
    if (absl::Status valid = ValidateScoreRequest(*request, limits_, *scorers_); !valid.ok()) {
      finish(ToGrpcStatus(valid));
      return reactor;
    }
    const std::string name = (*scorer)->name();
    std::vector<const v1::Sample*> samples;
    std::vector<int64_t> tokens;
    for (const v1::Sample& s : request->samples()) {
      samples.push_back(&s);
      tokens.push_back(s.prompt_ids_size() + s.completion_ids_size());
    }
    SampleBatcher& batcher = *batchers_.at(name);
    const absl::Time deadline = absl::FromChrono(ctx->deadline());
    const absl::Status queued = batcher.Submit(
        std::move(samples), tokens, deadline,
        [response, name, finish](absl::StatusOr<std::vector<v1::SampleResult>> results) {
          if (!results.ok()) {
            finish(ToGrpcStatus(results.status()));
            return;
          }
          response->set_scorer(name);
          for (v1::SampleResult& r : *results) *response->add_results() = std::move(r);
          finish(grpc::Status::OK);
        });
    metrics_.QueueDepth(batcher.queue_depth());
    if (!queued.ok()) finish(ToGrpcStatus(queued));
    return reactor;
  }

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* ctx, const v1::InfoRequest*,
                                 v1::InfoResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (grpc::Status auth = rpc_.Authorize(*ctx); !auth.ok()) {
      reactor->Finish(auth);
      return reactor;
    }
    for (const std::string& name : scorers_->names()) response->add_scorers(name);
    for (const v1::RewardModelInfo& m : options_.reward_models) *response->add_reward_models() = m;
    response->set_tokenizer_fingerprint(options_.tokenizer_fingerprint);
    response->set_vocab_size(options_.vocab_size);
    response->set_version(kPelicanVersion);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  void StartDraining() { draining_.store(true); }

  // Scores what is queued and stops the batching threads.
  void StopBatchers() {
    for (auto& [name, b] : batchers_) b->Shutdown();
  }

 private:
  // Constant after construction.
  const RpcSettings rpc_;
  const std::unique_ptr<ScorerSet> scorers_;
  const BatchLimits limits_;
  const RewardServerOptions options_;
  Metrics metrics_;
  std::map<std::string, std::unique_ptr<SampleBatcher>> batchers_;

  std::atomic<bool> draining_{false};
};

absl::StatusOr<std::unique_ptr<RewardServer>> RewardServer::Start(
    const v1::RewardSection& config, std::unique_ptr<ScorerSet> scorers, const RpcSettings& rpc,
    RewardServerOptions options) {
  std::unique_ptr<RewardServer> server(new RewardServer);
  const std::string listen = options.listen;
  server->service_ = std::make_unique<Service>(config, std::move(scorers), rpc, std::move(options));
  grpc::EnableDefaultHealthCheckService(true);
  if (config.reflection()) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  rpc.ConfigureServer(listen, &builder, &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve the reward service on ", listen));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  return server;
}

RewardServer::~RewardServer() { Drain(absl::Seconds(5)); }

void RewardServer::Drain(absl::Duration grace) {
  if (server_ == nullptr || drained_.exchange(true)) return;
  service_->StartDraining();
  server_->GetHealthCheckService()->SetServingStatus(false);
  // Waits for in-flight calls (their batches keep running) up to the deadline.
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  service_->StopBatchers();
}

void RewardServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace pelican::reward
