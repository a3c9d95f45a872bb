// The replay server: recorded source responses served over HTTP so that
// everything runs offline (`cointicker replay-server DIR`, `--replay DIR`).
//
// DIR/routes.yaml (see tests/fixtures/README.md):
//   routes:
//     - host: api.upbit.com            # the original URL's host
//       path: /v1/ticker/all           # exact path
//       query: {quote_currencies: KRW} # optional: these parameters must match
//       responses:                     # served in order; the last one repeats
//         - status: 200
//           headers: {Content-Type: application/json, ETag: '"v1"'}
//           body_file: upbit/ticker_all_1.json   # or body: "inline text"
//           delay_ms: 300              # optional latency
//           fault: truncate            # optional: truncate | reset | none
//
// A crawler in replay mode asks for http://ADDRESS:PORT/{host}{path}?{query}
// (ADDRESS: where the server is bound, 127.0.0.1 by default).
// A response carrying an ETag (or Last-Modified) answers 304 to a request
// whose If-None-Match (If-Modified-Since) matches it. Unmatched requests
// get 404 and a log line naming the URL.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ctk::crawler {

struct replay_response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int delay_ms = 0;
  std::string fault;  // "" | truncate | reset
};

struct replay_route {
  std::string host, path;
  std::map<std::string, std::string> query;
  std::vector<replay_response> responses;
};

// One request as the server saw it (tests measure spacing with these).
struct replay_hit {
  std::string host, path, query;
  int status = 0;
  std::chrono::steady_clock::time_point at;
  std::map<std::string, std::string> headers;  // the request's, names in lower case
};

class replay_server {
 public:
  // Reads DIR/routes.yaml and every body file; errors name file:line.
  static std::unique_ptr<replay_server> load(const std::string& dir, std::string& err);
  explicit replay_server(std::vector<replay_route> routes);
  ~replay_server();

  // Binds (port 0: a free one) and serves on a background thread.
  bool start(const std::string& bind, int port, std::string& err);
  void stop();
  int port() const { return port_; }
  // The bound address (loopback when bound to every address).
  std::string url() const { return "http://" + host_ + ":" + std::to_string(port_); }
  std::size_t routes() const { return routes_.size(); }

  std::vector<replay_hit> hits() const;
  // Most requests being answered at the same moment (tests of concurrency).
  int max_concurrent() const { return max_active_.load(); }

 private:
  struct impl;
  std::vector<replay_route> routes_;
  std::string host_ = "127.0.0.1";
  std::vector<std::size_t> next_;                                           // per route: the next response to serve
  std::unordered_map<std::string, std::vector<std::size_t>> by_host_path_;  // "host path" -> routes
  mutable std::mutex mu_;
  std::vector<replay_hit> hits_;
  int port_ = 0;
  std::atomic<int> active_{0}, max_active_{0};
  std::unique_ptr<impl> impl_;
  friend struct impl;
};

}  // namespace ctk::crawler
