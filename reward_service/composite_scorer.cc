#include "reward_service/composite_scorer.h"

#include <cmath>
#include <exception>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pelican::reward {

absl::StatusOr<std::unique_ptr<CompositeScorer>> CompositeScorer::Create(
    std::string name, std::vector<ComponentSpec> components) {
  if (components.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("composite '", name, "' has no components"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < components.size(); ++i) {
    const ComponentSpec& c = components[i];
    if (c.scorer == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("composite '", name, "': component ", i, " has no scorer"));
    }
    const std::string& n = c.scorer->name();
    if (n.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("composite '", name, "': component ", i, " has an empty name"));
    }
    if (!names.insert(n).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("composite '", name, "': duplicate component name '", n, "'"));
    }
    if (!std::isfinite(c.weight)) {
      return absl::InvalidArgumentError(absl::StrCat("composite '", name, "': component '", n,
                                                     "' has a non-finite weight ", c.weight));
    }
  }
  return std::unique_ptr<CompositeScorer>(
      new CompositeScorer(std::move(name), std::move(components)));
}

CompositeScorer::CompositeScorer(std::string name, std::vector<ComponentSpec> components)
    : name_(std::move(name)),
      components_(std::move(components)),
      moments_(components_.size()),
      failures_(components_.size(), 0) {}

std::vector<std::string> CompositeScorer::component_names() const {
  std::vector<std::string> names;
  for (const ComponentSpec& c : components_) names.push_back(c.scorer->name());
  return names;
}

std::vector<absl::StatusOr<ScoreValue>> CompositeScorer::RunComponent(
    size_t c, absl::Span<const ScoreInput> batch) const {
  std::vector<absl::StatusOr<ScoreValue>> out;
  try {
    out = components_[c].scorer->ScoreBatch(batch);
  } catch (const std::exception& e) {
    // No exception crosses a component (LibTorch's do): the batch fails, the service lives.
    return std::vector<absl::StatusOr<ScoreValue>>(
        batch.size(), absl::InternalError(absl::StrCat("scorer threw: ", e.what())));
  }
  if (out.size() != batch.size()) {
    return std::vector<absl::StatusOr<ScoreValue>>(
        batch.size(), absl::InternalError(absl::StrCat("scorer returned ", out.size(),
                                                       " results for ", batch.size(), " samples")));
  }
  for (absl::StatusOr<ScoreValue>& r : out) {
    if (r.ok() &&
        (!std::isfinite(r->value) || !std::isfinite(r->uncertainty) || r->uncertainty < 0)) {
      r = absl::InternalError(absl::StrCat("scorer returned value ", r->value, " and uncertainty ",
                                           r->uncertainty, "; expected finite values"));
    }
  }
  return out;
}

std::vector<CompositeResult> CompositeScorer::Score(absl::Span<const ScoreInput> batch) {
  const size_t num_components = components_.size();
  // results[c][i]: component c on sample i.
  std::vector<std::vector<absl::StatusOr<ScoreValue>>> results(num_components);
  for (size_t c = 0; c < num_components; ++c) results[c] = RunComponent(c, batch);

  // Update the running statistics with this batch, and take the normalisation of each component
  // from the same state.
  std::vector<RunningMoments> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t c = 0; c < num_components; ++c) {
      for (const absl::StatusOr<ScoreValue>& r : results[c]) {
        if (r.ok()) {
          moments_[c].Add(r->value);
        } else {
          ++failures_[c];
        }
      }
    }
    snapshot = moments_;
  }

  std::vector<CompositeResult> out(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    CompositeResult& result = out[i];
    std::vector<std::string> errors;
    for (size_t c = 0; c < num_components; ++c) {
      const absl::Status& s = results[c][i].status();
      if (s.ok()) continue;
      if (errors.empty()) result.status = absl::Status(s.code(), "");
      errors.push_back(
          absl::StrCat("component '", components_[c].scorer->name(), "': ", s.message()));
    }
    if (!errors.empty()) {
      result.status = absl::Status(result.status.code(), absl::StrJoin(errors, "; "));
      continue;
    }
    double variance_sum = 0;
    result.components.reserve(num_components);
    for (size_t c = 0; c < num_components; ++c) {
      const ComponentSpec& spec = components_[c];
      const ScoreValue& v = *results[c][i];
      const double scale = spec.normalize ? snapshot[c].InverseScale() : 1.0;
      const double value = spec.normalize ? snapshot[c].Normalize(v.value) : v.value;
      result.total += spec.weight * value;
      const double u = spec.weight * scale * v.uncertainty;
      variance_sum += u * u;
      result.components.push_back(ComponentValue{spec.scorer->name(), value, spec.weight, v.value});
    }
    result.uncertainty = std::sqrt(variance_sum);
  }
  return out;
}

std::vector<ComponentStats> CompositeScorer::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ComponentStats> stats;
  for (size_t c = 0; c < components_.size(); ++c) {
    ComponentStats s;
    s.name = components_[c].scorer->name();
    s.weight = components_[c].weight;
    s.normalize = components_[c].normalize;
    s.count = moments_[c].count();
    s.failures = failures_[c];
    s.mean = moments_[c].mean();
    s.stddev = moments_[c].stddev();
    stats.push_back(std::move(s));
  }
  return stats;
}

}  // namespace pelican::reward
