// One day of /raw, read back, and its /cleaned aggregates written: what
// `cointicker aggregate` does for each day it is given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/hdfs_sink/store.h"
#include "batch/aggregate.h"

namespace ctk::batch {

// "2026-12-06" or "20261206" → every day from `from` to `to` (inclusive) as
// yyyymmdd; nullopt + err for a bad date or `to` before `from`.
std::optional<std::vector<std::string>> day_range(const std::string& from, const std::string& to, std::string& err);

// Every day some source's folder holds under /raw, sorted (for `--day all`).
bool stored_days(hdfs::store& s, std::vector<std::string>& days, std::string& err);

struct raw_file {
  std::string path;
  std::int64_t bytes = 0;
};

// The committed record files of one day: /raw/{source}/{day}/*.jsonl|.avro
// of every source, sorted by path. `folders`: how many sources have the
// day's folder (0: nothing was stored that day). False + err when /raw or
// a folder cannot be listed.
bool list_day(hdfs::store& s, const std::string& day, std::vector<raw_file>& files, int& folders, std::string& err);

// Whether some source has the day's folder under /raw. False with err
// empty: none has; with err set: the store failed.
bool day_present(hdfs::store& s, const std::string& day, std::string& err);

struct aggregate_report {
  std::int64_t files = 0, bytes = 0, records = 0, duplicates = 0, other_kinds = 0, broken = 0;
  std::vector<std::string> broken_lines;                      // "path:line: why", the first 20
  std::vector<std::pair<std::string, std::int64_t>> written;  // /cleaned path → lines
};

// Reads every record of `day` (yyyymmdd), drops duplicate ids, and writes
// /cleaned/{day}/aggregated_{fear_greed,market,news}.json: each one under a
// temporary name first, then renamed over the old one, so a reader never
// sees half a file. A broken line is skipped and counted. False + err (and
// nothing written, temporary files removed): no folder of that day, a file
// that cannot be read, the store failing.
bool aggregate_day(hdfs::store& s, const std::string& day, const analyzer::sentiment_scorer* scorer,
                   aggregate_report& report, std::string& err);

}  // namespace ctk::batch
