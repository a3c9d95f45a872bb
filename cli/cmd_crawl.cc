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

// Publishes one crawl command per source; `pending` gets id -> source once
// the broker acknowledged them all.
bool publish(const cfg::loaded_config& c, const crawl_opts& o, const std::string& control,
             std::map<std::string, std::string>& pending, std::string& err) {
  auto prod = kafka::producer::create(client_props(c, "cointicker-crawl"), err);
  if (!prod) return false;
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (std::size_t i = 0; i < o.sources.size(); ++i) {
    msg::crawl_command cmd;
    cmd.id = "manual-" + std::string(host) + "-" + std::to_string(ms) + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(i);
    cmd.source = o.sources[i];
    cmd.reason = "manual";
    cmd.requested_at = msg::utc_now_iso();
    if (o.force) cmd.force = true;
    std::string json;
    msg::encode(cmd, json);
    if (!prod->produce(control, -1, cmd.source, json, &err)) {
      err = control + ": " + err;
      return false;
    }
    pending[cmd.id] = cmd.source;
  }
  if (!prod->flush(err)) {
    err = "the commands were not acknowledged: " + err;
    return false;
  }
  return true;
}

// Prints each report of a pending crawl as it arrives (removing it from
// `pending`) until none is left, the timeout passes or a signal stops it.
// True when a crawl failed or was refused.
bool print_reports(kafka::follower& reader, std::map<std::string, std::string>& pending, int timeout_s,
                   const std::atomic<bool>& stop) {
  msg::json_decoder dec;
  bool failed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (!pending.empty() && !stop.load() && std::chrono::steady_clock::now() < deadline) {
    kafka::message_ptr m = reader.poll(200);
    if (!m || m->err) continue;
    msg::crawl_report rep;
    msg::decode_error derr;
    if (!dec.decode(kafka::payload(*m), rep, derr)) continue;
    auto it = pending.find(rep.id);
    if (it == pending.end()) continue;  // someone else's crawl
    pending.erase(it);
    std::printf("%-16s %-8s %6lld records %4lld errors %4lld pages %7lld ms  %s%s\n", rep.source.c_str(),
                rep.status.c_str(), static_cast<long long>(rep.records), static_cast<long long>(rep.errors),
                static_cast<long long>(rep.pages), static_cast<long long>(rep.duration_ms), rep.actor.c_str(),
                rep.error.empty() ? "" : ("  " + rep.error).c_str());
    std::fflush(stdout);
    failed = failed || rep.status == "failed" || rep.status == "refused";
  }
  for (const auto& [id, source] : pending)
    std::cerr << "crawl: no report for " << source << " (" << id << ") within " << timeout_s
              << " s: is a crawler running? (`cointicker run crawler`)\n";
  return failed;
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
  const std::string control = c.cluster.kafka.prefix + "control";
  const std::string reports = c.cluster.kafka.prefix + "reports";
  std::string err;

  // Reports are read from the current end, fixed before the commands go out.
  std::unique_ptr<kafka::follower> reader;
  if (o.wait) {
    const kafka::properties props = client_props(c, "cointicker-crawl");
    auto meta = kafka::make_handle(RD_KAFKA_PRODUCER, props, err);
    std::vector<kafka::topic_info> topics;
    if (!meta || !kafka::list_topics(meta.get(), reports, topics, err) || topics.empty()) {
      std::cerr << "crawl: " << (err.empty() ? "no topic " + reports : err) << " (bootstrap "
                << c.cluster.kafka.bootstrap << ")\n";
      return exit_failure;
    }
    std::vector<kafka::topic_partition> from;
    for (const auto& p : topics[0].partitions)
      from.push_back({reports, p.partition, std::max<std::int64_t>(0, p.high)});
    reader = kafka::follower::create(props, from, err);
    if (!reader) {
      std::cerr << "crawl: " << reports << ": " << err << "\n";
      return exit_failure;
    }
  }

  std::map<std::string, std::string> pending;  // id -> source
  if (!publish(c, o, control, pending, err)) {
    std::cerr << "crawl: " << err << "\n";
    return exit_failure;
  }
  for (const auto& [id, source] : pending) std::cout << "sent " << source << " " << id << "\n";
  std::cout << std::flush;
  if (!o.wait) return exit_ok;

  const bool failed = print_reports(*reader, pending, o.timeout_s, stop);
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
