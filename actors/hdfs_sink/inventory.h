// What the HDFS side holds, for `cointicker db status`: distinct record ids
// per (source, UTC day) in the files under /raw/{source}/{yyyymmdd}/,
// JSON Lines and Avro alike. Distinct, because a partition rewritten after
// a broker restart keeps its old files beside the new ones (….before-…).
// Open files (/_tmp/{topic}+{partition}/{source}+{yyyymmdd}+…) count too:
// their records are in HDFS, not yet committed (renamed into /raw).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actors/hdfs_sink/store.h"

namespace ctk::hdfs {

struct day_counts {
  std::map<std::pair<std::string, std::string>, std::int64_t> ids;  // (source, yyyymmdd) → distinct ids
  std::int64_t files = 0;                                           // committed files read
  std::int64_t open_files = 0;                                      // open files read (under /_tmp)
  std::vector<std::string> problems;                                // unreadable files and lines, with their path
};

// Walks /raw of `s`, only `day` (yyyymmdd) when it is not empty. False and
// `err` when /raw cannot be listed; a file that cannot be read is a problem,
// not a failure.
bool count_ids(store& s, const std::string& day, day_counts& out, std::string& err);

}  // namespace ctk::hdfs
