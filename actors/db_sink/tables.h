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

// One value of a row, or NULL. Text of the record's own fields is referred
// to, not copied: a cell lives while its row is added. Numbers are printed
// into the cell; other text it made is owned.
class cell {
 public:
  cell() = default;  // NULL
  cell(std::nullopt_t) {}
  cell(const std::string& s) : kind_(kind::view), view_(s) {}
  cell(std::string&& s) : kind_(kind::owned), own_(std::move(s)) {}
  // The shortest text that reads back as v ("NaN" if it cannot be printed).
  static cell number(double v);
  bool null() const { return kind_ == kind::null; }
  std::string_view text() const;

 private:
  enum class kind : std::uint8_t { null, view, owned, printed };
  kind kind_ = kind::null;
  std::uint8_t printed_size_ = 0;
  std::string_view view_;
  std::string own_;
  char printed_[32];
};

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
// The record's key and value are kept in the batch's `payload`, one after
// the other, from `at` on (batch::key, batch::value).
struct origin {
  std::string topic;
  std::int32_t partition;
  std::int64_t offset;
  std::size_t at, key_size, value_size;
};

// Rows waiting for one table, copied straight in or through a
// session-local staging table. Each row is held as the line COPY reads
// (text format): escaped once when it is added, sent as it is.
class table_base {
 public:
  table_base(std::string name, std::vector<std::string> cols);
  const std::string& name() const { return name_; }
  const std::vector<std::string>& columns() const { return cols_; }
  std::string stage() const { return "stage_" + name_; }
  std::vector<std::size_t> refs;  // index into the batch's origins, per row

  std::size_t size() const { return ends_.size(); }
  void clear();
  // Keeps the rows whose origin maps to an index >= 0 in `remap`, renumbered.
  void retain(const std::vector<long>& remap);
  // Row i as COPY reads it, with its newline.
  std::string_view line(std::size_t i) const;

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
  // One value of the row being added: a tab before every value but the
  // first, NULL as \N, the text escaped for COPY.
  void put(std::size_t column, const cell& v);
  void end_row(std::size_t ref);

 private:
  // COPY rows [lo, hi) into `into` (this table or its staging table).
  void copy(pqxx::transaction_base& t, const std::string& into, std::size_t lo, std::size_t hi);
  std::size_t begin(std::size_t row) const { return row == 0 ? 0 : ends_[row - 1]; }

  std::string name_;
  std::vector<std::string> cols_;
  std::string col_list_;
  std::string text_;               // the rows' lines, one after the other
  std::vector<std::size_t> ends_;  // where each row's line ends in text_
  std::string chunk_;              // what one write_raw_line sends
};

template <class Data, std::size_t N>
class table final : public table_base {
 public:
  table(std::string name, const std::array<column<Data>, N>& cols)
      : table_base(std::move(name), names_of(cols)), cols_(cols) {}
  void add(const msg::envelope& e, const Data& d, std::size_t ref) {
    for (std::size_t i = 0; i < N; ++i) put(i, cols_[i].value(e, d));
    end_row(ref);
  }

 private:
  static std::vector<std::string> names_of(const std::array<column<Data>, N>& cols) {
    std::vector<std::string> v;
    for (const auto& c : cols) v.emplace_back(c.name);
    return v;
  }
  const std::array<column<Data>, N>& cols_;  // one of the lists above (static)
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
  std::string payload;                   // the origins' keys and values
  std::map<tp_key, std::int64_t> first;  // per partition: the first offset in this batch
  std::map<tp_key, std::int64_t> next;   // per partition: the offset after the last one
  std::chrono::steady_clock::time_point oldest;
  std::map<std::string, std::int64_t> newest;  // per source: the newest fetched_at (ms) of a crawled record

  std::array<table_base*, 6> tables() { return {&news, &market, &fear_greed, &indicators, &sentiment, &insights}; }
  bool empty() const { return origins.empty(); }
  // Remembers where a record came from, as origins[origins.size()] (its rows'
  // ref), and moves its partition's offsets.
  void add_origin(std::string_view topic, std::int32_t partition, std::int64_t offset, std::string_view key,
                  std::string_view value);
  // A crawled record of `source` fetched at `fetched_at` (ISO-8601): for `newest`.
  void crawled(const std::string& source, const std::string& fetched_at);
  std::string_view key(const origin& o) const { return std::string_view(payload).substr(o.at, o.key_size); }
  std::string_view value(const origin& o) const {
    return std::string_view(payload).substr(o.at + o.key_size, o.value_size);
  }
  // Drops the rows of partitions that left.
  void drop(const std::set<tp_key>& gone);
  // Empty again, its vectors' capacity kept: the sink reuses a written batch
  // rather than freeing and faulting in megabytes of rows for every one.
  void clear();

 private:
  // The last record's partition and fetched time: consecutive records mostly
  // share both, and then need no map lookup and no parse.
  std::map<tp_key, std::int64_t>::iterator last_next_;
  std::string last_topic_;
  std::int32_t last_partition_ = -1;
  std::string last_source_, last_fetched_;
};

}  // namespace ctk::db
