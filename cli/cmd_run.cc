// `cointicker run ACTOR`: one actor process.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "actors/registry.h"
#include "cli/commands.h"
#include "pipeline/process.h"
#include "pipeline/runner.h"

namespace ctk::cli {

void add_run_command(CLI::App& app, global_options& g, int& rc) {
  struct opts {
    std::string actor, node, instance = "0", replay;
    int restarts = 0;
    int metrics_port = -1;
  };
  auto o = std::make_shared<opts>();
  std::string names;
  for (const auto& e : actors::registry()) names += (names.empty() ? "" : ", ") + e.name;
  auto* cmd = app.add_subcommand("run", "Run one actor process (" + names + ")");
  cmd->add_option("actor", o->actor, "actor kind")->required();
  cmd->add_option("--node", o->node, "node name in the identity node/actor/instance (default: host name)");
  cmd->add_option("--instance", o->instance, "instance id in the identity (default 0)");
  cmd->add_option("--restarts", o->restarts,
                  "restarts of this identity so far, reported in heartbeats (set by `node` and `up`)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--metrics-port", o->metrics_port,
                  "port of /metrics, /healthz and /readyz (default metrics.base_port; 0: any free port; a port another "
                  "process holds: a free one, logged)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--replay", o->replay,
                  "crawler: fetch from a replay server instead of the live sources (a folder with routes.yaml: "
                  "served from this process; or http://127.0.0.1:PORT of a running `replay-server`)");
  cmd->callback([&g, &rc, o] {
    const actors::actor_entry* entry = actors::find(o->actor);
    if (!entry) {
      std::vector<std::string> known;
      for (const auto& e : actors::registry()) known.push_back(e.name);
      say_unknown("run", "actor", o->actor, known);
      rc = exit_usage;
      return;
    }
    if (!entry->make) {
      std::cerr << "run: the " << o->actor << " actor is not built in this version yet\n";
      rc = exit_failure;
      return;
    }
    cfg::loaded_config c;
    if (!load(g, c)) {
      rc = exit_failure;
      return;
    }
    if (o->node.empty()) {
      char host[256] = "node";
      gethostname(host, sizeof host - 1);
      o->node = host;
    }
    const std::string identity = o->node + "/" + o->actor + "/" + o->instance;
    pipeline::init_logging(identity, g.log_level.empty() ? c.cluster.runtime.log_level : g.log_level);
    std::unique_ptr<crawler::replay_server> replay;
    if (!o->replay.empty() && o->actor != "crawler") {
      std::cerr << "run: --replay applies to the crawler only\n";
      rc = exit_usage;
      return;
    }
    if (!resolve_replay(o->replay, c, replay)) {
      rc = exit_failure;
      return;
    }
    auto& stop = pipeline::install_stop_signals();
    pipeline::metrics_registry metrics(pipeline::actor_labels(o->actor, identity));
    std::unique_ptr<pipeline::actor> a;
    try {
      a = entry->make({c, identity, metrics});
    } catch (const std::exception& e) {
      // What the actor needs at start is missing or wrong (a lexicon, a
      // folder): said once, with the cause, and exit 1, not an abort.
      spdlog::critical("{} cannot start: {}", o->actor, e.what());
      rc = exit_failure;
      return;
    }
    if (a->inputs() != entry->inputs || a->outputs() != entry->outputs) {
      // A programming error: the lossless stop orders actors by the registry's topology.
      spdlog::critical("the {} actor's topics differ from its registry entry (actors/registry.cc)", o->actor);
      rc = exit_failure;
      return;
    }
    auto rcfg = pipeline::make_runner_config(c.cluster, identity);
    rcfg.config_dir = c.dir;
    rcfg.restarts = o->restarts;
    if (o->metrics_port >= 0) rcfg.metrics_port = o->metrics_port;
    pipeline::runner r(*a, std::move(rcfg), metrics);
    rc = r.run(stop);
  });
}

}  // namespace ctk::cli
