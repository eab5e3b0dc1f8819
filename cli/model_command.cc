// `pelican model init CONFIG --out DIR`: a randomly initialised model of the config's
// model.tiny shape, with a small byte-level BPE tokenizer.json, written as an ordinary Hugging
// Face model directory (config.json, model.safetensors, generation_config.json, tokenizer.json).
// The built-in tasks start from such a directory; so can tests and experiments.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cli/app.h"
#include "cli/role_setup.h"
#include "common/config.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/model/hf_model.h"
#include "common/model/tiny_model.h"
#include "common/status_macros.h"
#include "common/tokenizer/byte_level_bpe_trainer.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican::cli {
namespace {

struct InitArgs {
  ConfigArgs config;
  std::string out;
  std::string corpus;
  int vocab_size = 512;
  std::string head = "causal_lm";
};

absl::Status InitModel(const InitArgs& args) {
  ASSIGN_OR_RETURN(v1::RunConfig config, LoadConfig(args.config));
  std::vector<std::string> corpus;
  if (!args.corpus.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(args.corpus));
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) corpus.push_back(line + "\n");
  }
  TinyModelOptions options;
  if (args.head == "reward") {
    options.head = HeadKind::kSequenceClassification;
  } else if (args.head != "causal_lm") {
    return absl::InvalidArgumentError(
        absl::StrCat("--head: '", args.head, "' is not causal_lm or reward"));
  }
  ASSIGN_OR_RETURN(std::string tokenizer_json,
                   CreateTinyModelWithTokenizer(config.model().tiny(), corpus, args.vocab_size,
                                                config.run().seed(), args.out, options));
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::FromJson(tokenizer_json));
  // Read it back as every role will, so a broken directory fails here and not later.
  ASSIGN_OR_RETURN(LoadedModel loaded, LoadModel(args.out));
  int64_t params = 0;
  for (const auto& p : loaded.model->parameters()) params += p.numel();
  std::cout << "pelican: wrote " << args.out << ": " << params << " parameters, vocabulary "
            << tokenizer->vocab_size() << " (" << kTinyEndOfText << " = "
            << *tokenizer->TokenToId(kTinyEndOfText) << "), tokenizer " << tokenizer->fingerprint()
            << "\n";
  return absl::OkStatus();
}

}  // namespace

void AddModelCommand(CLI::App* app, RunFn* run) {
  CLI::App* model = app->add_subcommand("model", "Create and inspect model directories");
  model->require_subcommand(1);
  CLI::App* init = model->add_subcommand(
      "init", "Write a random model of CONFIG's model.tiny shape with a byte-level BPE tokenizer");
  auto args = std::make_shared<InitArgs>();
  AddConfigArgs(init, &args->config);
  init->add_option("--out", args->out, "Model directory to write")->required();
  init->add_option("--corpus", args->corpus,
                   "Text file (one example per line) to learn merges from")
      ->check(CLI::ExistingFile);
  init->add_option("--vocab_size", args->vocab_size,
                   "Most tokens: 256 bytes + merges + 2 special tokens")
      ->capture_default_str();
  init->add_option("--head", args->head, "causal_lm (policy) or reward (score head)")
      ->capture_default_str();
  init->callback([run, args] {
    *run = [args] {
      const absl::Status st = InitModel(*args);
      return st.ok() ? 0 : ReportError(st);
    };
  });
}

}  // namespace pelican::cli
