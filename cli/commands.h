#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/crawler/replay_server.h"
#include "brokers/embedded_broker.h"
#include "cli/common.h"
#include "pipeline/supervisor.h"

namespace ctk::cli {

// Each adds one subcommand; its callback stores the exit code in `rc`.
void add_broker_command(CLI::App& app, global_options& g, int& rc);
void add_tail_command(CLI::App& app, global_options& g, int& rc);
void add_topics_command(CLI::App& app, global_options& g, int& rc);
void add_config_command(CLI::App& app, global_options& g, int& rc);
void add_run_command(CLI::App& app, global_options& g, int& rc);
void add_up_command(CLI::App& app, global_options& g, int& rc);
void add_db_command(CLI::App& app, global_options& g, int& rc);
void add_replay_command(CLI::App& app, global_options& g, int& rc);
void add_crawl_command(CLI::App& app, global_options& g, int& rc);
void add_control_commands(CLI::App& app, global_options& g, int& rc);  // status, ctl
void add_node_command(CLI::App& app, global_options& g, int& rc);
void add_serve_command(CLI::App& app, global_options& g, int& rc);
void add_doctor_command(CLI::App& app, global_options& g, int& rc);
void add_top_command(CLI::App& app, global_options& g, int& rc);
void add_batch_commands(CLI::App& app, global_options& g, int& rc);  // aggregate, mapreduce, backfill
void add_completion_command(CLI::App& app, int& rc);                 // last: it reads every other command

// The command line of a supervised actor: this binary's `run ACTOR --node
// NODE --instance I --restarts R --metrics-port P`, with the same --config and --log-level,
// and --bootstrap when `bootstrap` is not empty.
pipeline::supervisor::argv_fn child_argv(const global_options& g, const std::string& bootstrap,
                                         const std::string& node);

// The banner's lines for supervised children: "  LABEL      pid N  metrics http://BIND:PORT/metrics".
void print_children(const pipeline::supervisor& sup, const std::string& metrics_bind);

// --replay DIR|URL: a URL is used as is; a folder gets a replay server in
// this process (kept alive in `server`). Sets crawler.replay. false: error printed.
bool resolve_replay(const std::string& dir_or_url, cfg::loaded_config& c,
                    std::unique_ptr<crawler::replay_server>& server);

// Starts the embedded broker and creates the pipeline's topics (+ extras "NAME:PARTS").
std::unique_ptr<kafka::embedded_broker> start_embedded_broker(const cfg::loaded_config& c, const std::string& listen,
                                                              const std::vector<std::string>& extra_topics,
                                                              std::string& err);

// A fault drill on the embedded broker (`broker` and `up`): SIGUSR2 takes it
// down (every client connection closed, new ones refused, data kept), the
// next SIGUSR2 brings it up. end() (or the destructor) brings it up for good.
class broker_drill {
 public:
  broker_drill(kafka::embedded_broker& b, const std::atomic<bool>& stop);
  ~broker_drill() { end(); }
  void end();

 private:
  kafka::embedded_broker& broker_;
  const std::atomic<bool>& stop_;
  std::atomic<bool> ended_{false};
  std::thread thread_;
};

}  // namespace ctk::cli
