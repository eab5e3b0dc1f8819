// pelican's side of the Hugging Face parity test (tests/hf/parity_test.py): loads an HF model
// directory with pelican's loader and answers one JSON request with what pelican computes.
//   hf_forward MODEL_DIR REQUEST.json RESPONSE.json
// Request:  {"input_ids": [[...]], "attention_mask": [[...]],  left-padded batch [B, T]
//            "greedy_prompts": [[...]], "max_new_tokens": N}     (optional)
// Response: {"load_seconds": s,
//            "logits": [B*T*V floats], "shape": [B, T, V],       logits, or the sequence
//            "scores": [B*L floats], "score_shape": [B, L],      classifier's pooled scores
//            "logprobs": [[...]],  log p(input_ids[b][t+1] | prefix) where t and t+1 are real
//                                  (what the learner trains on), 0 elsewhere; [B, T-1]
//            "greedy": [[ids]]}    greedy continuations (temperature 0), no stop ids
// Exit 1 with the error on stderr when anything fails.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/model/generate.h"
#include "common/model/hf_model.h"
#include "common/status_macros.h"
#include "learner/losses.h"

namespace pelican {
namespace {

std::vector<float> Flat(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

absl::StatusOr<torch::Tensor> Matrix(const nlohmann::json& rows, const std::string& name) {
  if (!rows.is_array() || rows.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": want a non-empty list of lists"));
  }
  const size_t width = rows[0].size();
  std::vector<int64_t> flat;
  for (const auto& row : rows) {
    if (!row.is_array() || row.size() != width) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": rows must have equal lengths"));
    }
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  }
  return torch::tensor(flat, torch::kLong)
      .reshape({static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)});
}

absl::Status Run(const std::string& dir, const std::string& request_path,
                 const std::string& response_path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(request_path));
  const nlohmann::json request = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return absl::InvalidArgumentError("request is not JSON");
  LoadOptions load;
  load.dtype = torch::kFloat;
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(LoadedModel loaded, LoadModel(dir, load));
  const double load_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  Transformer& model = loaded.model;
  torch::NoGradGuard no_grad;
  ASSIGN_OR_RETURN(const torch::Tensor ids, Matrix(request["input_ids"], "input_ids"));
  ASSIGN_OR_RETURN(const torch::Tensor mask, Matrix(request["attention_mask"], "attention_mask"));
  nlohmann::json response;
  response["load_seconds"] = load_seconds;
  const torch::Tensor hidden = model->Hidden(ids, mask);
  if (model->has_lm_head()) {
    const torch::Tensor logits = model->Logits(hidden);
    response["logits"] = Flat(logits);
    response["shape"] = logits.sizes().vec();
    const int64_t t = ids.size(1);
    // Position t's logits give the distribution of token t + 1; both must be real (the first
    // real token of a left-padded row has no prefix to be predicted from).
    const torch::Tensor both =
        mask.narrow(1, 1, t - 1).to(torch::kBool) & mask.narrow(1, 0, t - 1).to(torch::kBool);
    ASSIGN_OR_RETURN(const torch::Tensor logprobs,
                     LogProbsFromLogits(logits.narrow(1, 0, t - 1), ids.narrow(1, 1, t - 1), both));
    std::vector<std::vector<float>> rows;
    for (int64_t b = 0; b < logprobs.size(0); ++b) rows.push_back(Flat(logprobs[b]));
    response["logprobs"] = rows;
  }
  if (model->has_score_head()) {
    const torch::Tensor scores = model->SequenceScores(hidden, mask);
    response["scores"] = Flat(scores);
    response["score_shape"] = scores.sizes().vec();
  }
  if (request.contains("greedy_prompts")) {
    std::vector<std::vector<int32_t>> prompts;
    for (const auto& p : request["greedy_prompts"])
      prompts.push_back(p.get<std::vector<int32_t>>());
    GenerateOptions options;
    options.sampling.temperature = 0;
    options.sampling.max_new_tokens = request.value("max_new_tokens", int64_t{32});
    at::Generator generator = at::detail::createCPUGenerator(0);
    ASSIGN_OR_RETURN(const std::vector<Completion> completions,
                     Generate(model, prompts, options, generator));
    nlohmann::json greedy = nlohmann::json::array();
    for (const Completion& c : completions) greedy.push_back(c.token_ids);
    response["greedy"] = greedy;
  }
  return WriteFileAtomic(response_path, response.dump());
}

}  // namespace
}  // namespace pelican

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: hf_forward MODEL_DIR REQUEST.json RESPONSE.json\n";
    return 2;
  }
  try {
    const absl::Status status = pelican::Run(argv[1], argv[2], argv[3]);
    if (!status.ok()) {
      std::cerr << "hf_forward: " << status << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "hf_forward: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
