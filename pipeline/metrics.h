// Counters and gauges in the Prometheus text format, served over HTTP
// (cpp-httplib) at /metrics. Counters are atomics: safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace ctk::pipeline {

class metrics_registry {
 public:
  // `labels` are added to every series, e.g. {{"actor","validator"},{"instance","pi1/validator/0"}}.
  explicit metrics_registry(std::vector<std::pair<std::string, std::string>> labels = {});

  // Returns a counter that lives as long as the registry.
  std::atomic<std::uint64_t>& counter(const std::string& name, const std::string& help);
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  // A counter another component keeps (its own atomic), read at each
  // scrape: exposed as a counter, so its `_total` name is right.
  void counter_fn(const std::string& name, const std::string& help, std::function<double()> read);
  std::string render() const;

 private:
  struct counter_entry {
    std::string name, help;
    std::atomic<std::uint64_t> value{0};
  };
  struct gauge_entry {
    std::string name, help;
    std::function<double()> read;
    const char* type = "gauge";
  };
  std::string label_text_;
  mutable std::mutex mu_;
  std::deque<counter_entry> counters_;  // deque: stable addresses
  std::vector<gauge_entry> gauges_;
};

// Serves GET /metrics (and /healthz) on bind:port; port 0 picks a free one.
class metrics_server {
 public:
  metrics_server(const metrics_registry& reg, std::function<bool()> healthy = {});
  ~metrics_server();
  bool start(const std::string& bind, int port, std::string& err);
  int port() const { return port_; }

 private:
  const metrics_registry& reg_;
  std::function<bool()> healthy_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace ctk::pipeline
