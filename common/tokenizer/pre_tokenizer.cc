#include "common/tokenizer/pre_tokenizer.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "common/status_macros.h"

namespace pelican::tokenizer {

const char kGpt2SplitPattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

namespace {

struct Span {
  size_t start;
  size_t end;
  bool is_match;
};

// HF's NormalizedString::split: the delimiter behaviour applied to the match/non-match spans that
// cover the text. Returns the spans to keep.
std::vector<Span> ApplyBehavior(std::vector<Span> spans, SplitBehavior behavior) {
  std::vector<Span> out;
  out.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return spans;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) {
        if (!s.is_match) out.push_back(s);
      }
      return out;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      return out;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().start = it->start;
        } else {
          out.push_back(*it);
        }
        previous_match = it->is_match;
      }
      return std::vector<Span>(out.rbegin(), out.rend());
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      return out;
    }
  }
  return spans;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(
    const std::vector<PreTokenizerStep>& steps) {
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  for (size_t i = 0; i < steps.size(); ++i) {
    Step step;
    if (const auto* split = std::get_if<SplitStep>(&steps[i])) {
      if (split->is_regex) {
        ASSIGN_OR_RETURN(step.regex, Regex::Compile(split->pattern));
      } else {
        ASSIGN_OR_RETURN(step.regex, Regex::Literal(split->pattern));
      }
      step.behavior = split->behavior;
      step.invert = split->invert;
    } else {
      const auto& byte_level = std::get<ByteLevelStep>(steps[i]);
      if (i + 1 != steps.size()) {
        return absl::UnimplementedError(
            "pre_tokenizer: ByteLevel must be the last step (a split after the byte mapping would "
            "see byte-level characters)");
      }
      step.byte_level = true;
      step.add_prefix_space = byte_level.add_prefix_space;
      if (byte_level.use_regex) {
        ASSIGN_OR_RETURN(step.regex, Regex::Compile(kGpt2SplitPattern));
      }
    }
    p->steps_.push_back(std::move(step));
  }
  if (p->steps_.empty() || !p->steps_.back().byte_level) {
    return absl::UnimplementedError(
        "pre_tokenizer: only byte-level BPE is supported; the pre-tokenizer must end with "
        "ByteLevel");
  }
  return p;
}

void PreTokenizer::Run(absl::string_view text,
                       absl::FunctionRef<void(absl::string_view)> emit) const {
  RunFrom(0, text, emit);
}

void PreTokenizer::RunFrom(size_t index, absl::string_view text,
                           absl::FunctionRef<void(absl::string_view)> emit) const {
  if (text.empty()) return;
  if (index == steps_.size()) {
    emit(text);
    return;
  }
  const Step& step = steps_[index];
  if (!step.byte_level) {
    RunSplit(step, index + 1, text, emit);
    return;
  }
  std::string prefixed;
  if (step.add_prefix_space && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text.data(), text.size());
    text = prefixed;
  }
  if (step.regex == nullptr) {
    RunFrom(index + 1, text, emit);
  } else {
    RunSplit(step, index + 1, text, emit);
  }
}

void PreTokenizer::RunSplit(const Step& step, size_t next, absl::string_view text,
                            absl::FunctionRef<void(absl::string_view)> emit) const {
  if (step.behavior == SplitBehavior::kIsolated) {
    // Every span is kept, so matches and gaps can go downstream as they are found.
    size_t previous = 0;
    step.regex->ForEachMatch(text, [&](size_t start, size_t end) {
      if (start > previous) RunFrom(next, text.substr(previous, start - previous), emit);
      RunFrom(next, text.substr(start, end - start), emit);
      previous = end;
    });
    if (previous < text.size()) RunFrom(next, text.substr(previous), emit);
    return;
  }
  std::vector<Span> spans;
  size_t previous = 0;
  step.regex->ForEachMatch(text, [&](size_t start, size_t end) {
    if (start > previous) spans.push_back({previous, start, step.invert});
    spans.push_back({start, end, !step.invert});
    previous = end;
  });
  if (previous < text.size()) spans.push_back({previous, text.size(), step.invert});
  for (const Span& s : ApplyBehavior(std::move(spans), step.behavior)) {
    RunFrom(next, text.substr(s.start, s.end - s.start), emit);
  }
}

}  // namespace pelican::tokenizer
