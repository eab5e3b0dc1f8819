#include "reward_service/regex_scorer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace pelican::reward {
namespace {

std::string Pcre2Message(int error_code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  if (n < 0) return absl::StrCat("PCRE2 error ", error_code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

// Frees the match data of one ScoreBatch or Matches call.
struct MatchDataDeleter {
  void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};
using MatchData = std::unique_ptr<pcre2_match_data, MatchDataDeleter>;

absl::StatusOr<bool> Match(const pcre2_code* code, pcre2_match_context* context,
                           pcre2_match_data* data, absl::string_view text) {
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                             /*startoffset=*/0, /*options=*/0, data, context);
  if (rc >= 0) return true;  // 0 also means a match (with an ovector too small for all groups)
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT) {
    return absl::ResourceExhaustedError(absl::StrCat("regex match gave up: ", Pcre2Message(rc)));
  }
  return absl::InternalError(absl::StrCat("regex match failed: ", Pcre2Message(rc)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RegexScorer>> RegexScorer::Create(std::string name,
                                                                 const std::string& pattern,
                                                                 uint32_t match_limit) {
  if (pattern.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scorer '", name, "': regex.pattern is empty (it would match everything)"));
  }
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset,
                                   /*ccontext=*/nullptr);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("scorer '", name, "': invalid regex \"", pattern,
                                                   "\" at offset ", error_offset, ": ",
                                                   Pcre2Message(error_code)));
  }
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  if (context == nullptr) {
    pcre2_code_free(code);
    return absl::ResourceExhaustedError("out of memory creating a PCRE2 match context");
  }
  pcre2_set_match_limit(context, match_limit);
  return std::unique_ptr<RegexScorer>(new RegexScorer(std::move(name), pattern, code, context));
}

RegexScorer::~RegexScorer() {
  pcre2_match_context_free(match_context_);
  pcre2_code_free(code_);
}

absl::StatusOr<bool> RegexScorer::Matches(absl::string_view text) const {
  MatchData data(pcre2_match_data_create_from_pattern(code_, nullptr));
  if (data == nullptr) return absl::ResourceExhaustedError("out of memory for PCRE2 match data");
  return Match(code_, match_context_, data.get(), text);
}

std::vector<absl::StatusOr<ScoreValue>> RegexScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  std::vector<absl::StatusOr<ScoreValue>> out;
  out.reserve(batch.size());
  MatchData data(pcre2_match_data_create_from_pattern(code_, nullptr));
  for (const ScoreInput& in : batch) {
    if (data == nullptr) {
      out.push_back(absl::ResourceExhaustedError("out of memory for PCRE2 match data"));
      continue;
    }
    absl::StatusOr<const std::string*> text = CompletionText(in);
    if (!text.ok()) {
      out.push_back(text.status());
      continue;
    }
    absl::StatusOr<bool> matched = Match(code_, match_context_, data.get(), **text);
    if (!matched.ok()) {
      out.push_back(matched.status());
    } else {
      out.push_back(*matched ? 1.0 : 0.0);
    }
  }
  return out;
}

}  // namespace pelican::reward
