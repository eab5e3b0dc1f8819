// Decoding speed of the actor's Generate on this machine, against the limit the same process
// measures: decoding one token per row reads every weight once plus each row's KV cache, so
// (bytes read per step × steps/s) ÷ read bandwidth says how close to memory-bound a step runs.
//
//   build/bench/decode_bench [--threads N] [--new_tokens N] [--nocache_tokens N]
//
// Model: Llama architecture, H 512, 8 layers, 8 heads / 4 KV heads, I 1376, V 8192, tied (≈27M
// parameters, fp32), randomly initialised in memory. Prompts are 16 random tokens; no stop ids,
// so every row decodes exactly the requested number of tokens.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "common/model/generate.h"
#include "common/model/transformer.h"
#include "common/runtime.h"

namespace pelican {
namespace {

// Best of several passes over a buffer far larger than the caches: sum (read only) and copy.
struct Bandwidth {
  double read_gbs = 0, copy_gbs = 0;
};

Bandwidth MeasureBandwidth() {
  const int64_t n = int64_t{64} << 20;  // 256 MiB of float32
  torch::Tensor a = torch::rand({n}), b = torch::empty({n});
  Bandwidth bw;
  volatile float sink = 0;
  for (int rep = 0; rep < 7; ++rep) {
    double t0 = bench::Now();
    sink = sink + a.sum().item<float>();
    double t1 = bench::Now();
    b.copy_(a);
    double t2 = bench::Now();
    bw.read_gbs = std::max(bw.read_gbs, a.nbytes() / (t1 - t0) / 1e9);
    bw.copy_gbs = std::max(bw.copy_gbs, 2.0 * a.nbytes() / (t2 - t1) / 1e9);  // read + write
  }
  return bw;
}

ModelConfig BenchConfig() {
  ModelConfig c;
  c.model_type = ModelType::kLlama;
  c.vocab_size = 8192;
  c.hidden_size = 512;
  c.intermediate_size = 1376;
  c.num_hidden_layers = 8;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 4;
  c.head_dim = 64;
  c.max_position_embeddings = 1024;
  c.tie_word_embeddings = true;
  c.architectures = {ArchitectureName(c.model_type, c.head)};
  return c;
}

std::vector<std::vector<int32_t>> Prompts(int64_t count, int64_t len, int64_t vocab) {
  std::srand(42);
  std::vector<std::vector<int32_t>> prompts(count);
  for (auto& p : prompts) {
    for (int64_t i = 0; i < len; ++i) p.push_back(std::rand() % vocab);
  }
  return prompts;
}

double TimeGenerate(Transformer& model, const std::vector<std::vector<int32_t>>& prompts,
                    int64_t new_tokens, bool cache) {
  GenerateOptions o;
  o.sampling.temperature = 1.0;
  o.sampling.max_new_tokens = new_tokens;
  o.use_kv_cache = cache;
  o.max_kv_cache_bytes = int64_t{4} << 30;
  at::Generator gen = at::detail::createCPUGenerator(1);
  const double t0 = bench::Now();
  auto out = Generate(model, prompts, o, gen);
  const double t = bench::Now() - t0;
  if (!out.ok()) {
    std::fprintf(stderr, "Generate failed: %s\n", std::string(out.status().message()).c_str());
    std::exit(1);
  }
  for (const auto& c : *out) {
    if (static_cast<int64_t>(c.token_ids.size()) != new_tokens) {
      std::fprintf(stderr, "a completion stopped early\n");
      std::exit(1);
    }
  }
  return t;
}

int Main(int argc, char** argv) {
  int threads = 2, new_tokens = 64, nocache_tokens = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--new_tokens")) new_tokens = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--nocache_tokens")) nocache_tokens = std::atoi(argv[i + 1]);
  }
  threads = ConfigureThreads(threads);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured
  torch::NoGradGuard no_grad;
  const ModelConfig config = BenchConfig();
  Transformer model(config, torch::TensorOptions().dtype(torch::kFloat32));
  InitTransformerWeights(model, 0.02, 1);
  model->eval();
  int64_t weight_bytes = 0, params = 0;
  for (const auto& p : model->parameters()) {
    weight_bytes += p.nbytes();
    params += p.numel();
  }
  const int64_t prompt_len = 16;
  const Bandwidth bw = MeasureBandwidth();
  std::printf("%s\n", BuildDescription().c_str());
  std::printf("threads %d; model %.1fM params, %.1f MiB fp32; prompt %lld tokens\n", threads,
              params / 1e6, weight_bytes / 1048576.0, static_cast<long long>(prompt_len));
  std::printf("read bandwidth (sum of 256 MiB) %.2f GB/s; copy %.2f GB/s (read+write)\n\n",
              bw.read_gbs, bw.copy_gbs);

  // A step's time is (time for M tokens - time for 1 token) / (M - 1): prefill excluded.
  std::printf("decode, %d new tokens per row, KV cache on\n", new_tokens);
  std::printf("%6s %10s %12s %14s %14s %10s\n", "batch", "step ms", "tokens/s", "MB read/step",
              "GB/s implied", "of bound");
  for (int64_t batch : {1, 4, 16, 64}) {
    auto prompts = Prompts(batch, prompt_len, config.vocab_size);
    TimeGenerate(model, prompts, 2, true);  // warm-up
    const double t1 = TimeGenerate(model, prompts, 1, true);
    const double tm = TimeGenerate(model, prompts, new_tokens, true);
    const double step = (tm - t1) / (new_tokens - 1);
    // Weights once per step (the tied embedding is read whole as the LM head) plus every row's
    // keys and values, at the mean cache length of the measured steps.
    const double mean_len = prompt_len + 1 + (new_tokens - 1) / 2.0;
    const double kv_bytes =
        static_cast<double>(KVCache::Bytes(config, batch, 1, torch::kFloat32)) * mean_len;
    const double bytes = weight_bytes + kv_bytes;
    std::printf("%6lld %10.2f %12.1f %14.1f %14.2f %9.1f%%\n", static_cast<long long>(batch),
                step * 1e3, batch / step, bytes / 1e6, bytes / step / 1e9,
                100.0 * bytes / step / 1e9 / bw.read_gbs);
  }

  std::printf("\nKV cache vs recomputing the sequence each step, %d new tokens\n", nocache_tokens);
  std::printf("%6s %12s %12s %9s\n", "batch", "cache s", "no cache s", "speed-up");
  for (int64_t batch : {1, 4}) {
    auto prompts = Prompts(batch, prompt_len, config.vocab_size);
    const double with = TimeGenerate(model, prompts, nocache_tokens, true);
    const double without = TimeGenerate(model, prompts, nocache_tokens, false);
    std::printf("%6lld %12.3f %12.3f %8.1fx\n", static_cast<long long>(batch), with, without,
                without / with);
  }
  return 0;
}

}  // namespace
}  // namespace pelican

int main(int argc, char** argv) { return pelican::Main(argc, argv); }
