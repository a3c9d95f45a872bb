// `cointicker doctor`: from the node it runs on, checks what cluster.yaml
// names (broker and topics, PostgreSQL and its schema, HDFS, the scheduler,
// every node's actors, clocks, disks, CURVE keys) and prints a checklist
// with the fix for each failure. Exit 1 when one fails; --json.
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "actors/db_sink/postgres.h"
#include "actors/db_sink/schema.h"
#include "actors/hdfs_sink/store.h"
#include "brokers/control.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/local_postgres.h"
#include "pipeline/process.h"

namespace ctk::cli {

namespace {

struct check_json {
  std::string name;
  bool ok = false;
  std::string detail, fix;
  static constexpr auto fields() {
    return std::tuple{field("name", &check_json::name), field("ok", &check_json::ok),
                      field("detail", &check_json::detail), field("fix", &check_json::fix)};
  }
};

struct doctor_json {
  bool ok = true;
  std::vector<check_json> checks;
  static constexpr auto fields() {
    return std::tuple{field("ok", &doctor_json::ok), field("checks", &doctor_json::checks)};
  }
};

class doctor {
 public:
  explicit doctor(const cfg::loaded_config& c) : c_(c) {}

  doctor_json run() {
    broker();
    postgres();
    hdfs();
    control();
    curve();
    local_disk();
    return out_;
  }

 private:
  void add(std::string name, bool ok, std::string detail, std::string fix = {}) {
    // One line per check: a multi-line library message is joined.
    std::string line;
    for (char ch : detail) {
      if (ch == '\n' || ch == '\t') {
        if (!line.empty() && line.back() != ' ') line += ' ';
      } else {
        line += ch;
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    detail = std::move(line);
    out_.ok &= ok;
    out_.checks.push_back({std::move(name), ok, std::move(detail), ok ? "" : std::move(fix)});
  }

  void broker() {
    const auto props = client_props(c_, "cointicker-doctor");
    std::vector<kafka::topic_info> topics;
    std::string err;
    if (!kafka::list_topics(props, "", topics, err, 3000)) {
      add("broker", false, "no Kafka broker answers at " + c_.cluster.kafka.bootstrap + " (" + err + ")",
          "start the broker (docs/cluster.md; `cointicker broker` or `cointicker up` on one machine), or set "
          "kafka.bootstrap / CTK_KAFKA__BOOTSTRAP");
      return;
    }
    add("broker", true, "answers at " + c_.cluster.kafka.bootstrap);
    for (const auto& [topic_name, want] : pipeline_topic_partitions(c_)) {
      const std::string& name = topic_name;  // clang 14 cannot capture a structured binding
      auto it = std::find_if(topics.begin(), topics.end(), [&](const auto& t) { return t.name == name; });
      if (it == topics.end()) {
        add("topic " + name, false, "missing", "`cointicker topics --create` (Kafka), or start the actors' broker");
        continue;
      }
      const int have = static_cast<int>(it->partitions.size());
      add("topic " + name, have == want,
          std::to_string(have) + " partitions" + (have == want ? "" : ", cluster.yaml says " + std::to_string(want)),
          "kafka-topics.sh --alter --partitions " + std::to_string(want) +
              " (more only; keys move between partitions), or change kafka.topics in cluster.yaml");
    }
    const std::string state = c_.cluster.kafka.prefix + "dedup.state";
    std::string policy;
    if (kafka::topic_config(props, state, "cleanup.policy", policy, err))
      add("topic " + state + " compacted", policy.find("compact") != std::string::npos, "cleanup.policy=" + policy,
          "kafka-configs.sh --alter --entity-type topics --entity-name " + state +
              " --add-config cleanup.policy=compact");
    else
      add("topic " + state + " compacted", true, "not known: " + err);
  }

  void postgres() {
    std::string err;
    cfg::postgres_settings pg = c_.cluster.postgres;
    if (pg.dsn.empty()) {
      // Beside `cointicker up`: its private server in ./var/pg.
      if (auto dsn = local_postgres::dsn_of("var/pg")) pg.dsn = *dsn;
    }
    if (pg.dsn.empty()) {
      add("postgres", false, "postgres.dsn is empty (and no `cointicker up` server in ./var/pg)",
          "set postgres.dsn in cluster.yaml or CTK_POSTGRES__DSN");
      return;
    }
    auto ci = db::connection_string(pg, err);
    auto conn = ci ? db::connect(*ci, err) : nullptr;
    if (!conn) {
      add("postgres", false, err,
          "start PostgreSQL on the master, or fix postgres.dsn (host, port, user, password_file)");
      return;
    }
    try {
      const int have = db::schema_version(*conn);
      const int want = db::migrations().empty() ? 0 : db::migrations().back().version;
      add("postgres", have == want,
          "reachable; schema version " + std::to_string(have) + (have == want ? "" : " of " + std::to_string(want)),
          "cointicker db migrate");
    } catch (const std::exception& e) {
      add("postgres", false, e.what(), "cointicker db migrate");
    }
  }

  // Writes, reads back and removes a probe file at the store's root.
  void hdfs() {
    const auto& h = c_.cluster.hdfs;
    std::string err;
    auto store = hdfs::make_store(h.url, {h.user, static_cast<int>(h.timeout.ms), 1}, err);
    hdfs::error e;
    const std::string probe = "/.cointicker-doctor-" + std::to_string(::getpid());
    const bool ok =
        store && store->mkdirs("/", e) && store->create(probe, "ok", true, e) && store->remove(probe, false, e);
    add("hdfs", ok, ok ? h.url + " is writable" : h.url + ": " + (store ? e.message : err),
        "for file:// the folder must exist and belong to the user the actors run as; for webhdfs:// the NameNode "
        "must answer and hdfs.user may write under the path");
  }

  void control() {
    std::string err;
    control::status_reply st;
    if (!control::ask_status(c_.cluster.control, 2000, st, err)) {
      add("scheduler", false, err.empty() ? "no answer at " + c_.cluster.control.router : err,
          "start the scheduler (the master's node unit, or `cointicker up`); check control.router");
      return;
    }
    add("scheduler", true, "answers at " + c_.cluster.control.router);
    // `cointicker up`: one machine, every instance on node "local"; the
    // nodes cluster.yaml plans are not in use.
    const bool one_machine =
        !st.nodes.empty() &&
        std::all_of(st.nodes.begin(), st.nodes.end(), [](const auto& n) { return n.node == "local"; }) &&
        std::none_of(c_.cluster.nodes.begin(), c_.cluster.nodes.end(), [](const auto& n) { return n.name == "local"; });
    if (one_machine) add("nodes", true, "one machine (`cointicker up`): cluster.yaml's nodes are not in use");
    for (const auto& n : one_machine ? std::vector<cfg::node_settings>{} : c_.cluster.nodes) {
      auto it = std::find_if(st.nodes.begin(), st.nodes.end(), [&](const auto& s) { return s.node == n.name; });
      const bool alive = it != st.nodes.end() && it->instances > 0;
      add("node " + n.name, alive,
          alive ? std::to_string(it->instances) + " instances heartbeating" : "no actor of it heartbeats",
          "on " + n.host + ": systemctl status cointicker-node@" + n.name + " (or journalctl -u it)");
    }
    for (const auto& s : st.sources)
      if (s.state == "stale" || s.state == "late")
        add("source " + s.source, s.state == "late",
            s.state + ": newest record " + std::to_string(std::llround(s.age_s)) + " s old, " +
                std::to_string(s.failures) + " failed crawls in a row" +
                (s.last_error.empty() ? "" : " (" + s.last_error.substr(0, 120) + ")"),
            "cointicker crawl " + s.source + " --wait; cointicker tail deadletter (its failed pages)");
    metrics_ports(st.instances);
    for (const auto& n : st.nodes) {
      if (n.instances == 0) continue;
      add("clock " + n.node, std::llabs(n.clock_skew_ms) < 1000,
          std::to_string(n.clock_skew_ms) + " ms from the scheduler's clock",
          "enable time sync on " + n.node + " (systemd-timesyncd or chrony)");
      const auto& r = n.resources;
      if (r.disk_total_bytes > 0) disk("disk " + n.node, r.disk_path, r.disk_free_bytes, r.disk_total_bytes);
    }
  }

  // An instance whose configured metrics port was taken serves on another
  // one (the runner's fall-back), which the scrape config does not name.
  void metrics_ports(const std::vector<control::instance_status>& instances) {
    std::string moved, fix;
    for (const auto& i : instances) {
      if (i.state == "dead" || i.metrics_port_wanted == 0 || i.metrics_port == i.metrics_port_wanted) continue;
      const std::string want = std::to_string(i.metrics_port_wanted);
      moved += (moved.empty() ? "" : ", ") + i.node + "/" + i.actor + "/" + i.instance + " on " +
               std::to_string(i.metrics_port) + " instead of " + want;
      if (fix.empty())
        fix = "on " + i.node + ": `ss -ltnp 'sport = :" + want + "'` names what holds " + want +
              "; stop it (or change metrics.base_port), then kill pid " + std::to_string(i.pid) +
              ": its supervisor restarts it on its port";
    }
    add("metrics ports", moved.empty(), moved.empty() ? "every instance serves on its configured port" : moved, fix);
  }

  void disk(const std::string& name, const std::string& path, std::int64_t free, std::int64_t total) {
    const double pct = 100.0 * static_cast<double>(free) / static_cast<double>(total);
    char detail[160];
    std::snprintf(detail, sizeof detail, "%.1f GiB free (%.0f%%) at %s", static_cast<double>(free) / (1 << 30), pct,
                  path.c_str());
    add(name, pct >= 10, detail, "free space on " + path + " (broker segments, PostgreSQL, HDFS, logs)");
  }

  void local_disk() {
    const auto r = pipeline::node_meter().read();
    if (r.disk_total_bytes > 0) disk("disk here", r.disk_path, r.disk_free_bytes, r.disk_total_bytes);
  }

  void curve() {
    const std::string& dir = c_.cluster.control.curve_dir;
    if (dir.empty()) return;
    std::string missing;
    for (const char* f : {"server.pub", "client.key", "client.pub"})
      if (!std::filesystem::exists(dir + "/" + f)) missing += std::string(missing.empty() ? "" : ", ") + f;
    add("curve keys", missing.empty(), missing.empty() ? "in " + dir : "missing in " + dir + ": " + missing,
        "cointicker ctl keygen " + dir + " (then copy the folder to every node)");
  }

  const cfg::loaded_config& c_;
  doctor_json out_;
};

int run_doctor(const global_options& g, bool json) {
  cfg::loaded_config c;
  if (!load(g, c)) {
    std::cerr << "doctor: fix the config first (`cointicker config check` names each error)\n";
    return exit_failure;
  }
  pipeline::init_logging("doctor", g.log_level.empty() ? "off" : g.log_level);
  const doctor_json out = doctor(c).run();
  if (json) {
    print_json(out);
  } else {
    for (const auto& k : out.checks) {
      std::printf("%-4s %-34s %s\n", k.ok ? "ok" : "FAIL", k.name.c_str(), k.detail.c_str());
      if (!k.ok) std::printf("     %-34s fix: %s\n", "", k.fix.c_str());
    }
    std::printf("%s\n", out.ok ? "every check passed" : "some checks failed (FAIL above, each with its fix)");
  }
  return out.ok ? exit_ok : exit_failure;
}

}  // namespace

void add_doctor_command(CLI::App& app, global_options& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check what cluster.yaml names from this node: broker and topics, PostgreSQL and its schema, HDFS writable, the "
      "scheduler, each node's actors, clocks, disks, CURVE keys; the fix for each failure; exit 1 if one fails");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "print {ok, checks:[{name, ok, detail, fix}]}");
  cmd->callback([&g, &rc, json] { rc = run_doctor(g, *json); });
}

}  // namespace ctk::cli
