// Legend: R rows, V vocab, T tokens.
#include "common/model/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "common/model/test_models.h"

namespace pelican {
namespace {

using namespace testing_models;  // NOLINT

const std::vector<std::vector<int32_t>> kPrompts = {{5, 9, 2, 44, 1, 7, 30}, {12, 60, 3}, {8}};

GenerateOptions Options(double temperature, int64_t max_new, int64_t n = 1) {
  GenerateOptions o;
  o.sampling.temperature = temperature;
  o.sampling.max_new_tokens = max_new;
  o.sampling.n = n;
  return o;
}

std::vector<Completion> Sample(Transformer& model, const std::vector<std::vector<int32_t>>& prompts,
                               const GenerateOptions& options, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto out = Generate(model, prompts, options, gen);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::vector<Completion>{};
}

// Next-token logits [V] of prompt + completion, by a full forward pass without a cache.
torch::Tensor FullLogits(Transformer& model, const std::vector<int32_t>& prompt,
                         const std::vector<int32_t>& completion, size_t upto) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> seq(prompt.begin(), prompt.end());
  seq.insert(seq.end(), completion.begin(), completion.begin() + upto);
  return model->forward(Ids(seq), torch::ones({1, int64_t(seq.size())}, torch::kInt64))[0][-1];
}

TEST(GenerateTest, GreedyEqualsTheArgmaxPathRecomputedWithoutCache) {
  for (Variant v : AllVariants()) {
    Transformer model = MakeModel(v, 31);
    auto out = Sample(model, kPrompts, Options(0.0, 12), 1);
    ASSERT_EQ(out.size(), kPrompts.size());
    for (const Completion& c : out) {
      ASSERT_EQ(c.token_ids.size(), 12u);
      EXPECT_EQ(c.finish_reason, v1::FINISH_REASON_LENGTH);
      for (size_t t = 0; t < c.token_ids.size(); ++t) {
        torch::Tensor logits = FullLogits(model, kPrompts[c.prompt_index], c.token_ids, t);
        EXPECT_EQ(c.token_ids[t], logits.argmax().item<int64_t>())
            << VariantName(v) << " prompt " << c.prompt_index << " step " << t;
        EXPECT_EQ(c.logprobs[t], 0.0f);  // greedy: a point mass
      }
    }
  }
}

TEST(GenerateTest, MixedLengthBatchEqualsEachPromptAlone) {
  Transformer model = MakeModel(Variant::kQwen3Tied, 32);
  auto batch = Sample(model, kPrompts, Options(0.0, 10), 1);
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    auto alone = Sample(model, {kPrompts[i]}, Options(0.0, 10), 1);
    EXPECT_EQ(batch[i].token_ids, alone[0].token_ids) << i;
  }
}

TEST(GenerateTest, SampledLogprobsAreThoseOfTheSamplingDistribution) {
  Transformer model = MakeModel(Variant::kLlamaUntiedWithBias, 33);
  GenerateOptions o = Options(0.7, 8, 2);
  o.sampling.top_k = 20;
  o.sampling.top_p = 0.9;
  auto out = Sample(model, kPrompts, o, 5);
  ASSERT_EQ(out.size(), 6u);
  for (const Completion& c : out) {
    for (size_t t = 0; t < c.token_ids.size(); ++t) {
      torch::Tensor logits = FullLogits(model, kPrompts[c.prompt_index], c.token_ids, t);
      torch::Tensor logp = SamplingLogProbs(logits.unsqueeze(0), 0.7, 20, 0.9)[0];
      EXPECT_NEAR(c.logprobs[t], logp[c.token_ids[t]].item<float>(), 1e-4);
      EXPECT_TRUE(std::isfinite(c.logprobs[t]));  // the token was inside top-k/top-p
      EXPECT_LE((logp > -INFINITY).sum().item<int64_t>(), 20);
    }
  }
}

TEST(GenerateTest, SeededRunsReproduceAndCacheOffAgrees) {
  Transformer model = MakeModel(Variant::kQwen2, 34);
  GenerateOptions o = Options(1.0, 10, 3);
  auto a = Sample(model, kPrompts, o, 77);
  auto b = Sample(model, kPrompts, o, 77);
  auto other = Sample(model, kPrompts, o, 78);
  o.use_kv_cache = false;
  auto no_cache = Sample(model, kPrompts, o, 77);
  ASSERT_EQ(a.size(), 9u);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt_index, static_cast<int64_t>(i / 3));
    EXPECT_EQ(a[i].sample_index, static_cast<int64_t>(i % 3));
    EXPECT_EQ(a[i].token_ids, b[i].token_ids);
    EXPECT_EQ(a[i].logprobs, b[i].logprobs);
    EXPECT_EQ(a[i].token_ids, no_cache[i].token_ids);
    differs |= a[i].token_ids != other[i].token_ids;
  }
  EXPECT_TRUE(differs);
  // The n samples of a prompt are independent draws, not copies.
  EXPECT_TRUE(a[0].token_ids != a[1].token_ids || a[1].token_ids != a[2].token_ids);
}

TEST(GenerateTest, StopTokensEndACompletionAndAreKept) {
  Transformer model = MakeModel(Variant::kQwen3Tied, 35);
  auto greedy = Sample(model, kPrompts, Options(0.0, 6), 1);
  // Stop on prompt 0's third greedy token: its completion ends there; others may stop too.
  GenerateOptions o = Options(0.0, 6);
  const int32_t stop = greedy[0].token_ids[2];
  o.sampling.stop_token_ids = {stop};
  auto out = Sample(model, kPrompts, o, 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& full = greedy[i].token_ids;
    auto it = std::find(full.begin(), full.end(), stop);
    if (it == full.end()) {
      EXPECT_EQ(out[i].token_ids, full);
      EXPECT_EQ(out[i].finish_reason, v1::FINISH_REASON_LENGTH);
    } else {
      EXPECT_EQ(out[i].token_ids, std::vector<int32_t>(full.begin(), it + 1));
      EXPECT_EQ(out[i].finish_reason, v1::FINISH_REASON_STOP);
      EXPECT_EQ(out[i].logprobs.size(), out[i].token_ids.size());
    }
  }
  EXPECT_LE(out[0].token_ids.size(), 3u);
}

TEST(GenerateTest, KvBudgetSplitsBatchesOrRefuses) {
  Transformer model = MakeModel(Variant::kLlamaUntiedWithBias, 36);
  GenerateOptions o = Options(0.0, 5, 2);
  auto whole = Sample(model, kPrompts, o, 1);
  // Room for exactly one prompt's two rows of 7 + 5 slots.
  o.max_kv_cache_bytes = KVCache::Bytes(model->config(), 2, 12, torch::kFloat32);
  auto split = Sample(model, kPrompts, o, 1);
  ASSERT_EQ(split.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) EXPECT_EQ(split[i].token_ids, whole[i].token_ids);

  o.max_kv_cache_bytes -= 1;
  at::Generator gen = at::detail::createCPUGenerator(1);
  auto refused = Generate(model, kPrompts, o, gen);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("max_kv_cache_mib"), std::string::npos);
}

TEST(GenerateTest, Bfloat16DecodesWithTheCacheLikeTheFullForward) {
  Transformer model = MakeModel(Variant::kQwen3Tied, 38, torch::kBFloat16);
  for (const auto& prompts : {std::vector<std::vector<int32_t>>{kPrompts[0]}, kPrompts}) {
    auto out = Sample(model, prompts, Options(0.0, 6), 1);
    ASSERT_EQ(out.size(), prompts.size());
    for (const Completion& c : out) {
      ASSERT_EQ(c.token_ids.size(), 6u);
      for (size_t t = 0; t < c.token_ids.size(); ++t) {
        torch::Tensor logits = FullLogits(model, prompts[c.prompt_index], c.token_ids, t);
        // bf16 rounding may reorder near-ties: the chosen token must be within one bf16 step
        // (relative 2^-8) of the best.
        const double best = logits.max().item<double>();
        EXPECT_GE(logits[c.token_ids[t]].item<double>(),
                  best - 0.02 * std::max(1.0, std::abs(best)))
            << "prompt " << c.prompt_index << " step " << t;
      }
    }
  }
}

TEST(GenerateTest, BadInputsAreInvalidArgument) {
  Transformer model = MakeModel(Variant::kQwen2, 37);
  at::Generator gen = at::detail::createCPUGenerator(1);
  auto code = [&](const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o) {
    return Generate(model, prompts, o, gen).status().code();
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code({{}}, Options(1, 4)), kInvalid);
  EXPECT_EQ(code({{1, 61}}, Options(1, 4)), kInvalid);  // vocab is 61
  EXPECT_EQ(code({{1, -1}}, Options(1, 4)), kInvalid);
  EXPECT_EQ(code({{1}}, Options(-1, 4)), kInvalid);
  EXPECT_EQ(code({{1}}, Options(1, 0)), kInvalid);
  EXPECT_EQ(code({{1}}, Options(1, 4, 0)), kInvalid);
  EXPECT_EQ(code({{1}}, Options(1, 256)), kInvalid);  // past max_position_embeddings
  GenerateOptions top_p = Options(1, 4);
  top_p.sampling.top_p = 0;
  EXPECT_EQ(code({{1}}, top_p), kInvalid);
  EXPECT_TRUE(Generate(model, {}, Options(1, 4), gen)->empty());
}

TEST(SamplingTest, TopKAndTopPKeepWhatHfKeeps) {
  // Probabilities 0.5, 0.3, 0.15, 0.05.
  torch::Tensor logits = torch::tensor({0.5, 0.3, 0.15, 0.05}).log().unsqueeze(0);
  torch::Tensor p = SamplingLogProbs(logits, 1.0, 0, 0.8)[0].exp();
  // Ascending cumulative mass 0.05, 0.2, ... : the two tokens at or under 1 - 0.8 go.
  EXPECT_NEAR(p[0].item<double>(), 0.5 / 0.8, 1e-6);
  EXPECT_NEAR(p[1].item<double>(), 0.3 / 0.8, 1e-6);
  EXPECT_EQ(p[2].item<double>(), 0.0);
  EXPECT_EQ(p[3].item<double>(), 0.0);
  torch::Tensor k = SamplingLogProbs(logits, 1.0, 3, 1.0)[0].exp();
  EXPECT_NEAR(k[2].item<double>(), 0.15 / 0.95, 1e-6);
  EXPECT_EQ(k[3].item<double>(), 0.0);
  // Temperature 0.5 squares and renormalises.
  torch::Tensor t = SamplingLogProbs(logits, 0.5, 0, 1.0)[0].exp();
  const double z = 0.25 + 0.09 + 0.0225 + 0.0025;
  EXPECT_NEAR(t[1].item<double>(), 0.09 / z, 1e-6);
  // A tiny top_p still keeps the most likely token.
  torch::Tensor one = SamplingLogProbs(logits, 1.0, 0, 1e-9)[0].exp();
  EXPECT_NEAR(one[0].item<double>(), 1.0, 1e-6);
}

TEST(SamplingTest, DrawsFollowTheDistribution) {
  torch::Tensor logits =
      torch::tensor({0.5, 0.3, 0.15, 0.05, 0.0}).log().unsqueeze(0).repeat({4000, 1});
  SamplingParams params;
  at::Generator gen = at::detail::createCPUGenerator(9);
  std::vector<int64_t> counts(5, 0);
  for (int round = 0; round < 5; ++round) {
    Draw d = SampleNext(logits, params, gen);
    for (int64_t i = 0; i < d.tokens.size(0); ++i) ++counts[d.tokens[i].item<int64_t>()];
  }
  const double n = 20000;
  // Four standard deviations of a binomial proportion at these sizes is under 0.015.
  EXPECT_NEAR(counts[0] / n, 0.5, 0.015);
  EXPECT_NEAR(counts[1] / n, 0.3, 0.015);
  EXPECT_NEAR(counts[2] / n, 0.15, 0.015);
  EXPECT_NEAR(counts[3] / n, 0.05, 0.015);
  EXPECT_EQ(counts[4], 0);  // zero probability is never drawn
}

TEST(SamplingTest, FromProtoAddsEosToStops) {
  v1::SamplingSection s;
  s.set_temperature(0.5);
  s.set_top_k(4);
  s.set_top_p(0.9);
  s.set_max_new_tokens(7);
  s.set_n(3);
  s.add_stop_token_ids(10);
  SamplingParams p = SamplingFromProto(s, {2, 10});
  EXPECT_EQ(p.stop_token_ids, (std::vector<int64_t>{10, 2}));
  EXPECT_EQ(p.n, 3);
  EXPECT_EQ(p.top_k, 4);
  EXPECT_TRUE(ValidateSampling(p).ok());
}

}  // namespace
}  // namespace pelican
