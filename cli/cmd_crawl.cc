// `cointicker crawl SOURCE…`: publishes manual crawl commands to the control
// topic (the format is in actors/crawler/README.md; kcat can do the same).
// With --wait it reads the crawl reports back and prints one line per
// crawl; the exit code is 1 if a crawl failed or was refused.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "actors/crawler/requests.h"
#include "cli/commands.h"
#include "messages/envelope.h"
#include "pipeline/process.h"

namespace ctk::cli {

namespace {

struct crawl_opts {
  std::vector<std::string> sources;
  bool wait = false, force = false;
  int timeout_s = 120;
};

// Prints a crawl report as one line. True when the crawl failed or was refused.
bool print_report(const msg::crawl_report& rep) {
  std::printf("%-16s %-8s %6lld records %4lld errors %4lld pages %7lld ms  %s%s\n", rep.source.c_str(),
              rep.status.c_str(), static_cast<long long>(rep.records), static_cast<long long>(rep.errors),
              static_cast<long long>(rep.pages), static_cast<long long>(rep.duration_ms), rep.actor.c_str(),
              rep.error.empty() ? "" : ("  " + rep.error).c_str());
  std::fflush(stdout);
  return rep.status == "failed" || rep.status == "refused";
}

int run_crawl(const global_options& g, const crawl_opts& o) {
  cfg::loaded_config c;
  if (!load(g, c)) return exit_failure;
  pipeline::init_logging("crawl", g.log_level.empty() ? "warn" : g.log_level);
  auto& stop = pipeline::install_stop_signals();
  for (const auto& s : o.sources) {
    auto it = c.sources.sources.find(s);
    if (it == c.sources.sources.end()) {
      std::cerr << "crawl: no source named '" << s << "' in " << c.dir
                << "/sources.yaml (`cointicker config sources` lists them)\n";
      return exit_usage;
    }
    if (!it->second.enabled && !o.force) {
      std::cerr << "crawl: source '" << s << "' is disabled: " << it->second.disabled_reason
                << " (--force crawls it anyway)\n";
      return exit_usage;
    }
  }
  if (!broker_answers(client_props(c, "cointicker-crawl"), "crawl")) return exit_failure;
  std::string err;
  // Reports are read from the current end, fixed before the commands go out.
  std::unique_ptr<kafka::follower> reader;
  if (o.wait) {
    reader = crawler::open_report_reader(c, "cointicker-crawl", err);
    if (!reader) {
      std::cerr << "crawl: " << err << "\n";
      return exit_failure;
    }
  }

  std::map<std::string, std::string> pending;  // id -> source
  if (!crawler::publish_crawls(c, "cointicker-crawl", o.sources, o.force, pending, err)) {
    std::cerr << "crawl: " << err << "\n";
    return exit_failure;
  }
  for (const auto& [id, source] : pending) std::cout << "sent " << source << " " << id << "\n";
  std::cout << std::flush;
  if (!o.wait) return exit_ok;

  bool failed = false;
  crawler::await_reports(*reader, pending, o.timeout_s * 1000, stop,
                         [&](const msg::crawl_report& rep) { failed = print_report(rep) || failed; });
  for (const auto& [id, source] : pending)
    std::cerr << "crawl: no report for " << source << " (" << id << ") within " << o.timeout_s
              << " s: is a crawler running? (`cointicker run crawler`)\n";
  return pending.empty() && !failed ? exit_ok : exit_failure;
}

}  // namespace

void add_crawl_command(CLI::App& app, global_options& g, int& rc) {
  auto o = std::make_shared<crawl_opts>();
  auto* cmd = app.add_subcommand("crawl", "Publish manual crawl commands to the control topic");
  cmd->add_option("source", o->sources, "source names from sources.yaml")->required();
  cmd->add_flag("--wait", o->wait, "print each crawl's report; exit 1 if one failed or was refused");
  cmd->add_option("--timeout", o->timeout_s, "seconds --wait waits for the reports")->capture_default_str();
  cmd->add_flag("--force", o->force, "crawl a disabled source anyway");
  cmd->callback([&g, &rc, o] { rc = run_crawl(g, *o); });
}

}  // namespace ctk::cli
