#include "learner/task_data.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "learner/jsonl_lines.h"
#include "nlohmann/json.hpp"

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
};

// All operand pairs in a seeded order, split into training and held-out pairs.
void ArithmeticSplit(uint32_t max_operand, uint64_t seed, std::vector<Sum>* train,
                     std::vector<Sum>* held_out) {
  std::vector<Sum> all;
  for (uint32_t a = 0; a <= max_operand; ++a) {
    for (uint32_t b = 0; b <= max_operand; ++b) all.push_back({a, b});
  }
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 17);
  for (size_t i = all.size() - 1; i > 0; --i) {
    std::swap(all[i], all[std::uniform_int_distribution<size_t>(0, i)(rng)]);
  }
  const size_t n_held = std::max<size_t>(1, all.size() / 5);
  held_out->assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_held));
  train->assign(all.begin() + static_cast<std::ptrdiff_t>(n_held), all.end());
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
      for (const std::string& f : {files.train, files.eval}) {
        if (!f.empty()) RETURN_IF_ERROR(ReadFile(f).status());
      }
      return files;
    }
    case v1::TASK_KIND_ARITHMETIC: {
      std::vector<Sum> train, held_out;
      ArithmeticSplit(task.max_operand(), seed, &train, &held_out);
      std::string train_text, eval_text, sft_text;
      for (const Sum& s : train) train_text += JsonLine("prompt", s.prompt(), "answer", s.answer());
      const size_t n_eval = std::min<size_t>(held_out.size(), task.eval_size());
      for (size_t i = 0; i < n_eval; ++i) {
        eval_text += JsonLine("prompt", held_out[i].prompt(), "answer", held_out[i].answer());
      }
      for (size_t i = 0; i < train.size() / 3; ++i) {
        sft_text += JsonLine("prompt", train[i].prompt(), "completion", train[i].answer());
      }
      RETURN_IF_ERROR(MakeDirs(dir));
      files.train = dir + "/train.jsonl";
      files.eval = dir + "/eval.jsonl";
      files.sft = dir + "/sft.jsonl";
      RETURN_IF_ERROR(WriteIfChanged(files.train, train_text));
      RETURN_IF_ERROR(WriteIfChanged(files.eval, eval_text));
      RETURN_IF_ERROR(WriteIfChanged(files.sft, sft_text));
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
    std::vector<Sum> train, held_out;
    ArithmeticSplit(task.max_operand(), seed, &train, &held_out);
    for (const Sum& s : train) corpus.push_back(s.prompt() + s.answer());
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
