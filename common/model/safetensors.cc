#include "common/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors stores little-endian data; a big-endian host needs byte swapping here"
#endif

namespace pelican {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

struct DtypeRow {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeRow kDtypes[] = {
    {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

absl::Status Corrupt(const std::string& origin, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("safetensors ", origin, ": ", what));
}

// A JSON number that is a non-negative integer fitting in int64 (so sizes stay signed-safe).
bool AsSize(const Json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    *out = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return *out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

absl::StatusOr<SafetensorsEntry> ParseEntry(const std::string& origin, const std::string& name,
                                            const Json& j) {
  auto bad = [&](absl::string_view what) {
    return Corrupt(origin, absl::StrCat("tensor \"", name, "\": ", what));
  };
  if (!j.is_object()) return bad("entry is not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return bad(absl::StrCat("unknown key \"", key, "\""));
    }
  }
  SafetensorsEntry e;
  e.name = name;
  auto dtype = j.find("dtype");
  if (dtype == j.end() || !dtype->is_string()) return bad("missing or non-string \"dtype\"");
  e.dtype = dtype->get<std::string>();
  auto type = SafetensorsDtype(e.dtype);
  if (!type.ok()) return bad(type.status().message());
  e.scalar_type = *type;

  auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) return bad("missing or non-array \"shape\"");
  uint64_t elements = 1;
  bool overflow = false;
  bool has_zero = false;
  for (const Json& d : *shape) {
    uint64_t dim = 0;
    if (!AsSize(d, &dim)) return bad("shape has a value that is not a non-negative int64");
    e.shape.push_back(static_cast<int64_t>(dim));
    has_zero |= dim == 0;
    // Zero dimensions are skipped so that [0, 2^62, 2^62] is refused too: LibTorch would overflow.
    if (dim != 0) overflow |= __builtin_mul_overflow(elements, dim, &elements);
  }
  auto offsets = j.find("data_offsets");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 ||
      !AsSize((*offsets)[0], &e.begin) || !AsSize((*offsets)[1], &e.end)) {
    return bad("\"data_offsets\" must be two non-negative integers");
  }
  if (e.end < e.begin) return bad("data_offsets end before begin");
  uint64_t nbytes = 0;
  overflow |= __builtin_mul_overflow(elements, torch::elementSize(e.scalar_type), &nbytes);
  if (overflow || nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return bad("shape product overflows");
  }
  if (has_zero) nbytes = 0;
  if (nbytes != e.end - e.begin) {
    return bad(absl::StrCat("shape × item size is ", nbytes, " bytes but data_offsets span ",
                            e.end - e.begin));
  }
  return e;
}

// Alignment-first layout as the reference writer uses: every tensor starts at a multiple of its
// item size because the data section starts at a multiple of 8.
struct Planned {
  std::string name;
  torch::Tensor tensor;  // contiguous, CPU
  std::string dtype;
  uint64_t begin, end;
};

absl::StatusOr<std::pair<std::string, std::vector<Planned>>> Plan(
    const TensorMap& tensors, const std::map<std::string, std::string>& metadata) {
  std::vector<Planned> plan;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat("bad safetensors tensor name \"", name, "\""));
    }
    if (!t.defined()) return absl::InvalidArgumentError("undefined tensor " + name);
    ASSIGN_OR_RETURN(std::string dtype, SafetensorsDtypeName(t.scalar_type()));
    plan.push_back({name, t.detach().to(torch::kCPU).contiguous(), dtype, 0, 0});
  }
  std::stable_sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) {
    return a.tensor.element_size() > b.tensor.element_size();  // names already sorted by the map
  });
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t cursor = 0;
  for (Planned& p : plan) {
    p.begin = cursor;
    p.end = cursor + static_cast<uint64_t>(p.tensor.nbytes());
    cursor = p.end;
    header[p.name] = {
        {"dtype", p.dtype}, {"shape", p.tensor.sizes().vec()}, {"data_offsets", {p.begin, p.end}}};
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {  // names or metadata that are not UTF-8
    return absl::InvalidArgumentError(absl::StrCat("safetensors header: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return std::make_pair(std::move(text), std::move(plan));
}

std::string LengthPrefix(uint64_t n) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out;
}

absl::Status WriteAll(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, std::min<size_t>(size, 1 << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(errno)));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<torch::ScalarType> SafetensorsDtype(absl::string_view name) {
  for (const DtypeRow& row : kDtypes) {
    if (name == row.name) return row.type;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported safetensors dtype \"", name, "\""));
}

absl::StatusOr<std::string> SafetensorsDtypeName(torch::ScalarType type) {
  for (const DtypeRow& row : kDtypes) {
    if (type == row.type) return std::string(row.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("dtype ", c10::toString(type), " has no safetensors name"));
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->origin_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT
               ? absl::NotFoundError(absl::StrCat(path, ": no such file"))
               : absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("stat ", path, ": ", strerror(errno)));
  }
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ >= 8) {
    void* m = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("mmap ", path, ": ", strerror(errno)));
    }
    file->mapping_ = m;
    file->data_ = static_cast<const uint8_t*>(m);
  }
  ::close(fd);
  RETURN_IF_ERROR(file->Parse());
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBytes(std::string bytes) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->origin_ = "<memory>";
  file->owned_ = std::move(bytes);
  file->data_ = reinterpret_cast<const uint8_t*>(file->owned_.data());
  file->size_ = file->owned_.size();
  RETURN_IF_ERROR(file->Parse());
  return file;
}

absl::Status SafetensorsFile::Parse() {
  if (size_ < 8) {
    return Corrupt(origin_, absl::StrCat("file of ", size_, " bytes has no 8-byte header length"));
  }
  uint64_t n = 0;
  std::memcpy(&n, data_, 8);
  if (n > kMaxSafetensorsHeaderBytes) {
    return Corrupt(origin_, absl::StrCat("header length ", n, " exceeds the limit of ",
                                         kMaxSafetensorsHeaderBytes));
  }
  if (n > size_ - 8) {
    return Corrupt(origin_, absl::StrCat("header length ", n, " runs past the end of the ", size_,
                                         "-byte file (truncated?)"));
  }
  data_start_ = 8 + n;
  const char* text = reinterpret_cast<const char*>(data_ + 8);
  if (n == 0 || text[0] != '{') return Corrupt(origin_, "header does not start with '{'");
  Json header = Json::parse(text, text + n, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Corrupt(origin_, "header is not valid JSON");
  if (!header.is_object()) return Corrupt(origin_, "header is not a JSON object");

  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return Corrupt(origin_, "__metadata__ is not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) {
          return Corrupt(origin_, absl::StrCat("__metadata__ value of \"", mk, "\" not a string"));
        }
        metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    ASSIGN_OR_RETURN(SafetensorsEntry e, ParseEntry(origin_, key, value));
    entries_.push_back(std::move(e));
  }

  // The tensors must tile the data section: no gap, no overlap, nothing past its end.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  const uint64_t data_size = size_ - data_start_;
  uint64_t cursor = 0;
  for (const SafetensorsEntry* e : by_offset) {
    if (e->begin != cursor) {
      return Corrupt(origin_, absl::StrCat("tensor \"", e->name, "\" starts at ", e->begin,
                                           e->begin < cursor ? ", overlapping" : ", leaving a gap",
                                           " (expected ", cursor, ")"));
    }
    if (e->end > data_size) {
      return Corrupt(origin_,
                     absl::StrCat("tensor \"", e->name, "\" ends at ", e->end,
                                  " past the data section of ", data_size, " bytes (truncated?)"));
    }
    cursor = e->end;
  }
  if (cursor != data_size) {
    return Corrupt(
        origin_, absl::StrCat("data section has ", data_size, " bytes but tensors cover ", cursor));
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return absl::OkStatus();
}

const SafetensorsEntry* SafetensorsFile::Find(const std::string& name) const {
  auto it =
      std::lower_bound(entries_.begin(), entries_.end(), name,
                       [](const SafetensorsEntry& e, const std::string& n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? &*it : nullptr;
}

torch::Tensor SafetensorsFile::Copy(const SafetensorsEntry& e) const {
  // BOOL is copied as bytes and compared with zero: a byte other than 0/1 must not become an
  // invalid bool inside LibTorch.
  const bool is_bool = e.scalar_type == torch::kBool;
  torch::Tensor t = torch::empty(e.shape, is_bool ? torch::kUInt8 : e.scalar_type);
  if (e.end > e.begin) std::memcpy(t.data_ptr(), data_ + data_start_ + e.begin, e.end - e.begin);
  return is_bool ? t.ne(0) : t;
}

absl::StatusOr<torch::Tensor> SafetensorsFile::Read(const std::string& name) const {
  const SafetensorsEntry* e = Find(name);
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat("safetensors ", origin_, ": no tensor \"", name, "\""));
  }
  return Copy(*e);
}

absl::StatusOr<TensorMap> SafetensorsFile::ReadAll() const {
  TensorMap out;
  for (const auto& e : entries_) out.emplace(e.name, Copy(e));
  return out;
}

absl::StatusOr<TensorMap> ReadSafetensors(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
  return file->ReadAll();
}

absl::StatusOr<std::string> SerializeSafetensors(
    const TensorMap& tensors, const std::map<std::string, std::string>& metadata) {
  ASSIGN_OR_RETURN(auto plan, Plan(tensors, metadata));
  std::string out = LengthPrefix(plan.first.size());
  out += plan.first;
  for (const Planned& p : plan.second) {
    out.append(static_cast<const char*>(p.tensor.data_ptr()), p.tensor.nbytes());
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                              const std::map<std::string, std::string>& metadata) {
  ASSIGN_OR_RETURN(auto plan, Plan(tensors, metadata));
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", tmp, ": ", strerror(errno)));
  absl::Status status = WriteAll(fd, LengthPrefix(plan.first.size()).data(), 8, tmp);
  if (status.ok()) status = WriteAll(fd, plan.first.data(), plan.first.size(), tmp);
  for (const Planned& p : plan.second) {
    if (!status.ok()) break;
    status = WriteAll(fd, p.tensor.data_ptr(), p.tensor.nbytes(), tmp);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::InternalError(absl::StrCat("fsync ", tmp, ": ", strerror(errno)));
  }
  ::close(fd);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat("rename ", tmp, " -> ", path, ": ", strerror(errno)));
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  const size_t slash = path.find_last_of('/');
  return SyncPath(slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1)));
}

}  // namespace pelican
