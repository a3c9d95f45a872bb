// `cointicker backfill`: /raw records from HDFS into PostgreSQL through
// db-sink itself (the actor, its row mapping, its COPY-then-upsert writes
// and its refused-row isolation), fed from files instead of Kafka.
//
// Each file is a partition of its own for db-sink: topic "hdfs:{path}",
// partition 0, offset = record number − 1. db-sink stores the next offset
// of each in sink_offsets in the same transaction as the rows, so an
// interrupted backfill (Ctrl-C, a kill, the database going away) resumes
// after the last committed row of each file, and a finished file is
// skipped. Rows already stored are not written twice (ON CONFLICT on the
// record id). Kafka topic names cannot hold ':' or '/', so these rows
// never mix with a consumer's.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "actors/hdfs_sink/store.h"
#include "batch/day.h"
#include "config/loader.h"

namespace ctk::batch {

struct backfill_options {
  std::vector<std::string> days;  // yyyymmdd
  std::set<std::string> kinds;    // market, news, fear_greed; empty: all
  bool restart = false;           // ignore the stored progress: read every file from its start
  int retries = 5;                // a failing database: this many backoffs (up to runtime.retry_max) before giving up
};

struct backfill_progress {
  std::int64_t files = 0, files_done = 0;
  std::int64_t bytes = 0, bytes_done = 0;
  std::int64_t records = 0;           // handed to db-sink in this run
  std::int64_t resumed = 0;           // skipped: stored by an earlier run
  std::int64_t other_kinds = 0;       // not in --kinds
  std::int64_t refused = 0;           // dead letters: not an envelope, or refused by PostgreSQL
  std::vector<std::string> refusals;  // "path:record: why", the first 20
};

// False + err when a day cannot be listed, a file cannot be read, the
// database stays down through the retries, or `stop` was set (the rows
// handed over so far are committed first). `report` is called after each
// file and about every 50,000 records.
bool backfill(const cfg::loaded_config& c, hdfs::store& s, const backfill_options& o, const std::atomic<bool>& stop,
              const std::function<void(const backfill_progress&)>& report, backfill_progress& p, std::string& err);

}  // namespace ctk::batch
