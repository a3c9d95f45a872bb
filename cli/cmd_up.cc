// `cointicker up`: the whole system on this machine, in the foreground.
// Today that is the embedded broker; each actor issue adds its processes.
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "pipeline/process.h"

namespace ctk::cli {

void add_up_command(CLI::App& app, global_options& g, int& rc) {
  auto listen = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("up", "Run the whole system on this machine in the foreground (Ctrl-C stops it)");
  cmd->add_option("--listen", *listen, "broker bootstrap address (default broker.listen)");
  cmd->callback([&g, &rc, listen] {
    cfg::loaded_config c;
    if (!load(g, c)) {
      rc = exit_failure;
      return;
    }
    pipeline::init_logging("up", g.log_level.empty() ? c.cluster.runtime.log_level : g.log_level);
    auto& stop = pipeline::install_stop_signals();
    std::string err;
    auto b = start_embedded_broker(c, listen->empty() ? c.cluster.broker.listen : *listen, {}, err);
    if (!b) {
      spdlog::error("embedded broker: {}", err);
      rc = exit_failure;
      return;
    }
    std::cout << "cointicker is up on this machine\n"
              << "  broker     " << b->bootstrap() << "  (embedded: in memory, one machine, not for production)\n"
              << "  topics     " << c.cluster.kafka.prefix << "{control,raw,valid,deadletter,unique,insights,dedup.state}\n"
              << "  actors     none yet in this version: `cointicker run ACTOR` lists the planned ones\n"
              << "try, in another terminal:\n"
              << "  kcat -b " << b->bootstrap() << " -L\n"
              << "  echo '{\"v\":1,\"source\":\"demo\",\"kind\":\"news\",\"fetched_at\":\"2026-11-29T00:00:00Z\",\"data\":{}}' | kcat -b "
              << b->bootstrap() << " -P -t " << c.cluster.kafka.prefix << "raw -k demo/1\n"
              << "  build/cointicker tail raw --bootstrap " << b->bootstrap() << "\n"
              << "  build/cointicker topics --bootstrap " << b->bootstrap() << "\n"
              << "Ctrl-C stops everything." << std::endl;
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    spdlog::info("stopping");
    rc = exit_ok;
  });
}

}  // namespace ctk::cli
