#include "common/weight_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/hash.h"

namespace pelican {
namespace {

absl::StatusOr<v1::DType> WireDType(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return v1::DTYPE_F32;
    case torch::kFloat16:
      return v1::DTYPE_F16;
    case torch::kBFloat16:
      return v1::DTYPE_BF16;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("weights of dtype ", c10::toString(t), " cannot be published"));
  }
}

std::optional<torch::ScalarType> TorchDType(v1::DType t) {
  switch (t) {
    case v1::DTYPE_F32:
      return torch::kFloat32;
    case v1::DTYPE_F16:
      return torch::kFloat16;
    case v1::DTYPE_BF16:
      return torch::kBFloat16;
    default:
      return std::nullopt;
  }
}

absl::Status Loss(const std::string& what) { return absl::DataLossError(what); }

}  // namespace

absl::StatusOr<EncodedWeights> EncodeWeights(uint64_t version, const TensorMap& tensors,
                                             size_t bucket_bytes) {
  if (tensors.empty()) return absl::InvalidArgumentError("no tensors to publish");
  if (bucket_bytes == 0) return absl::InvalidArgumentError("bucket_bytes must be positive");
  EncodedWeights w;
  w.version = version;
  w.bucket_bytes = bucket_bytes;
  size_t total = 0;
  for (const auto& [name, t] : tensors) total += t.numel() * t.element_size();
  std::string data(total, '\0');
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    auto dtype = WireDType(t.scalar_type());
    if (!dtype.ok())
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", dtype.status().message()));
    const torch::Tensor cpu = t.detach().to(torch::kCPU).contiguous();
    const size_t nbytes = cpu.numel() * cpu.element_size();
    v1::TensorSlot slot;
    slot.set_name(name);
    slot.set_dtype(*dtype);
    for (int64_t d : cpu.sizes()) slot.add_shape(d);
    slot.set_offset(offset);
    slot.set_nbytes(nbytes);
    std::memcpy(data.data() + offset, cpu.data_ptr(), nbytes);
    offset += nbytes;
    w.tensors.push_back(std::move(slot));
  }
  w.sha256 = Sha256Hex(data);
  w.total_bytes = data.size();
  const uint32_t n =
      data.empty() ? 1 : static_cast<uint32_t>((data.size() + bucket_bytes - 1) / bucket_bytes);
  w.chunks.resize(n);
  for (uint32_t index = 0; index < n; ++index) {
    v1::WeightChunk& c = w.chunks[index];
    c.set_policy_version(version);
    c.set_chunk_index(index);
    c.set_num_chunks(n);
    const size_t begin = static_cast<size_t>(index) * bucket_bytes;
    const size_t end = std::min(data.size(), begin + bucket_bytes);
    c.set_offset(begin);
    c.set_data(data.data() + begin, end - begin);
    if (index == 0) {
      for (const auto& t : w.tensors) *c.add_tensors() = t;
      c.set_total_bytes(data.size());
      c.set_sha256(w.sha256);
    }
    c.set_last(index + 1 == n);
  }
  return w;
}

void WeightAssembler::Reset() {
  version_ = 0;
  next_index_ = 0;
  num_chunks_ = 0;
  total_bytes_ = 0;
  sha256_.clear();
  tensors_.clear();
  data_.clear();
}

absl::StatusOr<std::optional<TensorMap>> WeightAssembler::Add(const v1::WeightChunk& chunk) {
  if (chunk.chunk_index() == 0) {
    Reset();
    version_ = chunk.policy_version();
    num_chunks_ = chunk.num_chunks();
    total_bytes_ = chunk.total_bytes();
    sha256_ = chunk.sha256();
    tensors_.assign(chunk.tensors().begin(), chunk.tensors().end());
    if (num_chunks_ == 0 || tensors_.empty() || sha256_.size() != 64) {
      const uint64_t v = version_;
      Reset();
      return Loss(absl::StrCat("weights v", v, ": chunk 0 lacks its header"));
    }
    // A hostile or broken table must not make us allocate absurd amounts.
    uint64_t end = 0;
    for (const auto& t : tensors_) {
      if (!TorchDType(t.dtype()) || t.offset() != end || t.nbytes() > total_bytes_) {
        const std::string what =
            absl::StrCat("weights v", version_, ": bad tensor table entry ", t.name());
        Reset();
        return Loss(what);
      }
      end += t.nbytes();
    }
    if (end != total_bytes_) {
      const uint64_t v = version_;
      Reset();
      return Loss(
          absl::StrCat("weights v", v, ": tensors cover ", end, " of ", total_bytes_, " bytes"));
    }
    data_.reserve(total_bytes_);
  } else if (num_chunks_ == 0 || chunk.policy_version() != version_ ||
             chunk.chunk_index() != next_index_) {
    const std::string what =
        absl::StrCat("weights v", chunk.policy_version(), ": got chunk ", chunk.chunk_index(),
                     ", expected chunk ", next_index_, " of v", version_);
    Reset();
    return Loss(what);
  }
  if (chunk.offset() != data_.size() || data_.size() + chunk.data().size() > total_bytes_) {
    const std::string what = absl::StrCat("weights v", version_, ": chunk ", chunk.chunk_index(),
                                          " at offset ", chunk.offset(), " does not fit");
    Reset();
    return Loss(what);
  }
  data_.append(chunk.data());
  ++next_index_;
  if (next_index_ < num_chunks_) return std::optional<TensorMap>();

  if (data_.size() != total_bytes_ || !chunk.last()) {
    const std::string what = absl::StrCat("weights v", version_, ": stream ended at ", data_.size(),
                                          " of ", total_bytes_, " bytes");
    Reset();
    return Loss(what);
  }
  if (Sha256Hex(data_) != sha256_) {
    const std::string what = absl::StrCat("weights v", version_, ": checksum mismatch");
    Reset();
    return Loss(what);
  }
  TensorMap out;
  for (const auto& t : tensors_) {
    const torch::ScalarType dtype = *TorchDType(t.dtype());
    // Check the shape against the size before allocating anything for it.
    uint64_t numel = 1;
    bool fits = true;
    for (int64_t d : t.shape()) {
      if (d < 0 || (d > 0 && numel > total_bytes_ / static_cast<uint64_t>(d))) fits = false;
      numel *= fits ? static_cast<uint64_t>(d) : 1;
    }
    if (!fits || numel * c10::elementSize(dtype) != t.nbytes()) {
      const std::string what =
          absl::StrCat("weights v", version_, ": ", t.name(), " shape does not match its size");
      Reset();
      return Loss(what);
    }
    std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
    torch::Tensor x = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    std::memcpy(x.data_ptr(), data_.data() + t.offset(), t.nbytes());
    out.emplace(t.name(), std::move(x));
  }
  const uint64_t v = version_;
  Reset();
  version_ = v;
  return std::optional<TensorMap>(std::move(out));
}

}  // namespace pelican
