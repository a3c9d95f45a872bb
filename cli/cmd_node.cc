// `cointicker node NAME`: every actor process that config/cluster.yaml
// places on node NAME, with its instance count, supervised in the
// foreground (pipeline/supervisor.h): a crashed child is restarted with
// backoff and its restart count reaches `status` through its heartbeats;
// SIGTERM / Ctrl-C drains every child; on the master (role: master) it is
// the lossless stop of `up` first (cli/lossless_stop.h), so the master's
// crawls and what is in flight on its actors' groups are stored before. This is what a Pi of the cluster
// runs (deploy/systemd/cointicker-node@.service). Unlike `up` it starts no
// broker and no database: Kafka is kafka.bootstrap (or --bootstrap), the
// database postgres.dsn, HDFS hdfs.url.
#include <spdlog/spdlog.h>

#include <iostream>

#include "actors/registry.h"
#include "cli/commands.h"
#include "cli/lossless_stop.h"
#include "pipeline/process.h"
#include "pipeline/supervisor.h"

namespace ctk::cli {

void add_node_command(CLI::App& app, global_options& g, int& rc) {
  auto name = std::make_shared<std::string>();
  auto replay = std::make_shared<std::string>();
  auto grace = std::make_shared<int>(30);
  auto* cmd = app.add_subcommand(
      "node", "Run every actor that config/cluster.yaml places on node NAME, supervised (SIGTERM drains them)");
  cmd->add_option("name", *name, "the node's name in cluster.yaml (nodes[].name)")->required();
  cmd->add_option("--replay", *replay,
                  "crawlers fetch from a replay server instead of the live sources (a folder with routes.yaml, "
                  "served by this process, or http://HOST:PORT)");
  cmd->add_option("--drain-timeout", *grace,
                  "seconds a child may take to drain on SIGTERM before SIGKILL (on the master, also how long the "
                  "stop first waits for records in flight to be stored)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->callback([&g, &rc, name, replay, grace] {
    cfg::loaded_config c;
    if (!load(g, c)) {
      rc = exit_failure;
      return;
    }
    const cfg::node_settings* node = nullptr;
    std::string names;
    for (const auto& n : c.cluster.nodes) {
      names += (names.empty() ? "" : ", ") + n.name;
      if (n.name == *name) node = &n;
    }
    if (!node) {
      std::cerr << "node: no node named '" << *name << "' in " << c.dir
                << "/cluster.yaml (nodes: " << (names.empty() ? "none" : names) << ")\n";
      rc = exit_usage;
      return;
    }
    // Refuse a placement that cannot run before starting anything.
    std::string skipped;
    for (const auto& [actor, count] : node->actors) {
      if (count <= 0) continue;
      const auto* e = actors::find(actor);
      if (!e || !e->make) {
        skipped += (skipped.empty() ? "" : ", ") + actor;
        continue;
      }
      if (actor == "db-sink" && c.cluster.postgres.dsn.empty()) {
        std::cerr << "node " << *name << ": cluster.yaml places db-sink here, but postgres.dsn is empty (set it, "
                  << "or CTK_POSTGRES__DSN)\n";
        rc = exit_failure;
        return;
      }
    }
    pipeline::init_logging("node/" + *name, g.log_level.empty() ? c.cluster.runtime.log_level : g.log_level);
    auto& stop = pipeline::install_stop_signals();
    std::unique_ptr<crawler::replay_server> replay_server;
    if (!resolve_replay(*replay, c, replay_server)) {
      rc = exit_failure;
      return;
    }
    if (!c.cluster.crawler.replay.empty()) ::setenv("CTK_CRAWLER__REPLAY", c.cluster.crawler.replay.c_str(), 1);
    pipeline::supervisor sup(child_argv(g, g.bootstrap, *name), c.cluster.metrics.base_port,
                             c.cluster.runtime.watchdog.value());
    for (const auto& p : node_instances(*node)) sup.add(p.actor, p.instance);
    std::cout << "node " << *name << " (" << node->role << ", " << node->host << ")\n"
              << "  broker     " << (g.bootstrap.empty() ? c.cluster.kafka.bootstrap : g.bootstrap) << "\n"
              << "  control    " << c.cluster.control.router << "\n";
    print_children(sup, c.cluster.metrics.bind);
    if (!skipped.empty()) std::cout << "  not built yet, skipped: " << skipped << "\n";
    if (sup.children().empty()) std::cout << "  (no actors placed on this node)\n";
    std::cout << "SIGTERM or Ctrl-C drains every actor." << std::endl;
    spdlog::info("node {}: supervising {} actor processes", *name, sup.children().size());
    sup.run(stop);
    if (node->role == "master")
      lossless_stop(sup, c.cluster, g.bootstrap.empty() ? c.cluster.kafka.bootstrap : g.bootstrap,
                    std::chrono::seconds(*grace), "they stay in Kafka for the next start");
    sup.drain(std::chrono::seconds(*grace));
    spdlog::info("node {}: stopped", *name);
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
