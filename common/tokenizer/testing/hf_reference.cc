#include "common/tokenizer/testing/hf_reference.h"

#include <sys/stat.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace pelican::tokenizer::testing {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

constexpr char kInstallHint[] =
    "run `bash scripts/install-deps.sh` in the source tree (it makes the Python environment with "
    "Hugging Face tokenizers, linked from .venv)";

}  // namespace

std::string SourceDir() {
  const char* dir = std::getenv("PELICAN_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : ".";
}

std::string ReferencePython() {
  const char* python = std::getenv("PELICAN_PYTHON");
  return python != nullptr && *python != '\0' ? python : SourceDir() + "/.venv/bin/python";
}

std::string VocabPath(const std::string& name) {
  return SourceDir() + "/../shared/vocab/" + name + "/tokenizer.json";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

absl::Status CheckReferenceAvailable() {
  for (const std::string& need : {VocabPath("qwen3"), VocabPath("llama3")}) {
    if (!Exists(need)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "real vocabulary ", need, " not found (the shared/ folder beside the checkout)"));
    }
  }
  const std::string check = absl::StrCat(ShellQuote(ReferencePython()),
                                         " -c 'import tokenizers' > /dev/null 2>&1");
  if (std::system(check.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "HF tokenizers reference missing: `", ReferencePython(), " -c 'import tokenizers'` failed; ",
        kInstallHint));
  }
  return absl::OkStatus();
}

absl::StatusOr<HfRun> RunHfReference(const std::string& tokenizer_json_path,
                                     const std::vector<HfInput>& inputs,
                                     const std::string& work_dir) {
  RETURN_IF_ERROR(CheckReferenceAvailable());
  std::string input;
  for (const HfInput& in : inputs) {
    nlohmann::json line;
    if (in.text.has_value()) {
      line["text"] = *in.text;
    } else {
      line["ids"] = in.ids;
    }
    input += line.dump() + "\n";
  }
  const std::string input_path = work_dir + "/hf_input.jsonl";
  const std::string output_path = work_dir + "/hf_output.jsonl";
  RETURN_IF_ERROR(WriteFileAtomic(input_path, input));
  const std::string command =
      absl::StrCat(ShellQuote(ReferencePython()), " ",
                   ShellQuote(SourceDir() + "/common/tokenizer/testdata/hf_encode.py"), " ",
                   ShellQuote(tokenizer_json_path), " ",
                   ShellQuote(input_path), " ", ShellQuote(output_path));
  if (int rc = std::system(command.c_str()); rc != 0) {
    return absl::InternalError(absl::StrCat("`", command, "` failed with status ", rc));
  }
  ASSIGN_OR_RETURN(const std::string output, ReadFile(output_path));
  HfRun run;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    const nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded()) return absl::InternalError("hf_encode.py wrote a line that is not JSON");
    if (header) {
      run.vocab_size = j.value("vocab_size", int64_t{0});
      header = false;
      continue;
    }
    HfOutput out;
    if (j.contains("ids")) out.ids = j["ids"].get<std::vector<int32_t>>();
    if (j.contains("ids_special")) out.ids_special = j["ids_special"].get<std::vector<int32_t>>();
    out.decoded = j.value("decoded", "");
    out.decoded_skip = j.value("decoded_skip", "");
    run.outputs.push_back(std::move(out));
  }
  if (run.outputs.size() != inputs.size()) {
    return absl::InternalError(absl::StrCat("hf_encode.py answered ", run.outputs.size(),
                                            " lines for ", inputs.size(), " inputs"));
  }
  return run;
}

std::string Escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> CompareWithHf(const Tokenizer& tokenizer,
                                                       const std::string& tokenizer_json_path,
                                                       const std::vector<std::string>& texts,
                                                       const std::string& work_dir) {
  std::vector<HfInput> inputs;
  inputs.reserve(texts.size());
  for (const std::string& t : texts) inputs.push_back({t, {}});
  ASSIGN_OR_RETURN(const HfRun run, RunHfReference(tokenizer_json_path, inputs, work_dir));
  std::vector<std::string> mismatches;
  if (run.vocab_size != tokenizer.vocab_size()) {
    mismatches.push_back(
        absl::StrCat("vocab_size: ours ", tokenizer.vocab_size(), ", HF ", run.vocab_size));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    const HfOutput& want = run.outputs[i];
    const std::vector<int32_t> ids = tokenizer.Encode(texts[i]);
    const std::vector<int32_t> ids_special = tokenizer.EncodeWithSpecial(texts[i]);
    const std::string where = absl::StrCat("text ", i, " \"", Escaped(texts[i]), "\": ");
    if (ids != want.ids || ids_special != want.ids_special) {
      mismatches.push_back(absl::StrCat(
          where, "\n  ours: ", absl::StrJoin(ids, " "), "\n  HF:   ", absl::StrJoin(want.ids, " "),
          "\n  ours with special: ", absl::StrJoin(ids_special, " "),
          "\n  HF with special:   ", absl::StrJoin(want.ids_special, " ")));
      continue;
    }
    auto decoded = tokenizer.Decode(ids);
    auto decoded_skip = tokenizer.Decode(ids, /*skip_special_tokens=*/true);
    if (!decoded.ok() || !decoded_skip.ok()) {
      mismatches.push_back(absl::StrCat(where, "decode failed: ", decoded.status().ToString(),
                                        decoded_skip.status().ToString()));
    } else if (*decoded != want.decoded || *decoded_skip != want.decoded_skip) {
      mismatches.push_back(absl::StrCat(where, "\n  ours decode: \"", Escaped(*decoded), "\" / \"",
                                        Escaped(*decoded_skip), "\"\n  HF decode:   \"",
                                        Escaped(want.decoded), "\" / \"",
                                        Escaped(want.decoded_skip), "\""));
    }
  }
  return mismatches;
}

}  // namespace pelican::tokenizer::testing
