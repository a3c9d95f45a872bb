// PostgreSQL connection settings and error classification for db-sink and
// `cointicker db` (libpqxx 6.4).
#pragma once

#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "config/settings.h"

namespace ctk::db {

// The libpq connection string: the DSN, plus the password from
// password_file or CTK_POSTGRES__PASSWORD, plus connect_timeout unless the
// DSN has one. Errors (an unreadable password file) go to `err`.
std::optional<std::string> connection_string(const cfg::postgres_settings& s, std::string& err);

// The DSN with any password=... value replaced by ***, for logs.
std::string redact(const std::string& conninfo);

// A key=value DSN without its password=... pair (what `up` hands its
// children and prints; the password travels in a file). The password, if
// there was one, goes to *password.
std::string without_password(const std::string& conninfo, std::string* password = nullptr);

// Opens a connection; nullptr with `err` set (the message names the
// redacted DSN, never the password).
std::unique_ptr<pqxx::connection> connect(const std::string& conninfo, std::string& err);

// What a failure says about the database.
enum class failure_kind {
  bad_data,  // this data is refused (SQLSTATE classes 22, 23): isolate the row
  sick,      // the server or the connection (08, 53, 57, 58, 40, broken connection): back off, retry
  other,     // anything else (a schema problem, a bug): retried too, logged as an error
};
failure_kind classify(const std::exception& e);

// The first line of a PostgreSQL message (with its DETAIL and CONTEXT
// lines, which name the column; never the query) plus its SQLSTATE.
std::string db_message(const std::exception& e);

}  // namespace ctk::db
