#include "common/model/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "common/files.h"

namespace pelican {
namespace {

std::string LengthPrefixed(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string FloatBytes(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A few tensors of mixed dtypes and shapes, including a scalar and an empty tensor.
TensorMap Sample() {
  torch::manual_seed(7);
  TensorMap m;
  m["model.embed_tokens.weight"] = torch::randn({5, 4});
  m["half"] = torch::randn({3}).to(torch::kFloat16);
  m["brain"] = torch::randn({2, 3}).to(torch::kBFloat16);
  m["double"] = torch::randn({2}, torch::kFloat64);
  m["i64"] = torch::arange(6, torch::kInt64).view({2, 3});
  m["i32"] = torch::tensor({-1, 2, 3}, torch::kInt32);
  m["i16"] = torch::tensor({-7, 9}, torch::kInt16);
  m["i8"] = torch::tensor({-128, 127}, torch::kInt8);
  m["u8"] = torch::tensor({0, 255, 3}, torch::kUInt8);
  m["flags"] = torch::tensor({true, false, true});
  m["scalar"] = torch::tensor(3.5f);
  m["empty"] = torch::zeros({0, 3});
  return m;
}

void ExpectSame(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_EQ(t.scalar_type(), b.at(name).scalar_type()) << name;
    EXPECT_EQ(t.sizes(), b.at(name).sizes()) << name;
    EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  }
}

TEST(SafetensorsTest, RoundTripsEveryDtypeInMemoryAndOnDisk) {
  const TensorMap tensors = Sample();
  auto bytes = SerializeSafetensors(tensors, {{"format", "pt"}});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto file = SafetensorsFile::FromBytes(*bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  ExpectSame(tensors, *(*file)->ReadAll());

  const std::string path = ::testing::TempDir() + "/st_roundtrip.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  auto read = ReadSafetensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSame(tensors, *read);
  auto on_disk = ReadFile(path);
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, *bytes);
}

TEST(SafetensorsTest, HeaderIsPaddedAndTensorsAligned) {
  auto bytes = SerializeSafetensors(Sample());
  ASSERT_TRUE(bytes.ok());
  uint64_t n = 0;
  std::memcpy(&n, bytes->data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes->substr(8, 1), "{");
  auto file = SafetensorsFile::FromBytes(*bytes);
  ASSERT_TRUE(file.ok());
  for (const auto& e : (*file)->entries()) {
    EXPECT_EQ(e.begin % torch::elementSize(e.scalar_type), 0u) << e.name;
  }
}

TEST(SafetensorsTest, ReadsAHandWrittenFile) {
  // Written by hand from the format description, independent of our writer; with padding spaces
  // and the metadata last.
  const std::string header =
      R"({"b":{"dtype":"I16","shape":[1],"data_offsets":[8,10]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}   )";
  std::string data = FloatBytes({1.5f, -2.0f});
  const int16_t b = -300;
  data.append(reinterpret_cast<const char*>(&b), 2);
  auto file = SafetensorsFile::FromBytes(LengthPrefixed(header, data));
  ASSERT_TRUE(file.ok()) << file.status();
  auto a = (*file)->Read("a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(torch::equal(*a, torch::tensor({1.5f, -2.0f})));
  EXPECT_EQ((*(*file)->Read("b")).item<int16_t>(), -300);
  EXPECT_EQ((*file)->metadata().at("k"), "v");
  EXPECT_EQ((*file)->Read("c").status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, BoolBytesOtherThanOneReadAsTrue) {
  const std::string header = R"({"f":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})";
  auto file = SafetensorsFile::FromBytes(LengthPrefixed(header, std::string("\x00\x05\x01", 3)));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(torch::equal(*(*file)->Read("f"), torch::tensor({false, true, true})));
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadSafetensors("/nonexistent/x.safetensors").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SafetensorsTest, EveryTruncationIsAnError) {
  auto bytes = SerializeSafetensors(Sample(), {{"format", "pt"}});
  ASSERT_TRUE(bytes.ok());
  for (size_t len = 0; len < bytes->size(); ++len) {
    auto file = SafetensorsFile::FromBytes(bytes->substr(0, len));
    EXPECT_FALSE(file.ok()) << "truncated to " << len << " of " << bytes->size();
  }
  // And through the mmap path, at a spread of lengths.
  const std::string path = ::testing::TempDir() + "/st_truncated.safetensors";
  for (size_t len :
       {size_t{0}, size_t{3}, size_t{8}, size_t{9}, bytes->size() / 2, bytes->size() - 1}) {
    ASSERT_TRUE(WriteFileAtomic(path, bytes->substr(0, len)).ok());
    EXPECT_FALSE(ReadSafetensors(path).ok()) << len;
  }
}

TEST(SafetensorsTest, RandomByteFlipsNeverCrash) {
  const TensorMap tensors = Sample();
  auto bytes = SerializeSafetensors(tensors);
  ASSERT_TRUE(bytes.ok());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes->data(), 8);
  const size_t data_start = 8 + header_len;
  std::mt19937 rng(1234);
  int data_flips = 0, header_errors = 0;
  for (int trial = 0; trial < 600; ++trial) {
    std::string corrupt = *bytes;
    const int flips = 1 + static_cast<int>(rng() % 3);
    bool header_hit = false;
    for (int f = 0; f < flips; ++f) {
      const size_t pos = rng() % corrupt.size();
      corrupt[pos] = static_cast<char>(corrupt[pos] ^ (1 + rng() % 255));
      header_hit |= pos < data_start;
    }
    auto file = SafetensorsFile::FromBytes(corrupt);
    if (!header_hit) {
      // Only tensor bytes changed: the file is still well-formed.
      ASSERT_TRUE(file.ok()) << file.status();
      ++data_flips;
    }
    if (file.ok()) {
      auto all = (*file)->ReadAll();
      ASSERT_TRUE(all.ok());
      for (const auto& [name, t] : *all) {
        const SafetensorsEntry* e = (*file)->Find(name);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(static_cast<uint64_t>(t.numel()) * t.element_size(), e->end - e->begin);
      }
    } else {
      EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss) << file.status();
      ++header_errors;
    }
  }
  // Both kinds of damage were exercised.
  EXPECT_GT(data_flips, 20);
  EXPECT_GT(header_errors, 100);
}

TEST(SafetensorsTest, HostileHeadersAreRejected) {
  const std::string data8 = FloatBytes({1.0f, 2.0f});
  struct Case {
    const char* what;
    std::string file;
  };
  auto tensor = [](const std::string& fields) { return "{\"t\":{" + fields + "}}"; };
  std::string huge_len(8, '\xff');
  std::string over_cap(8, '\0');
  const uint64_t cap = kMaxSafetensorsHeaderBytes + 1;
  std::memcpy(over_cap.data(), &cap, 8);
  const std::vector<Case> cases = {
      {"empty file", ""},
      {"short length", "\x01\x02"},
      {"header length 2^64-1", huge_len + "{}"},
      {"header length over the cap", over_cap + std::string(64, ' ')},
      {"header length past the end", LengthPrefixed("{}", "").substr(0, 8) + "{"},
      {"zero-length header", LengthPrefixed("", data8)},
      {"spaces only", LengthPrefixed("        ", "")},
      {"invalid JSON", LengthPrefixed(R"({"t":{"dtype":)", data8)},
      {"JSON array", LengthPrefixed("[1,2]", "")},
      {"JSON string", LengthPrefixed("\"abc\"", "")},
      {"JSON number", LengthPrefixed("123", "")},
      {"entry not an object", LengthPrefixed(R"({"t":[1]})", data8)},
      {"unknown dtype",
       LengthPrefixed(tensor(R"("dtype":"F8","shape":[2],"data_offsets":[0,8])"), data8)},
      {"dtype not a string",
       LengthPrefixed(tensor(R"("dtype":4,"shape":[2],"data_offsets":[0,8])"), data8)},
      {"missing dtype", LengthPrefixed(tensor(R"("shape":[2],"data_offsets":[0,8])"), data8)},
      {"missing shape", LengthPrefixed(tensor(R"("dtype":"F32","data_offsets":[0,8])"), data8)},
      {"missing offsets", LengthPrefixed(tensor(R"("dtype":"F32","shape":[2])"), data8)},
      {"unknown key",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1)"), data8)},
      {"negative offset",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[2],"data_offsets":[-8,0])"), data8)},
      {"end before begin",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[0],"data_offsets":[8,0])"), data8)},
      {"three offsets",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,4,8])"), data8)},
      {"float offset",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8.0])"), data8)},
      {"offsets past the data",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"), data8)},
      {"huge offsets",
       LengthPrefixed(
           tensor(
               R"("dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,18446744073709551615])"),
           data8)},
      {"negative shape",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])"), data8)},
      {"float shape",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[2.0],"data_offsets":[0,8])"), data8)},
      {"shape product mismatch",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"), data8)},
      {"dtype size mismatch",
       LengthPrefixed(tensor(R"("dtype":"F64","shape":[2],"data_offsets":[0,8])"), data8)},
      {"shape product overflows",
       LengthPrefixed(
           tensor(R"("dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8])"),
           data8)},
      {"overflow hidden by a zero dim",
       LengthPrefixed(
           tensor(
               R"("dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0])"),
           "")},
      {"overlapping tensors",
       LengthPrefixed(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                      data8)},
      {"gap between tensors",
       LengthPrefixed(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                      data8)},
      {"bytes after the last tensor",
       LengthPrefixed(tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0,4])"), data8)},
      {"metadata not an object", LengthPrefixed(R"({"__metadata__":[1]})", "")},
      {"metadata value not a string", LengthPrefixed(R"({"__metadata__":{"a":1}})", "")},
      {"invalid UTF-8 name",
       LengthPrefixed("{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                      data8)},
  };
  for (const Case& c : cases) {
    auto file = SafetensorsFile::FromBytes(c.file);
    EXPECT_FALSE(file.ok()) << c.what;
    if (!file.ok()) {
      EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss) << c.what;
    }
  }
  // The same shapes, well-formed, are accepted: the rejections above are for the stated reason.
  EXPECT_TRUE(
      SafetensorsFile::FromBytes(
          LengthPrefixed(tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])"), data8))
          .ok());
  EXPECT_TRUE(SafetensorsFile::FromBytes(
                  LengthPrefixed(tensor(R"("dtype":"F32","shape":[0,7],"data_offsets":[0,0])"), ""))
                  .ok());
}

TEST(SafetensorsTest, WriterRejectsBadNames) {
  TensorMap m;
  m["__metadata__"] = torch::zeros({1});
  EXPECT_FALSE(SerializeSafetensors(m).ok());
  TensorMap complex;
  complex["c"] = torch::zeros({1}, torch::kComplexFloat);
  EXPECT_FALSE(SerializeSafetensors(complex).ok());
}

}  // namespace
}  // namespace pelican
