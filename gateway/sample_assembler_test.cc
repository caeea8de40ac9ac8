#include "gateway/sample_assembler.h"

#include <gtest/gtest.h>

namespace r1serve::gateway {
namespace {

v1::TokenDelta Tokens(std::vector<int32_t> ids,
                      v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED,
                      std::string stop = "") {
  v1::TokenDelta delta;
  delta.set_index(0);
  for (int32_t id : ids) delta.add_token_ids(id);
  delta.set_finish_reason(reason);
  delta.set_stop_string(stop);
  return delta;
}

const std::vector<std::string> kNoStops;

TEST(SampleAssemblerTest, TextTokenCountLeavesOutTheStoppingToken) {
  EXPECT_EQ(SampleAssembler::TextTokenCount(Tokens({1, 2})), 2);
  EXPECT_EQ(SampleAssembler::TextTokenCount(Tokens({1, 2}, v1::FINISH_REASON_EOS)), 1);
  EXPECT_EQ(SampleAssembler::TextTokenCount(Tokens({1, 2}, v1::FINISH_REASON_STOP_TOKEN)), 1);
  EXPECT_EQ(SampleAssembler::TextTokenCount(Tokens({1, 2}, v1::FINISH_REASON_LENGTH)), 2);
  EXPECT_EQ(SampleAssembler::TextTokenCount(Tokens({1}, v1::FINISH_REASON_STOP_STRING)), 1);
  EXPECT_EQ(SampleAssembler::TextTokenCount(Tokens({}, v1::FINISH_REASON_EOS)), 0);
}

TEST(SampleAssemblerTest, PassesTokensTextAndCounts) {
  SampleAssembler sample(2, kNoStops);
  v1::TokenDelta in = Tokens({5, 6});
  in.add_logprobs()->set_token_id(5);
  in.add_logprobs()->set_token_id(6);
  v1::SampleDelta out = sample.Assemble(in, DetokenizedText{"think", "", 2});
  EXPECT_EQ(out.index(), 2u);
  EXPECT_EQ(out.token_ids_size(), 2);
  EXPECT_EQ(out.logprobs_size(), 2);
  EXPECT_EQ(out.reasoning_content(), "think");
  EXPECT_EQ(out.finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
  out = sample.Assemble(Tokens({7}, v1::FINISH_REASON_LENGTH), DetokenizedText{"", "4", 0});
  EXPECT_EQ(out.content(), "4");
  EXPECT_EQ(out.finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_TRUE(sample.finished());
  EXPECT_EQ(sample.completion_tokens(), 3u);
  EXPECT_EQ(sample.reasoning_tokens(), 2u);
}

TEST(SampleAssemblerTest, CutsContentAtTheStopString) {
  const std::vector<std::string> stops = {"\n\n"};
  SampleAssembler sample(0, stops);
  EXPECT_EQ(sample.Assemble(Tokens({1}), DetokenizedText{"", "x = 4.\n", 0}).content(), "x = 4.");
  v1::SampleDelta out = sample.Assemble(Tokens({2}, v1::FINISH_REASON_STOP_STRING, "\n\n"),
                                        DetokenizedText{"", "\nSo", 0});
  EXPECT_EQ(out.content(), "");
  EXPECT_EQ(out.stop_string(), "\n\n");
  EXPECT_EQ(out.token_ids_size(), 1);  // the token that completed it stays
}

TEST(SampleAssemblerTest, StopInsideReasoningDropsTheRest) {
  const std::vector<std::string> stops = {"Wait"};
  SampleAssembler sample(0, stops);
  EXPECT_EQ(sample.Assemble(Tokens({1}), DetokenizedText{"Hmm. W", "", 1}).reasoning_content(),
            "Hmm. ");
  v1::SampleDelta out = sample.Assemble(Tokens({2}, v1::FINISH_REASON_STOP_STRING, "Wait"),
                                        DetokenizedText{"ait, no", "", 1});
  EXPECT_EQ(out.reasoning_content(), "");
  EXPECT_EQ(out.content(), "");
  EXPECT_EQ(sample.reasoning_tokens(), 2u);
}

TEST(SampleAssemblerTest, ReasoningFlushesWhenTheStopIsInTheAnswer) {
  const std::vector<std::string> stops = {"."};
  SampleAssembler sample(0, stops);
  v1::SampleDelta out = sample.Assemble(Tokens({1, 2}, v1::FINISH_REASON_STOP_STRING, "."),
                                        DetokenizedText{"r", "42. ok", 1});
  EXPECT_EQ(out.reasoning_content(), "r");
  EXPECT_EQ(out.content(), "42");
}

TEST(SampleAssemblerTest, ErrorIsPassedOn) {
  SampleAssembler sample(1, kNoStops);
  v1::TokenDelta in = Tokens({}, v1::FINISH_REASON_ERROR);
  in.mutable_error()->set_code(8);
  in.mutable_error()->set_message("out of KV blocks");
  v1::SampleDelta out = sample.Assemble(in, DetokenizedText{});
  EXPECT_EQ(out.finish_reason(), v1::FINISH_REASON_ERROR);
  EXPECT_EQ(out.error().message(), "out of KV blocks");
}

}  // namespace
}  // namespace r1serve::gateway
