#include "learner/jsonl_lines.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace pelican {

absl::Status JsonlError(const std::string& path, int line, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", why));
}

absl::Status ForEachJsonlObject(const std::string& path,
                                const std::function<absl::Status(const nlohmann::json&, int)>& fn) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    const nlohmann::json object = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (object.is_discarded() || !object.is_object()) {
      return JsonlError(path, line_no, "not a JSON object");
    }
    RETURN_IF_ERROR(fn(object, line_no));
  }
  return absl::OkStatus();
}

}  // namespace pelican
