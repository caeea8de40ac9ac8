#include "gateway/routing_policy.h"

#include <gtest/gtest.h>

#include "lib/engine/kv/block_hash.h"

namespace r1serve::gateway {
namespace {

InstanceLoad Decode(std::string address, uint32_t running, uint64_t free_blocks,
                    uint64_t total_blocks = 100) {
  InstanceLoad in;
  in.address = std::move(address);
  in.routable = true;
  in.running_sequences = running;
  in.max_running_sequences = 8;
  in.free_kv_blocks = free_blocks;
  in.total_kv_blocks = total_blocks;
  in.block_size_tokens = 16;
  return in;
}

InstanceLoad Prefill(std::string address, uint32_t queued, uint64_t queued_tokens,
                     std::vector<uint64_t> hashes = {}) {
  InstanceLoad in;
  in.address = std::move(address);
  in.routable = true;
  in.queued_requests = queued;
  in.queued_prompt_tokens = queued_tokens;
  in.block_hashes = std::make_shared<absl::flat_hash_set<uint64_t>>(hashes.begin(), hashes.end());
  return in;
}

const LoadAwareRouter kRouter{RoutingOptions{.prefill_overload_queue = 4}};

TEST(PickDecodeTest, NoInstancesIsUnavailable) {
  absl::StatusOr<size_t> pick = kRouter.PickDecode({}, RouteRequest{});
  EXPECT_EQ(pick.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(pick.status().message().find("no healthy decode instance"), std::string::npos);
}

TEST(PickDecodeTest, SkipsUnroutableAndExcluded) {
  std::vector<InstanceLoad> in = {Decode("a", 0, 100), Decode("b", 5, 10), Decode("c", 7, 10)};
  in[0].routable = false;
  RouteRequest request{.excluded = {"b"}};
  EXPECT_EQ(*kRouter.PickDecode(in, request), 2u);
  request.excluded.push_back("c");
  absl::StatusOr<size_t> none = kRouter.PickDecode(in, request);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(none.status().message().find("2 already tried"), std::string::npos);
}

TEST(PickDecodeTest, PrefersLessBusyBatch) {
  std::vector<InstanceLoad> in = {Decode("a", 6, 50), Decode("b", 2, 50)};
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{.prompt_tokens = 10}), 1u);
}

TEST(PickDecodeTest, PrefersMoreFreeKvAtEqualBatch) {
  std::vector<InstanceLoad> in = {Decode("a", 2, 20), Decode("b", 2, 90)};
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{.prompt_tokens = 10}), 1u);
}

TEST(PickDecodeTest, WaitingAndQueuedCountAsBusy) {
  std::vector<InstanceLoad> in = {Decode("a", 1, 50), Decode("b", 1, 50)};
  in[0].waiting_sequences = 3;
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{}), 1u);
  in[0].waiting_sequences = 0;
  in[1].queued_requests = 2;
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{}), 0u);
}

TEST(PickDecodeTest, InstanceWithoutRoomForThePromptLosesEvenWhenIdle) {
  // "a" is idle but has 4 free blocks; the prompt needs ceil(100/16) + 1 = 8.
  std::vector<InstanceLoad> in = {Decode("a", 0, 4), Decode("b", 7, 60)};
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{.prompt_tokens = 100}), 1u);
  // Exactly enough is enough.
  in[0].free_kv_blocks = 8;
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{.prompt_tokens = 100}), 0u);
  // Samples need one block each beyond the prompt.
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{.prompt_tokens = 100, .samples = 2}), 1u);
}

TEST(PickDecodeTest, WhenNoneHasRoomPicksByLoadAnyway) {
  std::vector<InstanceLoad> in = {Decode("a", 5, 1), Decode("b", 1, 2)};
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{.prompt_tokens = 1000}), 1u);
}

TEST(PickDecodeTest, LocalCallsSpreadABurstBetweenReports) {
  std::vector<InstanceLoad> in = {Decode("a", 0, 100), Decode("b", 0, 100)};
  ASSERT_EQ(*kRouter.PickDecode(in, RouteRequest{}), 0u);  // tie: lower address
  in[0].local_calls = 1;
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{}), 1u);
  in[1].local_calls = 1;
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{}), 0u);
}

TEST(PickDecodeTest, LocalCallsDoNotDoubleCountReportedOnes) {
  // "a" reports 3 running, 3 of which are ours; "b" reports 2 running of another gateway.
  std::vector<InstanceLoad> in = {Decode("a", 3, 100), Decode("b", 2, 100)};
  in[0].local_calls = 3;
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{}), 1u);
  in[1].running_sequences = 4;
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{}), 0u);
}

TEST(PickDecodeTest, UnknownKvSizeStillRoutes) {
  std::vector<InstanceLoad> in = {Decode("a", 1, 0, 0), Decode("b", 0, 0, 0)};
  EXPECT_EQ(*kRouter.PickDecode(in, RouteRequest{.prompt_tokens = 5000}), 1u);
}

TEST(PickPrefillTest, NoInstancesIsUnavailable) {
  std::vector<InstanceLoad> in = {Prefill("a", 0, 0)};
  in[0].routable = false;
  absl::StatusOr<size_t> pick = kRouter.PickPrefill(in, RouteRequest{});
  EXPECT_EQ(pick.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(pick.status().message().find("--prefill_endpoints"), std::string::npos);
}

TEST(PickPrefillTest, ShortestQueueWithoutAffinity) {
  std::vector<InstanceLoad> in = {Prefill("a", 1, 900), Prefill("b", 2, 300), Prefill("c", 1, 600)};
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{}), 1u);
}

TEST(PickPrefillTest, LocalPromptTokensCountWhenLarger) {
  std::vector<InstanceLoad> in = {Prefill("a", 0, 0), Prefill("b", 0, 100)};
  in[0].local_calls = 1;
  in[0].local_prompt_tokens = 500;
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{}), 1u);
}

TEST(PickPrefillTest, LongestChainWins) {
  std::vector<int32_t> prompt(64);
  for (int i = 0; i < 64; ++i) prompt[i] = 1000 + i;
  const std::vector<uint64_t> chain = engine::BlockHashChain(prompt, 16);  // 4 blocks
  std::vector<InstanceLoad> in = {Prefill("a", 0, 0, {chain[0]}),
                                  Prefill("b", 2, 800, {chain[0], chain[1], chain[2]}),
                                  Prefill("c", 0, 0)};
  RouteRequest request{.prompt_tokens = 64, .prompt_block_hashes = chain};
  EXPECT_EQ(*kRouter.PickPrefill(in, request), 1u);
}

TEST(PickPrefillTest, ChainMustBeContiguousFromTheFirstBlock) {
  std::vector<int32_t> prompt(48, 7);
  const std::vector<uint64_t> chain = engine::BlockHashChain(prompt, 16);
  // "a" holds blocks 1 and 2 but not block 0: no usable prefix.
  std::vector<InstanceLoad> in = {Prefill("a", 0, 0, {chain[1], chain[2]}),
                                  Prefill("b", 1, 10, {chain[0]})};
  EXPECT_EQ(LoadAwareRouter::MatchedPrefixBlocks(in[0].block_hashes.get(), chain), 0u);
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{.prompt_block_hashes = chain}), 1u);
}

TEST(PickPrefillTest, OverloadedAffinityInstanceIsPassedOver) {
  std::vector<int32_t> prompt(32, 3);
  const std::vector<uint64_t> chain = engine::BlockHashChain(prompt, 16);
  std::vector<InstanceLoad> in = {Prefill("a", 4, 4000, {chain[0], chain[1]}),
                                  Prefill("b", 1, 100)};
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{.prompt_block_hashes = chain}), 1u);
  // Overload counts this gateway's own open calls too.
  in[0].queued_requests = 0;
  in[0].local_calls = 4;
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{.prompt_block_hashes = chain}), 1u);
  in[0].local_calls = 3;
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{.prompt_block_hashes = chain}), 0u);
}

TEST(PickPrefillTest, EqualAffinityGoesToShorterQueue) {
  std::vector<int32_t> prompt(16, 9);
  const std::vector<uint64_t> chain = engine::BlockHashChain(prompt, 16);
  std::vector<InstanceLoad> in = {Prefill("a", 1, 500, {chain[0]}),
                                  Prefill("b", 1, 200, {chain[0]})};
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{.prompt_block_hashes = chain}), 1u);
}

TEST(PickPrefillTest, AllOverloadedStillPicksTheShortestQueue) {
  std::vector<InstanceLoad> in = {Prefill("a", 9, 900), Prefill("b", 5, 950), Prefill("c", 2, 990)};
  // "c" is the only one under the overload threshold.
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{}), 2u);
  in[2].queued_requests = 6;
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{}), 0u);
}

TEST(PickPrefillTest, ExcludedInstanceIsNotPickedEvenWithAffinity) {
  std::vector<int32_t> prompt(16, 1);
  const std::vector<uint64_t> chain = engine::BlockHashChain(prompt, 16);
  std::vector<InstanceLoad> in = {Prefill("a", 0, 0, {chain[0]}), Prefill("b", 3, 3000)};
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{.prompt_block_hashes = chain, .excluded = {"a"}}),
            1u);
}

TEST(PickPrefillTest, NoReportedHashesMeansNoAffinity) {
  InstanceLoad bare;
  bare.address = "a";
  bare.routable = true;
  bare.queued_prompt_tokens = 10;
  std::vector<InstanceLoad> in = {bare, Prefill("b", 0, 5)};
  EXPECT_EQ(*kRouter.PickPrefill(in, RouteRequest{.prompt_block_hashes = {1, 2}}), 1u);
}

}  // namespace
}  // namespace r1serve::gateway
