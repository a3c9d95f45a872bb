// Versioned schema migrations, applied by the program itself
// (`cointicker db migrate`, and by db-sink at start). A migration is never
// edited once released: changes are new entries at the end.
#pragma once

#include <limits>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace ctk::db {

struct migration {
  int version;
  std::string name;
  std::string sql;
};

const std::vector<migration>& migrations();

// Applies every migration newer than the database's, each in its own
// transaction under an advisory lock (two sinks starting together do not
// race), up to version `up_to`. Returns the versions applied now; throws
// pqxx errors.
std::vector<int> migrate(pqxx::connection& c, int up_to = std::numeric_limits<int>::max());

// The highest applied version (0: none).
int schema_version(pqxx::connection& c);

}  // namespace ctk::db
