#include "common/tokenizer/tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "common/tokenizer/byte_level.h"
#include "common/tokenizer/utf8.h"

namespace pelican {

using tokenizer::AddedToken;
using tokenizer::AddedTokenMatcher;

Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  auto json = ReadFile(path);
  if (!json.ok()) return json.status();
  auto t = FromJson(*json);
  if (!t.ok()) return Annotate(t.status(), path);
  return t;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(absl::string_view json) {
  ASSIGN_OR_RETURN(tokenizer::TokenizerSpec spec, tokenizer::ParseTokenizerJson(json));
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  RETURN_IF_ERROR(t->Build(std::move(spec)));
  t->fingerprint_ = Sha256Hex(json).substr(0, 16);
  return t;
}

absl::Status Tokenizer::Build(tokenizer::TokenizerSpec spec) {
  if (!spec.normalizer.empty()) {
    ASSIGN_OR_RETURN(normalizer_, tokenizer::Normalizer::Create(spec.normalizer));
  }
  ASSIGN_OR_RETURN(pre_tokenizer_, tokenizer::PreTokenizer::Create(spec.pre_tokenizer));
  ASSIGN_OR_RETURN(model_, tokenizer::BpeModel::Create(spec.model));

  // Ids are given the way HF's AddedVocabulary::add_tokens gives them, one token at a time in
  // file order: a content already known keeps its id; a new one goes after the model vocabulary
  // and the added tokens so far. The file's ids are only checked.
  std::vector<const AddedToken*> specials, classics;  // HF's special_tokens / added_tokens lists
  const int64_t model_size = static_cast<int64_t>(model_->size());
  int64_t max_added = -1;
  for (AddedToken& token : spec.added_tokens) {
    if (token.content.empty()) continue;
    if (auto it = added_by_content_.find(token.content); it != added_by_content_.end()) {
      const AddedToken& existing = added_by_id_[it->second];
      if (existing.single_word == token.single_word && existing.lstrip == token.lstrip &&
          existing.rstrip == token.rstrip && existing.normalized == token.normalized &&
          existing.special == token.special) {
        continue;  // an identical token: HF ignores it
      }
    }
    if (token.special) special_contents_.insert(token.content);
    int64_t id;
    if (auto it = added_by_content_.find(token.content); it != added_by_content_.end()) {
      id = it->second;
    } else if (auto model_id = model_->TokenToId(token.content)) {
      id = *model_id;
    } else if (max_added < 0) {
      id = model_size;
    } else {
      id = (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
    }
    if (id != token.id) {
      PELICAN_LOG(WARNING) << "tokenizer.json: added token '" << token.content << "' has id "
                           << token.id << " in the file but gets id " << id << " (as in HF)";
    }
    token.id = static_cast<int32_t>(id);
    max_added = std::max(max_added, id);
    added_by_content_[token.content] = token.id;
    added_by_id_[token.id] = token;
  }
  // Matching order: special tokens, then the others (HF's refresh_added_tokens).
  for (const AddedToken& token : spec.added_tokens) {
    if (token.content.empty() || !added_by_content_.contains(token.content)) continue;
    (special_contents_.contains(token.content) ? specials : classics).push_back(&token);
  }
  std::vector<AddedTokenMatcher::Entry> raw, normalized;
  absl::flat_hash_set<std::string> seen;
  for (const auto* list : {&specials, &classics}) {
    for (const AddedToken* token : *list) {
      if (!seen.insert(token->content).second) continue;
      const int32_t id = added_by_content_[token->content];
      const AddedToken& current = added_by_id_[id];  // the flags HF looks up by id
      AddedTokenMatcher::Entry entry{token->content, id, current.single_word, current.lstrip,
                                     current.rstrip};
      if (!token->normalized) {
        raw.push_back(std::move(entry));
        continue;
      }
      std::string normalized_content;
      if (normalizer_ != nullptr && normalizer_->Normalize(entry.pattern, &normalized_content)) {
        if (normalized_content != entry.pattern) normalized_text_by_id_[id] = normalized_content;
        entry.pattern = std::move(normalized_content);
      }
      normalized.push_back(std::move(entry));
    }
  }
  raw_added_ = std::make_unique<AddedTokenMatcher>(std::move(raw));
  normalized_added_ = std::make_unique<AddedTokenMatcher>(std::move(normalized));

  post_template_ = std::move(spec.post_template);
  decoder_ = spec.decoder;
  vocab_size_ = std::max<int64_t>(model_->max_id(), max_added) + 1;
  for (const auto& piece : post_template_) {
    for (int32_t id : piece.ids) {
      if (id < 0 || id >= vocab_size_) {
        return absl::InvalidArgumentError(
            absl::StrCat("tokenizer.json: post_processor uses id ", id, " outside the vocabulary"));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (tokenizer::IsValidUtf8(text)) {
    EncodeValid(text, &ids);
  } else {
    EncodeValid(tokenizer::ToValidUtf8(text), &ids);
  }
  return ids;
}

std::vector<int32_t> Tokenizer::EncodeWithSpecial(absl::string_view text) const {
  std::vector<int32_t> ids = Encode(text);
  if (post_template_.empty()) return ids;
  std::vector<int32_t> out;
  for (const auto& piece : post_template_) {
    const std::vector<int32_t>& part = piece.is_sequence ? ids : piece.ids;
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

void Tokenizer::EncodeValid(absl::string_view text, std::vector<int32_t>* ids) const {
  raw_added_->Split(text, [&](absl::string_view segment, int32_t id) {
    if (id >= 0) {
      ids->push_back(id);
      return;
    }
    std::string normalized;
    if (normalizer_ != nullptr && normalizer_->Normalize(segment, &normalized)) {
      segment = normalized;
    }
    normalized_added_->Split(segment, [&](absl::string_view part, int32_t part_id) {
      if (part_id >= 0) {
        ids->push_back(part_id);
      } else {
        EncodeSegment(part, ids);
      }
    });
  });
}

void Tokenizer::EncodeSegment(absl::string_view segment, std::vector<int32_t>* ids) const {
  pre_tokenizer_->Run(segment, [&](absl::string_view piece) { model_->Tokenize(piece, ids); });
}

absl::StatusOr<std::string> Tokenizer::Decode(const std::vector<int32_t>& ids,
                                              bool skip_special_tokens) const {
  std::string bytes;
  bool first = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string* token = nullptr;
    if (auto n = normalized_text_by_id_.find(ids[i]); n != normalized_text_by_id_.end()) {
      token = &n->second;  // HF then does not skip it as special either: "XII" is not "Ⅻ"
    } else if (auto it = added_by_id_.find(ids[i]); it != added_by_id_.end()) {
      token = &it->second.content;
    } else {
      token = model_->IdToToken(ids[i]);
    }
    if (token == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "decode: ids[", i, "] = ", ids[i], " is not in the vocabulary (size ", vocab_size_, ")"));
    }
    if (skip_special_tokens && special_contents_.contains(*token)) continue;
    if (decoder_ == tokenizer::DecoderKind::kByteLevel) {
      // A token with characters outside the byte alphabet (an added token such as "<|im_end|>"
      // is inside it; "é" is not) contributes its own UTF-8, as in HF.
      if (!tokenizer::ByteLevelToBytes(*token, &bytes)) bytes += *token;
    } else {
      if (!first) bytes += ' ';
      bytes += *token;
    }
    first = false;
  }
  return tokenizer::ToValidUtf8(bytes);
}

std::optional<int32_t> Tokenizer::TokenToId(absl::string_view token) const {
  if (auto it = added_by_content_.find(token); it != added_by_content_.end()) return it->second;
  return model_->TokenToId(token);
}

std::optional<std::string> Tokenizer::IdToToken(int32_t id) const {
  if (auto n = normalized_text_by_id_.find(id); n != normalized_text_by_id_.end()) return n->second;
  if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return it->second.content;
  if (const std::string* token = model_->IdToToken(id)) return *token;
  return std::nullopt;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() && special_contents_.contains(it->second.content);
}

}  // namespace pelican
