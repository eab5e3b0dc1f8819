#include "learner/task_data.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "learner/jsonl_lines.h"
#include "nlohmann/json.hpp"
#include "reward_service/pelican_jokes.h"

namespace pelican {
namespace {

std::string JsonLine(const std::string& k1, const std::string& v1, const std::string& k2,
                     const std::string& v2) {
  return nlohmann::json{{k1, v1}, {k2, v2}}.dump() + "\n";
}

// Writes `contents` unless the file already holds exactly that (keeps mtimes and the data
// fingerprint of a resumed run stable).
absl::Status WriteIfChanged(const std::string& path, const std::string& contents) {
  absl::StatusOr<std::string> old = ReadFile(path);
  if (old.ok() && *old == contents) return absl::OkStatus();
  return WriteFileAtomic(path, contents);
}

struct Sum {
  uint32_t a, b;
  std::string prompt() const { return absl::StrCat(a, "+", b, "="); }
  std::string answer() const { return absl::StrCat(a + b); }
  bool carries() const { return a % 10 + b % 10 >= 10; }
  // The careless annotator's answer: the carry into the tens forgotten.
  std::string slipped_answer() const { return absl::StrCat(a + b - 10); }
};

struct ArithmeticSplit {
  std::vector<Sum> train, probe, eval;
};

// All operand pairs in a seeded order: 70% training pairs (demonstrations and RL prompts); the
// held-out 30% halved into the guard's probe (validation) and the test set of `pelican eval`, so
// the evaluation asks sums the policy never trained on, and the kept checkpoint is not chosen on
// the set it is scored on. (Demonstrating one half of the training pairs and asking RL the other
// half left SFT too little to generalise from: 0.41 held-out accuracy instead of 0.56.)
ArithmeticSplit SplitSums(uint32_t max_operand, uint64_t seed) {
  std::vector<Sum> all;
  for (uint32_t a = 0; a <= max_operand; ++a) {
    for (uint32_t b = 0; b <= max_operand; ++b) all.push_back({a, b});
  }
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 17);
  for (size_t i = all.size() - 1; i > 0; --i) {
    std::swap(all[i], all[std::uniform_int_distribution<size_t>(0, i)(rng)]);
  }
  const auto at = [&](size_t i) { return all.begin() + static_cast<std::ptrdiff_t>(i); };
  const size_t n_held = std::max<size_t>(2, all.size() * 3 / 10);
  ArithmeticSplit split;
  split.probe.assign(at(0), at(n_held / 2));
  split.eval.assign(at(n_held / 2), at(n_held));
  split.train.assign(at(n_held), all.end());
  return split;
}

std::string AnswerLines(const std::vector<Sum>& sums, size_t limit) {
  std::string text;
  for (size_t i = 0; i < std::min(limit, sums.size()); ++i) {
    text += JsonLine("prompt", sums[i].prompt(), "answer", sums[i].answer());
  }
  return text;
}

// `per_prompt` demonstrations of every training sum; each one of a sum with a carry forgets the
// carry with probability `slip`.
std::string Demonstrations(const std::vector<Sum>& train, uint32_t per_prompt, double slip,
                           uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 29);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::string text;
  for (uint32_t k = 0; k < per_prompt; ++k) {
    for (const Sum& s : train) {
      const bool slips = s.carries() && uniform(rng) < slip;
      text += JsonLine("prompt", s.prompt(), "completion", slips ? s.slipped_answer() : s.answer());
    }
  }
  return text;
}

// Seeded shuffle of every (verb, thing) prompt, split 70 / 15 / 15 like the sums; each entry is
// (prompt, index of its thing in JokeThings()).
struct JokeSplit {
  std::vector<std::pair<std::string, size_t>> train, probe, eval;
};

JokeSplit SplitJokes(uint64_t seed) {
  std::vector<std::pair<std::string, size_t>> all;
  const auto& things = reward::JokeThings();
  for (const std::string& verb : reward::JokeVerbs()) {
    for (size_t t = 0; t < things.size(); ++t) {
      all.emplace_back(reward::JokePrompt(verb, things[t].thing), t);
    }
  }
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 31);
  std::shuffle(all.begin(), all.end(), rng);
  const auto at = [&](size_t i) { return all.begin() + static_cast<std::ptrdiff_t>(i); };
  const size_t n_held = all.size() * 3 / 10;
  JokeSplit split;
  split.probe.assign(at(0), at(n_held / 2));
  split.eval.assign(at(n_held / 2), at(n_held));
  split.train.assign(at(n_held), all.end());
  return split;
}

std::string JokePromptLines(const std::vector<std::pair<std::string, size_t>>& prompts,
                            size_t limit) {
  std::string text;
  for (size_t i = 0; i < std::min(limit, prompts.size()); ++i) {
    text += JsonLine("prompt", prompts[i].first, "answer",
                     reward::JokeThings()[prompts[i].second].thing);
  }
  return text;
}

// Preference pairs for `pelican rm`: two demonstrator punchlines per pair, the one the gold rater
// prefers chosen (ties skipped). No pair repeats itself or runs long: the reward model never
// learns what the gold rater thinks of that.
std::string JokePreferenceLines(const std::vector<std::pair<std::string, size_t>>& train,
                                uint64_t seed) {
  constexpr int kPairsPerPrompt = 12;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 37);
  std::string text;
  for (const auto& [prompt, thing] : train) {
    for (int k = 0; k < kPairsPerPrompt; ++k) {
      const std::string a = reward::SampleJokeCompletion(thing, rng);
      const std::string b = reward::SampleJokeCompletion(thing, rng);
      const double ga = *reward::GoldJokeScore(prompt, a);
      const double gb = *reward::GoldJokeScore(prompt, b);
      if (ga == gb) continue;
      text +=
          nlohmann::json{
              {"prompt", prompt}, {"chosen", ga > gb ? a : b}, {"rejected", ga > gb ? b : a}}
              .dump() +
          "\n";
    }
  }
  return text;
}

}  // namespace

absl::StatusOr<TaskFiles> PrepareTaskData(const v1::TaskSection& task, uint64_t seed,
                                          const std::string& dir) {
  TaskFiles files;
  switch (task.kind()) {
    case v1::TASK_KIND_JSONL: {
      if (task.train_file().empty()) {
        return absl::InvalidArgumentError("task.kind is jsonl but task.train_file is not set");
      }
      files.train = task.train_file();
      files.eval = task.eval_file();
      files.probe = task.probe_file().empty() ? task.eval_file() : task.probe_file();
      for (const std::string& f : {files.train, files.eval, files.probe}) {
        if (!f.empty()) RETURN_IF_ERROR(ReadFile(f).status());
      }
      return files;
    }
    case v1::TASK_KIND_ARITHMETIC: {
      const ArithmeticSplit split = SplitSums(task.max_operand(), seed);
      RETURN_IF_ERROR(MakeDirs(dir));
      files.train = dir + "/train.jsonl";
      files.probe = dir + "/probe.jsonl";
      files.eval = dir + "/eval.jsonl";
      files.sft = dir + "/sft.jsonl";
      RETURN_IF_ERROR(WriteIfChanged(files.train, AnswerLines(split.train, split.train.size())));
      RETURN_IF_ERROR(WriteIfChanged(files.probe, AnswerLines(split.probe, task.eval_size())));
      RETURN_IF_ERROR(WriteIfChanged(files.eval, AnswerLines(split.eval, task.eval_size())));
      RETURN_IF_ERROR(WriteIfChanged(
          files.sft,
          Demonstrations(split.train, task.demonstrations_per_prompt(), task.carry_slip(), seed)));
      return files;
    }
    case v1::TASK_KIND_PELICAN_JOKES: {
      const JokeSplit split = SplitJokes(seed);
      std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 41);
      std::string demos;
      for (uint32_t k = 0; k < task.demonstrations_per_prompt(); ++k) {
        for (const auto& [prompt, thing] : split.train) {
          demos +=
              JsonLine("prompt", prompt, "completion", reward::SampleJokeCompletion(thing, rng));
        }
      }
      RETURN_IF_ERROR(MakeDirs(dir));
      files.train = dir + "/train.jsonl";
      files.probe = dir + "/probe.jsonl";
      files.eval = dir + "/eval.jsonl";
      files.sft = dir + "/sft.jsonl";
      files.preferences = dir + "/preferences.jsonl";
      RETURN_IF_ERROR(
          WriteIfChanged(files.train, JokePromptLines(split.train, split.train.size())));
      RETURN_IF_ERROR(WriteIfChanged(files.probe, JokePromptLines(split.probe, task.eval_size())));
      RETURN_IF_ERROR(WriteIfChanged(files.eval, JokePromptLines(split.eval, task.eval_size())));
      RETURN_IF_ERROR(WriteIfChanged(files.sft, demos));
      RETURN_IF_ERROR(WriteIfChanged(files.preferences, JokePreferenceLines(split.train, seed)));
      return files;
    }
    default:
      return absl::UnimplementedError(absl::StrCat("task.kind ", v1::TaskKind_Name(task.kind()),
                                                   " has no data generator in this build"));
  }
}

std::vector<std::string> TaskTokenizerCorpus(const v1::TaskSection& task, uint64_t seed) {
  std::vector<std::string> corpus;
  if (task.kind() == v1::TASK_KIND_ARITHMETIC) {
    for (const Sum& s : SplitSums(task.max_operand(), seed).train) {
      corpus.push_back(s.prompt() + s.answer());
    }
  }
  if (task.kind() == v1::TASK_KIND_PELICAN_JOKES) {
    std::mt19937_64 rng(seed);
    for (const auto& [prompt, thing] : SplitJokes(seed).train) {
      for (int k = 0; k < 4; ++k)
        corpus.push_back(prompt + reward::SampleJokeCompletion(thing, rng));
    }
  }
  return corpus;
}

absl::StatusOr<std::vector<TextPair>> ReadTextPairs(const std::string& path,
                                                    const std::string& prompt_key,
                                                    const std::string& second_key) {
  std::vector<TextPair> out;
  RETURN_IF_ERROR(ForEachJsonlObject(path, [&](const nlohmann::json& j, int line) {
    for (const std::string& key : {prompt_key, second_key}) {
      if (!j.contains(key)) {
        return JsonlError(path, line, absl::StrCat("missing key \"", key, "\""));
      }
    }
    if (!j[prompt_key].is_string()) {
      return JsonlError(path, line, absl::StrCat("\"", prompt_key, "\" must be a string"));
    }
    const nlohmann::json& second = j[second_key];
    out.push_back({j[prompt_key].get<std::string>(),
                   second.is_string() ? second.get<std::string>() : second.dump()});
    return absl::OkStatus();
  }));
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no examples"));
  return out;
}

}  // namespace pelican
