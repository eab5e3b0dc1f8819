#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace pelican {
namespace {

constexpr char kBase[] = R"(run:
  seed: 5
security:
  insecure: true
actors:
  sampling:
    top_p: 0.9
    stop_token_ids: [1, 2]
reward:
  scorers:
    - name: exact
      exact_match: {extract: hashes}
)";

std::string Base(const std::string& extra = "") { return std::string(kBase) + extra; }

// Expects an INVALID_ARGUMENT error whose message contains every one of `parts`.
void ExpectError(const absl::StatusOr<v1::RunConfig>& r, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(r.ok()) << "expected an error";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  for (const std::string& p : parts) {
    EXPECT_NE(std::string(r.status().message()).find(p), std::string::npos)
        << "'" << p << "' not in: " << r.status().message();
  }
}

TEST(ConfigTest, DefaultsComeFromTheProto) {
  auto c = ParseRunConfig(Base(), "base.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->run().seed(), 5u);
  EXPECT_EQ(c->run().dir(), "runs/pelican");
  EXPECT_DOUBLE_EQ(c->actors().sampling().top_p(), 0.9);
  EXPECT_DOUBLE_EQ(c->actors().sampling().temperature(), 1.0);
  EXPECT_EQ(c->learner().algorithm(), v1::ALGORITHM_PPO);
  EXPECT_DOUBLE_EQ(c->learner().optimizer().lr(), 1e-5);
  EXPECT_EQ(c->reward().scorers(0).exact_match().extract(), v1::ANSWER_EXTRACTION_HASHES);
  // Defaults of a list element's fields apply too.
  EXPECT_DOUBLE_EQ(c->reward().scorers(0).weight(), 1.0);
  EXPECT_EQ(c->actors().sampling().stop_token_ids_size(), 2);
}

TEST(ConfigTest, EveryDefaultIsInRange) {
  v1::RunConfig d = DefaultRunConfig();
  d.mutable_security()->set_insecure(true);
  EXPECT_TRUE(ValidateRunConfig(d).ok()) << ValidateRunConfig(d);
}

TEST(ConfigTest, UnknownKeyNamesPathFileAndLine) {
  ExpectError(ParseRunConfig(Base("learner:\n  optimiser: {lr: 1}\n"), "run.yaml"),
              {"run.yaml:14:3", "learner.optimiser", "unknown key 'optimiser'",
               "did you mean 'optimizer'"});
  ExpectError(ParseRunConfig(Base("nonsense: 1\n"), "run.yaml"),
              {"run.yaml:13:1", "nonsense", "unknown key"});
}

TEST(ConfigTest, WrongTypeNamesPath) {
  ExpectError(ParseRunConfig(Base("learner:\n  total_steps: many\n"), "r.yaml"),
              {"r.yaml:14:16", "learner.total_steps", "'many' is not"});
  ExpectError(ParseRunConfig(Base("learner:\n  total_steps: [1]\n"), "r.yaml"),
              {"learner.total_steps", "got a list"});
  ExpectError(ParseRunConfig(Base("learner:\n  kl: 3\n"), "r.yaml"),
              {"learner.kl", "expected a map"});
  ExpectError(ParseRunConfig(Base("guard:\n  enabled: maybe\n"), "r.yaml"),
              {"guard.enabled", "true or false"});
  ExpectError(ParseRunConfig(Base("learner:\n  total_steps: -3\n"), "r.yaml"),
              {"learner.total_steps", "non-negative"});
}

TEST(ConfigTest, BadEnumListsTheChoices) {
  ExpectError(ParseRunConfig(Base("learner:\n  algorithm: ppo2\n"), "r.yaml"),
              {"r.yaml:14:14", "learner.algorithm", "'ppo2' is not one of: ppo, grpo, rloo"});
  // The zero value is not a choice.
  ExpectError(ParseRunConfig(Base("learner:\n  algorithm: unspecified\n"), "r.yaml"),
              {"learner.algorithm"});
}

TEST(ConfigTest, OutOfRangeNamesPathAndRange) {
  ExpectError(ParseRunConfig(Base("learner:\n  gamma: 1.5\n"), "r.yaml"),
              {"r.yaml:14:10", "learner.gamma", "1.5 is out of range [0, 1]"});
  ExpectError(ParseRunConfig(Base("actors:\n  sampling:\n    top_p: 0\n"), "r.yaml"),
              {"actors.sampling.top_p", "out of range (0, 1]"});
  ExpectError(ParseRunConfig(Base("actors:\n  sampling:\n    stop_token_ids: [3, -1]\n"), "r.yaml"),
              {"actors.sampling.stop_token_ids[1]", "out of range"});
}

TEST(ConfigTest, ListElementsAndOneofsAreChecked) {
  ExpectError(ParseRunConfig(Base("    - name: rm\n      weight: x\n"), "r.yaml"),
              {"reward.scorers[1].weight"});
  ExpectError(
      ParseRunConfig(Base("    - name: two\n      regex: {pattern: a}\n      exact_match: {}\n"),
                     "r.yaml"),
      {"reward.scorers[1].exact_match", "cannot both be set"});
  ExpectError(ParseRunConfig(Base("    - name: exact\n      stop_penalty: {}\n"), "r.yaml"),
              {"reward.scorers[1].name", "duplicate"});
}

TEST(ConfigTest, SemanticChecksNameTheKey) {
  ExpectError(ParseRunConfig("run: {seed: 1}\n", "r.yaml"), {"security", "insecure: true"});
  ExpectError(ParseRunConfig(Base("model:\n  tiny: {hidden_size: 60, num_heads: 8}\n"), "r.yaml"),
              {"model.tiny.hidden_size", "not divisible"});
  ExpectError(ParseRunConfig(Base("task:\n  kind: jsonl\n"), "r.yaml"), {"task.train_file"});
}

TEST(ConfigTest, InvalidYamlNamesFileAndLine) {
  ExpectError(ParseRunConfig("run:\n  seed: [1\n", "broken.yaml"),
              {"broken.yaml:", "invalid YAML"});
  ExpectError(ParseRunConfig("- a\n- b\n", "list.yaml"), {"list.yaml:1:1", "expected a map"});
}

TEST(ConfigTest, OverridesApplyInOrderAndAreValidated) {
  auto c = ParseRunConfig(
      Base(), "b.yaml",
      {"learner.optimizer.lr=3e-4", "actors.sampling.top_p=0.5", "actors.sampling.top_p=0.7",
       "learner.algorithm=grpo", "actors.sampling.stop_token_ids=[7]",
       "reward.scorers[0].weight=2.5", "run.name=exp one"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->learner().optimizer().lr(), 3e-4);
  EXPECT_DOUBLE_EQ(c->actors().sampling().top_p(), 0.7);
  EXPECT_EQ(c->learner().algorithm(), v1::ALGORITHM_GRPO);
  ASSERT_EQ(c->actors().sampling().stop_token_ids_size(), 1);
  EXPECT_EQ(c->actors().sampling().stop_token_ids(0), 7);
  EXPECT_DOUBLE_EQ(c->reward().scorers(0).weight(), 2.5);
  EXPECT_EQ(c->run().name(), "exp one");

  ExpectError(ParseRunConfig(Base(), "b.yaml", {"learner.optimizer.lr=2"}),
              {"--set learner.optimizer.lr=2", "learner.optimizer.lr", "out of range"});
  ExpectError(ParseRunConfig(Base(), "b.yaml", {"learner.optimiser.lr=1"}),
              {"learner.optimiser", "did you mean 'optimizer'"});
  ExpectError(ParseRunConfig(Base(), "b.yaml", {"learner.optimizer.lr"}), {"key.path=value"});
  ExpectError(ParseRunConfig(Base(), "b.yaml", {"reward.scorers[4].weight=1"}),
              {"reward.scorers", "index [4] out of range"});
  ExpectError(ParseRunConfig(Base(), "b.yaml", {"run.seed.x=1"}), {"run.seed", "not a section"});
}

TEST(ConfigTest, ResolvedYamlLoadsBackToTheSameConfig) {
  auto c = ParseRunConfig(Base(), "b.yaml", {"learner.kl.coef=0.1", "run.name=a \"quoted\" name"});
  ASSERT_TRUE(c.ok()) << c.status();
  auto again = ParseRunConfig(ResolvedConfigYaml(*c), "resolved.yaml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << ResolvedConfigYaml(*c);
  EXPECT_EQ(again->SerializeAsString(), c->SerializeAsString());
  EXPECT_EQ(ConfigFingerprint(*again), ConfigFingerprint(*c));
}

TEST(ConfigTest, FingerprintIsStableAndSensitive) {
  auto a = ParseRunConfig(Base(), "a.yaml");
  auto b = ParseRunConfig(Base(), "other-name.yaml");
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string fp = ConfigFingerprint(*a);
  EXPECT_EQ(fp.size(), 16u);
  EXPECT_EQ(fp, ConfigFingerprint(*b));
  // Key order and formatting do not matter, only values.
  auto reordered = ParseRunConfig(
      "actors: {sampling: {stop_token_ids: [1, 2], top_p: 0.90}}\nsecurity: {insecure: true}\n"
      "reward: {scorers: [{exact_match: {extract: hashes}, name: exact}]}\nrun: {seed: 5}\n",
      "c.yaml");
  ASSERT_TRUE(reordered.ok()) << reordered.status();
  EXPECT_EQ(fp, ConfigFingerprint(*reordered));
  // Any shared value changes it; a default written out explicitly does not.
  for (const char* o : {"run.seed=6", "actors.sampling.top_p=0.91", "learner.kl.estimator=k3",
                        "reward.scorers[0].weight=1.5", "actors.sampling.stop_token_ids=[2, 1]",
                        "guard.enabled=false", "model.tiny.num_layers=3"}) {
    auto changed = ParseRunConfig(Base(), "a.yaml", {o});
    ASSERT_TRUE(changed.ok()) << o << ": " << changed.status();
    EXPECT_NE(ConfigFingerprint(*changed), fp) << o;
  }
  auto explicit_default = ParseRunConfig(Base(), "a.yaml", {"learner.gamma=1.0"});
  EXPECT_EQ(ConfigFingerprint(*explicit_default), fp);
  // Local, per-process settings are not part of it.
  auto local = ParseRunConfig(Base(), "a.yaml", {"learner.threads=3", "run.dir=/tmp/elsewhere"});
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(ConfigFingerprint(*local), fp);
}

TEST(ConfigTest, LoadsFilesAndWritesTheResolvedConfig) {
  const std::string dir = ::testing::TempDir() + "/pelican_config_test";
  ASSERT_TRUE(MakeDirs(dir).ok());
  const std::string path = dir + "/run.yaml";
  ASSERT_TRUE(WriteFileAtomic(path, Base()).ok());
  auto c = LoadRunConfig(path, {"run.seed=9"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->run().seed(), 9u);
  ASSERT_TRUE(WriteResolvedConfig(*c, dir + "/out").ok());
  auto back = LoadRunConfig(dir + "/out/config.resolved.yaml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), c->SerializeAsString());
  EXPECT_EQ(LoadRunConfig(dir + "/missing.yaml").status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigTest, ShippedExamplesAreValid) {
  const char* src = std::getenv("PELICAN_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(src) + "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ++n;
    auto c = LoadRunConfig(entry.path().string());
    EXPECT_TRUE(c.ok()) << entry.path() << ": " << c.status();
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace pelican
