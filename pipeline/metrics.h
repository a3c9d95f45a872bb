// Counters, gauges and histograms in the Prometheus text format, served
// over HTTP (cpp-httplib) at /metrics. Counters and histograms are atomics:
// safe from any thread.
//
// Names follow Prometheus's rules (`promtool check metrics` passes on every
// actor's endpoint): base units (seconds, bytes), `_total` on counters
// only. Every series carries the process's own labels (`node`, `actor`,
// `identity`; never `instance`, which Prometheus sets to the scrape
// target); a family may add its own (`source`, `status`, `rule`).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace ctk::pipeline {

using label_set = std::vector<std::pair<std::string, std::string>>;

// Observations counted into fixed buckets (upper bounds, ascending).
class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  // Appends the _bucket, _sum and _count lines; `labels` is the inside of {…}.
  void render(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative; +Inf last
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 1 ms to 60 s.
std::vector<double> latency_buckets();

class metrics_registry {
 public:
  // `labels` are added to every series (actor_labels() in runner.h).
  explicit metrics_registry(label_set labels = {});

  // A counter that lives as long as the registry; the same name and labels
  // give the same counter.
  std::atomic<std::uint64_t>& counter(const std::string& name, const std::string& help, const label_set& labels = {});
  // Time counted in microseconds (phase_timer), exposed in seconds.
  std::atomic<std::uint64_t>& seconds_counter(const std::string& name, const std::string& help);
  histogram& histo(const std::string& name, const std::string& help, const label_set& labels = {},
                   std::vector<double> bounds = latency_buckets());
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  // A counter another component keeps (its own atomic), read at each scrape.
  void counter_fn(const std::string& name, const std::string& help, std::function<double()> read);
  // A gauge family whose series are read at each scrape (one per source, say).
  struct sample {
    label_set labels;
    double value = 0;
  };
  void gauge_set(const std::string& name, const std::string& help, std::function<std::vector<sample>()> read);

  std::string render() const;

 private:
  struct child {
    std::string labels;  // extra labels, rendered: source="upbit",status="ok"
    std::atomic<std::uint64_t> value{0};
    std::unique_ptr<histogram> hist;
  };
  struct family {
    std::string name, help, type;
    double scale = 1;            // seconds_counter: 1e-6
    std::deque<child> children;  // deque: stable addresses
    std::function<std::vector<sample>()> read;
  };
  family& find(const std::string& name, const std::string& help, const char* type);
  child& find_child(family& f, const label_set& labels);
  std::string base_labels_;
  mutable std::mutex mu_;
  std::deque<family> families_;
};

// Stops a server whose listen_after_bind() runs (or is about to run) on
// another thread; `returned` is set by that thread when it returned.
// cpp-httplib 0.11's Server::stop() does nothing before the listen has
// begun, and the listen that follows never ends: a runner stopped within a
// millisecond of its start hung in its destructor. So: wait until it
// listens (or has given up), then stop it.
void stop_http_server(httplib::Server& server, const std::atomic<bool>& returned);

// Serves GET /metrics, /healthz (live) and /readyz on bind:port; port 0
// picks a free one. A port another process holds is an error (SO_REUSEADDR
// lets a restarted process rebind at once, but never shares a live port).
class metrics_server {
 public:
  metrics_server(const metrics_registry& reg, std::function<bool()> ready = {});
  ~metrics_server();
  bool start(const std::string& bind, int port, std::string& err);
  int port() const { return port_; }

 private:
  const metrics_registry& reg_;
  std::function<bool()> ready_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> returned_{false};
  int port_ = 0;
};

}  // namespace ctk::pipeline
