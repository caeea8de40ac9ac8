#include "gateway/stop_string_holdback.h"

#include <algorithm>

namespace r1serve::gateway {

StopStringHoldback::StopStringHoldback(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopStringHoldback::Push(std::string_view text) {
  held_.append(text);
  // The longest suffix of held_ that is a prefix of a stop string (a whole stop string included:
  // decode may still report it, and only then is it certain to be the end).
  size_t keep = 0;
  for (const std::string& stop : stops_) {
    const size_t longest = std::min(stop.size(), held_.size());
    for (size_t len = longest; len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) ==
          std::string_view(stop).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringHoldback::Finish(std::string_view last_text, std::string_view stop,
                                       bool* found) {
  held_.append(last_text);
  const size_t at = stop.empty() ? std::string::npos : held_.find(stop);
  *found = at != std::string::npos;
  std::string out = *found ? held_.substr(0, at) : held_;
  held_.clear();
  return out;
}

bool StopStringHoldback::WouldFind(std::string_view last_text, std::string_view stop) const {
  if (stop.empty()) return false;
  return (held_ + std::string(last_text)).find(stop) != std::string::npos;
}

}  // namespace r1serve::gateway
