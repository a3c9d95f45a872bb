// News by symbol, for the insights that join news with candles. Fed in the
// order of the one partition all news is placed on (pipeline::
// news_placement_key), so what it holds is a function of that partition
// alone, whoever reads it and however fast. See README.md "News and
// candles".
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ctk::analyzer {

// "KRW-BTC" → "BTC" (Upbit markets are QUOTE-BASE); a symbol without a dash
// is its own base.
std::string_view base_symbol(std::string_view market_symbol);

// The news about one symbol in a time window.
struct news_stats {
  std::int64_t count = 0;
  double mean = 0;                  // of the items' scores; 0 when none
  std::vector<std::string> newest;  // up to 5 record ids, the newest first (ties: the larger id first)
};

class news_book {
 public:
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  // lateness: an item published this far before its source's newest item
  // (read before it) is late. per_symbol: items kept per symbol (the oldest
  // go first beyond it).
  explicit news_book(std::int64_t lateness_ms, std::size_t per_symbol = 20000)
      : lateness_ms_(lateness_ms), per_symbol_(per_symbol) {}

  // One news item, in partition order. False: late (not kept; its source's
  // newest does not move).
  bool add(const std::string& source, std::int64_t published_ms, double score, const std::string& id,
           const std::vector<std::string>& symbols);

  // Every source seen is past this: the least, over sources, of its newest
  // item's time minus the lateness; `none` before any news. Items of a time
  // at or before it that are read later are late, so a window ending at or
  // before it is complete.
  std::int64_t watermark() const;

  // Items about `symbol` (a base symbol) published in (from_ms, to_ms].
  news_stats stats(std::string_view symbol, std::int64_t from_ms, std::int64_t to_ms) const;

  std::size_t sources() const { return newest_.size(); }
  std::size_t items(std::string_view symbol) const;

 private:
  struct item {
    std::int64_t at;
    double score;
    std::string id;
  };
  std::int64_t lateness_ms_;
  std::size_t per_symbol_;
  std::map<std::string, std::int64_t, std::less<>> newest_;         // per source
  std::map<std::string, std::deque<item>, std::less<>> by_symbol_;  // oldest first
};

}  // namespace ctk::analyzer
