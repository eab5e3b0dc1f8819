#include "learner/prompt_source.h"

namespace pelican {

v1::PromptRecord ToRecord(const Prompt& prompt) {
  v1::PromptRecord record;
  record.set_text(prompt.text);
  record.mutable_token_ids()->Add(prompt.token_ids.begin(), prompt.token_ids.end());
  for (const auto& [key, value] : prompt.metadata) (*record.mutable_metadata())[key] = value;
  return record;
}

Prompt FromRecord(const v1::PromptRecord& record) {
  Prompt prompt;
  prompt.text = record.text();
  prompt.token_ids.assign(record.token_ids().begin(), record.token_ids().end());
  prompt.metadata.insert(record.metadata().begin(), record.metadata().end());
  return prompt;
}

}  // namespace pelican
