// From wire samples to wire results: what the Score handler does with one (dynamic) batch.
//
//   v1::Sample[] ──MakeScoreInput (decode text if absent)──► ScoreInput[] ──CompositeScorer──►
//   CompositeResult[] ──ToSampleResult──► v1::SampleResult[] (same order, ids echoed)
//
// A sample that fails on the way (its text cannot be decoded, a component fails) gets its own
// error code and message and no reward; the others are scored as usual.
//
// Thread safety: the functions are reentrant; ScoreSamples is as thread-safe as the scorer
// (CompositeScorer is) and the decoder.
#ifndef PELICAN_REWARD_SERVICE_SAMPLE_SCORING_H_
#define PELICAN_REWARD_SERVICE_SAMPLE_SCORING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "pelican/v1/reward.pb.h"
#include "reward_service/composite_scorer.h"
#include "reward_service/scorer.h"

namespace pelican::reward {

// Turns token ids into text (the service's tokenizer). Must be thread-safe.
using TextDecoder = std::function<absl::StatusOr<std::string>(absl::Span<const int32_t> ids)>;

// The ScoreInput of `sample`, viewing its ids and metadata (`sample` must outlive the input).
// completion_text: as sent when non-empty; "" for a sample with neither text nor ids; otherwise
// decoded with `decode`, or left absent (nullopt) when `decode` is empty. A decoding error is
// returned, annotated.
absl::StatusOr<ScoreInput> MakeScoreInput(const v1::Sample& sample, const TextDecoder& decode);

// The wire form of one result: id, code and message; on success the reward, the components and
// the uncertainty.
v1::SampleResult ToSampleResult(const std::string& id, const CompositeResult& result);

// Scores `samples` with `scorer` in one batch; one result per sample, in order.
std::vector<v1::SampleResult> ScoreSamples(CompositeScorer& scorer,
                                           absl::Span<const v1::Sample* const> samples,
                                           const TextDecoder& decode);

}  // namespace pelican::reward

#endif  // PELICAN_REWARD_SERVICE_SAMPLE_SCORING_H_
