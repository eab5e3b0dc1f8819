#include "learner/jsonl_prompt_source.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/status_macros.h"

namespace pelican {
namespace {

using Json = nlohmann::json;

// SplitMix64 finaliser: spreads (seed, epoch) over the whole 64-bit seed space of the generator.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in [0, bound) by rejection; std::uniform_int_distribution is not the same everywhere.
uint64_t Below(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % bound;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % bound;
}

// The part of nlohmann's message after its "[json.exception...] parse error at line 1, " prefix.
std::string JsonErrorDetail(const std::string& what) {
  const size_t at = what.find("column ");
  return at == std::string::npos ? what : what.substr(at);
}

}  // namespace

absl::StatusOr<std::unique_ptr<JsonlPromptSource>> JsonlPromptSource::Open(
    const std::string& path, const JsonlPromptSourceOptions& options, PromptEncoder encoder) {
  PELICAN_CHECK(encoder != nullptr) << "JsonlPromptSource needs a tokenizer";
  ASSIGN_OR_RETURN(std::string contents, ReadFile(path));
  std::vector<Entry> entries;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_no;
    if (line_no == 1) line = absl::StripPrefix(line, "\xEF\xBB\xBF");  // UTF-8 byte-order mark
    line = absl::StripSuffix(line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(path, ":", line_no, ": ");

    Json object;
    try {
      object = Json::parse(line.begin(), line.end());
    } catch (const Json::parse_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "invalid JSON at ", JsonErrorDetail(e.what())));
    }
    if (!object.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected a JSON object, got ", object.type_name()));
    }

    Entry entry;
    entry.line = line_no;
    const auto prompt = object.find(options.prompt_key);
    if (prompt == object.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "missing key \"", options.prompt_key, "\""));
    }
    if (!prompt->is_string() || prompt->get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "key \"", options.prompt_key, "\" must be a non-empty string"));
    }
    entry.text = prompt->get<std::string>();

    const auto reference = object.find(options.reference_key);
    if (reference == object.end() || reference->is_null()) {
      if (options.require_reference) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "missing key \"", options.reference_key, "\""));
      }
    } else if (reference->is_string()) {
      entry.has_reference = true;
      entry.reference = reference->get<std::string>();
    } else if (reference->is_number() || reference->is_boolean()) {
      entry.has_reference = true;
      entry.reference = reference->dump();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, "key \"", options.reference_key,
                                                     "\" must be a string or a number, got ",
                                                     reference->type_name()));
    }
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  if (entries.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": too many prompts"));
  }

  Sha256 hash;
  hash.Update(contents.data(), contents.size());
  for (const std::string* key : {&options.prompt_key, &options.reference_key}) {
    hash.Update("\n", 1);  // separator, so ("ab", "c") and ("a", "bc") differ
    hash.Update(key->data(), key->size());
  }
  return std::unique_ptr<JsonlPromptSource>(new JsonlPromptSource(
      path, options, std::move(encoder), std::move(entries), hash.HexDigest()));
}

JsonlPromptSource::JsonlPromptSource(std::string path, const JsonlPromptSourceOptions& options,
                                     PromptEncoder encoder, std::vector<Entry> entries,
                                     std::string fingerprint)
    : path_(std::move(path)),
      options_(options),
      encoder_(std::move(encoder)),
      entries_(std::move(entries)),
      fingerprint_(std::move(fingerprint)) {
  SetEpoch(0);
}

std::vector<uint32_t> JsonlPromptSource::EpochOrder(uint64_t seed, uint64_t epoch, size_t n) {
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(Mix(seed ^ Mix(epoch)));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[Below(rng, i)]);
  return order;
}

void JsonlPromptSource::SetEpoch(uint64_t epoch) {
  epoch_ = epoch;
  position_ = 0;
  order_ = EpochOrder(options_.seed, epoch, entries_.size());
}

absl::StatusOr<Prompt> JsonlPromptSource::Next() {
  const Entry& entry = entries_[order_[position_]];
  Prompt prompt;
  prompt.text = entry.text;
  prompt.token_ids = encoder_(entry.text);
  if (prompt.token_ids.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ":", entry.line, ": prompt encodes to no tokens"));
  }
  if (entry.has_reference) prompt.metadata[kReferenceKey] = entry.reference;
  if (++position_ == entries_.size()) SetEpoch(epoch_ + 1);
  return prompt;
}

v1::PromptCursor JsonlPromptSource::Cursor() const {
  v1::PromptCursor cursor;
  cursor.set_epoch(epoch_);
  cursor.set_position(position_);
  cursor.set_seed(options_.seed);
  cursor.set_size(entries_.size());
  cursor.set_fingerprint(fingerprint_);
  return cursor;
}

absl::Status JsonlPromptSource::Restore(const v1::PromptCursor& cursor) {
  if (cursor.fingerprint() != fingerprint_ || cursor.size() != entries_.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": the saved prompt cursor belongs to other data (", cursor.size(),
                     " prompts, fingerprint ", cursor.fingerprint().substr(0, 12),
                     "; this file has ", entries_.size(), ", ", fingerprint_.substr(0, 12), ")"));
  }
  if (cursor.seed() != options_.seed) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": the saved prompt cursor has seed ",
                                                      cursor.seed(), ", this run has seed ",
                                                      options_.seed));
  }
  if (cursor.position() >= entries_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": saved cursor position ",
                                                   cursor.position(), " is outside the ",
                                                   entries_.size(), " prompts"));
  }
  SetEpoch(cursor.epoch());
  position_ = cursor.position();
  return absl::OkStatus();
}

}  // namespace pelican
