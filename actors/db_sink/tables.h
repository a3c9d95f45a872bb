// The rows db-sink writes. Each table's columns are listed once, here and
// in tables.cc: every column's SQL name next to the field of the record
// that fills it. The COPY column list, the staging table and each row are
// derived from that list. (migrations/*.sql hold the CREATE TABLE statements as
// the migration history they are; a test compares the two.)
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "messages/analysis.h"
#include "messages/envelope.h"

namespace ctk::db {

// One value of a row; NULL when empty.
using cell = std::optional<std::string>;

// A column: its name as written in SQL (quoted where it is a keyword) and
// what fills it.
template <class Data>
struct column {
  std::string_view name;
  cell (*value)(const msg::envelope&, const Data&);
};

extern const std::array<column<msg::market_data>, 9> market_columns;
extern const std::array<column<msg::news_data>, 9> news_columns;
extern const std::array<column<msg::fear_greed_data>, 7> fear_greed_columns;
extern const std::array<column<msg::indicator_data>, 23> indicator_columns;
extern const std::array<column<msg::sentiment_data>, 10> sentiment_columns;
extern const std::array<column<msg::insight_data>, 10> insight_columns;

// Where a buffered row came from: for the offsets and for a dead letter.
struct origin {
  std::string topic;
  std::int32_t partition;
  std::int64_t offset;
  std::string key;
  std::string value;
};

// Rows waiting for one table, copied straight in or through a
// session-local staging table.
class table_base {
 public:
  table_base(std::string name, std::vector<std::string> cols);
  virtual ~table_base() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& columns() const { return cols_; }
  std::string stage() const { return "stage_" + name_; }
  std::vector<std::size_t> refs;  // index into the batch's origins, per row

  virtual std::size_t size() const = 0;
  virtual void clear() = 0;
  // Keeps the rows whose origin maps to an index >= 0 in `remap`, renumbered.
  virtual void retain(const std::vector<long>& remap) = 0;

  // The copied columns with their types and no constraints: a refused value
  // is refused by the INSERT, inside the transaction, with the table's message.
  std::string create_stage_sql() const;
  // COPY rows [lo, hi) straight into the table: the common case, where no
  // row's id is stored yet (dedup runs upstream). A stored id (a batch
  // redone after a crash) fails it with a unique violation.
  std::size_t write_direct(pqxx::transaction_base& t, std::size_t lo, std::size_t hi);
  // COPY rows [lo, hi) into the staging table, then one INSERT … SELECT.
  // Returns the rows inserted (duplicates of stored ids are not).
  // The staging table is emptied first: a savepoint may have filled it.
  std::size_t write(pqxx::transaction_base& t, std::size_t lo, std::size_t hi);

 protected:
  virtual void copy(pqxx::stream_to& s, std::size_t lo, std::size_t hi) = 0;

 private:
  std::string name_;
  std::vector<std::string> cols_;
  std::string col_list_;
};

template <class Data, std::size_t N>
class table final : public table_base {
 public:
  table(std::string name, const std::array<column<Data>, N>& cols)
      : table_base(std::move(name), names_of(cols)), cols_(cols) {}
  void add(const msg::envelope& e, const Data& d, std::size_t ref) {
    auto& r = rows_.emplace_back();
    for (std::size_t i = 0; i < N; ++i) r[i] = cols_[i].value(e, d);
    refs.push_back(ref);
  }
  std::size_t size() const override { return rows_.size(); }
  void clear() override {
    rows_.clear();
    refs.clear();
  }
  void retain(const std::vector<long>& remap) override {
    std::size_t w = 0;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const long to = remap[refs[i]];
      if (to < 0) continue;
      rows_[w] = std::move(rows_[i]);
      refs[w] = static_cast<std::size_t>(to);
      ++w;
    }
    rows_.resize(w);
    refs.resize(w);
  }

 private:
  static std::vector<std::string> names_of(const std::array<column<Data>, N>& cols) {
    std::vector<std::string> v;
    for (const auto& c : cols) v.emplace_back(c.name);
    return v;
  }
  void copy(pqxx::stream_to& s, std::size_t lo, std::size_t hi) override {
    for (std::size_t i = lo; i < hi; ++i) s << rows_[i];
  }
  const std::array<column<Data>, N>& cols_;  // one of the lists above (static)
  std::vector<std::array<cell, N>> rows_;
};

using tp_key = std::pair<std::string, std::int32_t>;

// Rows gathered for one transaction, with where they came from.
struct batch {
  table<msg::news_data, 9> news{"raw_news", news_columns};
  table<msg::market_data, 9> market{"market_trends", market_columns};
  table<msg::fear_greed_data, 7> fear_greed{"fear_greed_index", fear_greed_columns};
  // The analyzer's records (insights topic).
  table<msg::indicator_data, 23> indicators{"technical_indicators", indicator_columns};
  table<msg::sentiment_data, 10> sentiment{"sentiment_analysis", sentiment_columns};
  table<msg::insight_data, 10> insights{"crypto_insights", insight_columns};
  std::vector<origin> origins;
  std::map<tp_key, std::int64_t> first;  // per partition: the first offset in this batch
  std::map<tp_key, std::int64_t> next;   // per partition: the offset after the last one
  std::chrono::steady_clock::time_point oldest;
  std::map<std::string, std::int64_t> newest;  // per source: the newest fetched_at (ms) of a crawled record

  std::array<table_base*, 6> tables() { return {&news, &market, &fear_greed, &indicators, &sentiment, &insights}; }
  bool empty() const { return origins.empty(); }
  // Drops the rows of partitions that left.
  void drop(const std::set<tp_key>& gone);
  // Empty again, its vectors' capacity kept: the sink reuses a written batch
  // rather than freeing and faulting in megabytes of rows for every one.
  void clear();
};

}  // namespace ctk::db
