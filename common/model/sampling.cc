#include "common/model/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace pelican {

SamplingParams SamplingFromProto(const v1::SamplingSection& section,
                                 const std::vector<int64_t>& eos_token_ids) {
  SamplingParams p;
  p.temperature = section.temperature();
  p.top_k = section.top_k();
  p.top_p = section.top_p();
  p.max_new_tokens = section.max_new_tokens();
  p.n = section.n();
  for (int32_t id : section.stop_token_ids()) p.stop_token_ids.push_back(id);
  for (int64_t id : eos_token_ids) {
    if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), id) == p.stop_token_ids.end()) {
      p.stop_token_ids.push_back(id);
    }
  }
  return p;
}

absl::Status ValidateSampling(const SamplingParams& p) {
  auto bad = [](absl::string_view field, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.", field, ": ", what));
  };
  if (!(p.temperature >= 0 && p.temperature <= 100)) return bad("temperature", "not in [0, 100]");
  if (p.top_k < 0) return bad("top_k", "negative");
  if (!(p.top_p > 0 && p.top_p <= 1)) return bad("top_p", "not in (0, 1]");
  if (p.max_new_tokens < 1) return bad("max_new_tokens", "must be at least 1");
  if (p.n < 1) return bad("n", "must be at least 1");
  for (int64_t id : p.stop_token_ids) {
    if (id < 0) return bad("stop_token_ids", "negative id");
  }
  return absl::OkStatus();
}

torch::Tensor SamplingLogProbs(const torch::Tensor& logits, double temperature, int64_t top_k,
                               double top_p) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  torch::Tensor scores = logits.to(torch::kFloat32) / temperature;
  const int64_t v = scores.size(-1);
  if (top_k > 0 && top_k < v) {
    // HF TopKLogitsWarper: everything below the k-th largest goes; ties with it stay.
    torch::Tensor kth = std::get<0>(scores.topk(top_k, -1)).narrow(-1, top_k - 1, 1);
    scores = scores.masked_fill(scores < kth, kNegInf);
  }
  if (top_p < 1.0) {
    // HF TopPLogitsWarper: drop the least likely tokens whose total mass is at most 1 - top_p,
    // always keeping the most likely one.
    auto [sorted, order] = scores.sort(-1, /*descending=*/false);
    torch::Tensor remove = sorted.softmax(-1).cumsum(-1) <= (1.0 - top_p);
    remove.narrow(-1, v - 1, 1).fill_(false);
    scores = scores.masked_fill(remove.scatter(-1, order, remove), kNegInf);
  }
  return scores.log_softmax(-1);
}

Draw SampleNext(const torch::Tensor& logits, const SamplingParams& params,
                at::Generator& generator) {
  const int64_t r = logits.size(0), v = logits.size(1);
  Draw draw;
  if (params.temperature == 0) {
    draw.tokens = logits.argmax(-1).to(torch::kCPU);
    draw.logprobs = torch::zeros({r}, torch::kFloat32);
    return draw;
  }
  torch::Tensor logp = SamplingLogProbs(logits, params.temperature, params.top_k, params.top_p);
  // Inverse CDF in float64: the first index whose cumulative mass exceeds u * total. Tokens with
  // zero mass add nothing to the CDF, so they can never be the first to exceed it.
  torch::Tensor cdf = logp.exp().to(torch::kFloat64).cumsum(-1);
  torch::Tensor total = cdf.narrow(-1, v - 1, 1);  // [R, 1]
  torch::Tensor u = torch::rand({r, 1}, generator, torch::TensorOptions().dtype(torch::kFloat64));
  torch::Tensor x =
      torch::minimum(u.to(logits.device()) * total, total * (1.0 - std::ldexp(1.0, -50)));
  torch::Tensor tokens =
      torch::searchsorted(cdf, x, /*out_int32=*/false, /*right=*/true).clamp_max(v - 1);  // [R, 1]
  draw.logprobs = logp.gather(-1, tokens).squeeze(-1).to(torch::kCPU);
  draw.tokens = tokens.squeeze(-1).to(torch::kCPU);
  return draw;
}

}  // namespace pelican
