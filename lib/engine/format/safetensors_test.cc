#include "lib/engine/format/safetensors.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "gtest/gtest.h"

namespace r1serve::engine {
namespace {

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/safetensors_test_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<std::byte> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

std::string WriteSample() {
  const std::string path = TempPath("sample.safetensors");
  SafetensorsWriter writer;
  writer.AddMetadata("format", "pt");
  EXPECT_TRUE(writer.AddTensor("w", DType::kBF16, {2, 3}).ok());
  EXPECT_TRUE(writer.AddTensor("n", DType::kF32, {3}).ok());
  EXPECT_TRUE(writer.AddTensor("h", DType::kF16, {1, 1, 2}).ok());
  EXPECT_FALSE(writer.AddTensor("q", DType::kQ8_0, {32}).ok());
  EXPECT_TRUE(writer.Open(path).ok());
  std::vector<std::byte> data(12 + 12 + 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i);
  EXPECT_TRUE(writer.Write(std::span(data).first(7)).ok());
  EXPECT_TRUE(writer.Write(std::span(data).subspan(7)).ok());
  EXPECT_TRUE(writer.Close().ok());
  return path;
}

// A file from a hand-written header, for cases the writer refuses to produce.
std::vector<std::byte> Build(const std::string& header, size_t data_bytes) {
  std::vector<std::byte> bytes(8 + header.size() + data_bytes);
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

TEST(SafetensorsTest, RoundTrip) {
  auto file = SafetensorsFile::Open(WriteSample());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  ASSERT_EQ((*file)->tensors().size(), 3u);
  const SafetensorsTensor* w = (*file)->Find("w");
  EXPECT_EQ(w->dtype, DType::kBF16);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->size_bytes, 12);
  EXPECT_EQ(w->data[0], std::byte{0});
  const SafetensorsTensor* h = (*file)->Find("h");
  EXPECT_EQ(h->data[3], std::byte{27});
  // The data starts 8-byte aligned.
  const std::vector<std::byte> bytes = ReadBytes(WriteSample());
  uint64_t header_bytes;
  std::memcpy(&header_bytes, bytes.data(), 8);
  EXPECT_EQ((8 + header_bytes) % 8, 0u);
}

TEST(SafetensorsTest, EveryTruncationIsAnError) {
  const std::vector<std::byte> bytes = ReadBytes(WriteSample());
  for (size_t size = 0; size < bytes.size(); ++size) {
    auto parsed = SafetensorsFile::Parse(std::span(bytes).first(size), "cut.safetensors");
    ASSERT_FALSE(parsed.ok()) << size;
    EXPECT_NE(parsed.status().message().find("cut.safetensors"), std::string::npos);
  }
}

TEST(SafetensorsTest, FlippedHeaderBytesNeverCrash) {
  const std::vector<std::byte> bytes = ReadBytes(WriteSample());
  uint64_t header_bytes;
  std::memcpy(&header_bytes, bytes.data(), 8);
  for (size_t i = 0; i < 8 + header_bytes; ++i) {
    for (std::byte mask : {std::byte{0xff}, std::byte{0x20}, std::byte{0x01}}) {
      std::vector<std::byte> corrupt = bytes;
      corrupt[i] ^= mask;
      auto parsed = SafetensorsFile::Parse(corrupt, "flip");
      if (!parsed.ok()) continue;
      for (const SafetensorsTensor& t : (*parsed)->tensors()) {
        ASSERT_GE(t.data, corrupt.data());
        ASSERT_LE(t.data + t.size_bytes, corrupt.data() + corrupt.size());
      }
    }
  }
}

TEST(SafetensorsTest, RejectsInconsistentHeaders) {
  const struct {
    std::string header;
    size_t data;
    std::string message;
  } cases[] = {
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8, "needs 8 bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, "truncated"},
      {R"({"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", 8, "unknown dtype"},
      {R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "invalid dimension"},
      {R"({"a":{"dtype":"F32","shape":[2]}})", 8, "data_offsets"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "overlap"},
      {R"([1,2])", 0, "not a JSON object"},
      {R"({"a":)", 0, "not a JSON object"},
      {R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", 8,
       "too many elements"},
  };
  for (const auto& c : cases) {
    auto parsed = SafetensorsFile::Parse(Build(c.header, c.data), "bad.safetensors");
    ASSERT_FALSE(parsed.ok()) << c.header;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos) << parsed.status();
  }
  std::vector<std::byte> huge(16);
  const uint64_t n = uint64_t{1} << 40;
  std::memcpy(huge.data(), &n, 8);
  EXPECT_FALSE(SafetensorsFile::Parse(huge, "huge").ok());
}

TEST(SafetensorsTest, UnsupportedDTypesAreRecorded) {
  auto parsed = SafetensorsFile::Parse(
      Build(R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16), "i64.safetensors");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)->Find("ids")->dtype, std::nullopt);
  EXPECT_EQ((*parsed)->Find("ids")->dtype_name, "I64");
}

}  // namespace
}  // namespace r1serve::engine
