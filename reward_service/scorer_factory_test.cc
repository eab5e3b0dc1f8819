#include "reward_service/scorer_factory.h"

#include <gtest/gtest.h>

#include "common/config.h"
#include "reward_service/scorer_testing.h"

namespace pelican::reward {
namespace {

using testing::FakeScorer;
using testing::Inputs;
using testing::OwnedSample;
using testing::TextSample;

// The reward section of a run config written in YAML, through the real config loader.
v1::RewardSection Section(const std::string& scorers_yaml) {
  auto config = ParseRunConfig("security: {insecure: true}\nreward:\n  scorers:\n" + scorers_yaml,
                               "test.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? config->reward() : v1::RewardSection();
}

constexpr char kAllBuiltIns[] = R"(
    - name: exact
      exact_match: {extract: hashes}
    - name: format
      regex: {pattern: '####\s*\d+'}
      weight: 0.5
    - name: length
      length_penalty: {target_tokens: 2}
      weight: 0.25
    - name: repeat
      repetition_penalty: {ngram: 1}
      weight: 0.5
    - name: stop
      stop_penalty: {}
)";

void ExpectError(const absl::Status& s, absl::StatusCode code,
                 std::initializer_list<std::string> parts) {
  EXPECT_EQ(s.code(), code) << s;
  for (const std::string& p : parts) {
    EXPECT_NE(std::string(s.message()).find(p), std::string::npos)
        << "'" << p << "' not in: " << s.message();
  }
}

TEST(ScorerFactoryTest, BuildsEveryBuiltInKindIntoADefaultCompositeAndSingles) {
  ScorerRegistry empty;
  auto set = BuildScorerSet(Section(kAllBuiltIns), empty);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->names(),
            (std::vector<std::string>{"default", "exact", "format", "length", "repeat", "stop"}));
  auto def = (*set)->Find("");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(*def, &(*set)->default_scorer());
  EXPECT_EQ((*def)->name(), "default");

  // "#### 7" as 4 ids {1,2,1,3} (one repeated unigram of 4), stopped.
  OwnedSample sample = TextSample("so\n#### 7", "7");
  sample.completion_ids = {1, 2, 1, 3};
  auto out = (*def)->Score(Inputs({sample}));
  ASSERT_TRUE(out[0].status.ok()) << out[0].status;
  // exact 1·1 + format 0.5·1 + length 0.25·(-2) + repeat 0.5·(-1/4) + stop 1·0
  EXPECT_DOUBLE_EQ(out[0].total, 1.0 + 0.5 - 0.5 - 0.125 + 0.0);
  ASSERT_EQ(out[0].components.size(), 5u);
  EXPECT_EQ(out[0].components[2].name, "length");
  EXPECT_EQ(out[0].components[2].value, -2.0);
  EXPECT_EQ(out[0].components[2].weight, 0.25);

  // A single scorer alone: weight 1, raw value.
  auto length = (*set)->Find("length");
  ASSERT_TRUE(length.ok());
  auto alone = (*length)->Score(Inputs({sample}));
  ASSERT_TRUE(alone[0].status.ok());
  EXPECT_EQ(alone[0].total, -2.0);
  EXPECT_EQ(alone[0].components[0].weight, 1.0);
}

TEST(ScorerFactoryTest, UnknownScorerNamesListWhatIsOffered) {
  ScorerRegistry empty;
  auto set = BuildScorerSet(Section(kAllBuiltIns), empty);
  ASSERT_TRUE(set.ok()) << set.status();
  ExpectError((*set)->Find("rm").status(), absl::StatusCode::kInvalidArgument,
              {"unknown scorer \"rm\"", "default, exact, format"});
}

TEST(ScorerFactoryTest, RewardModelWithoutARegisteredBuilderIsUnimplemented) {
  ScorerRegistry empty;
  auto set = BuildScorerSet(Section(R"(
    - name: exact
      exact_match: {}
    - name: rm
      reward_model: {paths: [models/rm]}
)"),
                            empty);
  ExpectError(set.status(), absl::StatusCode::kUnimplemented,
              {"reward.scorers[1]", "'rm'", "reward_model", "ScorerRegistry"});
}

TEST(ScorerFactoryTest, ARegisteredBuilderPlugsInTheRewardModel) {
  ScorerRegistry registry;
  std::vector<std::string> seen_paths;
  registry.Register(v1::ScorerSpec::kRewardModel, [&](const v1::ScorerSpec& spec) {
    seen_paths.assign(spec.reward_model().paths().begin(), spec.reward_model().paths().end());
    return absl::StatusOr<std::unique_ptr<Scorer>>(std::make_unique<FakeScorer>(
        spec.name(), [](const ScoreInput&, size_t) { return ScoreValue(0.7, 0.1); }));
  });
  auto set = BuildScorerSet(Section(R"(
    - name: rm
      reward_model: {paths: [a, b]}
      weight: 2
)"),
                            registry);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(seen_paths, (std::vector<std::string>{"a", "b"}));
  auto out = (*set)->default_scorer().Score(Inputs({OwnedSample()}));
  ASSERT_TRUE(out[0].status.ok());
  EXPECT_DOUBLE_EQ(out[0].total, 1.4);
  EXPECT_DOUBLE_EQ(out[0].uncertainty, 0.2);
}

TEST(ScorerFactoryTest, TheGlobalRegistryReachesCallersThatPassNone) {
  ScorerRegistry::Global().Register(v1::ScorerSpec::kRewardModel, [](const v1::ScorerSpec& spec) {
    return absl::StatusOr<std::unique_ptr<Scorer>>(std::make_unique<FakeScorer>(
        spec.name(), [](const ScoreInput&, size_t) { return ScoreValue(1.0); }));
  });
  auto set = BuildScorerSet(Section("    - {name: rm, reward_model: {paths: [m]}}\n"));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->names(), (std::vector<std::string>{"default", "rm"}));
}

TEST(ScorerFactoryTest, ARegisteredBuilderOverridesABuiltInAndIsChecked) {
  ScorerRegistry registry;
  registry.Register(v1::ScorerSpec::kStopPenalty, [](const v1::ScorerSpec&) {
    return absl::StatusOr<std::unique_ptr<Scorer>>(std::make_unique<FakeScorer>(
        "other-name", [](const ScoreInput&, size_t) { return ScoreValue(1.0); }));
  });
  ExpectError(
      BuildScorer(*Section("    - {name: stop, stop_penalty: {}}\n").scorers().begin(), registry)
          .status(),
      absl::StatusCode::kInternal, {"misnamed", "'stop'"});
  registry.Register(v1::ScorerSpec::kStopPenalty, [](const v1::ScorerSpec&) {
    return absl::StatusOr<std::unique_ptr<Scorer>>(absl::UnavailableError("no GPU"));
  });
  ExpectError(BuildScorerSet(Section("    - {name: stop, stop_penalty: {}}\n"), registry).status(),
              absl::StatusCode::kUnavailable, {"reward.scorers[0]", "no GPU"});
}

TEST(ScorerFactoryTest, MalformedSectionsAreInvalidArgument) {
  ScorerRegistry empty;
  ExpectError(BuildScorerSet(v1::RewardSection(), empty).status(),
              absl::StatusCode::kInvalidArgument, {"reward.scorers is empty"});
  ExpectError(BuildScorerSet(Section(R"(
    - name: exact
      exact_match: {}
    - name: format
      regex: {pattern: 'a(b'}
)"),
                             empty)
                  .status(),
              absl::StatusCode::kInvalidArgument,
              {"reward.scorers[1]", "'format'", "offset 3", "missing closing parenthesis"});

  // What the config loader already refuses can still arrive from code; the factory checks too.
  v1::RewardSection section;
  v1::ScorerSpec* a = section.add_scorers();
  a->set_name("a");
  a->mutable_stop_penalty();
  v1::ScorerSpec* b = section.add_scorers();
  *b = *a;
  ExpectError(BuildScorerSet(section, empty).status(), absl::StatusCode::kInvalidArgument,
              {"reward.scorers[1]", "duplicate scorer name 'a'"});
  b->set_name("default");
  ExpectError(BuildScorerSet(section, empty).status(), absl::StatusCode::kInvalidArgument,
              {"reward.scorers[1]", "reserved"});
  b->set_name("b");
  b->set_weight(std::nan(""));
  ExpectError(BuildScorerSet(section, empty).status(), absl::StatusCode::kInvalidArgument,
              {"reward.scorers[1]", "weight"});
  b->set_weight(1);
  b->clear_kind();
  ExpectError(BuildScorerSet(section, empty).status(), absl::StatusCode::kInvalidArgument,
              {"reward.scorers[1]", "'b' has no kind"});
  b->set_name("");
  b->mutable_stop_penalty();
  ExpectError(BuildScorerSet(section, empty).status(), absl::StatusCode::kInvalidArgument,
              {"reward.scorers[1]", "no name"});
  b->set_name("b");
  b->mutable_repetition_penalty()->set_ngram(0);
  ExpectError(BuildScorerSet(section, empty).status(), absl::StatusCode::kInvalidArgument,
              {"reward.scorers[1]", "ngram"});
}

TEST(ScorerSetTest, CreateChecksItsScorers) {
  auto one = [](std::string name) {
    return std::move(
        CompositeScorer::Create(
            name, {{std::make_shared<FakeScorer>(
                        "x", [](const ScoreInput&, size_t) { return ScoreValue(1.0); }),
                    1.0}})
            .value());
  };
  EXPECT_FALSE(ScorerSet::Create({}).ok());
  std::vector<std::unique_ptr<CompositeScorer>> twins;
  twins.push_back(one("a"));
  twins.push_back(one("a"));
  EXPECT_FALSE(ScorerSet::Create(std::move(twins)).ok());
  std::vector<std::unique_ptr<CompositeScorer>> pair;
  pair.push_back(one("a"));
  pair.push_back(one("b"));
  auto set = ScorerSet::Create(std::move(pair));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ((*set)->default_scorer().name(), "a");
}

}  // namespace
}  // namespace pelican::reward
