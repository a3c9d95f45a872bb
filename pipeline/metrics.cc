#include "pipeline/metrics.h"

#include <httplib.h>

#include <cstdio>

namespace ctk::pipeline {

namespace {
std::string escape_label(const std::string& v) {
  std::string s;
  for (char c : v) {
    if (c == '\\' || c == '"') s += '\\';
    if (c == '\n') {
      s += "\\n";
      continue;
    }
    s += c;
  }
  return s;
}
}  // namespace

metrics_registry::metrics_registry(std::vector<std::pair<std::string, std::string>> labels) {
  for (const auto& [k, v] : labels) {
    label_text_ += label_text_.empty() ? "{" : ",";
    label_text_ += k + "=\"" + escape_label(v) + "\"";
  }
  if (!label_text_.empty()) label_text_ += "}";
}

std::atomic<std::uint64_t>& metrics_registry::counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  for (auto& c : counters_)
    if (c.name == name) return c.value;
  auto& c = counters_.emplace_back();
  c.name = name;
  c.help = help;
  return c.value;
}

void metrics_registry::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  gauges_.push_back({name, help, std::move(read)});
}

void metrics_registry::counter_fn(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  gauges_.push_back({name, help, std::move(read), "counter"});
}

std::string metrics_registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  char num[64];
  for (const auto& c : counters_) {
    out += "# HELP " + c.name + " " + c.help + "\n# TYPE " + c.name + " counter\n";
    out += c.name + label_text_ + " " + std::to_string(c.value.load()) + "\n";
  }
  for (const auto& g : gauges_) {
    out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " " + g.type + "\n";
    std::snprintf(num, sizeof num, "%.17g", g.read());
    out += g.name + label_text_ + " " + num + "\n";
  }
  return out;
}

metrics_server::metrics_server(const metrics_registry& reg, std::function<bool()> healthy)
    : reg_(reg), healthy_(std::move(healthy)), server_(std::make_unique<httplib::Server>()) {}

metrics_server::~metrics_server() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

bool metrics_server::start(const std::string& bind, int port, std::string& err) {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(reg_.render(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = !healthy_ || healthy_();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "unhealthy\n", "text/plain");
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port(bind.c_str());
  } else {
    port_ = server_->bind_to_port(bind.c_str(), port) ? port : -1;
  }
  if (port_ <= 0) {
    err = "cannot bind metrics endpoint " + bind + ":" + std::to_string(port);
    return false;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return true;
}

}  // namespace ctk::pipeline
