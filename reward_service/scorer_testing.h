// Test helpers for scorers: samples that own the ids, text and metadata a ScoreInput views, and a
// scripted fake scorer. Only tests include this file.
#ifndef PELICAN_REWARD_SERVICE_SCORER_TESTING_H_
#define PELICAN_REWARD_SERVICE_SCORER_TESTING_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reward_service/scorer.h"

namespace pelican::reward::testing {

// Owns what a ScoreInput views; Input() is valid while this object lives and is not modified.
struct OwnedSample {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> completion_ids;
  std::optional<std::string> completion_text;
  google::protobuf::Map<std::string, std::string> metadata;
  bool stopped = true;

  ScoreInput Input() const {
    ScoreInput in;
    in.prompt_ids = prompt_ids;
    in.completion_ids = completion_ids;
    in.completion_text = completion_text;
    in.metadata = &metadata;
    in.stopped = stopped;
    return in;
  }
};

// A completion text with a reference answer.
inline OwnedSample TextSample(std::string text, std::optional<std::string> reference = {}) {
  OwnedSample s;
  s.completion_text = std::move(text);
  if (reference) s.metadata["reference"] = *reference;
  return s;
}

inline std::vector<ScoreInput> Inputs(const std::vector<OwnedSample>& samples) {
  std::vector<ScoreInput> out;
  for (const OwnedSample& s : samples) out.push_back(s.Input());
  return out;
}

// Scores each input with `fn(input, index in batch)`; counts calls.
class FakeScorer : public Scorer {
 public:
  using Fn = std::function<absl::StatusOr<ScoreValue>(const ScoreInput&, size_t)>;
  FakeScorer(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}

  const std::string& name() const override { return name_; }
  std::vector<absl::StatusOr<ScoreValue>> ScoreBatch(absl::Span<const ScoreInput> batch) override {
    ++batches_;
    std::vector<absl::StatusOr<ScoreValue>> out;
    for (size_t i = 0; i < batch.size(); ++i) out.push_back(fn_(batch[i], i));
    return out;
  }
  int batches() const { return batches_.load(); }

 private:
  const std::string name_;
  const Fn fn_;
  std::atomic<int> batches_{0};
};

}  // namespace pelican::reward::testing

#endif  // PELICAN_REWARD_SERVICE_SCORER_TESTING_H_
