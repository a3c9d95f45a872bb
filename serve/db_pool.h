// A small pool of read-only PostgreSQL connections for `cointicker serve`.
// Each connection is opened with default_transaction_read_only and a
// statement timeout, and prepares every statement the API uses once; a
// broken connection is replaced on its next use.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

namespace ctk::serve {

class db_pool {
 public:
  // statements: name -> SQL, prepared on every connection.
  db_pool(std::string conninfo, int size, int statement_timeout_ms,
          std::vector<std::pair<std::string, std::string>> statements);

  // Runs fn with a connection of its own (waits while all are busy). A
  // connection error closes that connection (the next use reconnects) and
  // rethrows.
  void with(const std::function<void(pqxx::connection&)>& fn);

  // Opens one connection now: empty when the database answers, else why not.
  std::string check();

 private:
  std::unique_ptr<pqxx::connection> open();

  std::string conninfo_;
  int statement_timeout_ms_;
  std::vector<std::pair<std::string, std::string>> statements_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int free_slots_;
};

}  // namespace ctk::serve
