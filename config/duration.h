// Lengths of time in the config: "500ms", "30s", "2m", "1h", "1d".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ctk::cfg {

// Parses "500ms", "30s", "2m", "1h", "1d" (and "0", "0s": none) into
// milliseconds.
std::optional<std::int64_t> parse_duration_ms(std::string_view s);

// Milliseconds in the largest unit that holds them exactly: 90000 → "90s",
// 120000 → "2m", 250 → "250ms", 0 → "0s".
std::string format_duration(std::int64_t ms);

// A length of time as written in the config (500ms, 30s, 2m, 1h, 7d): the
// text (for logs and reference.yaml) and its milliseconds, parsed once by
// the loader, which refuses what does not parse, so that no actor parses
// it again. Empty: not set (ms 0).
struct duration {
  std::string text;
  std::int64_t ms = 0;
  duration() = default;
  duration(const char* t);  // a default written in the code (the config test loads every default)
  std::chrono::milliseconds value() const { return std::chrono::milliseconds(ms); }
  bool empty() const { return text.empty(); }
  bool operator==(const duration&) const = default;
};

}  // namespace ctk::cfg
