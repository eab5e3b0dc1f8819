// The reward service's three goals, each as a ratio against a limit measured in the same run:
//
//  1. samples/s through gRPC with K concurrent clients ÷ the same reward model's in-process
//     scoring at the same batch size (goal >= 0.8);
//  2. throughput with server-side batching ÷ without (max_batch_size 1) at equal p95 latency:
//     one sample per call, 16 clients without batching set the p95 budget, and the batched
//     server's best throughput within that budget counts (goal >= 2×);
//  3. p50 latency of an empty call (Info) ÷ a raw loopback TCP round trip (printed as is).
//
// Usage: reward_bench [threads] [seconds per measurement]   (default 2, 3)
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "common/config.h"
#include "common/model/tiny_model.h"
#include "common/rpc.h"
#include "common/runtime.h"
#include "common/status_macros.h"
#include "pelican/v1/reward.grpc.pb.h"
#include "reward_service/reward_model_scorer.h"
#include "reward_service/reward_server.h"
#include "reward_service/scorer_factory.h"

namespace pelican::reward {
namespace {

constexpr int64_t kVocab = 512;
// Sample lengths: prompt and completion tokens (part 2 runs a short size too).
int prompt_tokens = 32;
int completion_tokens = 32;

v1::RunConfig Config(const std::string& model_dir, int max_batch, int threads) {
  auto config = ParseRunConfig(
      "security: {insecure: true}\nreward:\n  max_wait_ms: 2\n  scorers:\n"
      "    - name: rm\n      reward_model: {paths: ['" +
          model_dir + "']}\n",
      "bench.yaml");
  PELICAN_CHECK_OK(config.status());
  config->mutable_reward()->set_max_batch_size(max_batch);
  config->mutable_reward()->set_threads(threads);
  return *config;
}

v1::Sample MakeSample(int i) {
  v1::Sample s;
  s.set_id(absl::StrCat(i));
  for (int t = 0; t < prompt_tokens; ++t) s.add_prompt_ids((i * 7 + t * 13) % kVocab);
  for (int t = 0; t < completion_tokens; ++t) s.add_completion_ids((i * 11 + t * 5) % kVocab);
  return s;
}

struct Load {
  double samples_per_s = 0;
  double p50 = 0;
  double p95 = 0;
};

// `clients` threads each sending `per_call` samples per Score call for `seconds`.
Load Drive(const std::string& target, const RpcSettings& rpc, int clients, int per_call,
           double seconds) {
  std::atomic<int64_t> samples{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::vector<std::thread> threads;
  const double end = bench::Now() + seconds;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::RewardService::NewStub(rpc.MakeChannel(target));
      v1::ScoreRequest request;
      for (int i = 0; i < per_call; ++i) *request.add_samples() = MakeSample(c * 1000 + i);
      std::vector<double> mine;
      while (bench::Now() < end) {
        v1::ScoreResponse response;
        auto ctx = rpc.NewClientContext(absl::Seconds(60));
        const double t0 = bench::Now();
        grpc::Status st = stub->Score(ctx.get(), request, &response);
        PELICAN_CHECK(st.ok()) << st.error_message();
        mine.push_back(bench::Now() - t0);
        samples += per_call;
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  return {static_cast<double>(samples.load()) / seconds, bench::Percentile(latencies, 0.5),
          bench::Percentile(latencies, 0.95)};
}

std::unique_ptr<RewardServer> StartServer(const v1::RunConfig& config, const RpcSettings& rpc) {
  ScorerRegistry registry;
  RegisterRewardModelScorer(registry);
  auto scorers = BuildScorerSet(config.reward(), registry);
  PELICAN_CHECK_OK(scorers.status());
  RewardServerOptions options;
  options.vocab_size = kVocab;
  auto server = RewardServer::Start(config.reward(), *std::move(scorers), rpc, options);
  PELICAN_CHECK_OK(server.status());
  return *std::move(server);
}

// Samples/s of the reward model scoring batches of `batch` samples in this process, no gRPC.
double InProcess(const v1::RunConfig& config, int batch, double seconds) {
  ScorerRegistry registry;
  RegisterRewardModelScorer(registry);
  auto scorers = BuildScorerSet(config.reward(), registry);
  PELICAN_CHECK_OK(scorers.status());
  std::vector<v1::Sample> samples;
  for (int i = 0; i < batch; ++i) samples.push_back(MakeSample(i));
  std::vector<ScoreInput> inputs(batch);
  for (int i = 0; i < batch; ++i) {
    inputs[i].prompt_ids = samples[i].prompt_ids();
    inputs[i].completion_ids = samples[i].completion_ids();
  }
  (*scorers)->default_scorer().Score(inputs);  // warm-up
  int64_t scored = 0;
  const double t0 = bench::Now();
  while (bench::Now() - t0 < seconds) {
    for (const auto& r : (*scorers)->default_scorer().Score(inputs)) PELICAN_CHECK_OK(r.status);
    scored += batch;
  }
  return static_cast<double>(scored) / (bench::Now() - t0);
}

// Median round trip of one byte over a loopback TCP connection (TCP_NODELAY), in seconds.
double TcpRoundTrip() {
  constexpr int kRounds = 2000;
  std::vector<double> rtts;
  bench::OverLoopbackTcp(
      [](int fd) {
        char b;
        for (int i = 0; i < kRounds; ++i) {
          PELICAN_CHECK(recv(fd, &b, 1, 0) == 1);
          PELICAN_CHECK(send(fd, &b, 1, 0) == 1);
        }
      },
      [&](int fd) {
        char b = 'x';
        for (int i = 0; i < kRounds; ++i) {
          const double t0 = bench::Now();
          PELICAN_CHECK(send(fd, &b, 1, 0) == 1);
          PELICAN_CHECK(recv(fd, &b, 1, 0) == 1);
          rtts.push_back(bench::Now() - t0);
        }
      });
  return bench::Median(rtts);
}

int Main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  ConfigureThreads(threads);
  std::printf("%s\nthreads %d, %.0f s per measurement\n\n", BuildDescription().c_str(), threads,
              seconds);

  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("pelican_reward_bench_" + std::to_string(getpid())))
                              .string();
  v1::TinyModelShape shape;
  shape.set_hidden_size(256);
  shape.set_num_layers(4);
  shape.set_num_heads(8);
  shape.set_num_kv_heads(4);
  shape.set_intermediate_size(688);
  shape.set_max_position_embeddings(256);
  shape.set_tie_word_embeddings(true);
  TinyModelOptions model_options;
  model_options.head = HeadKind::kSequenceClassification;
  PELICAN_CHECK_OK(CreateTinyModel(shape, kVocab, 1, dir, model_options));

  const v1::RunConfig batched = Config(dir, 64, threads);
  const RpcSettings rpc = *RpcSettings::FromConfig(batched.security(), batched.rpc());

  // 1. In-process scoring at batch 64 against K = 8 clients of 8 samples through gRPC.
  constexpr int kBatch = 64;
  constexpr int kClients = 8;
  const double in_process = InProcess(batched, kBatch, seconds);
  Load through_grpc;
  {
    auto server = StartServer(batched, rpc);
    const std::string target = absl::StrCat("127.0.0.1:", server->port());
    Drive(target, rpc, kClients, kBatch / kClients, 0.5);  // warm-up
    through_grpc = Drive(target, rpc, kClients, kBatch / kClients, seconds);
  }
  std::printf("reward model: %lld-token samples, batch %d\n",
              static_cast<long long>(prompt_tokens + completion_tokens), kBatch);
  std::printf("  in process                      %8.0f samples/s (the limit)\n", in_process);
  std::printf("  gRPC, %d clients x %d samples     %8.0f samples/s  ratio %.3f (goal >= 0.8)\n\n",
              kClients, kBatch / kClients, through_grpc.samples_per_s,
              through_grpc.samples_per_s / in_process);

  // 2. One sample per call, for the 64-token samples above and for short 16-token ones (where
  // per-call work dominates). Without batching, 16 clients set the latency budget: its p95.
  // With batching, the load rises (16, 24, 32, ... clients) while p95 stays within that budget;
  // the best throughput found is compared, i.e. throughput at equal p95 latency.
  constexpr int kSingleClients = 16;
  for (const int half : {32, 8}) {
    prompt_tokens = completion_tokens = half;
    Load without;
    {
      const v1::RunConfig unbatched = Config(dir, 1, threads);
      auto server = StartServer(unbatched, rpc);
      const std::string target = absl::StrCat("127.0.0.1:", server->port());
      Drive(target, rpc, kSingleClients, 1, 0.5);
      without = Drive(target, rpc, kSingleClients, 1, seconds);
    }
    // How much the model itself gains from batches on this machine (the server also saves
    // per-call work, so it can gain a little more).
    const double model_gain = InProcess(batched, kBatch, seconds) / InProcess(batched, 1, seconds);
    std::printf(
        "1 sample of %d tokens per call (the model in process: batch %d ÷ batch 1 = %.2f)\n",
        2 * half, kBatch, model_gain);
    std::printf("  batching off (max_batch_size 1), %3d clients %8.0f samples/s  p95 %6.1f ms\n",
                kSingleClients, without.samples_per_s, without.p95 * 1e3);
    Load best;
    int best_clients = 0;
    {
      auto server = StartServer(batched, rpc);
      const std::string target = absl::StrCat("127.0.0.1:", server->port());
      Drive(target, rpc, kSingleClients, 1, 0.5);
      for (int clients = kSingleClients; clients <= 256; clients += clients / 2) {
        const Load with = Drive(target, rpc, clients, 1, seconds);
        std::printf(
            "  batching on (max_batch_size 64),  %3d clients %8.0f samples/s  p95 %6.1f ms\n",
            clients, with.samples_per_s, with.p95 * 1e3);
        if (with.p95 > without.p95) break;
        if (with.samples_per_s > best.samples_per_s) {
          best = with;
          best_clients = clients;
        }
      }
    }
    if (best_clients == 0) {
      std::printf("  batching on never kept p95 within %.1f ms: ratio 0 (goal >= 2)\n\n",
                  without.p95 * 1e3);
    } else {
      std::printf("  at equal p95: %d clients batched ÷ %d unbatched, ratio %.2f (goal >= 2)\n\n",
                  best_clients, kSingleClients, best.samples_per_s / without.samples_per_s);
    }
  }

  // 3. An empty call against a raw TCP round trip.
  double empty_p50 = 0;
  {
    auto server = StartServer(batched, rpc);
    auto stub =
        v1::RewardService::NewStub(rpc.MakeChannel(absl::StrCat("127.0.0.1:", server->port())));
    std::vector<double> lat;
    for (int i = 0; i < 2200; ++i) {
      v1::InfoResponse response;
      auto ctx = rpc.NewClientContext(absl::Seconds(10));
      const double t0 = bench::Now();
      PELICAN_CHECK(stub->Info(ctx.get(), v1::InfoRequest(), &response).ok());
      if (i >= 200) lat.push_back(bench::Now() - t0);
    }
    empty_p50 = bench::Percentile(lat, 0.5);
  }
  const double rtt = TcpRoundTrip();
  std::printf(
      "empty call (Info) p50 %.1f us; raw loopback TCP round trip p50 %.1f us; ratio %.1f\n",
      empty_p50 * 1e6, rtt * 1e6, empty_p50 / rtt);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace pelican::reward

int main(int argc, char** argv) { return pelican::reward::Main(argc, argv); }
