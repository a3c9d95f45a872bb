// `cointicker up`: the whole system on this machine, in the foreground:
// the embedded broker in this process and every built actor as a child
// process (`cointicker run ACTOR`). Ctrl-C / SIGTERM stops it without
// losing what is in flight (cli/lossless_stop.h: crawls first, then every
// group catches up, at most --drain-timeout), then drains the children
// (SIGTERM, then SIGKILL after --drain-timeout) and leaves no process behind.
// Without a DSN (postgres.dsn or --db) it runs a private PostgreSQL in
// ./var/pg; the file:// HDFS root is hdfs.url (./var/hdfs) unless --hdfs.
// --replay DIR|URL points every crawler at a replay server (offline runs).
// --scale ACTOR=N sets instance counts (default 1; 0 leaves an actor out).
// The dashboard (`serve`: REST API and web UI) runs in this process too, on
// api.listen (or --api-listen); without api.token_file, actions use a token
// written to ./var/api-token (0600) on first start.
// The children are supervised by pipeline/supervisor.h, as `node` does: a
// crashed child is restarted with backoff, a drained one stays stopped.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "actors/db_sink/postgres.h"
#include "actors/registry.h"
#include "cli/commands.h"
#include "cli/local_postgres.h"
#include "cli/lossless_stop.h"
#include "pipeline/process.h"
#include "pipeline/supervisor.h"
#include "serve/api.h"

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
                  const std::string& db_note, const pipeline::supervisor& sup, const std::string& missing,
                  const std::string& dashboard) {
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
            << "  postgres   " << (c.cluster.postgres.dsn.empty() ? "(none)" : db::redact(c.cluster.postgres.dsn))
            << db_note << "\n"
            << "  hdfs       " << c.cluster.hdfs.url << "\n"
            << "  dashboard  " << dashboard << "\n";
  print_children(sup, c.cluster.metrics.bind);
  if (!missing.empty()) std::cout << "  not built yet: " << missing << "\n";
  const std::string cli = "build/cointicker --bootstrap " + bootstrap;
  const std::string psql_dsn = db::without_password(c.cluster.postgres.dsn);  // psql asks for it
  std::cout << "try, in another terminal:\n"
            << "  " << cli << " crawl upbit coinness --wait      # crawl now; prints each crawl's report\n"
            << "  " << cli << " status                           # every actor, as the scheduler sees it\n"
            << "  " << cli << " tail unique --follow\n"
            << "  " << cli << " topics\n"
            << "  psql '" << psql_dsn << "' -c 'SELECT symbol, price FROM market_trends'\n"
            << "  psql '" << psql_dsn
            << "' -c 'SELECT symbol, \"interval\", \"timestamp\", close, rsi FROM technical_indicators ORDER BY 3 "
               "DESC LIMIT 10'\n"
            << "Ctrl-C stops everything (records in flight are stored first; Ctrl-C twice: at once)." << std::endl;
}

// Every built actor, `counts` instances each (default 1; db-sink only with
// a database). Returns the actors not built yet, comma-separated.
std::string add_children(pipeline::supervisor& sup, const std::map<std::string, int>& counts,
                         const cfg::loaded_config& c) {
  std::string missing;
  for (const auto& e : actors::registry()) {
    if (!e.make) {
      missing += (missing.empty() ? "" : ", ") + e.name;
      continue;
    }
    if (e.name == "db-sink" && c.cluster.postgres.dsn.empty()) continue;
    const auto it = counts.find(e.name);
    const int n = it == counts.end() ? 1 : it->second;
    for (int i = 0; i < n; ++i) sup.add(e.name, i);
  }
  return missing;
}

// The actions' bearer token: api.token_file, else ./var/api-token, made once
// with 32 random hex characters and mode 0600. The token itself is never
// printed; the banner names the file.
bool local_token(const cfg::loaded_config& c, std::string& file, std::string& token, std::string& err) {
  file = c.cluster.api.token_file.empty() ? "var/api-token" : c.cluster.api.token_file;
  if (c.cluster.api.token_file.empty() && !std::filesystem::exists(file)) {
    std::filesystem::create_directories("var");
    std::random_device rd;
    std::string t;
    for (int i = 0; i < 32; ++i) t += "0123456789abcdef"[rd() % 16];
    const mode_t old = ::umask(077);
    std::ofstream(file) << t << "\n";
    ::umask(old);
  }
  std::ifstream in(file);
  if (!in || !std::getline(in, token) || token.size() < 16) {
    err = "the token file " + file + " cannot be read or holds fewer than 16 characters";
    return false;
  }
  return true;
}

// What the children read from the environment (CTK_<PATH> overrides): the
// DSN, the HDFS URL, the replay server. The DSN goes without a password: a
// DSN's password goes to ./var/postgres-password (mode 0600), named by
// CTK_POSTGRES__PASSWORD_FILE, so it shows in no child's environment
// (/proc/PID/environ) and no banner. c's settings follow (the dashboard).
bool export_to_children(cfg::loaded_config& c) {
  std::string password;
  const std::string dsn = db::without_password(c.cluster.postgres.dsn, &password);
  if (!password.empty()) {
    const std::string file = "var/postgres-password";
    std::filesystem::create_directories("var");
    const mode_t old = ::umask(077);
    std::ofstream(file, std::ios::trunc) << password << "\n";
    ::umask(old);
    if (!std::filesystem::exists(file)) {
      spdlog::error("cannot write {} (the PostgreSQL password for the actors)", file);
      return false;
    }
    ::setenv("CTK_POSTGRES__PASSWORD_FILE", file.c_str(), 1);
    c.cluster.postgres.dsn = dsn;
    c.cluster.postgres.password_file = file;
  }
  ::setenv("CTK_POSTGRES__DSN", c.cluster.postgres.dsn.c_str(), 1);
  ::setenv("CTK_HDFS__URL", c.cluster.hdfs.url.c_str(), 1);
  if (!c.cluster.crawler.replay.empty()) ::setenv("CTK_CRAWLER__REPLAY", c.cluster.crawler.replay.c_str(), 1);
  return true;
}

// The dashboard in this process; nullptr (and why, in `note`) when it cannot run.
std::unique_ptr<serve::api> start_dashboard(const cfg::loaded_config& c, std::string& note) {
  if (c.cluster.postgres.dsn.empty()) {
    note = "not started (no PostgreSQL)";
    return nullptr;
  }
  std::string err, file, token;
  auto conninfo = db::connection_string(c.cluster.postgres, err);
  if (!conninfo || !local_token(c, file, token, err)) {
    note = "not started: " + err;
    return nullptr;
  }
  auto server = std::make_unique<serve::api>(c, *conninfo, token);
  if (!server->bind(err)) {
    note = "not started: " + err + " (--api-listen HOST:PORT picks another)";
    return nullptr;
  }
  const std::string host = c.cluster.api.listen.substr(0, c.cluster.api.listen.rfind(':'));
  note = "http://" + host + ":" + std::to_string(server->port()) + "/  (actions: bearer token in " + file + ")";
  return server;
}

}  // namespace

void add_up_command(CLI::App& app, global_options& g, int& rc) {
  auto listen = std::make_shared<std::string>();
  auto db = std::make_shared<std::string>();
  auto hdfs = std::make_shared<std::string>();
  auto replay = std::make_shared<std::string>();
  auto scale = std::make_shared<std::vector<std::string>>();
  auto api_listen = std::make_shared<std::string>();
  auto grace = std::make_shared<int>(60);
  auto* cmd =
      app.add_subcommand("up",
                         "Run the whole system on this machine in the foreground (Ctrl-C stops it; SIGUSR2 takes the "
                         "embedded broker down until the next SIGUSR2, a fault drill)");
  cmd->add_option("--listen", *listen, "broker bootstrap address (default broker.listen; port 0: the broker's own)");
  cmd->add_option("--db", *db,
                  "PostgreSQL DSN for db-sink (default postgres.dsn; empty: a private server in ./var/pg)");
  cmd->add_option("--hdfs", *hdfs, "where hdfs-sink writes (default hdfs.url: file://var/hdfs)");
  cmd->add_option("--replay", *replay,
                  "crawl a replay server instead of the live sources: a folder with routes.yaml (served by this "
                  "process, e.g. tests/fixtures/replay) or http://127.0.0.1:PORT");
  cmd->add_option("--scale", *scale, "ACTOR=N: run N instances of an actor (repeatable; 0 leaves it out)");
  cmd->add_option("--api-listen", *api_listen, "the dashboard's HOST:PORT (default api.listen; port 0: a free one)");
  cmd->add_option("--drain-timeout", *grace,
                  "seconds Ctrl-C waits for records in flight to be stored (what is left is reported and lost with "
                  "the embedded broker), and then for each actor to exit before SIGKILL")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->callback([&g, &rc, listen, db, hdfs, replay, scale, api_listen, grace] {
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
    if (!api_listen->empty()) c.cluster.api.listen = *api_listen;
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
    broker_drill drill(*b, stop);
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
    if (!export_to_children(c)) {
      rc = exit_failure;
      return;
    }
    pipeline::supervisor sup(child_argv(g, b->bootstrap(), "local"), c.cluster.metrics.base_port,
                             c.cluster.runtime.watchdog.value());
    const std::string missing = add_children(sup, counts, c);
    c.cluster.kafka.bootstrap = b->bootstrap();  // the dashboard's crawl action publishes here
    std::string dashboard;
    auto server = start_dashboard(c, dashboard);
    std::thread http;
    if (server) http = std::thread([&] { server->serve(); });
    print_banner(c, b->bootstrap(), *replay, db_note, sup, missing, dashboard);
    sup.run(stop);
    drill.end();  // the lossless stop needs the broker
    if (server) {
      server->stop();
      http.join();
    }
    lossless_stop(sup, c.cluster, b->bootstrap(), std::chrono::seconds(*grace),
                  "they are lost with the embedded broker (in memory)");
    sup.drain(std::chrono::seconds(*grace));
    pg.stop();
    spdlog::info("stopped");
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
