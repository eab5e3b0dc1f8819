// Weights on the wire: a policy version as one byte stream cut into large WeightChunks
// (rollout.proto), with a tensor table and a SHA-256 of the whole stream.
//
//   learner: TensorMap ──EncodeWeights──► EncodedWeights ──Chunk(i)──► WatchWeights stream
//   actor:   WeightChunk... ──WeightAssembler──► checks order, sizes, checksum ──► TensorMap
//
// Tensors are written contiguous, little-endian, row-major, in name order; float32, float16 and
// bfloat16 only (what models hold).
//
// Thread safety: EncodedWeights is immutable after EncodeWeights and may be shared; a
// WeightAssembler is used by one thread.
#ifndef PELICAN_COMMON_WEIGHT_CODEC_H_
#define PELICAN_COMMON_WEIGHT_CODEC_H_

#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/safetensors.h"
#include "pelican/v1/rollout.pb.h"

namespace pelican {

struct EncodedWeights {
  uint64_t version = 0;
  std::vector<v1::TensorSlot> tensors;
  size_t total_bytes = 0;  // of the whole stream
  std::string sha256;
  size_t bucket_bytes = 0;
  // The stream's chunks, built once per version: every watcher writes these very messages, so
  // streaming a version copies no bytes but gRPC's own.
  std::vector<v1::WeightChunk> chunks;

  uint32_t num_chunks() const { return static_cast<uint32_t>(chunks.size()); }
  // Chunk `index` of the stream (REQUIRES: index < num_chunks()).
  const v1::WeightChunk& Chunk(uint32_t index) const { return chunks[index]; }
};

// Copies `tensors` (any device) into one stream cut into chunks of `bucket_bytes`.
// INVALID_ARGUMENT for an unsupported dtype or an empty map.
absl::StatusOr<EncodedWeights> EncodeWeights(uint64_t version, const TensorMap& tensors,
                                             size_t bucket_bytes);

// Rebuilds one version from its chunks, in order. Any gap, reordering, size mismatch, bad tensor
// table or checksum mismatch is DATA_LOSS naming the problem; the assembler then expects a new
// version's chunk 0.
class WeightAssembler {
 public:
  // Feeds the next chunk. Returns the finished version's tensors (on CPU) after its last chunk,
  // nullopt while more chunks are expected.
  absl::StatusOr<std::optional<TensorMap>> Add(const v1::WeightChunk& chunk);
  // Version of the chunks being assembled (0 before the first chunk).
  uint64_t version() const { return version_; }

 private:
  void Reset();

  uint64_t version_ = 0;
  uint32_t next_index_ = 0;
  uint32_t num_chunks_ = 0;
  uint64_t total_bytes_ = 0;
  std::string sha256_;
  std::vector<v1::TensorSlot> tensors_;
  std::string data_;
};

}  // namespace pelican

#endif  // PELICAN_COMMON_WEIGHT_CODEC_H_
