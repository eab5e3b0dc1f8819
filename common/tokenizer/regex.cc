#include "common/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace pelican::tokenizer {
namespace {

// What Oniguruma's Unicode classes contain, spelled as PCRE2 class items (checked against HF
// tokenizers by tokenizer_hf_test.cc's regex variants).
constexpr char kSpaceItems[] = "\\p{White_Space}";
constexpr char kNotSpaceItems[] = "\\P{White_Space}";
constexpr char kWordItems[] = "\\p{Alphabetic}\\p{M}\\p{N}\\p{Pc}";
constexpr char kHexItems[] = "0-9a-fA-F";

// Per-thread PCRE2 scratch: match data (only the whole-match offsets are read), a match context
// with a JIT stack that long inputs cannot exhaust in practice, and a generous heap limit for the
// interpreter fallback.
struct Scratch {
  pcre2_match_data* match_data;
  pcre2_match_context* context;
  pcre2_jit_stack* jit_stack;
  Scratch() {
    match_data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (jit_stack != nullptr) pcre2_jit_stack_assign(context, nullptr, jit_stack);
    pcre2_set_heap_limit(context, 4u << 20);  // KiB: 4 GiB
  }
  ~Scratch() {
    pcre2_match_data_free(match_data);
    pcre2_match_context_free(context);
    if (jit_stack != nullptr) pcre2_jit_stack_free(jit_stack);
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

std::string Pcre2Error(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

int Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

absl::StatusOr<std::string> OnigurumaToPcre2(absl::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      switch (e) {
        case 's':
          out += kSpaceItems;
          break;
        case 'S':
          out += kNotSpaceItems;
          break;
        case 'w':
          out += in_class ? std::string(kWordItems) : absl::StrCat("[", kWordItems, "]");
          break;
        case 'h':
          out += in_class ? std::string(kHexItems) : absl::StrCat("[", kHexItems, "]");
          break;
        case 'W':
        case 'H':
          if (in_class) {
            return absl::UnimplementedError(
                absl::StrCat("regex: \\", std::string(1, e), " inside a character class"));
          }
          out += absl::StrCat("[^", e == 'W' ? kWordItems : kHexItems, "]");
          break;
        default:
          out += c;
          out += e;
      }
      continue;
    }
    if (in_class) {
      if (c == '[') {
        // POSIX bracket expressions ([:alpha:]) are the same in both; nested classes are not.
        if (i + 1 < pattern.size() && pattern[i + 1] == ':') {
          const size_t close = pattern.find(":]", i + 2);
          if (close == absl::string_view::npos) {
            return absl::InvalidArgumentError("regex: unterminated [: in a character class");
          }
          out.append(pattern.data() + i, close + 2 - i);
          i = close + 1;
          continue;
        }
        return absl::UnimplementedError("regex: nested character classes");
      }
      if (c == '&' && i + 1 < pattern.size() && pattern[i + 1] == '&') {
        return absl::UnimplementedError("regex: class intersection (&&)");
      }
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    out += c;
  }
  return out;
}

Regex::Regex(void* code, std::string pcre2_pattern, bool jit)
    : code_(code), pcre2_pattern_(std::move(pcre2_pattern)), jit_(jit) {}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

absl::StatusOr<std::unique_ptr<Regex>> Regex::Compile(absl::string_view pattern) {
  auto translated = OnigurumaToPcre2(pattern);
  if (!translated.ok()) return translated.status();
  return CompileRaw(*std::move(translated), /*literal=*/false);
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::Literal(absl::string_view text) {
  return CompileRaw(std::string(text), /*literal=*/true);
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::CompileRaw(std::string pcre2_pattern, bool literal) {
  pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(context, PCRE2_NEWLINE_LF);
  const uint32_t options =
      literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE;
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre2_pattern.data()),
                                   pcre2_pattern.size(), options, &error, &error_offset, context);
  pcre2_compile_context_free(context);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "regex '", pcre2_pattern, "': ", Pcre2Error(error), " at offset ", error_offset));
  }
  const bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::unique_ptr<Regex>(new Regex(code, std::move(pcre2_pattern), jit));
}

void Regex::ForEachMatch(absl::string_view text,
                         absl::FunctionRef<void(size_t, size_t)> on_match) const {
  Scratch& scratch = ThreadScratch();
  const auto* code = static_cast<const pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data);
  size_t pos = 0;
  bool have_previous = false;
  size_t previous_end = 0;
  while (pos <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, scratch.match_data,
                         scratch.context);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && jit_) {
      // JIT stack exhausted or similar: the interpreter has its own (heap) limits.
      rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                       scratch.match_data, scratch.context);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PELICAN_LOG(WARNING) << "regex '" << pcre2_pattern_ << "' failed at byte " << pos << " of "
                           << text.size() << " (" << Pcre2Error(rc)
                           << "); the rest of the text counts as one unmatched piece";
      return;
    }
    const size_t start = ovector[0];
    const size_t end = ovector[1];
    if (start == end && have_previous && previous_end == end) {
      if (pos >= text.size()) return;
      pos += Utf8Length(static_cast<unsigned char>(text[pos]));
      continue;
    }
    on_match(start, end);
    pos = end;
    have_previous = true;
    previous_end = end;
  }
}

}  // namespace pelican::tokenizer
