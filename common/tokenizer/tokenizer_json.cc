// tokenizer.json -> TokenizerSpec. Field names and defaults follow HF tokenizers' serde formats.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tokenizer/tokenizer_spec.h"

namespace pelican::tokenizer {
namespace {

using Json = nlohmann::json;

absl::Status TypeError(const std::string& path, const char* want) {
  return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", path, " must be ", want));
}

absl::Status Unsupported(const std::string& path, const std::string& what) {
  return absl::UnimplementedError(
      absl::StrCat("tokenizer.json: ", path, ": ", what,
                   " is not supported (pelican implements "
                   "byte-level BPE: NFC/NFD/NFKC/NFKD normalizers, Split and ByteLevel "
                   "pre-tokenizers, the BPE model, ByteLevel/TemplateProcessing post-processors, "
                   "the ByteLevel decoder)"));
}

// A member that may be absent or null; `*out` keeps its default then.
absl::Status OptBool(const Json& obj, const char* key, const std::string& path, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return TypeError(path + "." + key, "a boolean");
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::StatusOr<std::string> RequiredString(const Json& obj, const char* key,
                                           const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return TypeError(path + "." + key, "a string");
  return it->get<std::string>();
}

absl::StatusOr<std::string> TypeOf(const Json& obj, const std::string& path) {
  if (!obj.is_object()) return TypeError(path, "an object");
  return RequiredString(obj, "type", path);
}

absl::Status ParseNormalizer(const Json& j, const std::string& path,
                             std::vector<NormalizationForm>* out) {
  if (j.is_null()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::string type, TypeOf(j, path));
  if (type == "NFC") {
    out->push_back(NormalizationForm::kNFC);
  } else if (type == "NFD") {
    out->push_back(NormalizationForm::kNFD);
  } else if (type == "NFKC") {
    out->push_back(NormalizationForm::kNFKC);
  } else if (type == "NFKD") {
    out->push_back(NormalizationForm::kNFKD);
  } else if (type == "Sequence") {
    auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array()) return TypeError(path + ".normalizers", "an array");
    for (size_t i = 0; i < it->size(); ++i) {
      RETURN_IF_ERROR(ParseNormalizer((*it)[i], absl::StrCat(path, ".normalizers[", i, "]"), out));
    }
  } else {
    return Unsupported(path, "normalizer type '" + type + "'");
  }
  return absl::OkStatus();
}

absl::StatusOr<SplitBehavior> ParseBehavior(const std::string& s, const std::string& path) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer.json: ", path, ": unknown behavior '", s, "'"));
}

absl::Status ParsePreTokenizer(const Json& j, const std::string& path,
                               std::vector<PreTokenizerStep>* out) {
  if (j.is_null()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::string type, TypeOf(j, path));
  if (type == "Sequence") {
    auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array()) return TypeError(path + ".pretokenizers", "an array");
    for (size_t i = 0; i < it->size(); ++i) {
      RETURN_IF_ERROR(
          ParsePreTokenizer((*it)[i], absl::StrCat(path, ".pretokenizers[", i, "]"), out));
    }
  } else if (type == "Split") {
    SplitStep step;
    auto pattern = j.find("pattern");
    if (pattern == j.end() || !pattern->is_object()) {
      return TypeError(path + ".pattern", "{\"Regex\": ...} or {\"String\": ...}");
    }
    if (pattern->contains("Regex") && (*pattern)["Regex"].is_string()) {
      step.pattern = (*pattern)["Regex"].get<std::string>();
    } else if (pattern->contains("String") && (*pattern)["String"].is_string()) {
      step.pattern = (*pattern)["String"].get<std::string>();
      step.is_regex = false;
    } else {
      return TypeError(path + ".pattern", "{\"Regex\": ...} or {\"String\": ...}");
    }
    ASSIGN_OR_RETURN(const std::string behavior, RequiredString(j, "behavior", path));
    ASSIGN_OR_RETURN(step.behavior, ParseBehavior(behavior, path + ".behavior"));
    RETURN_IF_ERROR(OptBool(j, "invert", path, &step.invert));
    out->push_back(std::move(step));
  } else if (type == "ByteLevel") {
    ByteLevelStep step;
    step.add_prefix_space = true;  // HF's defaults
    step.use_regex = true;
    RETURN_IF_ERROR(OptBool(j, "add_prefix_space", path, &step.add_prefix_space));
    RETURN_IF_ERROR(OptBool(j, "use_regex", path, &step.use_regex));
    out->push_back(step);
  } else {
    return Unsupported(path, "pre_tokenizer type '" + type + "'");
  }
  return absl::OkStatus();
}

absl::Status ParseModel(const Json& j, BpeConfig* out) {
  const std::string path = "model";
  if (!j.is_object()) return TypeError(path, "an object");
  if (j.contains("type")) {
    ASSIGN_OR_RETURN(const std::string type, RequiredString(j, "type", path));
    if (type != "BPE") return Unsupported(path, "model type '" + type + "'");
  }
  if (j.contains("dropout") && !j["dropout"].is_null() &&
      !(j["dropout"].is_number() && j["dropout"].get<double>() == 0.0)) {
    return Unsupported(path + ".dropout", "BPE dropout");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (j.contains(key) && !j[key].is_null() &&
        !(j[key].is_string() && j[key].get<std::string>().empty())) {
      return Unsupported(path + "." + key, "a non-empty value");
    }
  }
  bool byte_fallback = false;
  RETURN_IF_ERROR(OptBool(j, "byte_fallback", path, &byte_fallback));
  if (byte_fallback) return Unsupported(path + ".byte_fallback", "byte_fallback = true");
  RETURN_IF_ERROR(OptBool(j, "ignore_merges", path, &out->ignore_merges));
  RETURN_IF_ERROR(OptBool(j, "fuse_unk", path, &out->fuse_unk));
  if (j.contains("unk_token") && !j["unk_token"].is_null()) {
    ASSIGN_OR_RETURN(out->unk_token, RequiredString(j, "unk_token", path));
  }
  auto vocab = j.find("vocab");
  if (vocab == j.end() || !vocab->is_object()) return TypeError(path + ".vocab", "an object");
  out->vocab.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer()) {
      return TypeError(absl::StrCat(path, ".vocab[\"", it.key(), "\"]"), "an integer");
    }
    out->vocab.emplace_back(it.key(), it.value().get<int32_t>());
  }
  auto merges = j.find("merges");
  if (merges == j.end() || merges->is_null()) return absl::OkStatus();
  if (!merges->is_array()) return TypeError(path + ".merges", "an array");
  out->merges.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        return TypeError(absl::StrCat(path, ".merges[", i, "]"), "\"left right\"");
      }
      out->merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out->merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return TypeError(absl::StrCat(path, ".merges[", i, "]"), "\"left right\" or [left, right]");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseAddedTokens(const Json& j, std::vector<AddedToken>* out) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_array()) return TypeError("added_tokens", "an array");
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string path = absl::StrCat("added_tokens[", i, "]");
    const Json& t = j[i];
    if (!t.is_object()) return TypeError(path, "an object");
    AddedToken token;
    if (!t.contains("id") || !t["id"].is_number_integer())
      return TypeError(path + ".id", "an integer");
    token.id = t["id"].get<int32_t>();
    ASSIGN_OR_RETURN(token.content, RequiredString(t, "content", path));
    RETURN_IF_ERROR(OptBool(t, "single_word", path, &token.single_word));
    RETURN_IF_ERROR(OptBool(t, "lstrip", path, &token.lstrip));
    RETURN_IF_ERROR(OptBool(t, "rstrip", path, &token.rstrip));
    RETURN_IF_ERROR(OptBool(t, "special", path, &token.special));
    token.normalized = !token.special;  // HF's default when the field is missing
    RETURN_IF_ERROR(OptBool(t, "normalized", path, &token.normalized));
    out->push_back(std::move(token));
  }
  return absl::OkStatus();
}

// Applies one post-processor to `current` (the template so far).
absl::Status ParsePostProcessor(const Json& j, const std::string& path,
                                std::vector<TemplatePiece>* current) {
  if (j.is_null()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::string type, TypeOf(j, path));
  if (type == "ByteLevel") return absl::OkStatus();  // only trims offsets
  if (type == "Sequence") {
    auto it = j.find("processors");
    if (it == j.end() || !it->is_array()) return TypeError(path + ".processors", "an array");
    for (size_t i = 0; i < it->size(); ++i) {
      RETURN_IF_ERROR(
          ParsePostProcessor((*it)[i], absl::StrCat(path, ".processors[", i, "]"), current));
    }
    return absl::OkStatus();
  }
  if (type != "TemplateProcessing") return Unsupported(path, "post_processor type '" + type + "'");
  auto single = j.find("single");
  if (single == j.end() || !single->is_array()) return TypeError(path + ".single", "an array");
  auto specials = j.find("special_tokens");
  std::vector<TemplatePiece> next;
  for (size_t i = 0; i < single->size(); ++i) {
    const std::string piece_path = absl::StrCat(path, ".single[", i, "]");
    const Json& piece = (*single)[i];
    if (piece.is_object() && piece.contains("Sequence")) {
      ASSIGN_OR_RETURN(const std::string id, RequiredString(piece["Sequence"], "id", piece_path));
      if (id != "A") {
        return absl::InvalidArgumentError(absl::StrCat(
            "tokenizer.json: ", piece_path, ": a single-sequence template can only use A"));
      }
      next.insert(next.end(), current->begin(), current->end());
    } else if (piece.is_object() && piece.contains("SpecialToken")) {
      ASSIGN_OR_RETURN(const std::string id,
                       RequiredString(piece["SpecialToken"], "id", piece_path));
      if (specials == j.end() || !specials->is_object() || !specials->contains(id) ||
          !(*specials)[id].contains("ids") || !(*specials)[id]["ids"].is_array()) {
        return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", piece_path, ": '", id,
                                                       "' is missing from special_tokens"));
      }
      TemplatePiece fixed;
      for (const Json& v : (*specials)[id]["ids"]) {
        if (!v.is_number_integer()) return TypeError(path + ".special_tokens ids", "integers");
        fixed.ids.push_back(v.get<int32_t>());
      }
      next.push_back(std::move(fixed));
    } else {
      return TypeError(piece_path, "{\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  *current = std::move(next);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TokenizerSpec> ParseTokenizerJson(absl::string_view json) {
  const Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("tokenizer.json: not valid JSON");
  if (!j.is_object()) return TypeError("the top level", "an object");
  TokenizerSpec spec;
  for (const char* key : {"truncation", "padding"}) {
    if (j.contains(key) && !j[key].is_null()) {
      PELICAN_LOG(WARNING) << "tokenizer.json sets " << key
                           << "; pelican's Encode neither truncates nor pads (callers do)";
    }
  }
  if (!j.contains("model")) return TypeError("model", "present");
  RETURN_IF_ERROR(ParseNormalizer(j.value("normalizer", Json()), "normalizer", &spec.normalizer));
  RETURN_IF_ERROR(
      ParsePreTokenizer(j.value("pre_tokenizer", Json()), "pre_tokenizer", &spec.pre_tokenizer));
  RETURN_IF_ERROR(ParseModel(j["model"], &spec.model));
  RETURN_IF_ERROR(ParseAddedTokens(j.value("added_tokens", Json()), &spec.added_tokens));
  std::vector<TemplatePiece> post = {TemplatePiece{/*is_sequence=*/true, {}}};
  RETURN_IF_ERROR(ParsePostProcessor(j.value("post_processor", Json()), "post_processor", &post));
  if (!(post.size() == 1 && post[0].is_sequence)) spec.post_template = std::move(post);
  const Json decoder = j.value("decoder", Json());
  if (!decoder.is_null()) {
    ASSIGN_OR_RETURN(const std::string type, TypeOf(decoder, "decoder"));
    if (type != "ByteLevel") return Unsupported("decoder", "decoder type '" + type + "'");
    spec.decoder = DecoderKind::kByteLevel;
  }
  return spec;
}

}  // namespace pelican::tokenizer
