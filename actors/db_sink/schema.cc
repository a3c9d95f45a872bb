#include "actors/db_sink/schema.h"

#include "db_sink/migrations.h"

namespace ctk::db {

namespace {
constexpr const char* lock_sql = "SELECT pg_advisory_xact_lock(727001)";  // any constant, same in every process
constexpr const char* history_sql = R"(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))";
}  // namespace

const std::vector<migration>& migrations() { return migration_files; }

int schema_version(pqxx::connection& c) {
  pqxx::work w(c);
  auto r = w.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!r[0][0].as<bool>()) return 0;
  return w.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
}

std::vector<int> migrate(pqxx::connection& c, int up_to) {
  std::vector<int> applied;
  for (const auto& m : migrations()) {
    if (m.version > up_to) break;
    pqxx::work w(c);
    w.exec(lock_sql);
    w.exec(history_sql);
    auto r = w.exec("SELECT 1 FROM schema_migrations WHERE version = " + w.quote(m.version));
    if (!r.empty()) continue;  // the transaction rolls back: nothing changed
    w.exec(m.sql);
    w.exec("INSERT INTO schema_migrations (version, name) VALUES (" + w.quote(m.version) + ", " + w.quote(m.name) +
           ")");
    w.commit();
    applied.push_back(m.version);
  }
  return applied;
}

}  // namespace ctk::db
