#include "common/model/generate.h"

#include <algorithm>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

// A run of consecutive prompts decoded together.
struct Chunk {
  size_t begin = 0, end = 0;
  int64_t longest = 0;  // L
};

constexpr double kMiB = 1024.0 * 1024.0;

absl::StatusOr<std::vector<Chunk>> PlanChunks(const ModelConfig& config,
                                              const std::vector<std::vector<int32_t>>& prompts,
                                              const GenerateOptions& options,
                                              torch::ScalarType dtype) {
  const int64_t n = options.sampling.n, m = options.sampling.max_new_tokens;
  std::vector<Chunk> chunks;
  size_t next = 0;
  while (next < prompts.size()) {
    Chunk chunk{next, next, 0};
    while (chunk.end < prompts.size()) {
      const int64_t longest =
          std::max<int64_t>(chunk.longest, static_cast<int64_t>(prompts[chunk.end].size()));
      const int64_t rows = static_cast<int64_t>(chunk.end - chunk.begin + 1) * n;
      if (options.use_kv_cache &&
          KVCache::Bytes(config, rows, longest + m, dtype) > options.max_kv_cache_bytes) {
        break;
      }
      chunk.longest = longest;
      ++chunk.end;
    }
    if (chunk.end == chunk.begin) {
      const int64_t len = static_cast<int64_t>(prompts[next].size());
      return absl::ResourceExhaustedError(absl::StrCat(
          "prompt ", next, " (", len, " tokens) with n=", n, " samples of up to ", m,
          " new tokens needs ", KVCache::Bytes(config, n, len + m, dtype) / kMiB,
          " MiB of KV cache, over the limit of ", options.max_kv_cache_bytes / kMiB,
          " MiB (actors.max_kv_cache_mib); lower n or max_new_tokens, or raise the limit"));
    }
    chunks.push_back(chunk);
    next = chunk.end;
  }
  return chunks;
}

absl::Status Validate(Transformer& model, const std::vector<std::vector<int32_t>>& prompts,
                      const GenerateOptions& options) {
  const ModelConfig& c = model->config();
  if (!model->has_lm_head()) {
    return absl::InvalidArgumentError(absl::StrCat(c.architectures[0], " cannot generate text"));
  }
  RETURN_IF_ERROR(ValidateSampling(options.sampling));
  if (options.pad_token_id < 0 || options.pad_token_id >= c.vocab_size) {
    return absl::InvalidArgumentError("pad_token_id outside the vocabulary");
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty())
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " is empty"));
    for (int32_t id : prompts[i]) {
      if (id < 0 || id >= c.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt ", i, " has token id ", id, " outside the vocabulary of ", c.vocab_size));
      }
    }
    const int64_t need = static_cast<int64_t>(prompts[i].size()) + options.sampling.max_new_tokens;
    if (need > c.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt ", i, " (", prompts[i].size(), " tokens) + max_new_tokens exceeds the model's ",
          "max_position_embeddings of ", c.max_position_embeddings));
    }
  }
  return absl::OkStatus();
}

// Decodes one chunk, appending its P * n completions to `out`.
void GenerateChunk(Transformer& model, const std::vector<std::vector<int32_t>>& prompts,
                   const Chunk& chunk, const GenerateOptions& options, at::Generator& generator,
                   std::vector<Completion>* out) {
  const SamplingParams& s = options.sampling;
  const int64_t p = static_cast<int64_t>(chunk.end - chunk.begin), n = s.n, r = p * n;
  const int64_t l = chunk.longest, m = s.max_new_tokens;
  const torch::Device device = model->device();
  const auto ids_opts = torch::TensorOptions().dtype(torch::kInt64);

  // Left padding puts every prompt's last token in column L - 1.
  std::vector<int64_t> ids(p * l, options.pad_token_id), real(p * l, 0);
  for (int64_t i = 0; i < p; ++i) {
    const auto& prompt = prompts[chunk.begin + i];
    const int64_t offset = i * l + l - static_cast<int64_t>(prompt.size());
    std::copy(prompt.begin(), prompt.end(), ids.begin() + offset);
    std::fill(real.begin() + offset, real.begin() + (i + 1) * l, 1);
  }
  torch::Tensor prompt_ids = torch::tensor(ids, ids_opts).view({p, l}).to(device);
  torch::Tensor prompt_mask = torch::tensor(real, ids_opts).view({p, l}).to(device);
  torch::Tensor row_prompt = torch::arange(p, ids_opts).repeat_interleave(n).to(device);  // [R]
  torch::Tensor mask = torch::ones({r, l + m}, ids_opts.device(device));
  mask.narrow(1, 0, l).copy_(prompt_mask.index_select(0, row_prompt));

  torch::Tensor logits;  // [R, V]
  KVCache cache;
  torch::Tensor sequence;  // [R, L + M], without a cache only
  if (options.use_kv_cache) {
    const auto kv_opts = torch::TensorOptions().dtype(model->dtype()).device(device);
    cache = KVCache::Allocate(model->config(), r, l + m, kv_opts);
    if (n == 1) {
      logits = model->Logits(model->Hidden(prompt_ids, prompt_mask, &cache).select(1, l - 1));
    } else {
      // Prefill each prompt once, then give each of its n rows a copy of its cache.
      KVCache prefill = KVCache::Allocate(model->config(), p, l, kv_opts);
      torch::Tensor last = model->Hidden(prompt_ids, prompt_mask, &prefill).select(1, l - 1);
      for (size_t layer = 0; layer < cache.keys.size(); ++layer) {
        cache.keys[layer].narrow(2, 0, l).copy_(prefill.keys[layer].index_select(0, row_prompt));
        cache.values[layer].narrow(2, 0, l).copy_(
            prefill.values[layer].index_select(0, row_prompt));
      }
      cache.length = l;
      logits = model->Logits(last).index_select(0, row_prompt);
    }
  } else {
    sequence = torch::full({r, l + m}, options.pad_token_id, ids_opts.device(device));
    sequence.narrow(1, 0, l).copy_(prompt_ids.index_select(0, row_prompt));
    logits = model->Logits(
        model->Hidden(sequence.narrow(1, 0, l), mask.narrow(1, 0, l)).select(1, l - 1));
  }

  const std::unordered_set<int64_t> stops(s.stop_token_ids.begin(), s.stop_token_ids.end());
  const size_t first = out->size();
  for (int64_t row = 0; row < r; ++row) {
    Completion c;
    c.prompt_index = static_cast<int64_t>(chunk.begin) + row / n;
    c.sample_index = row % n;
    c.finish_reason = v1::FINISH_REASON_LENGTH;
    out->push_back(std::move(c));
  }
  std::vector<bool> done(r, false);
  int64_t running = r;
  for (int64_t t = 0; t < m; ++t) {
    const Draw draw = SampleNext(logits, s, generator);
    const auto tokens = draw.tokens.accessor<int64_t, 1>();
    const auto logprobs = draw.logprobs.accessor<float, 1>();
    for (int64_t row = 0; row < r; ++row) {
      if (done[row]) continue;
      Completion& c = (*out)[first + row];
      c.token_ids.push_back(static_cast<int32_t>(tokens[row]));
      c.logprobs.push_back(logprobs[row]);
      if (stops.count(tokens[row])) {
        c.finish_reason = v1::FINISH_REASON_STOP;
        done[row] = true;
        --running;
      }
    }
    if (running == 0 || t == m - 1) break;
    torch::Tensor next = draw.tokens.to(device).view({r, 1});
    torch::Tensor visible = mask.narrow(1, 0, l + t + 1);
    if (options.use_kv_cache) {
      logits = model->Logits(model->Hidden(next, visible, &cache).select(1, 0));
    } else {
      sequence.narrow(1, l + t, 1).copy_(next);
      logits =
          model->Logits(model->Hidden(sequence.narrow(1, 0, l + t + 1), visible).select(1, l + t));
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<Completion>> Generate(Transformer& model,
                                                 const std::vector<std::vector<int32_t>>& prompts,
                                                 const GenerateOptions& options,
                                                 at::Generator& generator) {
  RETURN_IF_ERROR(Validate(model, prompts, options));
  ASSIGN_OR_RETURN(std::vector<Chunk> chunks,
                   PlanChunks(model->config(), prompts, options, model->dtype()));
  torch::NoGradGuard no_grad;
  std::vector<Completion> out;
  out.reserve(prompts.size() * options.sampling.n);
  for (const Chunk& chunk : chunks) GenerateChunk(model, prompts, chunk, options, generator, &out);
  return out;
}

}  // namespace pelican
