// Encode throughput of pelican's Tokenizer against Hugging Face tokenizers (the Python package over the
// Rust crate, timed by bench/hf_tokenizer_bench.py in the same run) on one generated corpus, for
// the Qwen3 and Llama 3 vocabularies. Both sides encode the same lines without special tokens, on
// one thread; the token totals must agree or the run fails.
//   build/bench/tokenizer_bench [CORPUS_MB=4]    (run from anywhere; needs scripts/install-deps.sh)
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/tokenizer/testing/hf_reference.h"
#include "common/tokenizer/testing/random_text.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Row {
  std::string vocabulary;
  double load_seconds;
  double ours_seconds;
  double hf_batch_seconds;
  double hf_call_seconds;
  int64_t tokens;
};

int Run(double corpus_mb) {
  // PELICAN_SOURCE_DIR locates .venv and the Python script; default to this source tree.
  setenv("PELICAN_SOURCE_DIR", PELICAN_SOURCE_DIR_DEFAULT, /*overwrite=*/0);
  if (absl::Status s = tokenizer::testing::CheckReferenceAvailable(); !s.ok()) {
    std::cerr << "tokenizer_bench: " << s.message() << "\n";
    return 1;
  }
  const std::vector<std::string> specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                             "<|begin_of_text|>", "<|eot_id|>"};
  tokenizer::testing::RandomTextGenerator gen(11, specials);
  const std::vector<std::string> corpus = gen.Corpus(static_cast<size_t>(corpus_mb * 1e6));
  size_t bytes = 0;
  std::string jsonl;
  for (const std::string& line : corpus) {
    bytes += line.size();
    jsonl += nlohmann::json(line).dump() + "\n";
  }
  std::string dir = "/tmp/pelican_tokenizer_bench_XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    std::cerr << "tokenizer_bench: mkdtemp failed\n";
    return 1;
  }
  const std::string corpus_path = dir + "/corpus.jsonl";
  if (absl::Status s = WriteFileAtomic(corpus_path, jsonl); !s.ok()) {
    std::cerr << "tokenizer_bench: " << s << "\n";
    return 1;
  }

  std::vector<Row> rows;
  for (const std::string name : {"qwen3", "llama3"}) {
    const std::string path = tokenizer::testing::VocabPath(name);
    Row row{name, 0, 1e30, 0, 0, 0};
    const auto l0 = Clock::now();
    auto tok = Tokenizer::FromFile(path);
    row.load_seconds = Seconds(l0, Clock::now());
    if (!tok.ok()) {
      std::cerr << "tokenizer_bench: " << tok.status() << "\n";
      return 1;
    }
    // Best of three passes over the corpus (the first also warms the word cache, as HF's repeats
    // warm its own).
    for (int pass = 0; pass < 3; ++pass) {
      int64_t tokens = 0;
      const auto t0 = Clock::now();
      for (const std::string& line : corpus)
        tokens += static_cast<int64_t>((*tok)->Encode(line).size());
      row.ours_seconds = std::min(row.ours_seconds, Seconds(t0, Clock::now()));
      row.tokens = tokens;
    }
    const std::string output_path = dir + "/hf_" + name + ".json";
    const std::string command = absl::StrCat(
        "RAYON_NUM_THREADS=1 ", tokenizer::testing::ShellQuote(tokenizer::testing::ReferencePython()),
        " ",
        tokenizer::testing::ShellQuote(tokenizer::testing::SourceDir() +
                                       "/bench/hf_tokenizer_bench.py"),
        " ", tokenizer::testing::ShellQuote(path), " ", tokenizer::testing::ShellQuote(corpus_path),
        " 3 > ", tokenizer::testing::ShellQuote(output_path));
    if (std::system(command.c_str()) != 0) {
      std::cerr << "tokenizer_bench: `" << command << "` failed\n";
      return 1;
    }
    auto output = ReadFile(output_path);
    const nlohmann::json hf = nlohmann::json::parse(output.ok() ? *output : "", nullptr, false);
    if (hf.is_discarded() || !hf.contains("tokens")) {
      std::cerr << "tokenizer_bench: unreadable output from hf_tokenizer_bench.py\n";
      return 1;
    }
    if (hf["tokens"].get<int64_t>() != row.tokens) {
      std::cerr << "tokenizer_bench: " << name << ": HF produced " << hf["tokens"] << " tokens, "
                << "we produced " << row.tokens << "; the comparison would be meaningless\n";
      return 1;
    }
    row.hf_batch_seconds = hf["batch_seconds"].get<double>();
    row.hf_call_seconds = hf["call_seconds"].get<double>();
    rows.push_back(row);
  }

  const double mb = bytes / 1e6;
  std::printf("corpus: %zu lines, %.2f MB of generated multilingual text (seed 11)\n",
              corpus.size(), mb);
  std::printf("%-8s %9s %10s %15s %9s %17s %10s\n", "vocab", "load s", "ours MB/s", "HF batch MB/s",
              "ours/HF", "HF per-call MB/s", "tokens");
  for (const Row& r : rows) {
    std::printf("%-8s %9.2f %10.2f %15.2f %8.2fx %17.2f %10lld\n", r.vocabulary.c_str(),
                r.load_seconds, mb / r.ours_seconds, mb / r.hf_batch_seconds,
                r.hf_batch_seconds / r.ours_seconds, mb / r.hf_call_seconds,
                static_cast<long long>(r.tokens));
  }
  std::printf(
      "ours: Tokenizer::Encode per line, one thread, best of 3. HF batch: encodeBatch with "
      "RAYON_NUM_THREADS=1, best of 3. HF per-call: one awaited encode() per line.\n");
  return 0;
}

}  // namespace
}  // namespace pelican

int main(int argc, char** argv) { return pelican::Run(argc > 1 ? std::atof(argv[1]) : 4.0); }
