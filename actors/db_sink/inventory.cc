#include "actors/db_sink/inventory.h"

namespace ctk::db {

namespace {

// The record tables, each with the column holding the record's own time.
struct record_table {
  const char* name;
  const char* time;
  const char* natural_key;
  const char* key_filter;
};
constexpr record_table record_tables[] = {
    {"market_trends", "\"timestamp\"", "source, symbol, \"timestamp\"", "true"},
    {"raw_news", "published_at", "source, url", "url <> ''"},
    {"fear_greed_index", "\"timestamp\"", "source, \"timestamp\"", "true"},
};
constexpr const char* analysis_tables[] = {"technical_indicators", "sentiment_analysis", "crypto_insights"};

constexpr const char* iso_utc = "to_char(max({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

std::string newest_of(const std::string& column) {
  std::string s = iso_utc;
  return s.replace(s.find("{}"), 2, column);
}

}  // namespace

inventory take_inventory(pqxx::connection& c) {
  inventory out;
  pqxx::read_transaction tx(c);
  for (const auto& t : record_tables) {
    const std::string name = t.name;
    for (const auto& row : tx.exec("SELECT source, count(*), " + newest_of(t.time) + " FROM " + name +
                                   " GROUP BY source ORDER BY source"))
      out.tables.push_back({name, row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::string>("")});
    out.duplicates[name] =
        tx.exec1("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM " + name + " WHERE " + t.key_filter +
                 " GROUP BY " + t.natural_key + " HAVING count(*) > 1) d")[0]
            .as<std::int64_t>();
  }
  for (const char* t : analysis_tables) {
    const auto row = tx.exec1(std::string("SELECT count(*), ") + newest_of("\"timestamp\"") + " FROM " + t);
    out.tables.push_back({t, "", row[0].as<std::int64_t>(), row[1].as<std::string>("")});
  }
  return out;
}

std::map<std::pair<std::string, std::string>, std::int64_t> rows_per_source_day(pqxx::connection& c,
                                                                                const std::string& day) {
  std::map<std::pair<std::string, std::string>, std::int64_t> out;
  pqxx::read_transaction tx(c);
  for (const auto& t : record_tables) {
    const std::string d = std::string("to_char(") + t.time + " AT TIME ZONE 'UTC', 'YYYYMMDD')";
    std::string sql = "SELECT source, " + d + " AS day, count(*) FROM " + t.name;
    if (!day.empty()) sql += " WHERE " + d + " = " + tx.quote(day);
    for (const auto& row : tx.exec(sql + " GROUP BY 1, 2"))
      out[{row[0].as<std::string>(), row[1].as<std::string>()}] += row[2].as<std::int64_t>();
  }
  return out;
}

}  // namespace ctk::db
