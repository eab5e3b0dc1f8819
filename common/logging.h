// Levelled, timestamped logging to stderr, one line per message:
//   2026-11-23T19:55:01.123Z I learner trainer.cc:42] step 10 loss 0.31
// Thread-safe: each message is written with a single write. The minimum level comes from
// PELICAN_LOG_LEVEL (debug, info, warning, error) or SetMinLogSeverity.
#ifndef PELICAN_COMMON_LOGGING_H_
#define PELICAN_COMMON_LOGGING_H_

#include <sstream>

#include "absl/strings/string_view.h"

namespace pelican {

enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// The role name printed in every line ("learner", "actor-3"); set once at start.
void SetLogRole(absl::string_view role);
void SetMinLogSeverity(LogSeverity severity);
bool LogEnabled(LogSeverity severity);

// Spellings used by PELICAN_LOG(INFO) and friends.
namespace log_severity {
constexpr LogSeverity DEBUG = LogSeverity::kDebug;
constexpr LogSeverity INFO = LogSeverity::kInfo;
constexpr LogSeverity WARNING = LogSeverity::kWarning;
constexpr LogSeverity ERROR = LogSeverity::kError;
constexpr LogSeverity FATAL = LogSeverity::kFatal;
}  // namespace log_severity

namespace internal_log {

// Accumulates one message and writes it when destroyed; aborts after a kFatal message.
class LogMessage {
 public:
  LogMessage(const char* file, int line, LogSeverity severity);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

// Turns the streamed expression into void so it fits the ?: in the macros.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace internal_log
}  // namespace pelican

// PELICAN_LOG(INFO) << "loaded " << n << " prompts";   (DEBUG, INFO, WARNING, ERROR, FATAL)
#define PELICAN_LOG(severity)                                                      \
  !::pelican::LogEnabled(::pelican::log_severity::severity)                        \
      ? (void)0                                                                    \
      : ::pelican::internal_log::Voidify() &                                       \
            ::pelican::internal_log::LogMessage(__FILE__, __LINE__,                \
                                                ::pelican::log_severity::severity) \
                .stream()

#endif  // PELICAN_COMMON_LOGGING_H_
