#include "pipeline/metrics.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cmath>

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

std::string label_text(const label_set& labels) {
  std::string s;
  for (const auto& [k, v] : labels) {
    if (!s.empty()) s += ',';
    s += k + "=\"" + escape_label(v) + "\"";
  }
  return s;
}

std::string number(double v) {  // the shortest text that reads back as v
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char num[64];
  auto r = std::to_chars(num, num + sizeof num, v);
  return std::string(num, r.ptr);
}

std::string braces(const std::string& a, const std::string& b) {
  if (a.empty() && b.empty()) return {};
  return "{" + a + (a.empty() || b.empty() ? "" : ",") + b + "}";
}
}  // namespace

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void histogram::observe(double v) {
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1);
  sum_.fetch_add(v);
  count_.fetch_add(1);
}

void histogram::render(const std::string& name, const std::string& labels, std::string& out) const {
  std::uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load();
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + braces(labels, "") + " " + number(sum_.load()) + "\n";
  out += name + "_count" + braces(labels, "") + " " + std::to_string(count_.load()) + "\n";
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

metrics_registry::metrics_registry(label_set labels) : base_labels_(label_text(labels)) {}

metrics_registry::family& metrics_registry::find(const std::string& name, const std::string& help, const char* type) {
  for (auto& f : families_)
    if (f.name == name) return f;
  auto& f = families_.emplace_back();
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

metrics_registry::child& metrics_registry::find_child(family& f, const label_set& labels) {
  std::string text = label_text(labels);
  for (auto& c : f.children)
    if (c.labels == text) return c;
  auto& c = f.children.emplace_back();
  c.labels = std::move(text);
  return c;
}

std::atomic<std::uint64_t>& metrics_registry::counter(const std::string& name, const std::string& help,
                                                      const label_set& labels) {
  std::lock_guard lock(mu_);
  return find_child(find(name, help, "counter"), labels).value;
}

std::atomic<std::uint64_t>& metrics_registry::seconds_counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  auto& f = find(name, help, "counter");
  f.scale = 1e-6;
  return find_child(f, {}).value;
}

histogram& metrics_registry::histo(const std::string& name, const std::string& help, const label_set& labels,
                                   std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& c = find_child(find(name, help, "histogram"), labels);
  if (!c.hist) c.hist = std::make_unique<histogram>(std::move(bounds));
  return *c.hist;
}

void metrics_registry::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  gauge_set(name, help, [read = std::move(read)] { return std::vector<sample>{{{}, read()}}; });
}

void metrics_registry::counter_fn(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  auto& f = find(name, help, "counter");
  f.read = [read = std::move(read)] { return std::vector<sample>{{{}, read()}}; };
}

void metrics_registry::gauge_set(const std::string& name, const std::string& help,
                                 std::function<std::vector<sample>()> read) {
  std::lock_guard lock(mu_);
  find(name, help, "gauge").read = std::move(read);
}

std::string metrics_registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& c : f.children) {
      const std::string labels = base_labels_ + (base_labels_.empty() || c.labels.empty() ? "" : ",") + c.labels;
      if (c.hist) {
        c.hist->render(f.name, labels, out);
      } else {
        const std::uint64_t v = c.value.load();
        out +=
            f.name + braces(labels, "") + " " + (f.scale == 1 ? std::to_string(v) : number(double(v) * f.scale)) + "\n";
      }
    }
    if (f.read)
      for (const auto& s : f.read())
        out += f.name + braces(base_labels_, label_text(s.labels)) + " " + number(s.value) + "\n";
  }
  return out;
}

metrics_server::metrics_server(const metrics_registry& reg, std::function<bool()> ready)
    : reg_(reg), ready_(std::move(ready)), server_(std::make_unique<httplib::Server>()) {
  // cpp-httplib's default also sets SO_REUSEPORT, with which a second
  // process binds a port already served and takes half its scrapes.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

void stop_http_server(httplib::Server& server, const std::atomic<bool>& returned) {
  while (!server.is_running() && !returned.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server.stop();
}

metrics_server::~metrics_server() {
  if (thread_.joinable()) {
    stop_http_server(*server_, returned_);
    thread_.join();
  }
}

bool metrics_server::start(const std::string& bind, int port, std::string& err) {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(reg_.render(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz",
               [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = !ready_ || ready_();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ready\n" : "not ready\n", "text/plain");
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port(bind.c_str());
  } else {
    port_ = server_->bind_to_port(bind.c_str(), port) ? port : -1;
  }
  if (port_ <= 0) {
    err = "cannot bind metrics endpoint " + bind + ":" + std::to_string(port) + " (another process holds it?)";
    return false;
  }
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    returned_.store(true);
  });
  return true;
}

}  // namespace ctk::pipeline
