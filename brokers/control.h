// The ZeroMQ control plane (brokers/README.md): the scheduler binds a ROUTER
// (heartbeats in; status and ctl requests from the CLI) and a PUB
// (commands out); every actor process connects a DEALER with identity
// node/actor/instance and a SUB. Messages are one JSON frame each (the
// structs below, through messages/json.h). Anything else — garbage, a
// frame over max_control_bytes, a heartbeat whose identity does not match
// its socket — is logged and ignored; it never stops a process.
//
// CURVE: with control.curve_dir set, the scheduler's sockets are CURVE
// servers (server.key / server.pub in that folder) and every client uses
// client.key / client.pub and the server's public key (`cointicker ctl
// keygen DIR` writes both pairs). A non-loopback address without keys is
// refused (config check, and the server's start) unless control.insecure
// says so; then it is a warning.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/settings.h"
#include "messages/json.h"

namespace ctk::control {

inline constexpr std::size_t max_control_bytes = 64 * 1024;
// The most instances the scheduler keeps (live, and dead until one needs the room).
inline constexpr std::size_t max_instances = 4096;

// The newest record of a source a sink has stored (db-sink: committed to
// PostgreSQL), by the time it was fetched; in heartbeats, for freshness.
struct source_mark {
  std::string source;
  std::int64_t newest_ms = 0;  // fetched_at, ms since the epoch
  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("source", &source_mark::source), field("newest_ms", &source_mark::newest_ms)};
  }
};

// The machine an actor runs on, as its heartbeats report it
// (pipeline::node_meter): `status` shows one line per node.
struct node_resources {
  double cpu_pct = -1;  // -1: not measured yet
  double load1 = 0;
  std::int64_t mem_total_bytes = 0, mem_available_bytes = 0;
  std::string disk_path;  // the working directory's filesystem
  std::int64_t disk_total_bytes = 0, disk_free_bytes = 0;
  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("cpu_pct", &node_resources::cpu_pct),
                      field("load1", &node_resources::load1),
                      field("mem_total_bytes", &node_resources::mem_total_bytes),
                      field("mem_available_bytes", &node_resources::mem_available_bytes),
                      field("disk_path", &node_resources::disk_path),
                      field("disk_total_bytes", &node_resources::disk_total_bytes),
                      field("disk_free_bytes", &node_resources::disk_free_bytes)};
  }
};

// Actor → scheduler, every control.heartbeat.
struct heartbeat {
  std::int64_t v = 1;
  std::string type = "heartbeat";
  std::string identity;  // node/actor/instance
  std::int64_t pid = 0;
  std::string state;  // running | paused | draining | stopped (the last heartbeat of a clean exit)
  double uptime_s = 0;
  double consumed_per_s = 0;
  double produced_per_s = 0;
  std::int64_t lag = 0;
  std::int64_t dead_letters = 0;
  std::int64_t rss_bytes = 0;
  std::string version;
  std::int64_t restarts = 0;  // restarts so far, as the supervisor (`node`, `up`) counted them
  std::int64_t metrics_port = 0;
  std::int64_t metrics_port_wanted = 0;  // the port it was given (0: any); differs after a fall-back
  std::vector<source_mark> stored;       // sinks only
  node_resources node;
  std::int64_t sent_ms = 0;  // the sender's clock (ms since the epoch): skew between nodes

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("v", &heartbeat::v),
                      field("type", &heartbeat::type),
                      field("identity", &heartbeat::identity),
                      field("pid", &heartbeat::pid),
                      field("state", &heartbeat::state),
                      field("uptime_s", &heartbeat::uptime_s),
                      field("consumed_per_s", &heartbeat::consumed_per_s),
                      field("produced_per_s", &heartbeat::produced_per_s),
                      field("lag", &heartbeat::lag),
                      field("dead_letters", &heartbeat::dead_letters),
                      field("rss_bytes", &heartbeat::rss_bytes),
                      field("version", &heartbeat::version, false),
                      field("restarts", &heartbeat::restarts, false),
                      field("metrics_port", &heartbeat::metrics_port, false),
                      field("metrics_port_wanted", &heartbeat::metrics_port_wanted, false),
                      field("stored", &heartbeat::stored, false),
                      field("node", &heartbeat::node, false),
                      field("sent_ms", &heartbeat::sent_ms, false)};
  }
};

// CLI → scheduler (ROUTER) as type "ctl"; scheduler → actors (PUB) as type "command".
// Empty node/actor/instance match everything.
struct command {
  std::int64_t v = 1;
  std::string type = "command";
  std::string cmd;  // pause | resume | drain | stop | reload | log-level
  std::string node, actor, instance;
  std::string arg;  // log-level: trace..off

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("v", &command::v),
                      field("type", &command::type),
                      field("cmd", &command::cmd),
                      field("node", &command::node, false),
                      field("actor", &command::actor, false),
                      field("instance", &command::instance, false),
                      field("arg", &command::arg, false)};
  }
  bool matches(const std::string& identity) const;
  // An error message if cmd/arg are not a known command, else empty.
  std::string check() const;
};

// One instance as the scheduler sees it (`cointicker status --json`).
struct instance_status {
  std::string identity, node, actor, instance;
  std::int64_t pid = 0;
  std::string state;  // the heartbeat's state, or "dead"
  double consumed_per_s = 0, produced_per_s = 0;
  std::int64_t lag = 0, dead_letters = 0, rss_bytes = 0;
  double uptime_s = 0;
  double last_heartbeat_s = 0;  // seconds ago
  std::int64_t restarts = 0;    // the supervisor's count, or the pid changes seen, whichever is more
  std::string version;
  std::int64_t metrics_port = 0;         // where its /metrics answers (after a fall-back from a taken port too)
  std::int64_t metrics_port_wanted = 0;  // the port it was given (0: any); not metrics_port after a fall-back

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("identity", &instance_status::identity),
                      field("node", &instance_status::node),
                      field("actor", &instance_status::actor),
                      field("instance", &instance_status::instance),
                      field("pid", &instance_status::pid),
                      field("state", &instance_status::state),
                      field("consumed_per_s", &instance_status::consumed_per_s),
                      field("produced_per_s", &instance_status::produced_per_s),
                      field("lag", &instance_status::lag),
                      field("dead_letters", &instance_status::dead_letters),
                      field("rss_bytes", &instance_status::rss_bytes),
                      field("uptime_s", &instance_status::uptime_s),
                      field("last_heartbeat_s", &instance_status::last_heartbeat_s),
                      field("restarts", &instance_status::restarts),
                      field("version", &instance_status::version),
                      field("metrics_port", &instance_status::metrics_port),
                      field("metrics_port_wanted", &instance_status::metrics_port_wanted)};
  }
};

// A source's freshness as the scheduler judges it (actors/scheduler/freshness.h).
struct source_status {
  std::string source;
  std::string state;     // fresh | late | stale | disabled | manual (no schedule and no thresholds)
  std::string schedule;  // as the scheduler describes it
  double late_after_s = 0, stale_after_s = 0;
  std::string newest_record_at;  // fetched_at of the newest stored record; "" when none was seen
  double age_s = -1;             // seconds since then (since the scheduler started when none was seen)
  std::string last_status;       // of the last crawl report: ok | partial | failed | refused
  std::string last_report_at;
  std::int64_t failures = 0;  // failed crawls in a row
  std::string last_error;

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("source", &source_status::source),
                      field("state", &source_status::state),
                      field("schedule", &source_status::schedule),
                      field("late_after_s", &source_status::late_after_s),
                      field("stale_after_s", &source_status::stale_after_s),
                      field("newest_record_at", &source_status::newest_record_at),
                      field("age_s", &source_status::age_s),
                      field("last_status", &source_status::last_status),
                      field("last_report_at", &source_status::last_report_at),
                      field("failures", &source_status::failures),
                      field("last_error", &source_status::last_error)};
  }
};

// A batch job the scheduler runs (actors/scheduler/jobs.h).
struct job_status {
  std::string job;          // aggregate_today, aggregate_yesterday
  std::string schedule;     // as the scheduler describes it
  std::string state;        // idle | running
  std::string last_status;  // ok | failed; "" before its first run
  std::string last_run_at, next_at;
  double last_duration_s = 0;
  std::string last_error;

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("job", &job_status::job),
                      field("schedule", &job_status::schedule),
                      field("state", &job_status::state),
                      field("last_status", &job_status::last_status),
                      field("last_run_at", &job_status::last_run_at),
                      field("next_at", &job_status::next_at),
                      field("last_duration_s", &job_status::last_duration_s),
                      field("last_error", &job_status::last_error)};
  }
};

// One node as its instances' latest heartbeat describes it.
struct node_status {
  std::string node;
  std::int64_t instances = 0;  // not dead
  node_resources resources;
  std::int64_t clock_skew_ms = 0;  // its clock minus the scheduler's, at the heartbeat (network delay included)
  double last_heartbeat_s = 0;
  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("node", &node_status::node), field("instances", &node_status::instances),
                      field("resources", &node_status::resources), field("clock_skew_ms", &node_status::clock_skew_ms),
                      field("last_heartbeat_s", &node_status::last_heartbeat_s)};
  }
};

struct status_reply {
  std::int64_t v = 1;
  std::string type = "status";
  std::vector<instance_status> instances;
  std::vector<node_status> nodes;
  std::vector<source_status> sources;
  std::vector<job_status> jobs;
  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("v", &status_reply::v),
                      field("type", &status_reply::type),
                      field("instances", &status_reply::instances),
                      field("nodes", &status_reply::nodes, false),
                      field("sources", &status_reply::sources, false),
                      field("jobs", &status_reply::jobs, false)};
  }
};

// The scheduler's answer to a ctl request.
struct ctl_reply {
  std::int64_t v = 1;
  std::string type = "ctl";
  bool ok = false;
  std::int64_t matched = 0;  // live instances the command was addressed to
  std::string error;
  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("v", &ctl_reply::v), field("type", &ctl_reply::type), field("ok", &ctl_reply::ok),
                      field("matched", &ctl_reply::matched), field("error", &ctl_reply::error, false)};
  }
};

// What the runner reports in heartbeats (read on the agent's thread).
struct snapshot {
  std::string state;
  std::uint64_t consumed = 0, produced = 0;
  std::int64_t lag = 0;
  std::uint64_t dead_letters = 0;
  std::int64_t rss_bytes = 0;
  std::int64_t restarts = 0;
  std::int64_t metrics_port = 0, metrics_port_wanted = 0;
  std::vector<source_mark> stored;
  node_resources node;
};

// The actor side: heartbeats out, commands in, on its own thread. Losing
// the scheduler changes nothing for the data path; ZeroMQ reconnects.
class agent {
 public:
  agent(const cfg::control_settings& s, std::string identity, std::function<snapshot()> snap,
        std::function<void(const command&)> on_command);
  ~agent();
  void start();
  void stop();

 private:
  void loop();
  cfg::control_settings s_;
  std::string identity_;
  std::function<snapshot()> snap_;
  std::function<void(const command&)> on_command_;
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;  // an eventfd: stop() wakes the loop's poll
  std::thread thread_;
};

// The scheduler side: the registry of instances, status and ctl requests.
class server {
 public:
  explicit server(const cfg::control_settings& s);
  ~server();
  bool start(std::string& err);
  void stop();
  std::vector<instance_status> instances() const;
  std::vector<node_status> nodes() const;
  // The newest stored record per source over every sink that ever
  // reported one (a sink's death does not make its records older).
  std::map<std::string, std::int64_t> newest_stored() const;
  // What status replies say about sources (called on the server's thread).
  void on_sources(std::function<std::vector<source_status>()> f);
  // The jobs part of a status answer, likewise.
  void on_jobs(std::function<std::vector<job_status>()> f);

 private:
  void loop();
  // loop()'s steps: instances silent too long are dead; a heartbeat; a ctl
  // request (returns the reply); a reply to a request's sender.
  void mark_dead(std::chrono::steady_clock::time_point now);
  void on_heartbeat(msg::json_decoder& dec, const std::string& from, std::string_view body,
                    std::chrono::steady_clock::time_point now);
  std::string on_ctl(msg::json_decoder& dec, const std::string& from, std::string_view body);
  void reply(const std::string& to, const std::string& json);
  // A warning about a message ignored or refused: the first of each `kind`
  // at once, then at most one line per 10 s with the number held back (a
  // flood of strangers costs a few lines, not one per message).
  void ignored(const std::string& kind, const std::string& line);
  // The count of those held back, once their 10 s are over.
  void flush_warnings(std::chrono::steady_clock::time_point now);
  // Free heap memory goes back to the system after a burst (a flood of
  // connections): malloc_trim at most every 10 s after traffic.
  void give_back_memory(std::chrono::steady_clock::time_point now);
  struct warned {
    std::chrono::steady_clock::time_point next{};
    std::uint64_t held_back = 0;
  };
  std::map<std::string, warned> warned_;
  std::uint64_t messages_since_trim_ = 0;
  std::chrono::steady_clock::time_point next_trim_{};
  cfg::control_settings s_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  struct entry {
    heartbeat hb;
    std::chrono::steady_clock::time_point last;
    std::int64_t restarts = 0;
    bool dead = false;
    std::int64_t received_ms = 0;  // the scheduler's clock when the heartbeat came
  };
  mutable std::mutex mu_;
  std::map<std::string, entry> registry_;
  std::map<std::string, std::int64_t> newest_;
  std::function<std::vector<source_status>()> sources_;
  std::function<std::vector<job_status>()> jobs_;
  struct sockets;
  std::unique_ptr<sockets> sock_;
};

// The CLI side: one request to the scheduler's ROUTER, the reply or "" on timeout.
std::string request(const cfg::control_settings& s, const std::string& json, int timeout_ms, std::string& err);

// A status request, decoded; false with `err` (no answer, or an unreadable one).
bool ask_status(const cfg::control_settings& s, int timeout_ms, status_reply& out, std::string& err);

// Writes server.key/.pub and client.key/.pub (Z85) into dir.
bool keygen(const std::string& dir, std::string& err);

}  // namespace ctk::control
