// cointicker: one binary, one subcommand per task (`cointicker --help`).
// Exit codes: 0 success, 1 failure, 2 usage error.
#include <iostream>

#include "cli/commands.h"
#include "config/loader.h"

int main(int argc, char** argv) {
  using namespace ctk::cli;
  CLI::App app{"cointicker: a distributed crawler and data pipeline for crypto-market data and news"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cointicker 0.1.0");
  global_options g;
  g.config_dir = ctk::cfg::default_config_dir();
  app.add_option("--config", g.config_dir,
                 "folder holding cluster.yaml and sources.yaml ($CTK_CONFIG_DIR, else ./config)")
      ->capture_default_str();
  app.add_option("--log-level", g.log_level, "trace|debug|info|warn|error (default: runtime.log_level)");
  app.add_option("--bootstrap", g.bootstrap, "Kafka bootstrap servers (overrides kafka.bootstrap)");
  int rc = exit_ok;
  add_broker_command(app, g, rc);
  add_up_command(app, g, rc);
  add_run_command(app, g, rc);
  add_tail_command(app, g, rc);
  add_topics_command(app, g, rc);
  add_config_command(app, g, rc);
  add_db_command(app, g, rc);
  add_replay_command(app, g, rc);
  add_crawl_command(app, g, rc);
  add_control_commands(app, g, rc);
  add_node_command(app, g, rc);
  add_serve_command(app, g, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  }
  return rc;
}
