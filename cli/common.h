// Shared by the subcommands of `cointicker`.
#pragma once

#include <string>

#include "brokers/kafka.h"
#include "config/loader.h"

namespace ctk::cli {

// Exit codes of every command.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

struct global_options {
  std::string config_dir;
  std::string log_level;  // empty: runtime.log_level from config
  std::string bootstrap;  // overrides kafka.bootstrap
};

// Loads the config (printing every error to stderr); false on error.
bool load(const global_options& g, cfg::loaded_config& out);

// librdkafka properties for a CLI client (bootstrap + passthrough).
kafka::properties client_props(const cfg::loaded_config& c, const std::string& client_id);

// The pipeline's topics (full names) with their configured partition counts.
std::vector<std::pair<std::string, int>> pipeline_topic_partitions(const cfg::loaded_config& c);

// A pipeline base name ("raw") gets the prefix; any other name is used as is.
std::string resolve_topic(const cfg::loaded_config& c, const std::string& name);

}  // namespace ctk::cli
