#include "learner/task_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "learner/jsonl_lines.h"
#include "nlohmann/json.hpp"
#include "reward_service/pelican_jokes.h"

namespace pelican {
namespace {

using ::testing::HasSubstr;

struct Parsed {
  uint32_t a, b, answer;
};

Parsed Parse(const TextPair& p) {
  std::vector<std::string> ops = absl::StrSplit(p.prompt, absl::ByAnyChar("+="));
  Parsed out{};
  PELICAN_CHECK(ops.size() == 3 && absl::SimpleAtoi(ops[0], &out.a) &&
                absl::SimpleAtoi(ops[1], &out.b) && absl::SimpleAtoi(p.second, &out.answer))
      << p.prompt << p.second;
  return out;
}

std::vector<TextPair> Read(const std::string& path, const std::string& key) {
  auto pairs = ReadTextPairs(path, "prompt", key);
  PELICAN_CHECK_OK(pairs.status());
  return *pairs;
}

std::string Dir(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/pelican_task_", getpid(), "_", name);
}

// The task's files; a failure is reported and gives empty paths (which Read then refuses).
TaskFiles Prepare(const v1::TaskSection& task, uint64_t seed, const std::string& dir) {
  absl::StatusOr<TaskFiles> files = PrepareTaskData(task, seed, dir);
  EXPECT_TRUE(files.ok()) << files.status();
  return files.ok() ? *files : TaskFiles{};
}

v1::TaskSection Arithmetic(uint32_t max_operand) {
  v1::TaskSection task;
  task.set_kind(v1::TASK_KIND_ARITHMETIC);
  task.set_max_operand(max_operand);
  task.set_eval_size(1000);
  task.set_demonstrations_per_prompt(3);
  task.set_carry_slip(0.7);
  return task;
}

TEST(ArithmeticTaskTest, TrainProbeAndEvalSumsAreDisjointAndCoverEveryPair) {
  const TaskFiles files = Prepare(Arithmetic(30), 1, Dir("split"));
  std::set<std::string> seen;
  size_t n_train = 0, n_probe = 0, n_eval = 0;
  for (const auto& [path, count] :
       {std::pair{files.train, &n_train}, std::pair{files.probe, &n_probe},
        std::pair{files.eval, &n_eval}}) {
    for (const TextPair& p : Read(path, "answer")) {
      const Parsed s = Parse(p);
      EXPECT_EQ(s.answer, s.a + s.b) << p.prompt;
      EXPECT_TRUE(seen.insert(p.prompt).second) << p.prompt << " is in two sets";
      ++*count;
    }
  }
  EXPECT_EQ(seen.size(), 31u * 31u);
  EXPECT_EQ(n_probe + n_eval, 31u * 31u * 3 / 10);
  EXPECT_EQ(n_probe, n_eval);
  // Three demonstrations of every training sum, none of a held-out one.
  const std::vector<TextPair> demos = Read(files.sft, "completion");
  EXPECT_EQ(demos.size(), 3 * n_train);
  std::set<std::string> train_prompts;
  for (const TextPair& p : Read(files.train, "answer")) train_prompts.insert(p.prompt);
  for (const TextPair& p : demos) EXPECT_EQ(train_prompts.count(p.prompt), 1u) << p.prompt;
}

TEST(ArithmeticTaskTest, DemonstrationsForgetTheCarryAtTheConfiguredRateOnly) {
  const TaskFiles files = Prepare(Arithmetic(50), 1, Dir("demos"));
  const std::vector<TextPair> demos = Read(files.sft, "completion");
  size_t carries = 0, slips = 0;
  for (const TextPair& p : demos) {
    const Parsed s = Parse(p);
    if (s.a % 10 + s.b % 10 >= 10) {
      ++carries;
      if (s.answer == s.a + s.b - 10) {
        ++slips;
      } else {
        EXPECT_EQ(s.answer, s.a + s.b) << p.prompt;
      }
    } else {
      EXPECT_EQ(s.answer, s.a + s.b) << p.prompt << " has no carry to forget";
    }
  }
  ASSERT_GT(carries, 1000u);
  EXPECT_NEAR(static_cast<double>(slips) / static_cast<double>(carries), 0.7, 0.03);
}

TEST(ArithmeticTaskTest, NoSlipMeansPerfectDemonstrationsAndTheSeedDecidesTheSplit) {
  v1::TaskSection task = Arithmetic(20);
  task.set_carry_slip(0.0);
  const TaskFiles files = Prepare(task, 1, Dir("clean"));
  for (const TextPair& p : Read(files.sft, "completion")) {
    const Parsed s = Parse(p);
    EXPECT_EQ(s.answer, s.a + s.b) << p.prompt;
  }
  const TaskFiles again = Prepare(task, 1, Dir("clean_again"));
  const TaskFiles other = Prepare(task, 2, Dir("other_seed"));
  EXPECT_EQ(Read(files.eval, "answer")[0].prompt, Read(again.eval, "answer")[0].prompt);
  std::vector<std::string> a, b;
  for (const TextPair& p : Read(files.eval, "answer")) a.push_back(p.prompt);
  for (const TextPair& p : Read(other.eval, "answer")) b.push_back(p.prompt);
  EXPECT_NE(a, b);
}

TEST(PelicanJokesTaskTest, SplitsAreDisjointAndPairsFollowTheGoldRater) {
  v1::TaskSection task;
  task.set_kind(v1::TASK_KIND_PELICAN_JOKES);
  task.set_eval_size(1000);
  task.set_demonstrations_per_prompt(2);
  const TaskFiles files = Prepare(task, 1, Dir("jokes"));
  std::set<std::string> seen;
  for (const std::string& path : {files.train, files.probe, files.eval}) {
    for (const TextPair& p : Read(path, "answer")) {
      absl::StatusOr<std::string> thing = reward::JokePromptThing(p.prompt);
      ASSERT_TRUE(thing.ok()) << thing.status();
      EXPECT_EQ(*thing, p.second);
      EXPECT_TRUE(seen.insert(p.prompt).second) << p.prompt << " is in two sets";
    }
  }
  EXPECT_EQ(seen.size(), reward::JokeThings().size() * reward::JokeVerbs().size());
  const std::vector<TextPair> train = Read(files.train, "answer");
  EXPECT_EQ(Read(files.sft, "completion").size(), 2 * train.size());
  const std::set<std::string> train_prompts = [&] {
    std::set<std::string> out;
    for (const TextPair& p : train) out.insert(p.prompt);
    return out;
  }();
  // Every pair is about a training prompt, and the gold rater prefers its chosen completion.
  size_t pairs = 0;
  PELICAN_CHECK_OK(ForEachJsonlObject(files.preferences, [&](const nlohmann::json& j, int) {
    const std::string prompt = j["prompt"];
    EXPECT_EQ(train_prompts.count(prompt), 1u) << prompt;
    EXPECT_GT(*reward::GoldJokeScore(prompt, j["chosen"]),
              *reward::GoldJokeScore(prompt, j["rejected"]));
    ++pairs;
    return absl::OkStatus();
  }));
  EXPECT_GT(pairs, 5 * train.size());
}

TEST(JsonlTaskTest, ProbeFallsBackToTheEvalFileAndMissingFilesAreNamed) {
  const std::string dir = Dir("jsonl");
  v1::TaskSection task;
  task.set_kind(v1::TASK_KIND_JSONL);
  const TaskFiles arith = Prepare(Arithmetic(5), 1, dir);
  task.set_train_file(arith.train);
  task.set_eval_file(arith.eval);
  EXPECT_EQ(Prepare(task, 1, dir).probe, arith.eval);
  task.set_probe_file(arith.probe);
  EXPECT_EQ(Prepare(task, 1, dir).probe, arith.probe);
  task.set_probe_file(dir + "/missing.jsonl");
  absl::StatusOr<TaskFiles> missing = PrepareTaskData(task, 1, dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing.jsonl"));
}

}  // namespace
}  // namespace pelican
