#include "cli/common.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "actors/registry.h"
#include "cli/commands.h"
#include "messages/text.h"

extern char** environ;

namespace ctk::cli {

std::vector<placed_instance> node_instances(const cfg::node_settings& node) {
  std::vector<placed_instance> out;
  for (const auto& [actor, count] : node.actors) {
    const auto* e = actors::find(actor);
    if (!e || !e->make) continue;
    for (int i = 0; i < count; ++i) out.push_back({actor, i});
  }
  return out;
}

void say_no_config_dir(const std::string& dir) {
  std::cerr << "(no config folder at '" << dir
            << "': give it with --config DIR or CTK_CONFIG_DIR; the repository's is config/)\n";
}

bool load(const global_options& g, cfg::loaded_config& out) {
  auto errors = cfg::load_config(g.config_dir, out, environ);
  for (const auto& w : out.warnings) std::cerr << "config warning: " << w.to_string() << "\n";
  for (const auto& e : errors) std::cerr << "config error: " << e.to_string() << "\n";
  if (!std::filesystem::is_directory(g.config_dir)) say_no_config_dir(g.config_dir);
  if (!g.bootstrap.empty()) out.cluster.kafka.bootstrap = g.bootstrap;
  return errors.empty();
}

kafka::properties client_props(const cfg::loaded_config& c, const std::string& client_id) {
  kafka::properties p = c.cluster.kafka.properties;
  p["bootstrap.servers"] = c.cluster.kafka.bootstrap;
  p["client.id"] = client_id;
  return p;
}

std::vector<std::pair<std::string, int>> pipeline_topic_partitions(const cfg::loaded_config& c) {
  const auto& t = c.cluster.kafka.topics;
  const auto& p = c.cluster.kafka.prefix;
  return {{p + "control", t.control},         {p + "raw", t.raw},         {p + "valid", t.valid},
          {p + "deadletter", t.deadletter},   {p + "unique", t.unique},   {p + "insights", t.insights},
          {p + "dedup.state", t.dedup_state}, {p + "reports", t.reports}, {p + "analyzer.state", t.analyzer_state}};
}

bool broker_answers(const kafka::properties& props, const std::string& cmd, std::vector<std::string>* topics) {
  kafka::properties quiet = props;
  quiet["log_level"] = "0";
  std::vector<std::string> names;
  std::string err;
  if (kafka::topic_names(quiet, topics ? *topics : names, err, broker_probe_ms)) return true;
  const auto it = props.find("bootstrap.servers");
  std::cerr << cmd << ": no Kafka broker answers at " << (it == props.end() ? "?" : it->second) << " (waited "
            << broker_probe_ms / 1000 << " s: " << err
            << "). Start one with `cointicker broker`, or the whole system with `cointicker up`; "
               "another broker: --bootstrap HOST:PORT\n";
  return false;
}

void say_unknown(const std::string& cmd, const std::string& what, const std::string& word,
                 const std::vector<std::string>& known) {
  std::vector<std::string_view> names(known.begin(), known.end());
  std::cerr << cmd << ": no " << what << " named '" << word << "'";
  if (const auto best = text::closest(word, names); !best.empty()) std::cerr << " (did you mean '" << best << "'?)";
  std::cerr << "; " << what << "s:";
  for (std::size_t i = 0; i < known.size(); ++i) std::cerr << (i ? ", " : " ") << known[i];
  std::cerr << "\n";
}

std::string resolve_topic(const cfg::loaded_config& c, const std::string& name) {
  const auto& t = kafka::pipeline_topics();
  if (std::find(t.begin(), t.end(), name) != t.end()) return c.cluster.kafka.prefix + name;
  return name;
}

pipeline::supervisor::argv_fn child_argv(const global_options& g, const std::string& bootstrap,
                                         const std::string& node) {
  // The binary by its own path, so that ps and top name the children
  // `cointicker` (exec'ing /proc/self/exe names them `exe`).
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec || !std::filesystem::exists(self)) self = "/proc/self/exe";  // replaced on disk meanwhile
  return [g, bootstrap, node, self](const pipeline::supervisor::child& c) {
    std::vector<std::string> args{self, "--config", g.config_dir};
    if (!bootstrap.empty()) args.insert(args.end(), {"--bootstrap", bootstrap});
    if (!g.log_level.empty()) args.insert(args.end(), {"--log-level", g.log_level});
    args.insert(args.end(), {"run", c.actor, "--node", node, "--instance", std::to_string(c.instance), "--restarts",
                             std::to_string(c.restarts), "--metrics-port", std::to_string(c.metrics_port)});
    return args;
  };
}

void print_children(const pipeline::supervisor& sup, const std::string& metrics_bind) {
  for (const auto& k : sup.children()) {
    const std::string label = k.label();
    std::cout << "  " << label << std::string(11 - std::min<std::size_t>(10, label.size()), ' ') << "pid " << k.pid
              << "  metrics http://" << metrics_bind << ":" << k.metrics_port << "/metrics\n";
  }
}

}  // namespace ctk::cli
