// Where hdfs-sink puts records: committed file names (see README.md), the
// folder parts taken from a record, and the routing fields read from an
// envelope without parsing it in full.
#pragma once

#include <string>
#include <string_view>

#include "actors/hdfs_sink/hdfs_sink.h"
#include "messages/json.h"
#include "pipeline/actor.h"

namespace ctk::hdfs {

// 16 random hex digits, for temporary file names.
std::string nonce();
// "2026-11-28T..." → "20261128" in `out`; false when it is not such a date.
bool day_of(std::string_view iso, char (&out)[8]);
// memmem from `from`; npos when absent.
std::size_t find(std::string_view hay, std::string_view needle, std::size_t from);
// The routing fields of an envelope in the validator's canonical form, read
// without parsing the rest (source, kind, fetched_at, and the record's own
// time: published_at for news, timestamp otherwise, else fetched_at).
// false: not in that form; the caller parses it in full.
bool route_fast(std::string_view v, std::string_view& source, std::string_view& kind, std::string_view& fetched,
                std::string_view& when);
// A record's folder: its source and its day (the data's time, else when
// it was fetched), read by route_fast() when the form allows, else parsed
// with `dec` (source then views into the decoder's document). A dead
// letter when the record has no usable source or time.
pipeline::outcome route(std::string_view value, msg::json_decoder& dec, std::string_view& source, char (&day)[8]);

}  // namespace ctk::hdfs
