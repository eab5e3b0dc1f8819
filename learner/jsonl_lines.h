// Walks a JSONL file object by object, with 1-based line numbers for error messages. Used by the
// readers of demonstrations (task_data.cc) and preference pairs (reward_model_trainer.cc).
#ifndef PELICAN_LEARNER_JSONL_LINES_H_
#define PELICAN_LEARNER_JSONL_LINES_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace pelican {

// Calls `fn(object, line)` for every non-blank line of `path`, in order, and stops at its first
// error. The file's read error as it is; INVALID_ARGUMENT "<path>:<line>: not a JSON object" for a
// line that is not one. `fn` names the line in its own errors with JsonlError.
absl::Status ForEachJsonlObject(const std::string& path,
                                const std::function<absl::Status(const nlohmann::json&, int)>& fn);

// INVALID_ARGUMENT "<path>:<line>: <why>".
absl::Status JsonlError(const std::string& path, int line, const std::string& why);

}  // namespace pelican

#endif  // PELICAN_LEARNER_JSONL_LINES_H_
