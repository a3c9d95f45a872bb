// `cointicker up`: the whole system on this machine, in the foreground:
// the embedded broker in this process and every built actor as a child
// process (`cointicker run ACTOR`). Ctrl-C / SIGTERM drains the children
// (SIGTERM, then SIGKILL after 30 s) and leaves no process behind.
// Without a DSN (postgres.dsn or --db) it runs a private PostgreSQL in
// ./var/pg; the file:// HDFS root is hdfs.url (./var/hdfs) unless --hdfs.
// --replay DIR|URL points every crawler at a replay server (offline runs).
// Restarting crashed children and --scale come with `node` (issue 7).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "actors/registry.h"
#include "cli/commands.h"
#include "cli/local_postgres.h"
#include "pipeline/process.h"

namespace ctk::cli {

namespace {
pid_t spawn_actor(const global_options& g, const std::string& bootstrap, const std::string& actor) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // a terminal's Ctrl-C reaches `up` only; up drains the children
    std::vector<std::string> args{"/proc/self/exe", "--config", g.config_dir, "--bootstrap", bootstrap, "run", actor,
                                  "--node", "local"};
    if (!g.log_level.empty()) args.insert(args.begin() + 1, {"--log-level", g.log_level});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return pid;
}
}  // namespace

void add_up_command(CLI::App& app, global_options& g, int& rc) {
  auto listen = std::make_shared<std::string>();
  auto db = std::make_shared<std::string>();
  auto hdfs = std::make_shared<std::string>();
  auto replay = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("up", "Run the whole system on this machine in the foreground (Ctrl-C stops it)");
  cmd->add_option("--listen", *listen, "broker bootstrap address (default broker.listen; port 0: the broker's own)");
  cmd->add_option("--db", *db, "PostgreSQL DSN for db-sink (default postgres.dsn; empty: a private server in ./var/pg)");
  cmd->add_option("--hdfs", *hdfs, "where hdfs-sink writes (default hdfs.url: file://var/hdfs)");
  cmd->add_option("--replay", *replay,
                  "crawl a replay server instead of the live sources: a folder with routes.yaml (served by this "
                  "process, e.g. tests/fixtures/replay) or http://127.0.0.1:PORT");
  cmd->callback([&g, &rc, listen, db, hdfs, replay] {
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
    std::vector<std::pair<std::string, pid_t>> children;
    std::string missing;
    for (const auto& e : actors::registry()) {
      if (!e.make) {
        missing += (missing.empty() ? "" : ", ") + e.name;
        continue;
      }
      if (e.name == "db-sink" && c.cluster.postgres.dsn.empty()) continue;
      children.emplace_back(e.name, spawn_actor(g, b->bootstrap(), e.name));
    }
    std::cout << "cointicker is up on this machine\n"
              << "  control    " << c.cluster.control.router << " (ROUTER), " << c.cluster.control.pub << " (PUB)\n"
              << "  broker     " << b->bootstrap() << "  (embedded: in memory, one machine, not for production)\n"
              << "  topics     " << c.cluster.kafka.prefix << "{control,raw,valid,deadletter,unique,insights,dedup.state,reports}\n"
              << "  sources    " << (c.cluster.crawler.replay.empty() ? "live (the internet)" : "replay server " + c.cluster.crawler.replay + (replay->starts_with("http") ? "" : " (" + *replay + ")")) << "\n"
              << "  postgres   " << (c.cluster.postgres.dsn.empty() ? "(none)" : c.cluster.postgres.dsn) << db_note << "\n"
              << "  hdfs       " << c.cluster.hdfs.url << "\n";
    for (const auto& [name, pid] : children) std::cout << "  " << name << std::string(11 - std::min<std::size_t>(10, name.size()), ' ') << "pid " << pid << "\n";
    if (!missing.empty()) std::cout << "  not built yet: " << missing << "\n";
    const std::string cli = "build/cointicker --bootstrap " + b->bootstrap();
    std::cout << "try, in another terminal:\n"
              << "  " << cli << " crawl upbit coinness --wait      # crawl now; prints each crawl's report\n"
              << "  " << cli << " status                           # every actor, as the scheduler sees it\n"
              << "  " << cli << " tail unique --follow\n"
              << "  " << cli << " topics\n"
              << "  psql '" << c.cluster.postgres.dsn << "' -c 'SELECT symbol, price FROM market_trends'\n"
              << "Ctrl-C stops everything." << std::endl;
    while (!stop.load()) {
      for (auto& [name, pid] : children) {
        int st = 0;
        if (pid > 0 && ::waitpid(pid, &st, WNOHANG) == pid) {
          spdlog::error("{} (pid {}) exited with {}; `node` will restart children (issue 7), `up` does not yet", name,
                        pid, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
          pid = -1;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    spdlog::info("stopping: draining {} actor processes", children.size());
    for (const auto& [name, pid] : children)
      if (pid > 0) ::kill(pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (auto& [name, pid] : children) {
      while (pid > 0) {
        int st = 0;
        if (::waitpid(pid, &st, WNOHANG) == pid) {
          pid = -1;
        } else if (std::chrono::steady_clock::now() > deadline) {
          spdlog::warn("{} did not drain in 30 s; killing it", name);
          ::kill(pid, SIGKILL);
          ::waitpid(pid, &st, 0);
          pid = -1;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    }
    pg.stop();
    spdlog::info("stopped");
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
