#include "actors/crawler/replay_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "messages/text.h"
#include "pipeline/metrics.h"

namespace ctk::crawler {

namespace {

std::string where(const std::string& file, const YAML::Node& n) {
  const auto m = n.Mark();
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

std::string content_type_for(const std::string& file) {
  if (file.ends_with(".json")) return "application/json";
  if (file.ends_with(".xml") || file.ends_with(".rss")) return "application/rss+xml; charset=utf-8";
  if (file.ends_with(".atom")) return "application/atom+xml; charset=utf-8";
  if (file.ends_with(".html") || file.ends_with(".htm")) return "text/html; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

namespace {

// One response of a route in routes.yaml.
bool parse_response(const std::string& dir, const std::string& file, const YAML::Node& x, replay_response& resp,
                    std::string& err) {
  for (auto it = x.begin(); it != x.end(); ++it) {
    const std::string k = it->first.Scalar();
    if (k != "status" && k != "headers" && k != "body" && k != "body_file" && k != "delay_ms" && k != "fault") {
      err = where(file, it->first) + ": unknown key '" + k + "' (status, headers, body, body_file, delay_ms, fault)";
      return false;
    }
  }
  if (x["status"]) resp.status = x["status"].as<int>();
  if (resp.status < 100 || resp.status > 599) {
    err = where(file, x) + ": status must be 100..599";
    return false;
  }
  std::string ctype;
  if (x["headers"]) {
    for (auto h = x["headers"].begin(); h != x["headers"].end(); ++h) {
      resp.headers.emplace_back(h->first.as<std::string>(), h->second.as<std::string>());
      if (text::lower(h->first.as<std::string>()) == "content-type") ctype = h->second.as<std::string>();
    }
  }
  if (x["body"]) resp.body = x["body"].as<std::string>();
  if (x["body_file"]) {
    const std::string bf = x["body_file"].as<std::string>();
    std::ifstream in(std::filesystem::path(dir) / bf, std::ios::binary);
    if (!in) {
      err = where(file, x["body_file"]) + ": cannot read body_file " + bf;
      return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    resp.body = ss.str();
    if (ctype.empty()) resp.headers.emplace_back("Content-Type", content_type_for(bf));
  }
  if (x["delay_ms"]) resp.delay_ms = x["delay_ms"].as<int>();
  if (x["fault"]) {
    resp.fault = x["fault"].as<std::string>();
    if (resp.fault == "none") resp.fault.clear();
    if (!resp.fault.empty() && resp.fault != "truncate" && resp.fault != "reset") {
      err = where(file, x["fault"]) + ": fault must be truncate, reset or none";
      return false;
    }
  }
  return true;
}

// One route: host, path, an optional query, its responses in order.
bool parse_route(const std::string& dir, const std::string& file, const YAML::Node& r, replay_route& route,
                 std::string& err) {
  for (auto it = r.begin(); it != r.end(); ++it) {
    const std::string k = it->first.Scalar();
    if (k != "host" && k != "path" && k != "query" && k != "responses") {
      err = where(file, it->first) + ": unknown key '" + k + "' (host, path, query, responses)";
      return false;
    }
  }
  if (!r["host"] || !r["path"] || !r["responses"] || !r["responses"].IsSequence() || r["responses"].size() == 0) {
    err = where(file, r) + ": a route needs host, path and a non-empty responses list";
    return false;
  }
  route.host = text::lower(r["host"].as<std::string>());
  route.path = r["path"].as<std::string>();
  if (r["query"]) {
    if (!r["query"].IsMap()) {
      err = where(file, r["query"]) + ": query must be a mapping of parameter: value";
      return false;
    }
    for (auto q = r["query"].begin(); q != r["query"].end(); ++q)
      route.query[q->first.as<std::string>()] = q->second.as<std::string>();
  }
  for (const auto& x : r["responses"]) {
    replay_response resp;
    if (!parse_response(dir, file, x, resp, err)) return false;
    route.responses.push_back(std::move(resp));
  }
  return true;
}

// The most specific of the candidate routes (host and path equal): every
// query parameter it names present with that value; more named parameters
// win. -1: none.
int best_route(const std::vector<replay_route>& routes, const std::vector<std::size_t>& candidates,
               const httplib::Params& params) {
  int best = -1;
  std::size_t best_q = 0;
  for (std::size_t i : candidates) {
    const auto& r = routes[i];
    bool match = true;
    for (const auto& [k, v] : r.query) {
      auto range = params.equal_range(k);
      bool found = false;
      for (auto it = range.first; it != range.second; ++it) found = found || it->second == v;
      match = match && found;
    }
    if (match && (best < 0 || r.query.size() > best_q)) {
      best = static_cast<int>(i);
      best_q = r.query.size();
    }
  }
  return best;
}

// A recorded response as it was: its status, headers and bytes; 304 to a
// conditional request that its ETag or Last-Modified answers; a fault
// (truncate, reset) cuts the body short.
void answer(const replay_response& r, const httplib::Request& req, httplib::Response& res) {
  res.status = r.status;
  std::string ctype = "application/octet-stream";
  std::string etag, last_modified;
  for (const auto& [k, v] : r.headers) {
    const std::string lk = text::lower(k);
    if (lk == "content-type")
      ctype = v;
    else
      res.set_header(k.c_str(), v);
    if (lk == "etag") etag = v;
    if (lk == "last-modified") last_modified = v;
  }
  const bool fresh = (!etag.empty() && req.get_header_value("If-None-Match") == etag) ||
                     (!last_modified.empty() && req.get_header_value("If-Modified-Since") == last_modified);
  if (fresh && r.status == 200) {
    res.status = 304;
  } else if (r.fault == "truncate" || r.fault == "reset") {
    // Content-Length announces the whole body; half of it (truncate) or
    // none of it (reset) is sent before the connection is dropped.
    const std::string* body = &r.body;
    const bool half = r.fault == "truncate";
    res.set_content_provider(body->size(), ctype, [body, half](std::size_t, std::size_t, httplib::DataSink& sink) {
      if (half) sink.write(body->data(), body->size() / 2);
      return false;
    });
  } else if (!r.body.empty()) {
    // The recorded bytes as they are: a provider with a known length is
    // never re-compressed by httplib (set_content would gzip or brotli the
    // body for a client that accepts it, which costs ~15 ms per 40 KB page
    // and is not what the recording says).
    const std::string* body = &r.body;
    res.set_content_provider(body->size(), ctype, [body](std::size_t off, std::size_t len, httplib::DataSink& sink) {
      return sink.write(body->data() + off, len);
    });
  }
}

std::string yaml_error(const std::string& file, const YAML::Exception& ex) {
  return file + ":" + std::to_string(ex.mark.line + 1) + ":" + std::to_string(ex.mark.column + 1) + ": " + ex.msg;
}

}  // namespace

std::unique_ptr<replay_server> replay_server::load(const std::string& dir, std::string& err) {
  const std::string file = dir + "/routes.yaml";
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    err = file + ": cannot open the file";
    return nullptr;
  } catch (const YAML::ParserException& ex) {
    err = yaml_error(file, ex);
    return nullptr;
  }
  std::vector<replay_route> routes;
  try {
    if (!root["routes"] || !root["routes"].IsSequence()) {
      err = file + ": expected `routes:` with a list of routes";
      return nullptr;
    }
    for (const auto& r : root["routes"]) {
      replay_route route;
      if (!parse_route(dir, file, r, route, err)) return nullptr;
      routes.push_back(std::move(route));
    }
  } catch (const YAML::Exception& ex) {
    err = yaml_error(file, ex);
    return nullptr;
  }
  return std::make_unique<replay_server>(std::move(routes));
}

struct replay_server::impl {
  httplib::Server svr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> returned{false};  // listen_after_bind() returned
};

replay_server::replay_server(std::vector<replay_route> routes)
    : routes_(std::move(routes)), next_(routes_.size(), 0), impl_(std::make_unique<impl>()) {
  for (std::size_t i = 0; i < routes_.size(); ++i) by_host_path_[routes_[i].host + " " + routes_[i].path].push_back(i);
}

replay_server::~replay_server() { stop(); }

std::vector<replay_hit> replay_server::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

bool replay_server::start(const std::string& bind, int port, std::string& err) {
  auto& svr = impl_->svr;
  // Every keep-alive connection holds a thread: enough for a crawler's 64
  // connections plus curl --parallel-max 32 side by side.
  svr.new_task_queue = [] { return new httplib::ThreadPool(128); };
  svr.set_keep_alive_max_count(1'000'000);
  svr.set_tcp_nodelay(true);  // headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms
  svr.set_keep_alive_timeout(10);
  svr.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    const int now_active = ++active_;
    for (int m = max_active_.load(); now_active > m && !max_active_.compare_exchange_weak(m, now_active);) {
    }
    struct leave {
      std::atomic<int>& a;
      ~leave() { --a; }
    } leave_guard{active_};
    // /{host}{path}
    std::string_view p(req.path);
    if (p.starts_with("/")) p.remove_prefix(1);
    const auto slash = p.find('/');
    const std::string host = text::lower(std::string(p.substr(0, slash)));
    const std::string path = slash == std::string_view::npos ? "/" : std::string(p.substr(slash));
    std::string query;
    for (const auto& [k, v] : req.params) query += (query.empty() ? "" : "&") + k + "=" + v;
    static const std::vector<std::size_t> none;
    auto cand = by_host_path_.find(host + " " + path);
    const int best = best_route(routes_, cand == by_host_path_.end() ? none : cand->second, req.params);
    // Recorded on arrival (status filled in when known), so that a test
    // sees requests whose client gave up before the answer.
    replay_hit hit{host, path, query, 0, std::chrono::steady_clock::now(), {}};
    for (const auto& [k, v] : req.headers) hit.headers[text::lower(k)] = v;
    std::size_t hit_index;
    {
      std::lock_guard lock(mu_);
      hit_index = hits_.size();
      hits_.push_back(std::move(hit));
    }
    auto set_status = [&](int status) {
      std::lock_guard lock(mu_);
      hits_[hit_index].status = status;
    };
    if (best < 0) {
      spdlog::warn("replay-server: no route for https://{}{}{}{}", host, path, query.empty() ? "" : "?", query);
      res.status = 404;
      res.set_content("no route for " + host + path + "\n", "text/plain");
      set_status(404);
      return;
    }
    const replay_response* r;
    {
      std::lock_guard lock(mu_);
      auto& n = next_[best];
      const auto& all = routes_[best].responses;
      r = &all[std::min(n, all.size() - 1)];
      ++n;
    }
    for (int waited = 0; waited < r->delay_ms && !impl_->stopping; waited += 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, r->delay_ms - waited)));
    answer(*r, req, res);
    set_status(res.status);
  });
  // httplib listens with a backlog of 5: 32 clients connecting at once lose
  // SYNs and wait a second for the retransmit. Keep the listening socket and
  // widen its backlog after the bind (listen() again does that on Linux).
  int listen_fd = -1;
  svr.set_socket_options([&listen_fd](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  port_ = port == 0 ? svr.bind_to_any_port(bind) : (svr.bind_to_port(bind, port) ? port : -1);
  if (listen_fd >= 0 && port_ > 0) ::listen(listen_fd, 1024);
  if (port_ <= 0) {
    err = "cannot bind " + bind + ":" + std::to_string(port);
    port_ = 0;
    return false;
  }
  host_ = bind == "0.0.0.0" || bind.empty() ? "127.0.0.1" : bind;
  impl_->thread = std::thread([this] {
    impl_->svr.listen_after_bind();
    impl_->returned.store(true);
  });
  return true;
}

void replay_server::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->stopping = true;
  pipeline::stop_http_server(impl_->svr, impl_->returned);
  impl_->thread.join();
}

}  // namespace ctk::crawler
