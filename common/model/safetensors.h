// safetensors: the one weight format pelican reads and writes (pickle formats are never loaded).
//
//   file = [u64 LE header length N][N bytes of JSON header, space-padded][data section]
//   header = {"__metadata__": {str: str}?, name: {"dtype": D, "shape": [..], "data_offsets": [b,
//   e]}}
//
// Our own bounds-checked parser: every header value is validated against the file before a byte of
// tensor data is touched, so a truncated, corrupted or hostile file gives an error, never a crash
// or an out-of-range read. The rules are those of the reference implementation: known dtypes only,
// shape product × item size == e - b, tensors tile the data section exactly (sorted by offset, no
// gaps, no overlaps, ending at the end of the file).
//
// Reading maps the file (mmap) and copies each requested tensor out of the mapping into memory the
// returned tensor owns; the mapping is released when the SafetensorsFile is destroyed. Tensors
// returned never alias the file, so they stay valid after the file is closed or replaced.
// A file truncated by another process while it is mapped can still raise SIGBUS: do not rewrite
// weights in place (WriteSafetensors never does; it writes a temp file and renames it).
//
// Thread safety: a SafetensorsFile is immutable after Open; concurrent Read calls are safe.
#ifndef PELICAN_COMMON_MODEL_SAFETENSORS_H_
#define PELICAN_COMMON_MODEL_SAFETENSORS_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pelican {

using TensorMap = std::map<std::string, torch::Tensor>;

// Largest JSON header accepted, as in the reference implementation.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// One tensor's entry in the header. Offsets are relative to the start of the data section.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "BF16", ...
  torch::ScalarType scalar_type;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// A validated safetensors file (or in-memory buffer) whose tensors are read on demand.
class SafetensorsFile {
 public:
  // Maps `path` and validates its header. Errors name the path and what is wrong.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Same rules for bytes already in memory (e.g. received over the network); takes ownership.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBytes(std::string bytes);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // Entries sorted by name.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* Find(const std::string& name) const;

  // Copies tensor `name` out into a new contiguous CPU tensor. NOT_FOUND if absent.
  absl::StatusOr<torch::Tensor> Read(const std::string& name) const;
  // Every tensor.
  absl::StatusOr<TensorMap> ReadAll() const;

 private:
  SafetensorsFile() = default;
  absl::Status Parse();
  torch::Tensor Copy(const SafetensorsEntry& e) const;

  // Constant after construction.
  std::string origin_;             // path, or "<memory>", for error messages
  const uint8_t* data_ = nullptr;  // whole file
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when data_ is an mmap
  std::string owned_;        // backing store of FromBytes
  uint64_t data_start_ = 0;  // 8 + header length
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Reads every tensor of the file at `path` (CPU, contiguous, the file's dtypes).
absl::StatusOr<TensorMap> ReadSafetensors(const std::string& path);

// Serialises `tensors` (any device; made contiguous on the CPU) as HF does: header padded with
// spaces to a multiple of 8, tensors laid out by decreasing alignment then name, so every tensor
// starts aligned to its item size. REQUIRES: names non-empty and not "__metadata__"; dtypes among
// those safetensors knows.
absl::StatusOr<std::string> SerializeSafetensors(
    const TensorMap& tensors, const std::map<std::string, std::string>& metadata = {});

// Writes the serialised form to `path` atomically (temp file, fsync, rename) without holding the
// whole file in memory.
absl::Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// "F32" <-> torch::kFloat32 and so on, for the ten dtypes above.
absl::StatusOr<torch::ScalarType> SafetensorsDtype(absl::string_view name);
absl::StatusOr<std::string> SafetensorsDtypeName(torch::ScalarType type);

}  // namespace pelican

#endif  // PELICAN_COMMON_MODEL_SAFETENSORS_H_
