// `cointicker broker`: the embedded Kafka-protocol broker (in memory, one
// machine, not for production) with the pipeline's topics created.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "brokers/embedded_broker.h"
#include "cli/commands.h"
#include "pipeline/process.h"

namespace ctk::cli {

std::unique_ptr<kafka::embedded_broker> start_embedded_broker(const cfg::loaded_config& c, const std::string& listen,
                                                              const std::vector<std::string>& extra_topics,
                                                              std::string& err) {
  auto b = kafka::embedded_broker::start(listen, err);
  if (!b) return nullptr;
  auto topics = pipeline_topic_partitions(c);
  for (const auto& spec : extra_topics) {
    auto colon = spec.rfind(':');
    int parts = 4;
    std::string name = spec;
    if (colon != std::string::npos) {
      name = spec.substr(0, colon);
      try {
        parts = std::stoi(spec.substr(colon + 1));
      } catch (...) {
        parts = -1;
      }
      if (parts < 1) {
        err = "--topic " + spec + ": expected NAME:PARTITIONS";
        return nullptr;
      }
    }
    topics.emplace_back(name, parts);
  }
  for (const auto& [name, parts] : topics)
    if (!b->create_topic(name, parts, err)) return nullptr;
  return b;
}

namespace {
std::atomic<int> g_drill_signals{0};
void on_drill_signal(int) { g_drill_signals.fetch_add(1); }
}  // namespace

broker_drill::broker_drill(kafka::embedded_broker& b, const std::atomic<bool>& stop) : broker_(b), stop_(stop) {
  struct sigaction sa {};
  sa.sa_handler = on_drill_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, nullptr);
  thread_ = std::thread([this] {
    int seen = g_drill_signals.load();
    bool down = false;
    while (!stop_.load() && !ended_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const int now = g_drill_signals.load();
      if ((now - seen) % 2 != 0) {
        down = !down;
        broker_.set_down(down);
        if (down)
          spdlog::warn("embedded broker DOWN (fault drill): connections closed and refused until the next SIGUSR2");
        else
          spdlog::info("embedded broker up again (fault drill)");
      }
      seen = now;
    }
    if (down) {
      broker_.set_down(false);
      spdlog::info("embedded broker up again: stopping ends the fault drill");
    }
  });
}

void broker_drill::end() {
  ended_.store(true);
  if (thread_.joinable()) thread_.join();
}

void add_broker_command(CLI::App& app, global_options& g, int& rc) {
  auto* cmd =
      app.add_subcommand("broker",
                         "Run the embedded Kafka-protocol broker for one machine (in memory: data is lost on "
                         "exit; single host; NOT a production broker; SIGUSR2 takes it down until the next SIGUSR2, a "
                         "fault drill)");
  auto listen = std::make_shared<std::string>();
  auto address_file = std::make_shared<std::string>();
  auto topics = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--listen", *listen, "fixed bootstrap address host:port (default broker.listen; port 0: none)");
  cmd->add_option("--address-file", *address_file, "write the bootstrap address to this file once ready");
  cmd->add_option("--topic", *topics, "extra topic NAME:PARTITIONS to create (repeatable)");
  cmd->callback([&g, &rc, listen, address_file, topics] {
    cfg::loaded_config c;
    if (!load(g, c)) {
      rc = exit_failure;
      return;
    }
    pipeline::init_logging("broker", g.log_level.empty() ? c.cluster.runtime.log_level : g.log_level);
    auto& stop = pipeline::install_stop_signals();
    std::string err;
    const std::string where = listen->empty() ? c.cluster.broker.listen : *listen;
    auto b = start_embedded_broker(c, where, *topics, err);
    if (!b) {
      spdlog::error("embedded broker: {}", err);
      rc = exit_failure;
      return;
    }
    std::cout << b->bootstrap() << std::endl;  // first line of stdout, by contract
    const std::string file = address_file->empty() ? c.cluster.broker.address_file : *address_file;
    if (!file.empty()) {
      std::ofstream(file + ".tmp") << b->bootstrap() << "\n";
      std::rename((file + ".tmp").c_str(), file.c_str());
    }
    spdlog::info(
        "embedded broker ready: bootstrap {} (broker listener {}); topics under prefix '{}'. In memory, "
        "one machine, not a production broker.",
        b->bootstrap(), b->mock_bootstrap(), c.cluster.kafka.prefix);
    broker_drill drill(*b, stop);
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    spdlog::info("embedded broker stopping; its data is gone");
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
