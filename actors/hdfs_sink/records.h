// Reading committed record files back (`db status`, `aggregate`,
// `backfill`): every record as the envelope's JSON text, from JSON Lines
// and Avro files alike.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ctk::hdfs {

// A file hdfs-sink writes records into: *.jsonl or *.avro (final names,
// `….before-…` ones too, and open files under /_tmp).
bool is_record_file(std::string_view name);

// Calls `each(json, n)` for every record in the bytes of the file at
// `path`, n counting from 1: the line of a .jsonl file (empty lines are
// skipped; a broken line is passed as it is, for the caller to judge), the
// record of an .avro file, given as the envelope's JSON text with `data`
// the object it holds. False + err (naming the path): an Avro file libavro
// cannot read; the records before the failure were passed.
using record_fn = std::function<void(std::string_view json, std::int64_t n)>;
bool for_each_record(const std::string& path, std::string_view bytes, const record_fn& each, std::string& err);

}  // namespace ctk::hdfs
