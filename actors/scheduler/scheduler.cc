#include "actors/scheduler/scheduler.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <set>

#include "actors/scheduler/freshness.h"
#include "actors/scheduler/jobs.h"
#include "actors/scheduler/schedule.h"
#include "actors/validator/normalize.h"
#include "brokers/control.h"
#include "brokers/kafka.h"
#include "messages/envelope.h"

namespace ctk::scheduler {

namespace {

class scheduler_actor final : public pipeline::actor {
 public:
  explicit scheduler_actor(const pipeline::actor_context& c)
      : prefix_(c.config.cluster.kafka.prefix),
        freshness_(msg::utc_now_ms()),
        jobs_(c.config),
        server_(c.config.cluster.control) {
    overlap_ms_ = c.config.cluster.scheduler.overlap_timeout.empty() ? 15 * 60'000
                                                                     : c.config.cluster.scheduler.overlap_timeout.ms;
    for (const auto& [name, src] : c.config.sources.sources) {
      std::string why;
      auto s = src.enabled ? schedule::parse(src.schedule, why) : std::nullopt;
      freshness_.add(name, src, s);
      if (!src.enabled) continue;
      if (!s) {
        spdlog::info("scheduler: {} has no schedule ({}); manual crawls only", name, why);
        continue;
      }
      sources_.emplace(name, state{*s});
    }
    export_freshness(c.metrics);
    server_.on_sources([this] { return freshness_.evaluate(server_.newest_stored(), msg::utc_now_ms()); });
    server_.on_jobs([this] { return jobs_.status(); });
    rebuild(c);
    std::string err;
    if (!server_.start(err))
      spdlog::error("{}; scheduling goes on without the control plane", err);
    else
      spdlog::info("control plane: ROUTER {}, PUB {}", c.config.cluster.control.router, c.config.cluster.control.pub);
  }

  std::string name() const override { return "scheduler"; }
  std::vector<std::string> inputs() const override { return {"reports"}; }
  std::vector<std::string> outputs() const override { return {"control", "reports"}; }

  pipeline::outcome handle(const pipeline::input& in, pipeline::emitter& out) override {
    on_report(in.value);  // also read by reports_ (below); clearing twice is harmless
    tick(out);
    return pipeline::outcome::ok();
  }

  pipeline::outcome idle(pipeline::emitter& out) override {
    tick(out);
    return pipeline::outcome::ok();
  }

 private:
  struct state {
    schedule when;
    std::int64_t last = -1;   // last firing (ms), -1: never
    std::int64_t due = 0;     // next firing (ms)
    std::string outstanding;  // id of a fired crawl not reported yet
    std::int64_t outstanding_at = 0;
    std::int64_t skipped_slot = -1;  // the slot last skipped for overlap (logged once)
  };

  // The last firing per source from <prefix>control, and which of those
  // have a report in <prefix>reports: a restart neither fires twice nor
  // forgets a run (DESIGN: the topics are the state).
  void rebuild(const pipeline::actor_context& c) {
    kafka::properties props = c.config.cluster.kafka.properties;
    props["bootstrap.servers"] = c.config.cluster.kafka.bootstrap;
    props["group.id"] = "cointicker-scheduler-rebuild";
    std::string err;
    std::vector<kafka::topic_partition> follow;
    std::map<std::string, std::pair<std::int64_t, std::string>> last;  // source -> (time, id)
    std::set<std::string> reported;
    for (const std::string base : {"control", "reports"}) {
      const std::string topic = prefix_ + base;
      std::vector<kafka::topic_info> topics;
      if (!kafka::list_topics(props, topic, topics, err) || topics.empty()) {
        spdlog::warn("scheduler: cannot read {} to rebuild ({}); every source starts as never fired", topic, err);
        continue;
      }
      for (const auto& p : topics[0].partitions) {
        const std::int64_t end = kafka::read_partition(
            props, topic, p.partition, kafka::offset_beginning,
            [&](const kafka::message& m) {
              if (base == "control") {
                msg::crawl_command cmd;
                msg::decode_error derr;
                if (!decoder_.decode(kafka::payload(m), cmd, derr) || cmd.reason != "schedule") return;
                std::string why;
                auto t = validator::parse_time_ms(cmd.requested_at, "UTC", why);
                if (t && *t > last[cmd.source].first) last[cmd.source] = {*t, cmd.id};
              } else {
                msg::crawl_report rep;
                msg::decode_error derr;
                if (!decoder_.decode(kafka::payload(m), rep, derr)) return;
                reported.insert(rep.id);
                jobs_.restore(rep);
              }
            },
            err);
        if (base == "reports") follow.push_back({topic, p.partition, std::max<std::int64_t>(0, end)});
      }
    }
    // Reports are then followed with assign(), outside the consumer group:
    // a restarted scheduler sees new reports at once, not after the group
    // has evicted its dead predecessor (session.timeout.ms), which would
    // make it skip slots for a crawl that did report.
    if (!follow.empty()) {
      reports_ = kafka::follower::create(props, follow, err);
      if (!reports_) spdlog::warn("scheduler: cannot follow reports ({}); overlap is judged by time alone", err);
    }
    const std::int64_t now = msg::utc_now_ms();
    jobs_.restored(now);
    for (auto& [name, st] : sources_) {
      auto it = last.find(name);
      if (it == last.end()) {
        // Never fired: `every` fires now; daily and cron wait for their next slot.
        st.due = st.when.type() == schedule::kind::every ? now : st.when.next_after(now);
      } else {
        st.last = it->second.first;
        st.due = st.when.next_after(st.last);  // in the past: caught up once, at the first tick
        if (!reported.count(it->second.second)) {
          st.outstanding = it->second.second;
          st.outstanding_at = st.last;
        }
      }
      spdlog::info("scheduler: {} {}; last fired {}; next {}", name, st.when.describe(),
                   st.last < 0 ? "never" : validator::format_utc_ms(st.last), validator::format_utc_ms(st.due));
    }
  }

  void on_report(std::string_view json) {
    msg::crawl_report rep;
    msg::decode_error err;
    if (!decoder_.decode(json, rep, err)) {
      spdlog::debug("scheduler: ignored an unreadable report: {}", err.to_string());
      return;
    }
    freshness_.on_report(rep, msg::utc_now_ms());
    auto it = sources_.find(rep.source);
    if (it != sources_.end() && it->second.outstanding == rep.id) {
      it->second.outstanding.clear();
      spdlog::debug("scheduler: {} reported {} ({} records)", rep.source, rep.status, rep.records);
    }
  }

  void tick(pipeline::emitter& out) {
    if (reports_) {
      for (int i = 0; i < 1000; ++i) {
        kafka::message_ptr m = reports_->poll(0);
        if (!m) break;
        if (!m->err) on_report(kafka::payload(*m));
      }
    }
    const std::int64_t now = msg::utc_now_ms();
    jobs_.tick(now, [&](const std::string& key, const std::string& json) { out.emit("reports", key, json); });
    if (now >= next_judged_) {  // logs each change of a source's state
      freshness_.evaluate(server_.newest_stored(), now);
      next_judged_ = now + 1000;
    }
    for (auto& [name, st] : sources_) {
      if (now < st.due) continue;
      if (!st.outstanding.empty() && now - st.outstanding_at < overlap_ms_) {
        if (st.skipped_slot != st.due)
          spdlog::info("scheduler: {} not fired: crawl {} has not reported yet (no overlap)", name, st.outstanding);
        st.skipped_slot = st.due;
        st.due = st.when.next_after(now);  // this slot is given up, not queued
        continue;
      }
      if (!st.outstanding.empty())
        spdlog::warn("scheduler: {}: crawl {} never reported within {} ms; firing anyway", name, st.outstanding,
                     overlap_ms_);
      msg::crawl_command cmd;
      cmd.id = "sched-" + name + "-" + std::to_string(now);
      cmd.source = name;
      cmd.reason = "schedule";
      cmd.requested_at = validator::format_utc_ms(now);
      std::string json;
      msg::encode(cmd, json);
      out.emit("control", name, json);
      spdlog::info("scheduler: fired {} ({}, {})", name, cmd.id, st.when.describe());
      st.last = now;
      st.outstanding = cmd.id;
      st.outstanding_at = now;
      // One firing per tick even after a long gap: missed slots are caught up once.
      st.due = st.when.next_after(now);
    }
  }

  // Per source: the newest stored record's time, its state as a state set
  // (one series per state, 1 for the current one) and failed crawls in a
  // row; per actor instance, its state from the control plane.
  void export_freshness(pipeline::metrics_registry& m) {
    const auto now_states = [this] { return freshness_.evaluate(server_.newest_stored(), msg::utc_now_ms()); };
    m.gauge_set("ctk_source_last_record_timestamp_seconds",
                "fetch time of the newest record of the source stored in PostgreSQL (unix seconds)", [this] {
                  std::vector<pipeline::metrics_registry::sample> out;
                  for (const auto& [source, ms] : server_.newest_stored())
                    out.push_back({{{"source", source}}, static_cast<double>(ms) / 1000.0});
                  return out;
                });
    m.gauge_set("ctk_source_state", "1 for the source's freshness state (fresh, late, stale, disabled, manual)",
                [now_states] {
                  std::vector<pipeline::metrics_registry::sample> out;
                  for (const auto& st : now_states())
                    for (const char* s : {"fresh", "late", "stale", "disabled", "manual"})
                      out.push_back({{{"source", st.source}, {"state", s}}, st.state == s ? 1.0 : 0.0});
                  return out;
                });
    m.gauge_set("ctk_instance_state",
                "1 for each actor instance's state as its heartbeats say (running, paused, draining, disconnected, "
                "stopped, dead)",
                [this] {
                  std::vector<pipeline::metrics_registry::sample> out;
                  for (const auto& i : server_.instances())
                    for (const char* s : {"running", "paused", "draining", "disconnected", "stopped", "dead"})
                      out.push_back({{{"actor_identity", i.identity}, {"state", s}}, i.state == s ? 1.0 : 0.0});
                  return out;
                });
    m.gauge_set("ctk_source_failed_crawls", "failed crawls of the source in a row", [now_states] {
      std::vector<pipeline::metrics_registry::sample> out;
      for (const auto& st : now_states()) out.push_back({{{"source", st.source}}, static_cast<double>(st.failures)});
      return out;
    });
  }

  std::string prefix_;
  std::map<std::string, state> sources_;
  std::int64_t overlap_ms_ = 0;
  msg::json_decoder decoder_;
  std::unique_ptr<kafka::follower> reports_;  // assign()-based reader of <prefix>reports
  freshness_book freshness_;                  // before server_: its thread reads the book until server_ is gone
  job_book jobs_;                             // likewise
  std::int64_t next_judged_ = 0;
  control::server server_;
};

}  // namespace

std::unique_ptr<pipeline::actor> make_scheduler(const pipeline::actor_context& ctx) {
  return std::make_unique<scheduler_actor>(ctx);
}

}  // namespace ctk::scheduler
