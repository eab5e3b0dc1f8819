#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

namespace pelican {
namespace {

LogSeverity SeverityFromEnv() {
  const char* env = std::getenv("PELICAN_LOG_LEVEL");
  if (env == nullptr) return LogSeverity::kInfo;
  const std::string v(env);
  if (v == "debug") return LogSeverity::kDebug;
  if (v == "warning") return LogSeverity::kWarning;
  if (v == "error") return LogSeverity::kError;
  return LogSeverity::kInfo;
}

std::atomic<int> g_min_severity{static_cast<int>(SeverityFromEnv())};

std::mutex g_role_mu;
std::string& Role() {
  static std::string* role = new std::string("pelican");
  return *role;
}

const char* Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash == nullptr ? path : slash + 1;
}

}  // namespace

void SetLogRole(absl::string_view role) {
  std::lock_guard<std::mutex> lock(g_role_mu);
  Role() = std::string(role);
}

void SetMinLogSeverity(LogSeverity severity) { g_min_severity.store(static_cast<int>(severity)); }

bool LogEnabled(LogSeverity severity) {
  return static_cast<int>(severity) >= g_min_severity.load(std::memory_order_relaxed);
}

namespace internal_log {

LogMessage::LogMessage(const char* file, int line, LogSeverity severity) : severity_(severity) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E', 'F'};
  std::string role;
  {
    std::lock_guard<std::mutex> lock(g_role_mu);
    role = Role();
  }
  char millis_buf[8];
  std::snprintf(millis_buf, sizeof(millis_buf), ".%03dZ", millis);
  stream_ << stamp << millis_buf << ' ' << kLetters[static_cast<int>(severity)] << ' ' << role
          << ' ' << Basename(file) << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  const std::string text = stream_.str();
  // One write per line keeps lines from different threads and processes whole.
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
  if (severity_ == LogSeverity::kFatal) std::abort();
}

}  // namespace internal_log
}  // namespace pelican
