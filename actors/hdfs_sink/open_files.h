// hdfs-sink's open files: per assigned partition, one temporary file per
// (source, day) until the partition's files are committed together.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "actors/hdfs_sink/avro_file.h"

namespace ctk::hdfs {

using clock = std::chrono::steady_clock;

// One open temporary file: the records of one partition for one (source, day).
struct open_file {
  std::string tmp;  // path of the temporary file
  std::string dir;  // final folder: /raw/{source}/{yyyymmdd}
  std::int64_t first = -1, last = -1;
  std::int64_t records = 0;
  std::int64_t written = 0;    // bytes in the store
  std::int64_t sync_mark = 0;  // file://: bytes before this have had their write-back started
  std::string buffer;          // bytes not written yet
  bool created = false;
  std::unique_ptr<avro_file> avro;  // format avro: libavro writes the container file into `buffer`
};

// file://: write-back is started for every this many new bytes of a file.
// Measured (benchmarks/sink_bench file, 100k records in 16 files): per
// ~20 KB append 500-650 MB/s (the write-back took CPU from handle()),
// 64 KiB 470-700, 256 KiB 810-905, 1 MiB 690-795, 4 MiB 450-605 (the
// fsync at the commit then waits for up to that much per file).
constexpr std::int64_t sync_step = std::int64_t{256} << 10;

// Everything about one assigned partition.
struct partition_files {
  std::map<std::string, open_file> files;  // by "{source}/{day}"
  clock::time_point opened;                // when the oldest open file got its first record
  std::int64_t first_open = -1;            // lowest offset not committed (-1: none)
  std::int64_t skip_below = 0;             // offsets below are in final files already
  bool recovered = false;                  // commit log replayed, temporary files cleaned
};

}  // namespace ctk::hdfs
