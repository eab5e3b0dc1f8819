// The learner's two speed goals, each as a ratio against a limit measured in the same run:
//
//  1. step: RlTrainer::Step on a batch ÷ a plain LibTorch forward + backward + AdamW step on the
//     same tokens and model (goal <= 1.15). With one epoch of one mini-batch and no reference,
//     GRPO and PPO with a value head both take the single-pass path (PPO's GAE uses the training
//     forward's values); PPO with two epochs, which needs a rollout pass, is printed too.
//  2. publish: policy weights streamed to one WatchWeights client over loopback gRPC, bytes/s ÷
//     the same number of bytes over a raw loopback TCP socket (goal >= 0.5).
//
// Usage: learner_bench [threads]   (default 2)
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/model/test_models.h"
#include "common/rpc.h"
#include "common/runtime.h"
#include "common/status_macros.h"
#include "common/weight_codec.h"
#include "learner/learner_service.h"
#include "learner/ledger_test_util.h"
#include "learner/losses.h"
#include "learner/rl_test_util.h"
#include "learner/rl_trainer.h"
#include "pelican/v1/learner.grpc.pb.h"

namespace pelican {
namespace {

ModelConfig BenchConfig() {
  ModelConfig c = testing_models::SmallConfig(testing_models::Variant::kQwen2);
  c.vocab_size = 512;
  c.hidden_size = 256;
  c.intermediate_size = 688;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 4;
  c.head_dim = 32;
  return c;
}

Transformer MakeBenchModel(bool value_head) {
  Transformer m(BenchConfig(), torch::TensorOptions().dtype(torch::kFloat32),
                HeadOptions{value_head});
  InitTransformerWeights(m, 0.02, 1);
  m->eval();
  return m;
}

// `prompts` groups of `n` samples, prompt 16 and completion 48 random tokens, random rewards.
std::vector<PromptGroup> RandomGroups(int prompts, int n) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  std::vector<PromptGroup> groups(prompts);
  for (int g = 0; g < prompts; ++g) {
    torch::Tensor p = torch::randint(0, 512, {16}, gen, torch::kLong);
    groups[g].lease_id = g + 1;
    for (int i = 0; i < 16; ++i) groups[g].prompt.token_ids.push_back(p[i].item<int32_t>());
    for (int s = 0; s < n; ++s) {
      v1::Trajectory t;
      t.set_sample_index(s);
      t.mutable_prompt_ids()->Add(groups[g].prompt.token_ids.begin(),
                                  groups[g].prompt.token_ids.end());
      torch::Tensor c = torch::randint(0, 512, {48}, gen, torch::kLong);
      for (int i = 0; i < 48; ++i) {
        t.add_completion_ids(c[i].item<int32_t>());
        t.add_logprobs(-6.2f);
      }
      t.set_reward(torch::rand({1}, gen).item<double>());
      groups[g].samples.push_back(t);
    }
  }
  return groups;
}

// Median seconds of RlTrainer::Step over `reps` steps after one warm-up.
double TrainerStep(v1::Algorithm algorithm, const RolloutBatch& batch, int reps, int epochs = 1) {
  v1::RunConfig config = rl_testing::TestConfig(algorithm, 8, 4);
  config.mutable_learner()->set_ppo_epochs(epochs);
  config.mutable_learner()->set_micro_batch_size(32);
  config.mutable_learner()->mutable_kl()->set_coef(0.0);
  config.mutable_learner()->set_whiten_advantages(false);
  Transformer policy = MakeBenchModel(algorithm == v1::ALGORITHM_PPO);
  auto trainer = RlTrainer::Create(config, {policy, nullptr, nullptr}, 0, 1);
  PELICAN_CHECK_OK(trainer.status());
  std::vector<double> times;
  for (int i = 0; i <= reps; ++i) {
    const double t0 = bench::Now();
    PELICAN_CHECK_OK((*trainer)->Step(batch).status());
    if (i > 0) times.push_back(bench::Now() - t0);
  }
  return bench::Median(times);
}

// The limit: one forward over the same rows, a policy-gradient loss on the completion tokens,
// backward and an AdamW step, nothing else.
double PlainStep(const RolloutBatch& batch, int reps) {
  Transformer model = MakeBenchModel(false);
  model->train();
  torch::optim::AdamW adam(model->parameters(), torch::optim::AdamWOptions(1e-5));
  const int64_t P = batch.prompt_columns, C = batch.completion_columns();
  const torch::Tensor adv = torch::randn({batch.rows(), C});
  std::vector<double> times;
  for (int i = 0; i <= reps; ++i) {
    const double t0 = bench::Now();
    torch::Tensor logits =
        model->forward(batch.input_ids, batch.attention_mask).narrow(1, P - 1, C);
    torch::Tensor lp = torch::log_softmax(logits.to(torch::kFloat), -1)
                           .gather(2, batch.completion_ids.unsqueeze(2))
                           .squeeze(2);
    torch::Tensor loss = -(lp * adv * batch.completion_mask).sum() / batch.completion_mask.sum();
    adam.zero_grad();
    loss.backward();
    adam.step();
    if (i > 0) times.push_back(bench::Now() - t0);
  }
  return bench::Median(times);
}

// Bytes/s of `bytes` sent over a loopback TCP connection in 4 MiB writes, timed at the receiver
// from the accepted connection to the last byte.
double RawTcp(size_t bytes) {
  double seconds = 0;
  bench::OverLoopbackTcp(
      [&](int fd) {
        std::vector<char> buf(4 << 20);
        const double t0 = bench::Now();
        size_t got = 0;
        while (got < bytes) {
          const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
          PELICAN_CHECK(n > 0);
          got += static_cast<size_t>(n);
        }
        seconds = bench::Now() - t0;
      },
      [&](int fd) {
        std::vector<char> buf(4 << 20, 'x');
        size_t sent = 0;
        while (sent < bytes) {
          const ssize_t n = send(fd, buf.data(), std::min(buf.size(), bytes - sent), 0);
          PELICAN_CHECK(n > 0);
          sent += static_cast<size_t>(n);
        }
      });
  return static_cast<double>(bytes) / seconds;
}

struct PublishRates {
  double stream = 0;  // bytes/s from Publish to the last chunk read
  double encode = 0;  // bytes/s of EncodeWeights (copy + SHA-256), paid once per version
};

// One policy version streamed by LearnerService to a WatchWeights client. The encoding is timed
// apart: the learner pays it once per version however many actors watch.
PublishRates Publish(const TensorMap& tensors, size_t bucket_bytes, size_t* total) {
  ManualClock clock;
  PromptLedgerOptions lo;
  PromptLedger ledger(lo, std::make_unique<testing_util::CountingSource>(), &clock);
  WeightStore weights;
  v1::RunConfig cfg = DefaultRunConfig();
  cfg.mutable_security()->set_insecure(true);
  RpcSettings rpc = *RpcSettings::FromConfig(cfg.security(), cfg.rpc());
  LearnerService service({"bench", "fp", "", absl::Seconds(60)}, &ledger, &weights, rpc, &clock);
  grpc::ServerBuilder builder;
  int port = 0;
  rpc.ConfigureServer("127.0.0.1:0", &builder, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::LearnerService::NewStub(rpc.MakeChannel(absl::StrCat("127.0.0.1:", port)));

  std::vector<double> rates, encode_rates;
  for (uint64_t version = 1; version <= 4; ++version) {
    auto ctx = rpc.NewClientContext(absl::Seconds(120));
    v1::WatchWeightsRequest req;
    req.set_have_version(version - 1);
    auto reader = stub->WatchWeights(ctx.get(), req);
    const double e0 = bench::Now();
    auto encoded = EncodeWeights(version, tensors, bucket_bytes);
    PELICAN_CHECK_OK(encoded.status());
    *total = encoded->total_bytes;
    encode_rates.push_back(static_cast<double>(*total) / (bench::Now() - e0));
    const double t0 = bench::Now();
    weights.Publish(std::make_shared<const EncodedWeights>(*std::move(encoded)));
    v1::WeightChunk chunk;
    size_t got = 0;
    while (reader->Read(&chunk)) {
      if (chunk.policy_version() != version) continue;
      got += chunk.data().size();
      if (chunk.last()) break;
    }
    const double seconds = bench::Now() - t0;
    ctx->TryCancel();
    reader->Finish();
    PELICAN_CHECK(got == *total);
    if (version > 1) rates.push_back(static_cast<double>(got) / seconds);
  }
  weights.Close();
  server->Shutdown();
  return {bench::Median(rates), bench::Median(encode_rates)};
}

int Main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  ConfigureThreads(threads);
  std::printf("%s\nthreads %d\n\n", BuildDescription().c_str(), threads);

  auto batch = MakeRolloutBatch(RandomGroups(8, 4), 0, 0);
  PELICAN_CHECK_OK(batch.status());
  const int reps = 5;
  const double plain = PlainStep(*batch, reps);
  const double grpo = TrainerStep(v1::ALGORITHM_GRPO, *batch, reps);
  const double ppo = TrainerStep(v1::ALGORITHM_PPO, *batch, reps);
  const double ppo2 = TrainerStep(v1::ALGORITHM_PPO, *batch, reps, /*epochs=*/2);
  int64_t params = 0;
  for (const auto& p : MakeBenchModel(false)->parameters()) params += p.numel();
  std::printf("step: %.1fM-parameter model, %lld sequences x (16 prompt + 48 completion) tokens\n",
              params / 1e6, static_cast<long long>(batch->rows()));
  std::printf("  plain forward+backward+AdamW  %8.1f ms (the limit)\n", plain * 1e3);
  std::printf("  GRPO step (single pass)       %8.1f ms  ratio %.3f (goal <= 1.15)\n", grpo * 1e3,
              grpo / plain);
  std::printf("  PPO step (value head)         %8.1f ms  ratio %.3f (goal <= 1.15)\n", ppo * 1e3,
              ppo / plain);
  std::printf(
      "  PPO, 2 epochs (rollout pass)  %8.1f ms  ratio %.3f (2 updates; for comparison)\n\n",
      ppo2 * 1e3, ppo2 / plain);

  // A larger model's weights, so the stream is dominated by bytes, not per-call overhead.
  ModelConfig c = BenchConfig();
  c.hidden_size = 512;
  c.intermediate_size = 1376;
  c.num_hidden_layers = 8;
  c.head_dim = 64;
  c.vocab_size = 4096;
  Transformer model(c, torch::TensorOptions().dtype(torch::kFloat32));
  InitTransformerWeights(model, 0.02, 2);
  TensorMap tensors;
  for (const auto& item : model->named_parameters()) tensors[item.key()] = item.value().detach();
  size_t total = 0;
  const PublishRates rates = Publish(tensors, 4 << 20, &total);
  const double tcp_rate = RawTcp(total);
  std::printf("publish: %.1f MiB per version, 4 MiB chunks\n", total / 1048576.0);
  std::printf("  raw loopback TCP              %8.0f MB/s (the limit)\n", tcp_rate / 1e6);
  std::printf("  WatchWeights stream           %8.0f MB/s  ratio %.3f (goal >= 0.5)\n",
              rates.stream / 1e6, rates.stream / tcp_rate);
  std::printf("  encoding (copy + SHA-256)     %8.0f MB/s  once per version, not per actor\n",
              rates.encode / 1e6);
  return 0;
}

}  // namespace
}  // namespace pelican

int main(int argc, char** argv) { return pelican::Main(argc, argv); }
