// The analyzer's state per input partition and symbol: what a snapshot on
// analyzer.state holds, and what is kept beside it (README.md "State").
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/analyzer/indicators.h"
#include "messages/json.h"

namespace ctk::analyzer {

// Everything known about one symbol of one input partition; what a
// snapshot on analyzer.state holds (key = symbol, same partition number).
struct symbol_state {
  std::string symbol;
  std::int64_t first_offset = -1;    // the first input offset this state ever took in
  std::int64_t next_offset = -1;     // the offset after the last input it took in
  std::vector<series_state> series;  // one per configured interval, in order

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("symbol", &symbol_state::symbol), field("first_offset", &symbol_state::first_offset),
                      field("next_offset", &symbol_state::next_offset), field("series", &symbol_state::series)};
  }
};

struct tracked {
  symbol_state state;
  std::int64_t snapshot_ms = -1;  // wall clock of its last snapshot; -1: none yet (the first one is due at once)
  std::int64_t resume_at = -1;    // inputs below this offset are already in `state` (after a restore)
  std::int64_t last_seen_ms = 0;  // wall clock of the last input (for the grace rule; not in snapshots)
};

struct partition_state {
  std::map<std::string, tracked, std::less<>> symbols;
  std::set<std::string> dirty;  // changed since the last snapshot
};

}  // namespace ctk::analyzer
