// What PostgreSQL holds, for `cointicker db status`: rows and the newest
// record time per table and source, duplicates by natural key (which the
// record-id keys should make impossible), and rows per source and UTC day
// (compared with HDFS by the CLI). Read-only queries.
#pragma once

#include <cstdint>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace ctk::db {

struct table_rows {
  std::string table;
  std::string source;  // "" for the analysis tables (no source column per record kind)
  std::int64_t rows = 0;
  std::string newest;  // the newest record time (UTC ISO-8601), "" when empty
};

struct inventory {
  std::vector<table_rows> tables;
  // Rows beyond the first per natural key: market_trends (source, symbol,
  // timestamp), fear_greed_index (source, timestamp), raw_news (source,
  // url; news without a URL are left out). Should all be 0.
  std::map<std::string, std::int64_t> duplicates;
};

inventory take_inventory(pqxx::connection& c);

// Rows of the three record tables per (source, UTC day "yyyymmdd", the day
// HDFS files a record under: its own time). `day` "" for every day.
std::map<std::pair<std::string, std::string>, std::int64_t> rows_per_source_day(pqxx::connection& c,
                                                                                const std::string& day);

}  // namespace ctk::db
