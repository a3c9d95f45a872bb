// `cointicker db migrate|status`: the schema db-sink writes to.
#include <iostream>
#include <limits>

#include "actors/db_sink/postgres.h"
#include "actors/db_sink/schema.h"
#include "cli/commands.h"

namespace ctk::cli {

namespace {
std::unique_ptr<pqxx::connection> open_db(const global_options& g, const std::string& dsn_override) {
  cfg::loaded_config c;
  if (!load(g, c)) return nullptr;
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
    auto conn = open_db(g, dsn);
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

  cmd->add_subcommand("status", "Print the schema version and the migrations still to apply")->callback([&g, &rc] {
    auto conn = open_db(g, dsn);
    if (!conn) {
      rc = exit_failure;
      return;
    }
    try {
      const int v = db::schema_version(*conn);
      std::cout << "schema version " << v << "\n";
      for (const auto& m : db::migrations())
        if (m.version > v) std::cout << "pending: " << m.version << " " << m.name << "\n";
      rc = exit_ok;
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what();
      rc = exit_failure;
    }
  });
}

}  // namespace ctk::cli
