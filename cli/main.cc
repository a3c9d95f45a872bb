// cointicker: one binary, one subcommand per task (`cointicker --help`).
// Exit codes: 0 success, 1 failure, 2 usage error.
#include <iostream>
#include <set>

#include "brokers/kafka.h"
#include "cli/commands.h"
#include "config/loader.h"
#include "messages/text.h"

namespace {

// The command word of the line: the first argument that is neither a
// global option nor its value (the options are the app's own). "" when
// there is none.
std::string command_word(CLI::App& app, int argc, char** argv) {
  std::set<std::string, std::less<>> with_value;
  for (const auto* o : app.get_options())
    if (o->get_items_expected_min() > 0)
      for (const auto& n : o->get_lnames()) with_value.insert("--" + n);
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (with_value.count(a)) {
      ++i;
      continue;
    }
    if (!a.starts_with("-")) return std::string(a);
  }
  return {};
}

// `cointicker help` is --help; an unknown command is named, with the
// closest one and the list. -1: go on parsing.
int check_command(CLI::App& app, const std::string& word) {
  if (word.empty()) return -1;
  if (word == "help") {
    std::cout << app.help();
    return ctk::cli::exit_ok;
  }
  std::vector<std::string_view> names;
  for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  for (auto n : names)
    if (n == word) return -1;
  std::cerr << "cointicker: unknown command '" << word << "'";
  if (const auto best = ctk::text::closest(word, names); !best.empty())
    std::cerr << " (did you mean '" << best << "'?)";
  std::cerr << "\ncommands:";
  for (auto n : names) std::cerr << " " << n;
  std::cerr << "\n(cointicker --help says what each does)\n";
  return ctk::cli::exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctk::cli;
  CLI::App app{"cointicker: a distributed crawler and data pipeline for crypto-market data and news"};
  app.require_subcommand(1);
  // Global options are taken anywhere on the line (`tail raw --config X`):
  // each subcommand hands the options it does not know to its parent.
  app.fallthrough();
  app.set_version_flag("--version,-V",
                       std::string("cointicker ") + CTK_VERSION + " (librdkafka " + ctk::kafka::client_version() + ")");
  global_options g;
  g.config_dir = ctk::cfg::default_config_dir();
  app.add_option("--config", g.config_dir,
                 "folder holding cluster.yaml and sources.yaml ($CTK_CONFIG_DIR, else ./config)")
      ->capture_default_str();
  app.add_option("--log-level", g.log_level, "trace|debug|info|warn|error|critical|off (default: runtime.log_level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
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
  add_doctor_command(app, g, rc);
  add_top_command(app, g, rc);
  add_batch_commands(app, g, rc);
  add_completion_command(app, rc);
  if (const int rc_word = check_command(app, command_word(app, argc, argv)); rc_word >= 0) return rc_word;
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
