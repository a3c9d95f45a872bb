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

// Loads the config (printing every error and warning to stderr); false on error.
bool load(const global_options& g, cfg::loaded_config& out);
// The hint when the config folder does not exist.
void say_no_config_dir(const std::string& dir);

// librdkafka properties for a CLI client (bootstrap + passthrough).
kafka::properties client_props(const cfg::loaded_config& c, const std::string& client_id);

// The pipeline's topics (full names) with their configured partition counts.
std::vector<std::pair<std::string, int>> pipeline_topic_partitions(const cfg::loaded_config& c);

// A pipeline base name ("raw") gets the prefix; any other name is used as is.
std::string resolve_topic(const cfg::loaded_config& c, const std::string& name);

// How long a one-shot command waits for a broker to answer before saying
// that none does.
inline constexpr int broker_probe_ms = 3000;

// True when a broker at `props`' bootstrap answers a metadata request
// within broker_probe_ms. Otherwise prints one line on stderr, prefixed
// with `cmd`, that says where it looked and how to start one, and returns
// false. The probe's own client logs nothing: the line says it all.
// `topics` (if given) receives the names of the broker's topics.
bool broker_answers(const kafka::properties& props, const std::string& cmd, std::vector<std::string>* topics = nullptr);

// The actor instances `cointicker node` starts for a node, in its order:
// the n-th gets metrics port metrics.base_port + n (when base_port is set),
// so `config prometheus` knows every target. Actors not in the registry
// are left out.
struct placed_instance {
  std::string actor;
  int instance = 0;
};
std::vector<placed_instance> node_instances(const cfg::node_settings& node);

// Prints "CMD: no WHAT named 'WORD' (did you mean 'X'?); WHATs: A, B, C"
// on stderr: a typo gets the closest name and the list of what exists.
void say_unknown(const std::string& cmd, const std::string& what, const std::string& word,
                 const std::vector<std::string>& known);

}  // namespace ctk::cli
