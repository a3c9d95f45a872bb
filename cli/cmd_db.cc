// `cointicker db migrate|status`: the schema db-sink writes to, and a check
// of the data in it against HDFS.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <limits>

#include "actors/db_sink/inventory.h"
#include "actors/db_sink/postgres.h"
#include "actors/db_sink/schema.h"
#include "actors/hdfs_sink/inventory.h"
#include "cli/commands.h"
#include "cli/json_out.h"

namespace ctk::cli {

namespace {
std::unique_ptr<pqxx::connection> open_db(cfg::loaded_config c, const std::string& dsn_override) {
  if (!dsn_override.empty()) c.cluster.postgres.dsn = dsn_override;
  if (c.cluster.postgres.dsn.empty()) {
    std::cerr << "error: postgres.dsn is empty (set it in cluster.yaml, CTK_POSTGRES__DSN or --dsn)\n";
    return nullptr;
  }
  std::string err;
  auto ci = db::connection_string(c.cluster.postgres, err);
  if (!ci) {
    std::cerr << "error: " << err << "\n";
    return nullptr;
  }
  auto conn = db::connect(*ci, err);
  if (!conn) std::cerr << "error: " << err << "\n";
  return conn;
}
struct db_status_opts {
  std::string day, hdfs;
  bool json = false;
};

// Compares PostgreSQL's rows with HDFS's distinct ids per (source, day).
void compare_with_hdfs(pqxx::connection& conn, const cfg::loaded_config& c, const db_status_opts& o,
                       db_status_json& out) {
  std::string day = o.day;
  if (day.empty()) {
    const std::time_t now = std::time(nullptr);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y%m%d", std::gmtime(&now));
    day = buf;
  } else if (day == "all") {
    day.clear();
  } else {
    day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
  }
  std::string err;
  auto store = hdfs::make_store(out.hdfs, {c.cluster.hdfs.user, static_cast<int>(c.cluster.hdfs.timeout.ms), 1}, err);
  hdfs::day_counts files;
  if (!store || !hdfs::count_ids(*store, day, files, err)) {
    out.problems.push_back("hdfs " + out.hdfs + ": " + err);
    return;
  }
  out.problems.insert(out.problems.end(), files.problems.begin(), files.problems.end());
  out.hdfs_open_files = files.open_files;
  std::map<std::pair<std::string, std::string>, day_json> both;
  for (const auto& [key, n] : db::rows_per_source_day(conn, day)) both[key] = {key.first, key.second, n, 0};
  for (const auto& [key, n] : files.ids) {
    auto& d = both[key];
    d.source = key.first;
    d.day = key.second;
    d.hdfs = n;
  }
  for (auto& [key, d] : both) out.days.push_back(std::move(d));
}

void print_db_status(const db_status_json& s) {
  std::cout << "schema version " << s.schema_version << "\n";
  for (const auto& p : s.pending) std::cout << "pending: " << p << "\n";
  std::printf("\n%-22s %-16s %10s  %s\n", "TABLE", "SOURCE", "ROWS", "NEWEST RECORD");
  for (const auto& t : s.tables)
    std::printf("%-22s %-16s %10lld  %s\n", t.table.c_str(), t.source.empty() ? "-" : t.source.c_str(),
                static_cast<long long>(t.rows), t.newest.empty() ? "-" : t.newest.c_str());
  std::cout << "\nduplicates by natural key:";
  for (const auto& d : s.duplicates) std::cout << " " << d.table << " " << d.rows;
  std::cout << "\n";
  if (!s.hdfs.empty()) {
    std::printf("\n%-16s %-9s %10s %10s  (PostgreSQL rows, HDFS distinct ids in %s)\n", "SOURCE", "DAY", "POSTGRES",
                "HDFS", s.hdfs.c_str());
    if (s.hdfs_open_files > 0)
      std::printf("(HDFS counts include %lld open files under /_tmp, not committed yet)\n",
                  static_cast<long long>(s.hdfs_open_files));
    for (const auto& d : s.days)
      std::printf("%-16s %-9s %10lld %10lld%s\n", d.source.c_str(), d.day.c_str(), static_cast<long long>(d.postgres),
                  static_cast<long long>(d.hdfs), d.postgres == d.hdfs ? "" : "  DIFFERENT");
  }
  for (const auto& p : s.problems) std::cerr << "db status: " << p << "\n";
}

int run_db_status(const global_options& g, const std::string& dsn, const db_status_opts& o) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  auto conn = open_db(c, dsn);
  if (!conn) return exit_failure;
  db_status_json out;
  try {
    out.schema_version = db::schema_version(*conn);
    for (const auto& m : db::migrations())
      if (m.version > out.schema_version) out.pending.push_back(std::to_string(m.version) + " " + m.name);
    if (out.pending.empty()) {
      const auto inv = db::take_inventory(*conn);
      for (const auto& t : inv.tables) out.tables.push_back({t.table, t.source, t.rows, t.newest});
      for (const auto& [table, n] : inv.duplicates) out.duplicates.push_back({table, n});
      out.hdfs = o.hdfs.empty() ? c.cluster.hdfs.url : o.hdfs == "none" ? "" : o.hdfs;
      if (!out.hdfs.empty()) compare_with_hdfs(*conn, c, o, out);
    }
  } catch (const std::exception& e) {
    std::cerr << "db status: " << db::db_message(e) << "\n";
    return exit_failure;
  }
  for (const auto& d : out.duplicates) out.ok = out.ok && d.rows == 0;
  for (const auto& d : out.days) out.ok = out.ok && d.postgres == d.hdfs;
  out.ok = out.ok && out.problems.empty();
  if (o.json)
    print_json(out);
  else
    print_db_status(out);
  return out.ok ? exit_ok : exit_failure;
}

}  // namespace

void add_db_command(CLI::App& app, global_options& g, int& rc) {
  auto* cmd = app.add_subcommand("db", "PostgreSQL schema of db-sink (migrations are versioned and applied in order)");
  cmd->require_subcommand(1);
  static std::string dsn;
  cmd->add_option("--dsn", dsn, "libpq connection string (overrides postgres.dsn)");

  static int up_to = std::numeric_limits<int>::max();
  auto* migrate = cmd->add_subcommand(
      "migrate", "Apply every migration the database does not have yet (db-sink also does at start)");
  migrate->add_option("--to", up_to, "stop after this version (default: the newest)")->check(CLI::PositiveNumber);
  migrate->callback([&g, &rc] {
    cfg::loaded_config c;
    auto conn = load(g, c) ? open_db(c, dsn) : nullptr;
    if (!conn) {
      rc = exit_failure;
      return;
    }
    try {
      auto applied = db::migrate(*conn, up_to);
      if (applied.empty()) std::cout << "schema is up to date (version " << db::schema_version(*conn) << ")\n";
      for (int v : applied) std::cout << "applied migration " << v << "\n";
      rc = exit_ok;
    } catch (const std::exception& e) {
      std::cerr << "error: migration failed: " << e.what();
      rc = exit_failure;
    }
  });

  static db_status_opts status_opts;
  auto* status = cmd->add_subcommand(
      "status",
      "The schema version and pending migrations, then what the data holds: rows and the newest record per table and "
      "source, duplicates by natural key, and PostgreSQL against HDFS per source and day. Exit 1 on a duplicate, a "
      "difference or an unreadable file");
  status->add_option("--day", status_opts.day, "the UTC day compared with HDFS: YYYY-MM-DD, or all (default: today)");
  status->add_option("--hdfs", status_opts.hdfs, "the store compared with (default hdfs.url); none: no comparison");
  status->add_flag("--json", status_opts.json, "print it as one JSON object");
  status->callback([&g, &rc] { rc = run_db_status(g, dsn, status_opts); });
}

}  // namespace ctk::cli
