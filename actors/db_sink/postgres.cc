#include "actors/db_sink/postgres.h"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

namespace ctk::db {

namespace {
// A libpq conninfo value: single-quoted, with \ and ' escaped.
std::string quote_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}
}  // namespace

std::optional<std::string> connection_string(const cfg::postgres_settings& s, std::string& err) {
  std::string conninfo = s.dsn;
  std::string password;
  if (!s.password_file.empty()) {
    std::ifstream in(s.password_file);
    if (!in) {
      err = "postgres.password_file: cannot read " + s.password_file;
      return std::nullopt;
    }
    std::getline(in, password);
    while (!password.empty() && (password.back() == '\r' || password.back() == ' ')) password.pop_back();
  } else if (const char* p = std::getenv("CTK_POSTGRES__PASSWORD")) {
    password = p;
  }
  const bool uri = conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://");
  if (uri) {
    // URIs take parameters as a query string; keep it simple: tell the user.
    if (!password.empty()) {
      err = "postgres.dsn: use the key=value form (host=... dbname=...) together with a password file";
      return std::nullopt;
    }
    return conninfo;
  }
  if (!password.empty()) conninfo += " password=" + quote_value(password);
  if (conninfo.find("connect_timeout") == std::string::npos)
    conninfo += " connect_timeout=" + std::to_string(s.connect_timeout.ms / 1000);
  return conninfo;
}

std::string redact(const std::string& conninfo) {
  static const std::regex kv(R"(password\s*=\s*('([^'\\]|\\.)*'|\S+))");
  static const std::regex uri(R"((postgres(ql)?://[^:/@]*:)[^@]*@)");
  return std::regex_replace(std::regex_replace(conninfo, kv, "password=***"), uri, "$1***@");
}

std::string without_password(const std::string& conninfo, std::string* password) {
  static const std::regex kv(R"(\s*password\s*=\s*('(([^'\\]|\\.)*)'|(\S+)))");
  std::smatch m;
  if (!std::regex_search(conninfo, m, kv)) return conninfo;
  if (password) *password = m[2].matched ? std::regex_replace(m[2].str(), std::regex(R"(\\(.))"), "$1") : m[4].str();
  return m.prefix().str() + m.suffix().str();
}

std::unique_ptr<pqxx::connection> connect(const std::string& conninfo, std::string& err) {
  try {
    auto c = std::make_unique<pqxx::connection>(conninfo);
    // Rows go to COPY as UTF-8 bytes (tables.cc), whatever PGCLIENTENCODING says.
    c->set_client_encoding("UTF8");
    return c;
  } catch (const std::exception& e) {
    std::string what = e.what();
    while (!what.empty() && what.back() == '\n') what.pop_back();
    err = "cannot connect to PostgreSQL (" + redact(conninfo) + "): " + what;
    return nullptr;
  }
}

failure_kind classify(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) || dynamic_cast<const pqxx::in_doubt_error*>(&e) ||
      dynamic_cast<const pqxx::transaction_rollback*>(&e))
    return failure_kind::sick;
  if (const auto* s = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& st = s->sqlstate();
    const std::string cls = st.substr(0, 2);
    if (cls == "22" || cls == "23") return failure_kind::bad_data;
    if (cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" || st.empty())
      return failure_kind::sick;
    return failure_kind::other;
  }
  return failure_kind::sick;
}

std::string db_message(const std::exception& e) {
  std::string what = e.what();
  if (auto nl = what.find('\n'); nl != std::string::npos) {
    // Keep the CONTEXT/DETAIL lines (they name the column), drop the query.
    std::string rest = what.substr(nl + 1);
    what = what.substr(0, nl);
    for (std::size_t p = 0; p < rest.size();) {
      auto q = rest.find('\n', p);
      std::string line = rest.substr(p, q == std::string::npos ? std::string::npos : q - p);
      if (line.starts_with("DETAIL") || line.starts_with("CONTEXT")) what += "; " + line;
      if (q == std::string::npos) break;
      p = q + 1;
    }
  }
  if (const auto* s = dynamic_cast<const pqxx::sql_error*>(&e); s && !s->sqlstate().empty())
    what = "SQLSTATE " + s->sqlstate() + ": " + what;
  return what;
}

}  // namespace ctk::db
