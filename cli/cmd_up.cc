// `cointicker up`: the whole system on this machine, in the foreground:
// the embedded broker in this process and every built actor as a child
// process (`cointicker run ACTOR`). Ctrl-C / SIGTERM drains the children
// (SIGTERM, then SIGKILL after 30 s) and leaves no process behind.
// Without a DSN (postgres.dsn or --db) it runs a private PostgreSQL in
// ./var/pg; the file:// HDFS root is hdfs.url (./var/hdfs) unless --hdfs.
// --replay DIR|URL points every crawler at a replay server (offline runs).
// --scale ACTOR=N sets instance counts (default 1; 0 leaves an actor out).
// A child that crashes (non-zero exit, signal) while `up` runs is restarted
// with backoff (1 s, 2 s, 4 s … 30 s); one that drained (exit 0, `ctl
// drain`) stays stopped. `status` counts a pid change as a restart.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "actors/registry.h"
#include "cli/commands.h"
#include "cli/local_postgres.h"
#include "pipeline/process.h"

namespace ctk::cli {

namespace {
pid_t spawn_actor(const global_options& g, const std::string& bootstrap, const std::string& actor, int instance) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // a terminal's Ctrl-C reaches `up` only; up drains the children
    std::vector<std::string> args{"/proc/self/exe", "--config", g.config_dir, "--bootstrap", bootstrap, "run", actor,
                                  "--node", "local", "--instance", std::to_string(instance)};
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
  auto scale = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("up", "Run the whole system on this machine in the foreground (Ctrl-C stops it)");
  cmd->add_option("--listen", *listen, "broker bootstrap address (default broker.listen; port 0: the broker's own)");
  cmd->add_option("--db", *db, "PostgreSQL DSN for db-sink (default postgres.dsn; empty: a private server in ./var/pg)");
  cmd->add_option("--hdfs", *hdfs, "where hdfs-sink writes (default hdfs.url: file://var/hdfs)");
  cmd->add_option("--replay", *replay,
                  "crawl a replay server instead of the live sources: a folder with routes.yaml (served by this "
                  "process, e.g. tests/fixtures/replay) or http://127.0.0.1:PORT");
  cmd->add_option("--scale", *scale, "ACTOR=N: run N instances of an actor (repeatable; 0 leaves it out)");
  cmd->callback([&g, &rc, listen, db, hdfs, replay, scale] {
    std::map<std::string, int> counts;
    for (const auto& spec : *scale) {
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
        rc = exit_usage;
        return;
      }
      counts[name] = n;
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
    struct kid {
      std::string name;
      int instance = 0;
      pid_t pid = -1;
      int restarts = 0;
      std::chrono::steady_clock::time_point restart_at{};
    };
    std::vector<kid> children;
    std::string missing;
    for (const auto& e : actors::registry()) {
      if (!e.make) {
        missing += (missing.empty() ? "" : ", ") + e.name;
        continue;
      }
      if (e.name == "db-sink" && c.cluster.postgres.dsn.empty()) continue;
      const int n = counts.count(e.name) ? counts[e.name] : 1;
      for (int i = 0; i < n; ++i) children.push_back({e.name, i, spawn_actor(g, b->bootstrap(), e.name, i)});
    }
    std::cout << "cointicker is up on this machine\n"
              << "  control    " << c.cluster.control.router << " (ROUTER), " << c.cluster.control.pub << " (PUB)\n"
              << "  broker     " << b->bootstrap() << "  (embedded: in memory, one machine, not for production)\n"
              << "  topics     " << c.cluster.kafka.prefix << "{control,raw,valid,deadletter,unique,insights,dedup.state,reports}\n"
              << "  sources    " << (c.cluster.crawler.replay.empty() ? "live (the internet)" : "replay server " + c.cluster.crawler.replay + (replay->starts_with("http") ? "" : " (" + *replay + ")")) << "\n"
              << "  postgres   " << (c.cluster.postgres.dsn.empty() ? "(none)" : c.cluster.postgres.dsn) << db_note << "\n"
              << "  hdfs       " << c.cluster.hdfs.url << "\n";
    for (const auto& k : children) {
      const std::string label = k.name + (k.instance ? "/" + std::to_string(k.instance) : "");
      std::cout << "  " << label << std::string(11 - std::min<std::size_t>(10, label.size()), ' ') << "pid " << k.pid << "\n";
    }
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
      const auto now = std::chrono::steady_clock::now();
      for (auto& k : children) {
        int st = 0;
        if (k.pid > 0 && ::waitpid(k.pid, &st, WNOHANG) == k.pid) {
          if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {  // drained on purpose (`ctl drain`): left stopped
            spdlog::info("{}/{} (pid {}) drained and exited 0; not restarted", k.name, k.instance, k.pid);
            k.pid = 0;
            continue;
          }
          const int backoff_s = std::min(30, 1 << std::min(k.restarts, 5));
          spdlog::error("{}/{} (pid {}) exited with {}; restarting it in {} s", k.name, k.instance, k.pid,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), backoff_s);
          k.pid = -1;
          k.restart_at = now + std::chrono::seconds(backoff_s);
        } else if (k.pid < 0 && now >= k.restart_at) {
          k.pid = spawn_actor(g, b->bootstrap(), k.name, k.instance);
          ++k.restarts;
          spdlog::info("{}/{} restarted (pid {}, restart {})", k.name, k.instance, k.pid, k.restarts);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    spdlog::info("stopping: draining {} actor processes", children.size());
    for (const auto& k : children)
      if (k.pid > 0) ::kill(k.pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (auto& k : children) {
      pid_t& pid = k.pid;
      const std::string& name = k.name;
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
