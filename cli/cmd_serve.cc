// `cointicker serve`: the REST API (/api/v1) and the web UI over a read-only
// PostgreSQL pool and the control plane (serve/README.md).
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "actors/db_sink/postgres.h"
#include "cli/commands.h"
#include "pipeline/process.h"
#include "serve/api.h"

namespace ctk::cli {

namespace {

// The bearer token: the first line of api.token_file, trimmed. "" when no
// file is configured; false when it is configured but unusable.
bool read_token(const std::string& file, std::string& token, std::string& err) {
  token.clear();
  if (file.empty()) return true;
  std::ifstream in(file);
  if (!in) {
    err = "api.token_file " + file + " cannot be read";
    return false;
  }
  std::getline(in, token);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.size() < 16) {
    err = "api.token_file " + file + ": the token must be at least 16 characters";
    return false;
  }
  return true;
}

}  // namespace

void add_serve_command(CLI::App& app, global_options& g, int& rc) {
  auto* cmd = app.add_subcommand("serve", "Run the REST API (/api/v1) and the web dashboard (api.listen)");
  auto listen = std::make_shared<std::string>();
  auto dsn = std::make_shared<std::string>();
  cmd->add_option("--listen", *listen, "HOST:PORT (default api.listen; port 0: a free port, printed)");
  cmd->add_option("--dsn", *dsn, "libpq connection string (overrides postgres.dsn)");
  cmd->callback([&g, &rc, listen, dsn] {
    cfg::loaded_config c;
    if (!load(g, c)) {
      rc = exit_failure;
      return;
    }
    if (!listen->empty()) c.cluster.api.listen = *listen;
    if (!dsn->empty()) c.cluster.postgres.dsn = *dsn;
    pipeline::init_logging("serve", g.log_level.empty() ? c.cluster.runtime.log_level : g.log_level);
    auto& stop = pipeline::install_stop_signals();
    std::string err, token;
    if (c.cluster.postgres.dsn.empty()) {
      spdlog::error("serve: postgres.dsn is empty (set it in cluster.yaml, CTK_POSTGRES__DSN or --dsn)");
      rc = exit_failure;
      return;
    }
    auto conninfo = db::connection_string(c.cluster.postgres, err);
    if (!conninfo || !read_token(c.cluster.api.token_file, token, err)) {
      spdlog::error("serve: {}", err);
      rc = exit_failure;
      return;
    }
    serve::api server(c, *conninfo, token);
    if (!server.bind(err)) {
      spdlog::error("serve: {}", err);
      rc = exit_failure;
      return;
    }
    const std::string host = c.cluster.api.listen.substr(0, c.cluster.api.listen.rfind(':'));
    std::cout << "http://" << host << ":" << server.port() << "/" << std::endl;  // first line of stdout
    spdlog::info("serve: http://{}:{}/ (API /api/v1, database {}); actions {}", host, server.port(),
                 db::redact(*conninfo), token.empty() ? "off (no api.token_file)" : "on (bearer token)");
    std::thread t([&] { server.serve(); });
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
    t.join();
    spdlog::info("serve: stopped");
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
