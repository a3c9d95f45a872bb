// What the CLI prints with --json, as described structs for the project's
// JSON codec (messages/json.h). `topics --json` prints the REST API's topic
// items (serve/replies.h), so a script reads one shape from either.
#pragma once

#include <string>
#include <vector>

#include "brokers/topic_report.h"
#include "config/loader.h"
#include "messages/json.h"
#include "serve/replies.h"

namespace ctk::cli {

using msg::field;

struct topics_json {
  std::vector<serve::topic_item> topics;
  static constexpr auto fields() { return std::tuple{field("topics", &topics_json::topics)}; }
};

inline serve::topic_item topic_item_of(const kafka::topic_report& t) {
  serve::topic_item ti{t.topic.name, static_cast<std::int64_t>(t.topic.partitions.size()), t.messages, t.end, {}};
  for (const auto& l : t.lags) ti.lags.push_back({l.group, l.lag});
  return ti;
}

struct source_json {
  std::string name, kind;
  bool enabled = true;
  std::string schedule;  // "every 5m", "daily 09:00 Asia/Seoul", "cron '…' UTC", "manual only"
  std::string disabled_reason;
  static constexpr auto fields() {
    return std::tuple{field("name", &source_json::name), field("kind", &source_json::kind),
                      field("enabled", &source_json::enabled), field("schedule", &source_json::schedule),
                      field("disabled_reason", &source_json::disabled_reason, false)};
  }
};
struct sources_json {
  std::vector<source_json> sources;
  static constexpr auto fields() { return std::tuple{field("sources", &sources_json::sources)}; }
};

struct actor_count_json {
  std::string actor;
  std::int64_t instances = 0;
  static constexpr auto fields() {
    return std::tuple{field("actor", &actor_count_json::actor), field("instances", &actor_count_json::instances)};
  }
};
struct node_json {
  std::string name, host, role;
  std::vector<actor_count_json> actors;
  static constexpr auto fields() {
    return std::tuple{field("name", &node_json::name), field("host", &node_json::host), field("role", &node_json::role),
                      field("actors", &node_json::actors)};
  }
};
struct nodes_json {
  std::vector<node_json> nodes;
  static constexpr auto fields() { return std::tuple{field("nodes", &nodes_json::nodes)}; }
};

// `config check --json`: ok, or every problem with its place.
struct problem_json {
  std::string file;
  std::int64_t line = 0, column = 0;  // 0: no position
  std::string message;
  static constexpr auto fields() {
    return std::tuple{field("file", &problem_json::file), field("line", &problem_json::line),
                      field("column", &problem_json::column), field("message", &problem_json::message)};
  }
};
struct check_json {
  bool ok = false;
  std::string dir;
  std::int64_t nodes = 0, sources = 0, enabled_sources = 0;
  std::vector<problem_json> errors;
  std::vector<problem_json> warnings;
  static constexpr auto fields() {
    return std::tuple{field("ok", &check_json::ok),
                      field("dir", &check_json::dir),
                      field("nodes", &check_json::nodes),
                      field("sources", &check_json::sources),
                      field("enabled_sources", &check_json::enabled_sources),
                      field("errors", &check_json::errors),
                      field("warnings", &check_json::warnings)};
  }
};

// `db status --json`: the schema, what the tables hold, and PostgreSQL
// against HDFS per source and day.
struct table_json {
  std::string table, source;
  std::int64_t rows = 0;
  std::string newest;
  static constexpr auto fields() {
    return std::tuple{field("table", &table_json::table), field("source", &table_json::source),
                      field("rows", &table_json::rows), field("newest", &table_json::newest)};
  }
};
struct duplicates_json {
  std::string table;
  std::int64_t rows = 0;  // rows beyond the first per natural key
  static constexpr auto fields() {
    return std::tuple{field("table", &duplicates_json::table), field("rows", &duplicates_json::rows)};
  }
};
struct day_json {
  std::string source, day;
  std::int64_t postgres = 0, hdfs = 0;
  static constexpr auto fields() {
    return std::tuple{field("source", &day_json::source), field("day", &day_json::day),
                      field("postgres", &day_json::postgres), field("hdfs", &day_json::hdfs)};
  }
};
struct db_status_json {
  bool ok = true;  // no duplicates, PostgreSQL = HDFS on every day compared, nothing unreadable
  std::int64_t schema_version = 0;
  std::vector<std::string> pending;  // migrations not applied yet
  std::vector<table_json> tables;
  std::vector<duplicates_json> duplicates;
  std::string hdfs;                   // the store compared with ("" when not compared)
  std::int64_t hdfs_open_files = 0;   // open files whose records were counted (not committed yet)
  std::vector<day_json> days;         // (source, day) pairs either side holds
  std::vector<std::string> problems;  // unreadable files or lines, an unreachable store
  static constexpr auto fields() {
    return std::tuple{field("ok", &db_status_json::ok),
                      field("schema_version", &db_status_json::schema_version),
                      field("pending", &db_status_json::pending),
                      field("tables", &db_status_json::tables),
                      field("duplicates", &db_status_json::duplicates),
                      field("hdfs", &db_status_json::hdfs),
                      field("hdfs_open_files", &db_status_json::hdfs_open_files),
                      field("days", &db_status_json::days),
                      field("problems", &db_status_json::problems)};
  }
};

// Prints `v` as one line of JSON on stdout.
template <class T>
void print_json(const T& v) {
  std::string out;
  msg::encode(v, out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace ctk::cli
