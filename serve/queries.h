// The SQL of `cointicker serve`: the fixed queries, prepared on every
// pooled connection; the filtered ones are built in api.cc from fixed
// fragments with parameters.
#pragma once

#include <string>
#include <utility>
#include <vector>

// A timestamptz as UTC ISO-8601 with milliseconds, in SQL.
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

namespace ctk::serve {

const std::vector<std::pair<std::string, std::string>>& statements();

}  // namespace ctk::serve
