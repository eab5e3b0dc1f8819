// Status plumbing for Abseil 20220623, which lacks absl/log and the status macros. The names
// RETURN_IF_ERROR / ASSIGN_OR_RETURN match the ones Abseil later ships, so this header can be
// replaced by Abseil's when Debian's Abseil has them. CHECK is spelled PELICAN_CHECK because
// LibTorch's c10 already defines CHECK.
#ifndef PELICAN_COMMON_STATUS_MACROS_H_
#define PELICAN_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status pelican_status_ = (expr);           \
    if (!pelican_status_.ok()) return pelican_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` evaluates Foo() (an absl::StatusOr<T>), returns its status
// when it is not OK, and otherwise moves the value into `x`.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  PELICAN_ASSIGN_OR_RETURN_IMPL_(PELICAN_STATUS_CONCAT_(pelican_sor_, __LINE__), lhs, rexpr)

#define PELICAN_ASSIGN_OR_RETURN_IMPL_(sor, lhs, rexpr) \
  auto sor = (rexpr);                                   \
  if (!sor.ok()) return std::move(sor).status();        \
  lhs = std::move(sor).value()
#define PELICAN_STATUS_CONCAT_INNER_(a, b) a##b
#define PELICAN_STATUS_CONCAT_(a, b) PELICAN_STATUS_CONCAT_INNER_(a, b)

// Aborts with file:line, the failed condition and whatever is streamed after it:
//   PELICAN_CHECK(n > 0) << "batch is empty; did the lease return nothing?";
#define PELICAN_CHECK(cond)                                                        \
  (cond) ? (void)0                                                                 \
         : ::pelican::internal_log::Voidify() &                                    \
               ::pelican::internal_log::LogMessage(__FILE__, __LINE__,             \
                                                   ::pelican::LogSeverity::kFatal) \
                       .stream()                                                   \
                   << "Check failed: " #cond " "

// Aborts when `expr` (an absl::Status) is not OK, printing the status.
#define PELICAN_CHECK_OK(expr)                                                                   \
  do {                                                                                           \
    const ::absl::Status pelican_check_status_ = (expr);                                         \
    PELICAN_CHECK(pelican_check_status_.ok()) << #expr << " returned " << pelican_check_status_; \
  } while (0)

namespace pelican {

// Returns `status` with `context + ": "` put in front of its message (same code). OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace pelican

#endif  // PELICAN_COMMON_STATUS_MACROS_H_
