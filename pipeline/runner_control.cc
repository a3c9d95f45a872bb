// The runner's control plane (pipeline/README.md "The control plane"):
// heartbeats and commands over ZeroMQ, pause and resume, and whether a
// broker answers.
#include <spdlog/spdlog.h>

#include "config/loader.h"
#include "pipeline/process.h"
#include "pipeline/runner.h"

extern char** environ;

namespace ctk::pipeline {

using clock = std::chrono::steady_clock;

void runner::start_control() {
  if (rc_.control.router.empty()) return;
  agent_ = std::make_unique<control::agent>(
      rc_.control, rc_.identity,
      [this] {
        control::snapshot s;
        s.state = stop_->load()             ? "draining"
                  : !connected_.load()      ? "disconnected"
                  : pause_requested_.load() ? "paused"
                                            : "running";
        s.consumed = consumed_.load();
        s.produced = transport_->acked();
        s.lag = lag_.load();
        s.dead_letters = dead_lettered_.load();
        s.rss_bytes = static_cast<std::int64_t>(rss_bytes());
        s.restarts = rc_.restarts;
        s.metrics_port = metrics_port();
        s.metrics_port_wanted = rc_.metrics_port;
        const node_reading n = node_meter_.read();
        s.node = {n.cpu_pct,          n.load1,          n.mem_total_bytes, n.mem_available_bytes, n.disk_path,
                  n.disk_total_bytes, n.disk_free_bytes};
        for (auto& [source, ms] : actor_.stored_marks()) s.stored.push_back({std::move(source), ms});
        return s;
      },
      [this](const control::command& c) { on_control(c); });
  agent_->start();
}

// The lag is for status, heartbeats and /metrics, which nobody reads ten times a
// second; and librdkafka answers the assignment it needs on its main thread,
// which an idle actor would otherwise wake at every loop.
void runner::update_lag() {
  const auto now = clock::now();
  if (now < next_lag_) return;
  next_lag_ = now + std::chrono::milliseconds(500);
  lag_.store(transport_->lag());
}

void runner::check_brokers() {
  if (!transport_->brokers_down()) {
    connected_.store(true);
    return;
  }
  // The client keeps reconnecting by itself; a probe only tells when it has.
  const auto now = clock::now();
  if (now < next_probe_) return;
  next_probe_ = now + std::chrono::seconds(1);
  const bool up = transport_->probe_brokers(200);
  if (connected_.exchange(up) != up) {
    if (up)
      spdlog::info("broker reachable again");
    else
      spdlog::error("no broker reachable: status and /healthz say disconnected until one answers");
  }
}

// Called on the control agent's thread: only atomics and thread-safe calls.
void runner::on_control(const control::command& c) {
  if (c.cmd == "pause") {
    pause_requested_ = true;
  } else if (c.cmd == "resume") {
    pause_requested_ = false;
  } else if (c.cmd == "drain") {
    request_stop();  // as SIGTERM: finish the batch, commit, leave the group, exit 0
  } else if (c.cmd == "stop") {
    spdlog::warn("control: stop: exiting now; uncommitted input is redelivered to the group");
    spdlog::default_logger()->flush();
    std::_Exit(130);  // as a second Ctrl-C
  } else if (c.cmd == "log-level") {
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(spdlog::level::from_str(c.arg)); });
  } else if (c.cmd == "reload") {
    if (rc_.config_dir.empty()) return;
    cfg::loaded_config fresh;
    auto errors = cfg::load_config(rc_.config_dir, fresh, environ);
    if (!errors.empty()) {
      spdlog::error("reload: {} config error(s), nothing changed; first: {}", errors.size(),
                    errors.front().to_string());
      return;
    }
    // What changes live (docs: pipeline/README.md): the log level. The rest
    // (topics, batching, sources, stores) takes a drain and a restart.
    const auto level = spdlog::level::from_str(fresh.cluster.runtime.log_level);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
    spdlog::info("reload: log level {}; other settings apply at the next start", fresh.cluster.runtime.log_level);
  }
}

// On the loop's thread: hold or release every assigned partition. The loop
// keeps polling while held (rebalances, heartbeats to the group); partitions
// assigned meanwhile are held as they are assigned (before any fetch).
void runner::apply_control() {
  const bool want = pause_requested_.load();
  if (want == transport_->held()) return;
  transport_->hold(want);
  const auto n = transport_->assignment().size();
  if (want)
    spdlog::info("paused: consumption of {} partitions stopped (control)", n);
  else
    spdlog::info("resumed: consuming {} partitions again (control)", n);
}

}  // namespace ctk::pipeline
