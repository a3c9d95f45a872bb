// `cointicker replay-server DIR`: recorded source responses over HTTP, so
// that crawls run offline (tests, demos). See actors/crawler/replay_server.h
// and tests/fixtures/README.md for DIR's routes.yaml.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "actors/crawler/replay_server.h"
#include "cli/commands.h"
#include "pipeline/process.h"

namespace ctk::cli {

std::unique_ptr<crawler::replay_server> start_replay_server(const std::string& dir, const std::string& bind, int port,
                                                            std::string& err) {
  auto s = crawler::replay_server::load(dir, err);
  if (!s) return nullptr;
  if (!s->start(bind, port, err)) return nullptr;
  return s;
}

bool resolve_replay(const std::string& dir_or_url, cfg::loaded_config& c,
                    std::unique_ptr<crawler::replay_server>& server) {
  if (dir_or_url.empty()) return true;
  if (dir_or_url.starts_with("http://")) {
    c.cluster.crawler.replay = dir_or_url;
    return true;
  }
  std::string err;
  server = start_replay_server(dir_or_url, "127.0.0.1", 0, err);
  if (!server) {
    std::cerr << "replay: " << err << "\n";
    return false;
  }
  c.cluster.crawler.replay = server->url();
  return true;
}

void add_replay_command(CLI::App& app, global_options& g, int& rc) {
  struct opts {
    std::string dir, bind = "127.0.0.1";
    int port = 0;
  };
  auto o = std::make_shared<opts>();
  auto* cmd =
      app.add_subcommand("replay-server",
                         "Serve recorded source responses (DIR/routes.yaml) over HTTP; crawlers in replay mode ask for "
                         "http://ADDRESS:PORT/{host}{path}?{query} (ADDRESS: --bind)");
  cmd->add_option("dir", o->dir, "folder holding routes.yaml and the body files")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--port", o->port, "port (0: a free one; the address is printed)")->capture_default_str();
  cmd->add_option("--bind", o->bind, "address to bind")->capture_default_str();
  cmd->callback([&g, &rc, o] {
    pipeline::init_logging("replay-server", g.log_level.empty() ? "info" : g.log_level);
    auto& stop = pipeline::install_stop_signals();
    std::string err;
    auto s = start_replay_server(o->dir, o->bind, o->port, err);
    if (!s) {
      std::cerr << "replay-server: " << err << "\n";
      rc = exit_failure;
      return;
    }
    if (o->bind != "127.0.0.1" && o->bind != "localhost")
      spdlog::warn("replay-server bound to {}: it serves recorded data to anyone who can reach it", o->bind);
    std::cout << "replay " << s->url() << "\n" << std::flush;
    spdlog::info("serving {} routes from {} on {}", s->routes(), o->dir, s->url());
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s->stop();
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
