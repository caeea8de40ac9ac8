#include "services/engine_common/kv_stream.h"

#include <memory>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::services {
namespace {

using ::testing::HasSubstr;

engine::KvHeader SmallHeader() {
  engine::KvHeader h;
  h.model_fingerprint = std::string(64, 'a');
  h.dtype = engine::DType::kF16;
  h.block_size = 4;
  h.num_layers = 3;
  h.num_kv_heads = 2;
  h.head_dim = 8;
  h.block_bytes = int64_t{2} * 4 * 8 * 2;  // [heads, block_size, head_dim] f16
  return h;
}

// A snapshot of `tokens` positions with random bytes everywhere, unused slots included.
std::shared_ptr<engine::KvSnapshot> RandomSnapshot(int tokens, int samples = 1) {
  auto s = std::make_shared<engine::KvSnapshot>();
  s->header = SmallHeader();
  std::mt19937 rng(tokens);
  for (int i = 0; i < tokens; ++i) s->token_ids.push_back(100 + i);
  for (int l = 0; l < s->header.num_layers; ++l) {
    std::string layer(2 * s->num_blocks() * s->header.block_bytes, '\0');
    for (char& c : layer) c = static_cast<char>(rng());
    s->layers.push_back(std::move(layer));
  }
  for (int i = 0; i < samples; ++i) s->first_tokens.push_back({.token_id = 7 + i, .logprob = -0.5f});
  return s;
}

// The stream of a snapshot as the prefill service sends it: every layer's blocks, cut.
std::vector<v1::KvChunk> AllChunks(const std::shared_ptr<engine::KvSnapshot>& s, uint64_t max) {
  KvChunker chunker(s->header, s->num_tokens(), 0, max);
  std::vector<v1::KvChunk> chunks;
  const size_t half = static_cast<size_t>(s->num_blocks()) * s->header.block_bytes;
  for (int l = 0; l < s->header.num_layers; ++l) {
    engine::KvLayerBlocks blocks{.layer = l, .first_block = 0, .num_blocks = s->num_blocks()};
    blocks.k = s->layers[l].substr(0, half);
    blocks.v = s->layers[l].substr(half);
    for (v1::KvChunk& c : chunker.Cut(blocks)) chunks.push_back(std::move(c));
  }
  return chunks;
}

v1::FirstToken FirstTokenOf(const engine::KvSnapshot& s) {
  v1::FirstToken f;
  for (const engine::SampledToken& t : s.first_tokens) {
    v1::TokenLogprob* p = f.add_tokens();
    p->set_token_id(t.token_id);
    p->set_logprob(*t.logprob);
  }
  return f;
}

v1::PrefillTrailer TrailerOf(const std::vector<v1::KvChunk>& chunks) {
  v1::PrefillTrailer t;
  t.set_num_chunks(chunks.size());
  uint64_t bytes = 0;
  for (const v1::KvChunk& c : chunks) bytes += c.k_bytes().size() + c.v_bytes().size();
  t.set_kv_bytes(bytes);
  return t;
}

TEST(KvStreamTest, RoundTripRestoresEveryUsedSlot) {
  for (int tokens : {1, 4, 10, 13}) {
    for (uint64_t max_chunk : {uint64_t{1}, uint64_t{256}, uint64_t{1} << 20}) {
      auto s = RandomSnapshot(tokens, 2);
      const std::vector<v1::KvChunk> chunks = AllChunks(s, max_chunk);
      KvStreamReceiver receiver(SmallHeader(), s->token_ids, 2);
      ASSERT_TRUE(receiver.OnHeader(KvHeaderToProto(s->header, s->num_tokens(), 0, 0)).ok());
      ASSERT_TRUE(receiver.OnFirstToken(FirstTokenOf(*s)).ok());
      for (const v1::KvChunk& c : chunks) ASSERT_TRUE(receiver.OnChunk(c).ok());
      ASSERT_TRUE(receiver.OnTrailer(TrailerOf(chunks)).ok());
      const engine::KvSnapshot got = receiver.TakeSnapshot();
      ASSERT_EQ(got.layers.size(), s->layers.size());
      EXPECT_EQ(got.token_ids, s->token_ids);
      ASSERT_EQ(got.first_tokens.size(), 2u);
      EXPECT_EQ(got.first_tokens[1].token_id, 8);
      // Compare the used slots: block b, head h, position p < tokens.
      const engine::KvHeader h = SmallHeader();
      const size_t row = h.block_bytes / (h.num_kv_heads * h.block_size);
      for (size_t l = 0; l < s->layers.size(); ++l) {
        for (int half = 0; half < 2; ++half) {
          for (int pos = 0; pos < tokens; ++pos) {
            const int b = pos / h.block_size;
            for (int head = 0; head < h.num_kv_heads; ++head) {
              const size_t off = (half * s->num_blocks() + b) * h.block_bytes +
                                 (head * h.block_size + pos % h.block_size) * row;
              ASSERT_EQ(got.layers[l].substr(off, row), s->layers[l].substr(off, row))
                  << "tokens " << tokens << " layer " << l << " pos " << pos;
            }
          }
        }
      }
      // A chunk never exceeds the cap unless it holds a single block.
      for (const v1::KvChunk& c : chunks) {
        EXPECT_TRUE(c.num_blocks() == 1 || c.k_bytes().size() + c.v_bytes().size() <= max_chunk);
      }
    }
  }
}

TEST(KvStreamTest, UnusedSlotsOfTheLastBlockAreZero) {
  auto s = RandomSnapshot(5);  // 2 blocks, 1 position used in the last
  const std::vector<v1::KvChunk> chunks = AllChunks(s, 1);
  const engine::KvHeader h = SmallHeader();
  const size_t row = h.block_bytes / (h.num_kv_heads * h.block_size);
  for (const v1::KvChunk& c : chunks) {
    if (c.first_block() != 1) continue;
    for (int head = 0; head < h.num_kv_heads; ++head) {
      const std::string unused = c.k_bytes().substr((head * h.block_size + 1) * row, 3 * row);
      EXPECT_EQ(unused, std::string(3 * row, '\0'));
    }
  }
}

class KvStreamFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snapshot_ = RandomSnapshot(10);
    chunks_ = AllChunks(snapshot_, 1);  // one block per chunk: 3 layers x 3 blocks
    receiver_ = std::make_unique<KvStreamReceiver>(SmallHeader(), snapshot_->token_ids, 1);
    ASSERT_TRUE(receiver_->OnHeader(KvHeaderToProto(snapshot_->header, snapshot_->num_tokens(), 0, 0)).ok());
  }
  std::shared_ptr<engine::KvSnapshot> snapshot_;
  std::vector<v1::KvChunk> chunks_;
  std::unique_ptr<KvStreamReceiver> receiver_;
};

TEST_F(KvStreamFaultTest, CorruptChunkIsDataLoss) {
  v1::KvChunk bad = chunks_[0];
  (*bad.mutable_v_bytes())[3] ^= 1;
  const absl::Status s = receiver_->OnChunk(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("CRC32C"));
}

TEST_F(KvStreamFaultTest, LostChunkIsDataLoss) {
  ASSERT_TRUE(receiver_->OnChunk(chunks_[0]).ok());
  const absl::Status s = receiver_->OnChunk(chunks_[2]);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("sequence 2 where 1"));
}

TEST_F(KvStreamFaultTest, LossAtTheEndIsCaughtByTheTrailer) {
  ASSERT_TRUE(receiver_->OnFirstToken(FirstTokenOf(*snapshot_)).ok());
  for (size_t i = 0; i + 1 < chunks_.size(); ++i) ASSERT_TRUE(receiver_->OnChunk(chunks_[i]).ok());
  EXPECT_EQ(receiver_->OnTrailer(TrailerOf(chunks_)).code(), absl::StatusCode::kDataLoss);
}

TEST_F(KvStreamFaultTest, WrongSizesAndRangesAreDataLoss) {
  v1::KvChunk short_chunk = chunks_[0];
  short_chunk.mutable_k_bytes()->pop_back();
  EXPECT_EQ(receiver_->OnChunk(short_chunk).code(), absl::StatusCode::kDataLoss);
  KvStreamReceiver fresh(SmallHeader(), snapshot_->token_ids, 1);
  ASSERT_TRUE(fresh.OnHeader(KvHeaderToProto(snapshot_->header, snapshot_->num_tokens(), 0, 0)).ok());
  v1::KvChunk outside = chunks_[0];
  outside.set_layer(3);
  EXPECT_EQ(fresh.OnChunk(outside).code(), absl::StatusCode::kDataLoss);
}

TEST_F(KvStreamFaultTest, WrongNumberOfFirstTokensIsDataLoss) {
  v1::FirstToken two = FirstTokenOf(*snapshot_);
  *two.add_tokens() = two.tokens(0);
  EXPECT_EQ(receiver_->OnFirstToken(two).code(), absl::StatusCode::kDataLoss);
}

TEST(KvStreamHeaderTest, MismatchedFingerprintOrGeometryIsFailedPrecondition) {
  auto s = RandomSnapshot(8);
  v1::KvHeader header = KvHeaderToProto(s->header, s->num_tokens(), 0, 0);
  header.set_model_fingerprint(std::string(64, 'b'));
  KvStreamReceiver r1(SmallHeader(), s->token_ids, 1);
  const absl::Status fp = r1.OnHeader(header);
  EXPECT_EQ(fp.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fp.message(), HasSubstr("fingerprint"));

  header = KvHeaderToProto(s->header, s->num_tokens(), 0, 0);
  header.mutable_kv_cache()->set_block_size_tokens(16);
  KvStreamReceiver r2(SmallHeader(), s->token_ids, 1);
  const absl::Status geometry = r2.OnHeader(header);
  EXPECT_EQ(geometry.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(geometry.message(), HasSubstr("block_size_tokens differs: ours 4, theirs 16"));

  header = KvHeaderToProto(s->header, s->num_tokens(), 0, 0);
  header.set_num_prompt_tokens(9);
  KvStreamReceiver r3(SmallHeader(), s->token_ids, 1);
  EXPECT_EQ(r3.OnHeader(header).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace r1serve::services
