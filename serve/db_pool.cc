#include "serve/db_pool.h"

#include "actors/db_sink/postgres.h"

namespace ctk::serve {

db_pool::db_pool(std::string conninfo, int size, int statement_timeout_ms,
                 std::vector<std::pair<std::string, std::string>> statements)
    : conninfo_(std::move(conninfo)),
      statement_timeout_ms_(statement_timeout_ms),
      statements_(std::move(statements)),
      free_slots_(size) {}

std::unique_ptr<pqxx::connection> db_pool::open() {
  std::string err;
  auto c = db::connect(conninfo_, err);
  if (!c) throw pqxx::broken_connection(err);
  {
    pqxx::nontransaction n(*c);
    n.exec("SET default_transaction_read_only = on");
    n.exec("SET statement_timeout = " + std::to_string(statement_timeout_ms_));
  }
  for (const auto& [name, sql] : statements_) c->prepare(name, sql);
  return c;
}

void db_pool::with(const std::function<void(pqxx::connection&)>& fn) {
  std::unique_ptr<pqxx::connection> c;
  {
    std::unique_lock l(m_);
    cv_.wait(l, [&] { return !idle_.empty() || free_slots_ > 0; });
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    } else {
      --free_slots_;
    }
  }
  auto give_back = [&](bool keep) {
    std::lock_guard l(m_);
    if (keep && c)
      idle_.push_back(std::move(c));
    else
      ++free_slots_;
    cv_.notify_one();
  };
  try {
    if (!c || !c->is_open()) c = open();
    fn(*c);
  } catch (const pqxx::broken_connection&) {
    give_back(false);
    throw;
  } catch (...) {
    give_back(c && c->is_open());
    throw;
  }
  give_back(true);
}

std::string db_pool::check() {
  try {
    std::string answer;
    with([&](pqxx::connection& c) {
      pqxx::read_transaction t(c);
      t.exec("SELECT 1");
    });
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace ctk::serve
