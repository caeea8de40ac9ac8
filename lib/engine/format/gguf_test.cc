#include "lib/engine/format/gguf.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "gtest/gtest.h"
#include "lib/engine/format/gguf_writer.h"

namespace r1serve::engine {
namespace {

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/gguf_test_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<std::byte> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

std::vector<std::byte> Iota(size_t n, int start) {
  std::vector<std::byte> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::byte>((start + i) & 0xff);
  return bytes;
}

// A file with every metadata type and three tensors of different types and ranks.
std::string WriteSample(uint32_t alignment = kGgufDefaultAlignment) {
  const std::string path = TempPath("sample_" + std::to_string(alignment) + ".gguf");
  GgufWriter writer(alignment);
  writer.AddMetadata("general.architecture", GgufValue::String("qwen2"));
  writer.AddMetadata("u8", GgufValue::Scalar(GgufType::kUint8, uint64_t{200}));
  writer.AddMetadata("i8", GgufValue::Scalar(GgufType::kInt8, int64_t{-100}));
  writer.AddMetadata("u16", GgufValue::Scalar(GgufType::kUint16, uint64_t{60000}));
  writer.AddMetadata("i16", GgufValue::Scalar(GgufType::kInt16, int64_t{-30000}));
  writer.AddMetadata("u32", GgufValue::Uint32(4000000000u));
  writer.AddMetadata("i32", GgufValue::Int32(-2000000000));
  writer.AddMetadata("u64", GgufValue::Uint64(uint64_t{1} << 40));
  writer.AddMetadata("i64", GgufValue::Scalar(GgufType::kInt64, int64_t{-(int64_t{1} << 40)}));
  writer.AddMetadata("f32", GgufValue::Float32(0.5f));
  writer.AddMetadata("f64", GgufValue::Scalar(GgufType::kFloat64, 1e-300));
  writer.AddMetadata("bool", GgufValue::Bool(true));
  writer.AddMetadata(
      "strings",
      GgufValue::Array(GgufType::kString, {std::string("a"), std::string(""), std::string("ü")}));
  writer.AddMetadata("ints", GgufValue::Array(GgufType::kInt32, {int64_t{-1}, int64_t{7}}));
  writer.AddMetadata("empty", GgufValue::Array(GgufType::kFloat32, {}));
  EXPECT_TRUE(writer.AddTensor("a", DType::kF32, {3}).ok());
  EXPECT_TRUE(writer.AddTensor("b", DType::kF16, {2, 5}).ok());
  EXPECT_TRUE(writer.AddTensor("c", DType::kQ8_0, {2, 64}).ok());
  EXPECT_TRUE(writer.Open(path).ok());
  // Chunks that straddle tensor boundaries.
  const std::vector<std::byte> data = Iota(12 + 20 + 2 * 68, 1);
  EXPECT_TRUE(writer.Write(std::span(data).subspan(0, 5)).ok());
  EXPECT_TRUE(writer.Write(std::span(data).subspan(5, 40)).ok());
  EXPECT_TRUE(writer.Write(std::span(data).subspan(45)).ok());
  EXPECT_TRUE(writer.Close().ok());
  return path;
}

TEST(GgufTest, RoundTripsMetadataAndTensors) {
  const std::string path = WriteSample();
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& g = **file;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 32u);
  EXPECT_EQ(g.data_offset() % 32, 0u);
  EXPECT_EQ(*g.GetString("general.architecture"), "qwen2");
  EXPECT_EQ(*g.GetInt("u8"), 200);
  EXPECT_EQ(*g.GetInt("i8"), -100);
  EXPECT_EQ(*g.GetInt("u16"), 60000);
  EXPECT_EQ(*g.GetInt("i16"), -30000);
  EXPECT_EQ(*g.GetInt("u32"), 4000000000);
  EXPECT_EQ(*g.GetInt("i32"), -2000000000);
  EXPECT_EQ(*g.GetInt("u64"), int64_t{1} << 40);
  EXPECT_EQ(*g.GetInt("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*g.GetDouble("f32"), 0.5);
  EXPECT_EQ(*g.GetDouble("f64"), 1e-300);
  EXPECT_EQ(*g.GetBool("bool"), true);
  EXPECT_EQ(g.Find("u8")->type, GgufType::kUint8);
  const GgufValue* strings = g.Find("strings");
  ASSERT_NE(strings, nullptr);
  EXPECT_EQ(strings->element_type, GgufType::kString);
  ASSERT_EQ(strings->elements.size(), 3u);
  EXPECT_EQ(std::get<std::string>(strings->elements[2]), "ü");
  EXPECT_EQ(std::get<int64_t>(g.Find("ints")->elements[0]), -1);
  EXPECT_TRUE(g.Find("empty")->elements.empty());
  EXPECT_EQ(g.metadata().front().first, "general.architecture");  // file order kept

  EXPECT_TRUE(absl::IsNotFound(g.GetInt("missing").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(g.GetInt("f32").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(g.GetString("ints").status()));

  ASSERT_EQ(g.tensors().size(), 3u);
  const GgufTensorInfo* b = g.FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 5}));      // outermost first
  EXPECT_EQ(b->ggml_dims, (std::vector<int64_t>{5, 2}));  // as ggml stores it
  EXPECT_EQ(b->dtype, DType::kF16);
  EXPECT_EQ(b->size_bytes, 20);
  EXPECT_EQ(b->offset % 32, 0u);
  EXPECT_EQ(b->data[0], std::byte{13});  // tensor "a" took the first 12 data bytes
  const GgufTensorInfo* c = g.FindTensor("c");
  EXPECT_EQ(c->dtype, DType::kQ8_0);
  EXPECT_EQ(c->size_bytes, 136);
  EXPECT_EQ(c->data[135], static_cast<std::byte>(12 + 20 + 136));
}

TEST(GgufTest, CustomAlignment) {
  auto file = GgufFile::Open(WriteSample(64));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ(*(*file)->GetInt("general.alignment"), 64);
  for (const GgufTensorInfo& t : (*file)->tensors()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 64, 0u) << t.name;
  }
}

TEST(GgufTest, OutputIsDeterministic) {
  const std::vector<std::byte> first = ReadBytes(WriteSample());
  const std::vector<std::byte> second = ReadBytes(WriteSample());
  EXPECT_EQ(first, second);
}

TEST(GgufTest, WriterRejectsBadTensorsAndShortData) {
  GgufWriter writer;
  EXPECT_FALSE(writer.AddTensor("q", DType::kQ8_0, {2, 33}).ok());  // not whole blocks
  EXPECT_FALSE(writer.AddTensor("z", DType::kF32, {}).ok());
  ASSERT_TRUE(writer.AddTensor("x", DType::kF32, {4}).ok());
  EXPECT_FALSE(writer.AddTensor("x", DType::kF32, {4}).ok());
  ASSERT_TRUE(writer.Open(TempPath("short.gguf")).ok());
  const std::vector<std::byte> data(8);
  ASSERT_TRUE(writer.Write(data).ok());
  EXPECT_FALSE(writer.Close().ok());  // 8 of 16 bytes
}

TEST(GgufTest, RejectsWrongMagicAndVersion) {
  std::vector<std::byte> bytes = ReadBytes(WriteSample());
  std::vector<std::byte> wrong = bytes;
  wrong[0] = std::byte{'X'};
  auto parsed = GgufFile::Parse(wrong, "x.gguf");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("not a GGUF file"), std::string::npos);
  wrong = bytes;
  wrong[4] = std::byte{1};
  parsed = GgufFile::Parse(wrong, "x.gguf");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("version 1"), std::string::npos) << parsed.status();
}

// Every truncation is an error unless it removes only the trailing padding; none crashes.
TEST(GgufTest, EveryTruncationIsAnError) {
  const std::vector<std::byte> bytes = ReadBytes(WriteSample());
  auto full = GgufFile::Parse(bytes, "full");
  ASSERT_TRUE(full.ok());
  const GgufTensorInfo& last = (*full)->tensors().back();
  const size_t end_of_data = static_cast<size_t>(last.data - bytes.data() + last.size_bytes);
  for (size_t size = 0; size < bytes.size(); ++size) {
    auto parsed = GgufFile::Parse(std::span(bytes).first(size), "cut.gguf");
    if (size >= end_of_data) {
      EXPECT_TRUE(parsed.ok()) << size;
    } else {
      ASSERT_FALSE(parsed.ok()) << size;
      EXPECT_NE(parsed.status().message().find("cut.gguf"), std::string::npos);
    }
  }
}

// Corrupting any header byte gives an error or a (different) valid file, never a crash, and
// never a tensor outside the file.
TEST(GgufTest, FlippedHeaderBytesNeverCrash) {
  const std::vector<std::byte> bytes = ReadBytes(WriteSample());
  auto full = GgufFile::Parse(bytes, "full");
  ASSERT_TRUE(full.ok());
  const size_t header = static_cast<size_t>((*full)->data_offset());
  for (size_t i = 0; i < header; ++i) {
    for (std::byte mask : {std::byte{0xff}, std::byte{0x80}, std::byte{0x01}}) {
      std::vector<std::byte> corrupt = bytes;
      corrupt[i] ^= mask;
      auto parsed = GgufFile::Parse(corrupt, "flip.gguf");
      if (!parsed.ok()) continue;
      for (const GgufTensorInfo& t : (*parsed)->tensors()) {
        if (t.data == nullptr) continue;
        ASSERT_GE(t.data, corrupt.data());
        ASSERT_LE(t.data + t.size_bytes, corrupt.data() + corrupt.size());
      }
    }
  }
}

TEST(GgufTest, UnsupportedTensorTypeIsRecordedNotLocated) {
  std::vector<std::byte> bytes = ReadBytes(WriteSample());
  // Tensor "c" (Q8_0, id 8): its type field follows name, n_dims and two dims.
  const std::string needle = std::string("\x01\x00\x00\x00\x00\x00\x00\x00", 8) + "c";
  auto it =
      std::search(bytes.begin(), bytes.end(), reinterpret_cast<const std::byte*>(needle.data()),
                  reinterpret_cast<const std::byte*>(needle.data()) + needle.size());
  ASSERT_NE(it, bytes.end());
  const size_t type_at = static_cast<size_t>(it - bytes.begin()) + needle.size() + 4 + 16;
  ASSERT_EQ(bytes[type_at], std::byte{8});
  bytes[type_at] = std::byte{12};  // Q4_K
  auto parsed = GgufFile::Parse(bytes, "k.gguf");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const GgufTensorInfo* c = (*parsed)->FindTensor("c");
  EXPECT_EQ(c->dtype, std::nullopt);
  EXPECT_EQ(GgmlTypeName(c->ggml_type), "Q4_K");
  EXPECT_EQ(c->data, nullptr);
}

TEST(GgufTest, DuplicateKeysAreRejected) {
  // Built by hand: the writer merges duplicates.
  std::string bytes("GGUF", 4);
  const auto put = [&](auto value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  put(uint32_t{3});
  put(uint64_t{0});
  put(uint64_t{2});
  for (int i = 0; i < 2; ++i) {
    put(uint64_t{1});
    bytes += "k";
    put(uint32_t{4});
    put(uint32_t{7});
  }
  auto parsed = GgufFile::Parse(std::as_bytes(std::span(bytes.data(), bytes.size())), "dup.gguf");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("appears twice"), std::string::npos);
}

TEST(GgufTest, HugeCountsAreRejectedBeforeAllocating) {
  std::string bytes("GGUF", 4);
  const auto put = [&](auto value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  put(uint32_t{3});
  put(uint64_t{0});
  put(uint64_t{1});
  put(uint64_t{1});
  bytes += "k";
  put(uint32_t{9});        // array
  put(uint32_t{8});        // of strings
  put(uint64_t{1} << 60);  // claimed count
  auto parsed = GgufFile::Parse(std::as_bytes(std::span(bytes.data(), bytes.size())), "huge.gguf");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("truncated or corrupt"), std::string::npos)
      << parsed.status();
}

}  // namespace
}  // namespace r1serve::engine
