// The /cleaned aggregates of one day's /raw records, as a map and a reduce
// step: `cointicker aggregate` runs both in one process, `cointicker
// mapreduce map|reduce` runs them as a Hadoop Streaming job (docs/hadoop.md).
// Both paths share this code, so they agree byte for byte.
//
// map: one record (the envelope's JSON text) → one pair
//   market|{source}|{symbol}|{yyyy-mm-ddThh}   id TAB time_ms TAB price TAB volume_24h
//   news|{source}|{yyyy-mm-ddThh}              id TAB score (empty: not scored) TAB SYM,SYM
//   fear_greed|{source}|{yyyy-mm-dd}           id TAB time_ms TAB value TAB classification
// reduce: every value of one key, in any order, duplicates (same id)
// included → one line `{kind} TAB {json}`. The result does not depend on
// the order of the values: OHLC and "latest" are chosen by (time, id),
// sentiment is summed in fixed point.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ctk::analyzer {
class sentiment_scorer;
}

namespace ctk::batch {

// The outputs, in the order of their keys: /cleaned/{yyyymmdd}/aggregated_{kind}.json.
inline constexpr std::string_view output_kinds[] = {"fear_greed", "market", "news"};

// A record id as 128 bits (32 hex digits), for duplicate detection.
struct id128 {
  std::uint64_t hi = 0, lo = 0;
  bool operator==(const id128&) const = default;
  auto operator<=>(const id128&) const = default;
  template <class H>
  friend H AbslHashValue(H h, const id128& v) {
    return H::combine(std::move(h), v.hi, v.lo);
  }
};
std::optional<id128> parse_id(std::string_view hex);

class mapper {
 public:
  // scorer: scores news for `mean_sentiment` (and finds the symbols it
  // names); nullptr: news are counted only, by their keywords.
  explicit mapper(const analyzer::sentiment_scorer* scorer);
  ~mapper();
  // One record → key and value (see above). False + why: not an envelope
  // of a kind with an aggregate (a broken line, or kind not aggregated:
  // `why` empty then, and the record is skipped without complaint).
  // readable: how many bytes from json.data() on may be read (≥ json.size());
  // with simdjson's padding among them the record is parsed where it lies,
  // otherwise it is copied first.
  bool map(std::string_view json, std::string& key, std::string& value, std::string& why, std::size_t readable = 0);

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

// The values of one key, reduced. With `dedup`, add() keeps the first
// value per id (the reducer); without, the caller has dropped duplicates
// already (`aggregate`, which keeps one id set for the whole day).
class group {
 public:
  group(std::string_view key, bool dedup);
  // false: the value is not one map() writes (a reducer fed by hand).
  // id_checked: the caller has read the value's id as one already.
  bool add(std::string_view value, bool id_checked = false);
  std::string_view kind() const { return kind_; }
  // The aggregate as one line of JSON (no newline).
  std::string json() const;

 private:
  struct pick {  // a record chosen by (time, id); x.later_than(t, i): (t, i) comes after x
    std::int64_t at = 0;
    std::string id;
    double number = 0, volume = 0;
    std::string label;
    bool later_than(std::int64_t t, std::string_view i) const { return t > at || (t == at && i > id); }
    bool earlier_than(std::int64_t t, std::string_view i) const { return t < at || (t == at && i < id); }
    void set(std::int64_t t, std::string_view i, double n, double v, std::string_view l);
  };
  std::string kind_, key_;
  bool dedup_;
  std::set<std::string, std::less<>> ids_;
  std::int64_t records_ = 0;
  pick first_, last_;
  double high_ = 0, low_ = 0;
  std::int64_t scored_ = 0, score_sum_ = 0;  // score × 1e9, summed exactly
  std::map<std::string, std::int64_t> mentions_;
};

}  // namespace ctk::batch
