#include "common/model/tiny_model.h"

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/model/hf_model.h"
#include "common/model/transformer.h"
#include "common/status_macros.h"
#include "common/tokenizer/byte_level_bpe_trainer.h"
#include "common/tokenizer/tokenizer.h"

namespace pelican {

absl::StatusOr<ModelConfig> TinyModelConfig(const v1::TinyModelShape& shape, int64_t vocab_size,
                                            const TinyModelOptions& options) {
  auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("tiny model shape: ", what));
  };
  if (vocab_size < 1) return bad("vocab_size must be positive");
  if (shape.hidden_size() == 0 || shape.num_layers() == 0 || shape.num_heads() == 0 ||
      shape.num_kv_heads() == 0 || shape.intermediate_size() == 0 ||
      shape.max_position_embeddings() == 0) {
    return bad("every size must be positive");
  }
  if (shape.hidden_size() % shape.num_heads() != 0) return bad("num_heads must divide hidden_size");
  if (shape.num_heads() % shape.num_kv_heads() != 0) {
    return bad("num_kv_heads must divide num_heads");
  }
  if ((shape.hidden_size() / shape.num_heads()) % 2 != 0) return bad("head_dim must be even");
  if (options.num_labels < 1) return bad("num_labels must be positive");
  ModelConfig c;
  c.model_type = options.model_type;
  c.head = options.head;
  c.architectures = {ArchitectureName(c.model_type, c.head)};
  c.vocab_size = vocab_size;
  c.hidden_size = shape.hidden_size();
  c.intermediate_size = shape.intermediate_size();
  c.num_hidden_layers = shape.num_layers();
  c.num_attention_heads = shape.num_heads();
  c.num_key_value_heads = shape.num_kv_heads();
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.max_position_embeddings = shape.max_position_embeddings();
  c.rope_theta = options.rope_theta;
  c.tie_word_embeddings = shape.tie_word_embeddings() && c.head == HeadKind::kCausalLM;
  c.qkv_bias = c.model_type == ModelType::kQwen2;
  c.qk_norm = c.model_type == ModelType::kQwen3;
  c.torch_dtype = options.dtype;
  c.bos_token_id = options.bos_token_id;
  if (options.eos_token_id) c.eos_token_ids = {*options.eos_token_id};
  c.pad_token_id = options.pad_token_id;
  c.num_labels = c.head == HeadKind::kSequenceClassification ? options.num_labels : 1;
  c.initializer_range = options.initializer_range;
  for (int64_t id :
       {c.bos_token_id.value_or(0), c.pad_token_id.value_or(0), options.eos_token_id.value_or(0)}) {
    if (id < 0 || id >= vocab_size) return bad("special token id outside the vocabulary");
  }
  return c;
}

absl::Status CreateTinyModel(const v1::TinyModelShape& shape, int64_t vocab_size, uint64_t seed,
                             const std::string& dir, const TinyModelOptions& options) {
  ASSIGN_OR_RETURN(ModelConfig config, TinyModelConfig(shape, vocab_size, options));
  Transformer model(config, torch::TensorOptions().dtype(options.dtype));
  InitTransformerWeights(model, options.initializer_range, seed);
  return SaveModel(dir, model, {config.bos_token_id, config.eos_token_ids, config.pad_token_id});
}

absl::StatusOr<std::string> CreateTinyModelWithTokenizer(const v1::TinyModelShape& shape,
                                                         const std::vector<std::string>& corpus,
                                                         int vocab_size, uint64_t seed,
                                                         const std::string& dir,
                                                         TinyModelOptions options) {
  if (vocab_size == 0) vocab_size = 256 + 2;
  ASSIGN_OR_RETURN(std::string tokenizer_json,
                   TrainByteLevelBpe(corpus, vocab_size, {kTinyEndOfText, kTinyPad}));
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::FromJson(tokenizer_json));
  options.eos_token_id = *tokenizer->TokenToId(kTinyEndOfText);
  options.pad_token_id = *tokenizer->TokenToId(kTinyPad);
  RETURN_IF_ERROR(CreateTinyModel(shape, tokenizer->vocab_size(), seed, dir, options));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/tokenizer.json", tokenizer_json));
  return tokenizer_json;
}

}  // namespace pelican
