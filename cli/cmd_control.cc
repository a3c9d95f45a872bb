// `cointicker status` and `cointicker ctl …`: requests to the scheduler's
// ROUTER (brokers/control.h).
#include <cstdio>
#include <iostream>

#include "actors/registry.h"
#include "brokers/control.h"
#include "cli/commands.h"

namespace ctk::cli {

namespace {

void print_status(const control::status_reply& r);
void print_nodes(const std::vector<control::node_status>& nodes);

// Sends `request` to the scheduler and decodes its answer into `out`
// (the text in `reply`); false, said on stderr after `what`, when it does
// not answer or answers something unreadable.
template <class Reply>
bool ask_scheduler(const global_options& g, const std::string& what, const std::string& request, int timeout_ms,
                   std::string& reply, Reply& out) {
  cfg::loaded_config c;
  if (!load(g, c)) return false;
  std::string err;
  reply = control::request(c.cluster.control, request, timeout_ms, err);
  msg::json_decoder dec;
  msg::decode_error derr;
  if (reply.empty()) {
    std::cerr << what << ": " << err << "\n";
  } else if (!dec.decode(reply, out, derr)) {
    std::cerr << what << ": the scheduler answered something unreadable: " << derr.to_string() << "\n";
  } else {
    return true;
  }
  return false;
}

int run_status(const global_options& g, bool json, int timeout_ms) {
  std::string reply;
  control::status_reply r;
  if (!ask_scheduler(g, "status", R"({"v":1,"type":"status"})", timeout_ms, reply, r)) return exit_failure;
  // Exit 1 when an instance is dead or cannot reach its broker, so that a
  // script (or a health check) can rely on the code alone.
  std::string unwell;
  for (const auto& i : r.instances)
    if (i.state == "dead" || i.state == "disconnected") unwell += " " + i.identity + " (" + i.state + ")";
  const int rc = unwell.empty() ? exit_ok : exit_failure;
  if (json) {
    std::cout << reply << "\n";
  } else {
    print_status(r);
  }
  if (!unwell.empty()) std::cerr << "status: not every instance is well:" << unwell << "\n";
  return rc;
}

// One line per node, from its latest heartbeat.
void print_nodes(const std::vector<control::node_status>& nodes) {
  if (nodes.empty()) return;
  const auto gib = [](std::int64_t b) { return static_cast<double>(b) / (1024.0 * 1024 * 1024); };
  std::printf("\n%-10s %9s %6s %6s %17s %26s %9s\n", "NODE", "INSTANCES", "CPU", "LOAD1", "MEMORY USED", "DISK FREE",
              "CLOCK");
  for (const auto& n : nodes) {
    const auto& res = n.resources;
    char cpu[16] = "-", mem[32] = "-", disk[48] = "-";
    if (res.cpu_pct >= 0) std::snprintf(cpu, sizeof cpu, "%.0f%%", res.cpu_pct);
    if (res.mem_total_bytes > 0)
      std::snprintf(mem, sizeof mem, "%.1f/%.1f GiB", gib(res.mem_total_bytes - res.mem_available_bytes),
                    gib(res.mem_total_bytes));
    if (res.disk_total_bytes > 0)
      std::snprintf(disk, sizeof disk, "%.1f GiB (%.0f%%)", gib(res.disk_free_bytes),
                    100.0 * static_cast<double>(res.disk_free_bytes) / static_cast<double>(res.disk_total_bytes));
    std::printf("%-10s %9lld %6s %6.2f %17s %26s %+7lldms  %s\n", n.node.c_str(), static_cast<long long>(n.instances),
                cpu, res.load1, mem, disk, static_cast<long long>(n.clock_skew_ms), res.disk_path.c_str());
  }
}

void print_sources(const std::vector<control::source_status>& sources);
void print_jobs(const std::vector<control::job_status>& jobs);

void print_status(const control::status_reply& r) {
  std::printf("%-10s %-10s %-8s %8s %-9s %9s %9s %8s %10s %9s %7s\n", "NODE", "ACTOR", "INSTANCE", "PID", "STATE",
              "IN/s", "OUT/s", "LAG", "HEARTBEAT", "RESTARTS", "METRICS");
  bool fell_back = false;
  for (const auto& i : r.instances) {
    // '*': its configured port was taken; the scrape config's target misses it.
    const bool moved = i.metrics_port_wanted != 0 && i.metrics_port != i.metrics_port_wanted;
    fell_back |= moved;
    std::printf("%-10s %-10s %-8s %8lld %-9s %9.1f %9.1f %8lld %8.1fs %9lld %6lld%s\n", i.node.c_str(), i.actor.c_str(),
                i.instance.c_str(), static_cast<long long>(i.pid), i.state.c_str(), i.consumed_per_s, i.produced_per_s,
                static_cast<long long>(i.lag), i.last_heartbeat_s, static_cast<long long>(i.restarts),
                static_cast<long long>(i.metrics_port), moved ? "*" : " ");
  }
  if (fell_back)
    std::printf(
        "* not its configured metrics port, which another process holds: Prometheus scrapes the configured "
        "one (`cointicker doctor` names them)\n");
  print_nodes(r.nodes);
  print_sources(r.sources);
  print_jobs(r.jobs);
}

// The scheduler's batch jobs: state, last run, next run.
void print_jobs(const std::vector<control::job_status>& jobs) {
  if (jobs.empty()) return;
  std::printf("\n%-20s %-8s %-24s %-7s %9s %-24s  %s\n", "JOB", "STATE", "LAST RUN", "RESULT", "TOOK", "NEXT",
              "SCHEDULE");
  for (const auto& j : jobs)
    std::printf("%-20s %-8s %-24s %-7s %8.1fs %-24s  %s%s\n", j.job.c_str(), j.state.c_str(),
                j.last_run_at.empty() ? "never" : j.last_run_at.c_str(),
                j.last_status.empty() ? "-" : j.last_status.c_str(), j.last_duration_s, j.next_at.c_str(),
                j.schedule.c_str(), j.last_error.empty() ? "" : ("  (" + j.last_error.substr(0, 80) + ")").c_str());
}

// Freshness: the newest record in PostgreSQL per source, against its schedule.
void print_sources(const std::vector<control::source_status>& sources) {
  if (sources.empty()) return;
  const auto secs = [](double s) {
    char b[32];
    if (s <= 0) return std::string("-");
    if (s < 100)
      std::snprintf(b, sizeof b, "%.1fs", s);
    else if (s < 6000)
      std::snprintf(b, sizeof b, "%.0fm", s / 60);
    else if (s < 172800)
      std::snprintf(b, sizeof b, "%.0fh", s / 3600);
    else
      std::snprintf(b, sizeof b, "%.0fd", s / 86400);
    return std::string(b);
  };
  std::printf("\n%-16s %-9s %9s %9s %9s %-9s %5s  %s\n", "SOURCE", "FRESHNESS", "AGE", "LATE", "STALE", "LAST CRAWL",
              "FAILS", "SCHEDULE");
  for (const auto& s : sources)
    std::printf("%-16s %-9s %9s %9s %9s %-9s %5lld  %s%s\n", s.source.c_str(), s.state.c_str(), secs(s.age_s).c_str(),
                secs(s.late_after_s).c_str(), secs(s.stale_after_s).c_str(),
                s.last_status.empty() ? "-" : s.last_status.c_str(), static_cast<long long>(s.failures),
                s.schedule.c_str(), s.last_error.empty() ? "" : ("  (" + s.last_error.substr(0, 80) + ")").c_str());
}

struct ctl_opts {
  std::string cmd, arg, node, actor, instance;
  bool json = false;
};

int run_keygen(const std::string& dir) {
  if (dir.empty()) {
    std::cerr << "ctl keygen: give the folder for the keys\n";
    return exit_usage;
  }
  std::string err;
  if (!control::keygen(dir, err)) {
    std::cerr << "ctl keygen: " << err << "\n";
    return exit_failure;
  }
  std::cout << "wrote server.key/.pub and client.key/.pub to " << dir << "; set control.curve_dir to it\n";
  return exit_ok;
}

// Sends one ctl command. Exit 2 for a command or actor kind that does not
// exist, 1 when the scheduler refuses it or no running instance matches.
int run_ctl(const global_options& g, const ctl_opts& o) {
  const control::command c{
      .type = "ctl", .cmd = o.cmd, .node = o.node, .actor = o.actor, .instance = o.instance, .arg = o.arg};
  if (auto problem = c.check(); !problem.empty()) {
    std::cerr << "ctl: " << problem << "\n";
    return exit_usage;
  }
  if (!o.actor.empty() && !actors::find(o.actor)) {
    std::vector<std::string> known;
    for (const auto& e : actors::registry()) known.push_back(e.name);
    say_unknown("ctl", "actor", o.actor, known);
    return exit_usage;
  }
  std::string json, reply;
  msg::encode(c, json);
  control::ctl_reply r;
  if (!ask_scheduler(g, "ctl", json, 3000, reply, r)) return exit_failure;
  if (o.json) std::cout << reply << "\n";
  if (!r.ok) {
    std::cerr << "ctl " << o.cmd << ": refused by the scheduler: " << r.error << "\n";
    return exit_failure;
  }
  if (r.matched == 0) {
    std::cerr << "ctl " << o.cmd << ": no running instance matches" << (o.node.empty() ? "" : " --node " + o.node)
              << (o.actor.empty() ? "" : " --actor " + o.actor)
              << (o.instance.empty() ? "" : " --instance " + o.instance) << " (`cointicker status` lists them)\n";
    return exit_failure;
  }
  if (!o.json) std::cout << "ctl " << o.cmd << ": sent to " << r.matched << " instance(s)\n";
  return exit_ok;
}

}  // namespace

void add_control_commands(CLI::App& app, global_options& g, int& rc) {
  auto json = std::make_shared<bool>(false);
  auto timeout = std::make_shared<int>(3000);
  auto* status = app.add_subcommand("status",
                                    "The cluster as the scheduler sees it: every actor instance, its state, "
                                    "rates, lag, last heartbeat and restarts. Exit 1 when an instance is dead or "
                                    "disconnected");
  status->add_flag("--json", *json, "print the scheduler's JSON answer");
  status->add_option("--timeout-ms", *timeout, "how long to wait for the scheduler")->capture_default_str();
  status->callback([&g, &rc, json, timeout] { rc = run_status(g, *json, *timeout); });

  auto o = std::make_shared<ctl_opts>();
  auto* ctl = app.add_subcommand("ctl",
                                 "Send a command to running actors through the scheduler: pause | resume | "
                                 "drain | stop | reload | log-level LEVEL; or keygen DIR (CURVE keys). Exit 1 when "
                                 "no running instance matches");
  ctl->add_option("command", o->cmd, "pause | resume | drain | stop | reload | log-level | keygen")->required();
  ctl->add_option("arg", o->arg, "log-level: trace|debug|info|warn|error|critical|off; keygen: folder");
  ctl->add_option("--node", o->node, "only instances on this node");
  ctl->add_option("--actor", o->actor, "only instances of this actor kind");
  ctl->add_option("--instance", o->instance, "only this instance id");
  ctl->add_flag("--json", o->json, "print the scheduler's JSON answer");
  ctl->callback([&g, &rc, o] { rc = o->cmd == "keygen" ? run_keygen(o->arg) : run_ctl(g, *o); });
}

}  // namespace ctk::cli
