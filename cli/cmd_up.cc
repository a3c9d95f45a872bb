// `cointicker up`: the whole system on this machine, in the foreground:
// the embedded broker in this process and every built actor as a child
// process (`cointicker run ACTOR`). Ctrl-C / SIGTERM drains the children
// (SIGTERM, then SIGKILL after 30 s) and leaves no process behind.
// Without a DSN (postgres.dsn or --db) it runs a private PostgreSQL in
// ./var/pg; the file:// HDFS root is hdfs.url (./var/hdfs) unless --hdfs.
// --replay DIR|URL points every crawler at a replay server (offline runs).
// --scale ACTOR=N sets instance counts (default 1; 0 leaves an actor out).
// The children are supervised by pipeline/supervisor.h, as `node` does: a
// crashed child is restarted with backoff, a drained one stays stopped.
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>

#include "actors/registry.h"
#include "cli/commands.h"
#include "cli/local_postgres.h"
#include "pipeline/process.h"
#include "pipeline/supervisor.h"

namespace ctk::cli {

namespace {

// --scale ACTOR=N, repeated: instance counts (0 leaves an actor out).
bool parse_scale(const std::vector<std::string>& specs, std::map<std::string, int>& counts) {
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    int n = -1;
    if (eq != std::string::npos) {
      try {
        n = std::stoi(spec.substr(eq + 1));
      } catch (...) {
      }
    }
    const std::string name = spec.substr(0, eq);
    if (n < 0 || n > 16 || !actors::find(name)) {
      std::cerr << "up: --scale " << spec << ": expected ACTOR=N with a known actor and N in 0..16\n";
      return false;
    }
    counts[name] = n;
  }
  return true;
}

// Where everything is, every child with its pid and metrics, and what to try.
void print_banner(const cfg::loaded_config& c, const std::string& bootstrap, const std::string& replay,
                  const std::string& db_note, const pipeline::supervisor& sup, const std::string& missing) {
  std::cout << "cointicker is up on this machine\n"
            << "  control    " << c.cluster.control.router << " (ROUTER), " << c.cluster.control.pub << " (PUB)\n"
            << "  broker     " << bootstrap << "  (embedded: in memory, one machine, not for production)\n"
            << "  topics     " << c.cluster.kafka.prefix
            << "{control,raw,valid,deadletter,unique,insights,dedup.state,reports,analyzer.state}\n"
            << "  sources    "
            << (c.cluster.crawler.replay.empty() ? "live (the internet)"
                                                 : "replay server " + c.cluster.crawler.replay +
                                                       (replay.starts_with("http") ? "" : " (" + replay + ")"))
            << "\n"
            << "  postgres   " << (c.cluster.postgres.dsn.empty() ? "(none)" : c.cluster.postgres.dsn) << db_note
            << "\n"
            << "  hdfs       " << c.cluster.hdfs.url << "\n";
  print_children(sup, c.cluster.metrics.bind);
  if (!missing.empty()) std::cout << "  not built yet: " << missing << "\n";
  const std::string cli = "build/cointicker --bootstrap " + bootstrap;
  std::cout << "try, in another terminal:\n"
            << "  " << cli << " crawl upbit coinness --wait      # crawl now; prints each crawl's report\n"
            << "  " << cli << " status                           # every actor, as the scheduler sees it\n"
            << "  " << cli << " tail unique --follow\n"
            << "  " << cli << " topics\n"
            << "  psql '" << c.cluster.postgres.dsn << "' -c 'SELECT symbol, price FROM market_trends'\n"
            << "  psql '" << c.cluster.postgres.dsn
            << "' -c 'SELECT symbol, \"interval\", \"timestamp\", close, rsi FROM technical_indicators ORDER BY 3 "
               "DESC LIMIT 10'\n"
            << "Ctrl-C stops everything." << std::endl;
}

}  // namespace

void add_up_command(CLI::App& app, global_options& g, int& rc) {
  auto listen = std::make_shared<std::string>();
  auto db = std::make_shared<std::string>();
  auto hdfs = std::make_shared<std::string>();
  auto replay = std::make_shared<std::string>();
  auto scale = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("up", "Run the whole system on this machine in the foreground (Ctrl-C stops it)");
  cmd->add_option("--listen", *listen, "broker bootstrap address (default broker.listen; port 0: the broker's own)");
  cmd->add_option("--db", *db,
                  "PostgreSQL DSN for db-sink (default postgres.dsn; empty: a private server in ./var/pg)");
  cmd->add_option("--hdfs", *hdfs, "where hdfs-sink writes (default hdfs.url: file://var/hdfs)");
  cmd->add_option("--replay", *replay,
                  "crawl a replay server instead of the live sources: a folder with routes.yaml (served by this "
                  "process, e.g. tests/fixtures/replay) or http://127.0.0.1:PORT");
  cmd->add_option("--scale", *scale, "ACTOR=N: run N instances of an actor (repeatable; 0 leaves it out)");
  cmd->callback([&g, &rc, listen, db, hdfs, replay, scale] {
    std::map<std::string, int> counts;
    if (!parse_scale(*scale, counts)) {
      rc = exit_usage;
      return;
    }
    cfg::loaded_config c;
    if (!load(g, c)) {
      rc = exit_failure;
      return;
    }
    if (!db->empty()) c.cluster.postgres.dsn = *db;
    if (!hdfs->empty()) c.cluster.hdfs.url = *hdfs;
    pipeline::init_logging("up", g.log_level.empty() ? c.cluster.runtime.log_level : g.log_level);
    auto& stop = pipeline::install_stop_signals();
    std::unique_ptr<crawler::replay_server> replay_server;
    if (!resolve_replay(*replay, c, replay_server)) {
      rc = exit_failure;
      return;
    }
    std::string err;
    auto b = start_embedded_broker(c, listen->empty() ? c.cluster.broker.listen : *listen, {}, err);
    if (!b) {
      spdlog::error("embedded broker: {}", err);
      rc = exit_failure;
      return;
    }
    // The children read these from the environment (CTK_<PATH> overrides).
    local_postgres pg("var/pg");
    std::string db_note;
    if (c.cluster.postgres.dsn.empty()) {
      if (auto dsn = pg.start(err)) {
        c.cluster.postgres.dsn = *dsn;
        db_note = "  (private server in ./var/pg)";
      } else {
        spdlog::error("PostgreSQL: {}; db-sink is not started", err);
      }
    }
    ::setenv("CTK_POSTGRES__DSN", c.cluster.postgres.dsn.c_str(), 1);
    ::setenv("CTK_HDFS__URL", c.cluster.hdfs.url.c_str(), 1);
    if (!c.cluster.crawler.replay.empty()) ::setenv("CTK_CRAWLER__REPLAY", c.cluster.crawler.replay.c_str(), 1);
    pipeline::supervisor sup(child_argv(g, b->bootstrap(), "local"), c.cluster.metrics.base_port);
    std::string missing;
    for (const auto& e : actors::registry()) {
      if (!e.make) {
        missing += (missing.empty() ? "" : ", ") + e.name;
        continue;
      }
      if (e.name == "db-sink" && c.cluster.postgres.dsn.empty()) continue;
      const int n = counts.count(e.name) ? counts[e.name] : 1;
      for (int i = 0; i < n; ++i) sup.add(e.name, i);
    }
    print_banner(c, b->bootstrap(), *replay, db_note, sup, missing);
    sup.run(stop);
    sup.drain(std::chrono::seconds(30));
    pg.stop();
    spdlog::info("stopped");
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
