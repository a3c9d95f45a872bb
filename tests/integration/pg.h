// PostgreSQL for tests: the shared server that CTest's `pg` fixture starts
// (tests/support/pg.sh), fresh databases on it, private servers for tests
// that stop and start theirs, and psql as the independent client.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "tests/support/process.h"

namespace ctk::test {

inline std::string pg_script() { return std::string(CTK_SOURCE_DIR) + "/tests/support/pg.sh"; }

// The shared server's DSN (dbname=postgres).
inline std::string pg_fixture_dsn() {
  std::string dsn = read_file(std::string(CTK_TEST_PG_DIR) + "/dsn");
  while (!dsn.empty() && dsn.back() == '\n') dsn.pop_back();
  if (dsn.empty())
    throw std::runtime_error("no test PostgreSQL: the CTest fixture `pg` starts it (run through ctest, or " +
                             pg_script() + " start " + CTK_TEST_PG_DIR + ")");
  return dsn;
}

// psql -Atc SQL; throws on failure; returns stdout without the last newline.
inline std::string psql(const std::string& dsn, const std::string& sql) {
  std::string out;
  if (run("psql -X -q -v ON_ERROR_STOP=1 -Atc \"" + sql + "\" '" + dsn + "' 2>&1", &out) != 0)
    throw std::runtime_error("psql failed: " + sql + ": " + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

inline long psql_long(const std::string& dsn, const std::string& sql) { return std::stol(psql(dsn, sql)); }

// A new empty database on `server_dsn` (a dbname=postgres DSN); its DSN.
inline std::string fresh_database(const std::string& server_dsn) {
  static std::atomic<int> n{0};
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  psql(server_dsn, "CREATE DATABASE " + name);
  return server_dsn.substr(0, server_dsn.find("dbname=")) + "dbname=" + name;
}

// A server of the test's own, for stopping and starting it.
class private_pg {
 public:
  private_pg() {
    const std::string parent = temp_dir();
    ::chmod(parent.c_str(), 0755);  // the server runs as `postgres` when the tests run as root
    dir_ = parent + "/pg";
    std::string out;
    if (run(pg_script() + " start " + dir_ + " 2>&1", &out) != 0) throw std::runtime_error("pg.sh start: " + out);
    dsn_ = read_file(dir_ + "/dsn");
    while (!dsn_.empty() && dsn_.back() == '\n') dsn_.pop_back();
  }
  ~private_pg() { run(pg_script() + " destroy " + dir_ + " >/dev/null 2>&1"); }
  const std::string& dsn() const { return dsn_; }
  void stop() { run(pg_script() + " stop " + dir_ + " >/dev/null 2>&1"); }
  void start() {
    std::string out;
    if (run(pg_script() + " start " + dir_ + " 2>&1", &out) != 0) throw std::runtime_error("pg.sh start: " + out);
  }

 private:
  std::string dir_, dsn_;
};

}  // namespace ctk::test
