// hdfs-sink: unique → files in HDFS (or a local folder), exactly once
// See README.md for the layout and the commit protocol.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "pipeline/actor.h"
#include "pipeline/actor_context.h"

namespace ctk::hdfs {

std::unique_ptr<pipeline::actor> make_hdfs_sink(const pipeline::actor_context& ctx);

// A committed file's name: {topic}+{partition}+{first}+{last}.{jsonl|avro}.
struct final_name {
  std::string topic;
  std::int32_t partition;
  std::int64_t first, last;
};
std::string format_final_name(const final_name& n, const std::string& ext = "jsonl");
std::optional<final_name> parse_final_name(const std::string& file);

}  // namespace ctk::hdfs
