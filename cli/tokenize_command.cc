// `pelican tokenize --tokenizer PATH [--json] [--decode] [--special] [--skip-special]`: encodes
// each stdin line to one line of space-separated ids, or with --decode turns lines of ids back
// into text. --json makes each text line a JSON string (so text can hold newlines). A bad line
// stops the run with its line number: exit 1; a tokenizer that does not load: exit 2.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/app.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican::cli {
namespace {

struct TokenizeArgs {
  std::string tokenizer_path;
  bool json = false;
  bool decode = false;
  bool special = false;       // encode: apply the post-processor's BOS/EOS
  bool skip_special = false;  // decode: drop special tokens
};

// Parses "12 7 99" into ids; InvalidArgument naming the bad field.
absl::StatusOr<std::vector<int32_t>> ParseIds(absl::string_view line) {
  std::vector<int32_t> ids;
  for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipWhitespace())) {
    int32_t id;
    if (!absl::SimpleAtoi(field, &id)) {
      return absl::InvalidArgumentError(absl::StrCat("'", field, "' is not an integer id"));
    }
    ids.push_back(id);
  }
  return ids;
}

// Handles one input line; writes one output line.
absl::Status ProcessLine(const Tokenizer& tokenizer, const TokenizeArgs& args,
                         const std::string& line, std::string* out) {
  if (args.decode) {
    auto ids = ParseIds(line);
    if (!ids.ok()) return ids.status();
    auto text = tokenizer.Decode(*ids, args.skip_special);
    if (!text.ok()) return text.status();
    *out = args.json ? nlohmann::json(*text).dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace)
                     : *text;
    return absl::OkStatus();
  }
  std::string text = line;
  if (args.json) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_string()) {
      return absl::InvalidArgumentError("not a JSON string (--json expects one per line)");
    }
    text = j.get<std::string>();
  }
  const std::vector<int32_t> ids =
      args.special ? tokenizer.EncodeWithSpecial(text) : tokenizer.Encode(text);
  *out = absl::StrJoin(ids, " ");
  return absl::OkStatus();
}

int RunTokenize(const TokenizeArgs& args) {
  auto tokenizer = Tokenizer::FromFile(args.tokenizer_path);
  if (!tokenizer.ok()) {
    std::cerr << "pelican tokenize: " << tokenizer.status().message() << "\n";
    return 2;
  }
  std::ios::sync_with_stdio(false);
  std::string line, out;
  for (int64_t number = 1; std::getline(std::cin, line); ++number) {
    if (absl::Status s = ProcessLine(**tokenizer, args, line, &out); !s.ok()) {
      std::cout.flush();
      std::cerr << "pelican tokenize: stdin line " << number << ": " << s.message() << "\n";
      return 1;
    }
    out += '\n';
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
  }
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

}  // namespace

void AddTokenizeCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand(
      "tokenize", "Encode stdin lines with a tokenizer.json, one line of ids per line");
  auto args = std::make_shared<TokenizeArgs>();
  cmd->add_option("--tokenizer", args->tokenizer_path, "HF tokenizer.json (byte-level BPE)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--json", args->json,
                "Text lines are JSON strings (input when encoding, output when decoding)");
  cmd->add_flag("--decode", args->decode, "Read lines of space-separated ids, print their text");
  cmd->add_flag("--special", args->special,
                "Encode: add the post-processor's special tokens (BOS/EOS), if any");
  cmd->add_flag("--skip-special", args->skip_special, "Decode: leave out special tokens");
  cmd->callback([run, args] { *run = [args] { return RunTokenize(*args); }; });
}

}  // namespace pelican::cli
