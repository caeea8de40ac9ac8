#include "lib/engine/sampler/stop_string_matcher.h"

#include <deque>
#include <utility>
#include <vector>

namespace r1serve::engine {

// Aho-Corasick automaton over the stop strings: a trie of their bytes where each node also knows
// its failure link (the node of its longest proper suffix that is in the trie) and the longest
// stop string that ends at it.
struct StopStringMatcher::Automaton {
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // few per node: a linear scan is fastest
    int32_t fail = 0;
    int32_t depth = 0;
    // Longest stop string that is a suffix of this node's bytes (0: none), and its index.
    int32_t match_length = 0;
    int32_t match_index = -1;
    // Length of the longest suffix of this node's bytes that can still grow into a stop string
    // (a node with children): what must be held back in this state.
    int32_t hold = 0;
  };
  std::vector<Node> nodes{Node{}};  // nodes[0] is the root (the empty string)

  int32_t Child(int32_t node, uint8_t byte) const {
    for (const auto& [b, child] : nodes[node].children) {
      if (b == byte) return child;
    }
    return -1;
  }

  // The state after reading `byte` in `state`. Amortized O(1): each failure step shortens the
  // current suffix, which grows by at most one byte per call.
  int32_t Next(int32_t state, uint8_t byte) const {
    for (;;) {
      if (const int32_t child = Child(state, byte); child >= 0) return child;
      if (state == 0) return 0;
      state = nodes[state].fail;
    }
  }
};

StopStringMatcher::StopStringMatcher(std::span<const std::string> stop_strings) {
  auto automaton = std::make_shared<Automaton>();
  std::vector<Automaton::Node>& nodes = automaton->nodes;
  for (size_t index = 0; index < stop_strings.size(); ++index) {
    const std::string& stop = stop_strings[index];
    if (stop.empty()) continue;
    int32_t node = 0;
    for (const char c : stop) {
      const uint8_t byte = static_cast<uint8_t>(c);
      int32_t child = automaton->Child(node, byte);
      if (child < 0) {
        child = static_cast<int32_t>(nodes.size());
        Automaton::Node fresh;
        fresh.depth = nodes[node].depth + 1;
        nodes.push_back(std::move(fresh));
        nodes[node].children.emplace_back(byte, child);
      }
      node = child;
    }
    if (nodes[node].match_index < 0) {  // a duplicate keeps the first index
      nodes[node].match_length = nodes[node].depth;
      nodes[node].match_index = static_cast<int32_t>(index);
    }
  }
  // Breadth-first, so that a node's failure target (shallower) is complete before the node.
  std::deque<int32_t> queue;
  for (const auto& [byte, child] : nodes[0].children) queue.push_back(child);
  while (!queue.empty()) {
    const int32_t node = queue.front();
    queue.pop_front();
    for (const auto& [byte, child] : nodes[node].children) {
      nodes[child].fail = automaton->Next(nodes[node].fail, byte);
      queue.push_back(child);
    }
    // A node's own stop string is longer than any that ends at its failure target.
    const Automaton::Node& fail = nodes[nodes[node].fail];
    if (nodes[node].match_index < 0) {
      nodes[node].match_length = fail.match_length;
      nodes[node].match_index = fail.match_index;
    }
    nodes[node].hold = nodes[node].children.empty() ? fail.hold : nodes[node].depth;
  }
  automaton_ = std::move(automaton);
}

StopStringMatcher::Progress StopStringMatcher::Append(std::string_view piece, bool may_stop) {
  const size_t start = text_bytes_;
  text_bytes_ += piece.size();
  if (progress_.stopped) return progress_;
  const Automaton& automaton = *automaton_;
  for (size_t i = 0; i < piece.size(); ++i) {
    state_ = automaton.Next(state_, static_cast<uint8_t>(piece[i]));
    const Automaton::Node& node = automaton.nodes[state_];
    if (may_stop && node.match_length > 0) {
      progress_.safe_end = start + i + 1 - static_cast<size_t>(node.match_length);
      progress_.stopped = true;
      progress_.stop_index = node.match_index;
      return progress_;
    }
  }
  progress_.safe_end = text_bytes_ - static_cast<size_t>(automaton.nodes[state_].hold);
  return progress_;
}

}  // namespace r1serve::engine
