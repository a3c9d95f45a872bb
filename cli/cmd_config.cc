// `cointicker config check|sources|nodes|reference`.

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "actors/analyzer/analyzer.h"
#include "cli/commands.h"
#include "cli/json_out.h"

extern char** environ;

namespace ctk::cli {

namespace {
std::string schedule_text(const cfg::schedule_settings& s) {
  if (!s.every.empty()) return "every " + s.every.text;
  if (!s.daily.empty()) return "daily " + s.daily + " " + s.timezone;
  if (!s.cron.empty()) return "cron '" + s.cron + "' " + s.timezone;
  return "manual only";
}

// `config check`: the config, then the analyzer's lexicon files. With
// --json, every problem goes to stdout as data, none to stderr.
int run_check(const global_options& g, bool json) {
  cfg::loaded_config c;
  check_json out;
  out.dir = g.config_dir;
  std::vector<cfg::config_error> errors = cfg::load_config(g.config_dir, c, environ);
  if (errors.empty())
    for (auto& e : analyzer::check_lexicons(c.cluster.analyzer, c.dir)) errors.push_back({"", 0, 0, e});
  const auto as_problems = [](const std::vector<cfg::config_error>& v) {
    std::vector<problem_json> p;
    for (const auto& e : v) p.push_back({e.file, e.line, e.column, e.message});
    return p;
  };
  out.errors = as_problems(errors);
  out.warnings = as_problems(c.warnings);
  out.ok = errors.empty();
  out.nodes = static_cast<std::int64_t>(c.cluster.nodes.size());
  out.sources = static_cast<std::int64_t>(c.sources.sources.size());
  for (const auto& [n, s] : c.sources.sources) out.enabled_sources += s.enabled;
  if (json) {
    print_json(out);
  } else {
    for (const auto& w : c.warnings) std::cerr << "config warning: " << w.to_string() << "\n";
    for (const auto& e : errors) std::cerr << (e.file.empty() ? e.message : "config error: " + e.to_string()) << "\n";
    if (!std::filesystem::is_directory(g.config_dir)) say_no_config_dir(g.config_dir);
    if (out.ok)
      std::cout << "config OK (" << g.config_dir << "): " << out.nodes << " nodes, " << out.sources << " sources ("
                << out.enabled_sources << " enabled)\n";
  }
  return out.ok ? exit_ok : exit_failure;
}

int run_sources(const global_options& g, bool json) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  if (json) {
    sources_json out;
    for (const auto& [name, s] : c.sources.sources)
      out.sources.push_back({name, s.kind, s.enabled, schedule_text(s.schedule), s.disabled_reason});
    print_json(out);
    return exit_ok;
  }
  std::printf("%-18s %-11s %-8s %s\n", "NAME", "KIND", "ENABLED", "SCHEDULE");
  for (const auto& [name, s] : c.sources.sources)
    std::printf("%-18s %-11s %-8s %s%s\n", name.c_str(), s.kind.c_str(), s.enabled ? "yes" : "no",
                schedule_text(s.schedule).c_str(), s.enabled ? "" : ("  (" + s.disabled_reason + ")").c_str());
  return exit_ok;
}

int run_nodes(const global_options& g, bool json) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  nodes_json out;
  for (const auto& n : c.cluster.nodes) {
    node_json j{n.name, n.host, n.role, {}};
    for (const auto& [a, k] : n.actors) j.actors.push_back({a, k});
    out.nodes.push_back(std::move(j));
  }
  if (json) {
    print_json(out);
    return exit_ok;
  }
  for (const auto& n : out.nodes) {
    std::string actors;
    for (const auto& a : n.actors) actors += (actors.empty() ? "" : ",") + a.actor + "=" + std::to_string(a.instances);
    std::printf("%s %s %s %s\n", n.name.c_str(), n.host.c_str(), n.role.c_str(), actors.empty() ? "-" : actors.c_str());
  }
  return exit_ok;
}

// `config prometheus`: one scrape target per actor instance cluster.yaml
// places, at its node's host and metrics.base_port + its place on the node
// (node_instances(): the order `cointicker node` starts them).
int run_prometheus(const global_options& g, const std::string& interval, int node_exporter_port) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  const auto& m = c.cluster.metrics;
  if (m.base_port == 0) {
    std::cerr << "config prometheus: metrics.base_port is 0, so every process picks a free port and there is "
                 "nothing fixed to scrape; set it in cluster.yaml (metrics: {base_port: 9400}) or "
                 "CTK_METRICS__BASE_PORT\n";
    return exit_failure;
  }
  if (!cfg::parse_duration_ms(interval) || interval == "0" || interval == "0s") {
    std::cerr << "config prometheus: --scrape-interval '" << interval << "' is not a duration like 15s or 1m\n";
    return exit_usage;
  }
  bool remote = false;
  for (const auto& n : c.cluster.nodes) remote |= !cfg::loopback_host(n.host);
  if (remote && cfg::loopback_host(m.bind))
    std::cerr << "config prometheus: warning: metrics.bind is " << m.bind
              << ", so only a Prometheus on the same machine reaches a node's metrics; set metrics.bind to the "
                 "node's address or 0.0.0.0\n";
  const std::string rules = std::filesystem::weakly_canonical(c.dir + "/../deploy/prometheus/cointicker.rules.yml");
  std::cout << "# Prometheus configuration for cointicker, written by `cointicker config prometheus` from\n"
            << "# " << c.dir << "/cluster.yaml: one target per actor instance, at its node's host and\n"
            << "# metrics.base_port + its place on the node (the order `cointicker node` starts them).\n"
            << "global:\n  scrape_interval: " << interval << "\n  evaluation_interval: " << interval << "\n";
  if (std::filesystem::exists(rules)) std::cout << "rule_files: ['" << rules << "']\n";
  std::cout << "scrape_configs:\n  - job_name: cointicker\n    static_configs:\n";
  for (const auto& n : c.cluster.nodes) {
    const auto placed = node_instances(n);
    if (placed.empty()) continue;
    std::cout << "      - targets:  # node " << n.name << "\n";
    for (std::size_t i = 0; i < placed.size(); ++i)
      std::cout << "          - '" << n.host << ":" << m.base_port + static_cast<int>(i) << "'  # " << n.name << "/"
                << placed[i].actor << "/" << placed[i].instance << "\n";
  }
  if (node_exporter_port > 0) {
    std::cout << "  # node_exporter (Debian: prometheus-node-exporter) on every node: the disk alert reads it.\n"
              << "  - job_name: node\n    static_configs:\n      - targets:\n";
    for (const auto& n : c.cluster.nodes)
      std::cout << "          - '" << n.host << ":" << node_exporter_port << "'  # " << n.name << "\n";
  }
  return exit_ok;
}

}  // namespace

void add_config_command(CLI::App& app, global_options& g, int& rc) {
  auto* cmd = app.add_subcommand("config", "Check and inspect the configuration");
  cmd->require_subcommand(1);
  auto json = std::make_shared<bool>(false);

  auto* check = cmd->add_subcommand(
      "check", "Validate cluster.yaml, sources.yaml and the analyzer's lexicon files (errors name file:line:column)");
  check->add_flag("--json", *json, "print {ok, dir, nodes, sources, enabled_sources, errors:[…], warnings:[…]}");
  check->callback([&g, &rc, json] { rc = run_check(g, *json); });

  auto* sources = cmd->add_subcommand("sources", "One line per source: name, kind, enabled, schedule");
  sources->add_flag("--json", *json, "print {sources:[{name, kind, enabled, schedule, disabled_reason}]}");
  sources->callback([&g, &rc, json] { rc = run_sources(g, *json); });

  auto* nodes = cmd->add_subcommand(
      "nodes", "One line per node: name, host, role, actors (ACTOR=N,…); deploy/cluster-deploy.sh reads it");
  nodes->add_flag("--json", *json, "print {nodes:[{name, host, role, actors:[{actor, instances}]}]}");
  nodes->callback([&g, &rc, json] { rc = run_nodes(g, *json); });

  auto* prom = cmd->add_subcommand(
      "prometheus",
      "Print a Prometheus configuration: a scrape target per actor instance cluster.yaml places "
      "(host:metrics.base_port+n), node_exporter on every node, and deploy/prometheus's alert rules");
  auto interval = std::make_shared<std::string>("15s");
  auto node_exporter = std::make_shared<int>(9100);
  prom->add_option("--scrape-interval", *interval, "how often Prometheus scrapes")->capture_default_str();
  prom->add_option("--node-exporter-port", *node_exporter, "node_exporter's port on every node (0: leave it out)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  prom->callback([&g, &rc, interval, node_exporter] { rc = run_prometheus(g, *interval, *node_exporter); });

  cmd->add_subcommand("reference", "Print every key with its default and one line of help")->callback([&rc] {
    std::cout << "# cointicker configuration reference: every key, its default and what it does.\n"
                 "# Generated by `cointicker config reference`; do not edit by hand.\n"
                 "# Any key can be overridden by an environment variable CTK_<PATH>, `__` between\n"
                 "# levels: CTK_KAFKA__BOOTSTRAP=10.0.0.1:9092, CTK_SOURCES__UPBIT__ENABLED=false.\n"
                 "# Lengths of time are durations: 250ms, 30s, 5m, 1h, 7d (0 for none). The old\n"
                 "# integer keys (timeout_ms: 10000, connect_timeout_s: 5) are still read, with a\n"
                 "# warning that names the new spelling.\n"
                 "\n# ---- cluster.yaml ----\n"
              << cfg::reference_yaml(cfg::cluster_settings{}) << "\n# ---- sources.yaml ----\n"
              << cfg::reference_yaml(cfg::sources_settings{});
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
