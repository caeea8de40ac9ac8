#include "lib/verify/response_shape.h"

namespace r1serve::verify {

int CountOccurrences(std::string_view text, std::string_view needle) {
  int count = 0;
  for (size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\n\r\f\v") == std::string_view::npos;
}

ResponseShape ParseResponseShape(std::string_view response, bool starts_in_reasoning) {
  ResponseShape shape;
  shape.open_tags = CountOccurrences(response, kThinkOpen);
  shape.close_tags = CountOccurrences(response, kThinkClose);

  const size_t first_open = response.find(kThinkOpen);
  shape.before_open = response.substr(0, first_open);  // npos: all of it

  size_t reasoning_begin = 0;
  if (!starts_in_reasoning && first_open != std::string_view::npos) {
    reasoning_begin = first_open + kThinkOpen.size();
  }
  const size_t last_close = response.rfind(kThinkClose);
  size_t reasoning_end = response.size();
  if (last_close != std::string_view::npos && last_close >= reasoning_begin) {
    reasoning_end = last_close;
  }
  shape.reasoning = response.substr(reasoning_begin, reasoning_end - reasoning_begin);
  shape.answer = last_close == std::string_view::npos
                     ? response
                     : response.substr(last_close + kThinkClose.size());
  return shape;
}

}  // namespace r1serve::verify
