#include "reward_service/scorer_factory.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "reward_service/pelican_jokes.h"
#include "reward_service/penalties.h"
#include "reward_service/regex_scorer.h"
#include "reward_service/verifiers.h"

namespace pelican::reward {
namespace {

// The oneof field's name ("exact_match"), for messages.
std::string KindName(const v1::ScorerSpec& spec) {
  const google::protobuf::FieldDescriptor* field =
      v1::ScorerSpec::descriptor()->FindFieldByNumber(spec.kind_case());
  return field != nullptr ? field->name() : "unset";
}

absl::StatusOr<std::unique_ptr<Scorer>> BuildBuiltIn(const v1::ScorerSpec& spec) {
  switch (spec.kind_case()) {
    case v1::ScorerSpec::kExactMatch: {
      ASSIGN_OR_RETURN(auto scorer, ExactMatchScorer::Create(spec.name(), spec.exact_match()));
      return std::unique_ptr<Scorer>(std::move(scorer));
    }
    case v1::ScorerSpec::kRegex: {
      ASSIGN_OR_RETURN(auto scorer, RegexScorer::Create(spec.name(), spec.regex().pattern()));
      return std::unique_ptr<Scorer>(std::move(scorer));
    }
    case v1::ScorerSpec::kLengthPenalty:
      return std::make_unique<LengthPenaltyScorer>(spec.name(),
                                                   spec.length_penalty().target_tokens());
    case v1::ScorerSpec::kRepetitionPenalty: {
      ASSIGN_OR_RETURN(auto scorer, RepetitionPenaltyScorer::Create(
                                        spec.name(), spec.repetition_penalty().ngram()));
      return std::unique_ptr<Scorer>(std::move(scorer));
    }
    case v1::ScorerSpec::kStopPenalty:
      return std::make_unique<StopPenaltyScorer>(spec.name());
    case v1::ScorerSpec::kPelicanJokesGold:
      return std::make_unique<PelicanJokesGoldScorer>(spec.name());
    case v1::ScorerSpec::kRewardModel:
      return absl::UnimplementedError(absl::StrCat(
          "scorer '", spec.name(),
          "': reward_model scorers are not available in this binary (no reward-model builder is "
          "registered with ScorerRegistry)"));
    case v1::ScorerSpec::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("scorer '", spec.name(),
                   "' has no kind: set one of reward_model, exact_match, regex, length_penalty, "
                   "repetition_penalty, stop_penalty, pelican_jokes_gold"));
}

}  // namespace

ScorerRegistry& ScorerRegistry::Global() {
  static ScorerRegistry* const registry = new ScorerRegistry();
  return *registry;
}

void ScorerRegistry::Register(v1::ScorerSpec::KindCase kind, ScorerBuilder builder) {
  std::lock_guard<std::mutex> lock(mu_);
  builders_[static_cast<int>(kind)] = std::move(builder);
}

ScorerBuilder ScorerRegistry::Find(v1::ScorerSpec::KindCase kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = builders_.find(static_cast<int>(kind));
  return it != builders_.end() ? it->second : ScorerBuilder();
}

absl::StatusOr<std::unique_ptr<Scorer>> BuildScorer(const v1::ScorerSpec& spec,
                                                    const ScorerRegistry& registry) {
  if (spec.name().empty()) return absl::InvalidArgumentError("scorer has no name");
  const ScorerBuilder builder = registry.Find(spec.kind_case());
  if (!builder) return BuildBuiltIn(spec);
  ASSIGN_OR_RETURN(std::unique_ptr<Scorer> scorer, builder(spec));
  if (scorer == nullptr || scorer->name() != spec.name()) {
    return absl::InternalError(absl::StrCat("the registered ", KindName(spec), " builder returned ",
                                            scorer == nullptr ? "no scorer" : "a misnamed scorer",
                                            " for '", spec.name(), "'"));
  }
  return scorer;
}

absl::StatusOr<std::unique_ptr<ScorerSet>> ScorerSet::Create(
    std::vector<std::unique_ptr<CompositeScorer>> scorers) {
  if (scorers.empty()) return absl::InvalidArgumentError("a scorer set needs at least one scorer");
  std::set<std::string> names;
  for (const auto& s : scorers) {
    if (s == nullptr) return absl::InvalidArgumentError("null scorer in a scorer set");
    if (!names.insert(s->name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate scorer name '", s->name(), "'"));
    }
  }
  return std::unique_ptr<ScorerSet>(new ScorerSet(std::move(scorers)));
}

absl::StatusOr<CompositeScorer*> ScorerSet::Find(absl::string_view name) const {
  if (name.empty()) return scorers_.front().get();
  for (const auto& s : scorers_) {
    if (s->name() == name) return s.get();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown scorer \"", name, "\"; this service offers: ", absl::StrJoin(names(), ", ")));
}

std::vector<std::string> ScorerSet::names() const {
  std::vector<std::string> names;
  for (const auto& s : scorers_) names.push_back(s->name());
  return names;
}

absl::StatusOr<std::unique_ptr<ScorerSet>> BuildScorerSet(const v1::RewardSection& section,
                                                          const ScorerRegistry& registry) {
  if (section.scorers().empty()) {
    return absl::InvalidArgumentError("reward.scorers is empty: configure at least one scorer");
  }
  std::vector<ComponentSpec> all;
  std::set<std::string> names;
  std::vector<std::unique_ptr<CompositeScorer>> composites;
  composites.emplace_back();  // the default, built last
  for (int i = 0; i < section.scorers_size(); ++i) {
    const v1::ScorerSpec& spec = section.scorers(i);
    const std::string where = absl::StrCat("reward.scorers[", i, "]");
    if (spec.name() == ScorerSet::kDefaultName) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": the name '", ScorerSet::kDefaultName,
                                                     "' is reserved for the composite"));
    }
    if (!spec.name().empty() && !names.insert(spec.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": duplicate scorer name '", spec.name(), "'"));
    }
    if (!std::isfinite(spec.weight())) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": weight must be finite, got ", spec.weight()));
    }
    absl::StatusOr<std::unique_ptr<Scorer>> built = BuildScorer(spec, registry);
    if (!built.ok()) return Annotate(built.status(), where);
    std::shared_ptr<Scorer> scorer = std::move(built).value();
    all.push_back(ComponentSpec{scorer, spec.weight(), spec.normalize()});
    absl::StatusOr<std::unique_ptr<CompositeScorer>> alone =
        CompositeScorer::Create(spec.name(), {ComponentSpec{scorer, 1.0, false}});
    if (!alone.ok()) return Annotate(alone.status(), where);
    composites.push_back(std::move(alone).value());
  }
  ASSIGN_OR_RETURN(composites.front(),
                   CompositeScorer::Create(ScorerSet::kDefaultName, std::move(all)));
  return ScorerSet::Create(std::move(composites));
}

}  // namespace pelican::reward
