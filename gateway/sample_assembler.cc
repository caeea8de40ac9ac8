#include "gateway/sample_assembler.h"

namespace r1serve::gateway {

int SampleAssembler::TextTokenCount(const v1::TokenDelta& delta) {
  const bool drop_last = delta.finish_reason() == v1::FINISH_REASON_EOS ||
                         delta.finish_reason() == v1::FINISH_REASON_STOP_TOKEN;
  return delta.token_ids_size() - (drop_last && delta.token_ids_size() > 0 ? 1 : 0);
}

v1::SampleDelta SampleAssembler::Assemble(const v1::TokenDelta& delta,
                                          const DetokenizedText& text) {
  v1::SampleDelta out;
  out.set_index(index_);
  out.mutable_token_ids()->CopyFrom(delta.token_ids());
  out.mutable_logprobs()->CopyFrom(delta.logprobs());
  completion_tokens_ += delta.token_ids_size();
  reasoning_tokens_ += text.reasoning_tokens;
  if (delta.finish_reason() == v1::FINISH_REASON_UNSPECIFIED) {
    out.set_reasoning_content(reasoning_.Push(text.reasoning));
    out.set_content(content_.Push(text.content));
  } else {
    Finish(delta, text, &out);
  }
  return out;
}

void SampleAssembler::Finish(const v1::TokenDelta& delta, const DetokenizedText& text,
                             v1::SampleDelta* out) {
  finished_ = true;
  const std::string& stop = delta.stop_string();
  bool found = false;
  if (!stop.empty() && !content_.WouldFind(text.content, stop) &&
      reasoning_.WouldFind(text.reasoning, stop)) {
    // The sample stopped inside its reasoning: whatever the splitter put in the answer comes
    // after the stop string and is cut with it.
    out->set_reasoning_content(reasoning_.Finish(text.reasoning, stop, &found));
    content_.Finish(text.content, "", &found);
  } else {
    out->set_reasoning_content(reasoning_.Finish(text.reasoning, "", &found));
    out->set_content(content_.Finish(text.content, stop, &found));
  }
  out->set_finish_reason(delta.finish_reason());
  out->set_stop_string(stop);
  if (delta.has_error()) *out->mutable_error() = delta.error();
}

}  // namespace r1serve::gateway
