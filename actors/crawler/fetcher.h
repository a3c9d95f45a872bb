// The crawler's HTTP fetcher: libcurl's multi interface, many requests in
// flight on one thread, polite per host.
//
//   - per-host token bucket (requests/s) and in-flight cap, plus a cap for
//     the whole process;
//   - a host answering 429/503 with Retry-After is left alone for that long
//     (every request to it waits, not only the one that got the answer);
//     Upbit's `Remaining-Req: group=…; sec=N` with N = 0 holds the host
//     until the next second;
//   - retryable failures (connect errors, timeouts, a cut body, 408, 425,
//     429, 5xx) are retried `retries` times with exponential backoff and
//     full jitter; others (4xx, a body over the size cap, too many
//     redirects) fail at once;
//   - connect and total timeouts, gzip/deflate, redirects (http/https only,
//     capped), conditional GET (ETag / Last-Modified remembered per URL),
//     a response size cap, the configured User-Agent; an `Origin` header
//     is never sent to Upbit (it puts the caller on a 1-per-10-s limit).
//
// In replay mode every request goes to the replay server as
// http://127.0.0.1:PORT/{host}{path}?{query}; rate limits and everything
// else still apply per original host.
//
// Threading: one fetcher per thread; callbacks run inside run().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/settings.h"

namespace ctk::crawler {

using header_map = std::map<std::string, std::string>;  // names in lower case

// The fetcher's settings are cfg::crawler_settings (config/settings.h):
// user_agent, max_body_bytes, connect_timeout, max_redirects,
// max_connections_per_host, max_connections, backoff_initial,
// backoff_max, retry_after_max, replay.
using fetch_options = cfg::crawler_settings;

struct request {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  int timeout_ms = 10'000;
  int retries = 3;
  double rate_per_s = 1.0;  // the host's bucket follows the latest request naming the host
  int max_connections = 0;  // per host; 0: fetch_options.max_connections_per_host
  bool conditional = true;  // send If-None-Match / If-Modified-Since when known
};

struct response {
  std::string url;  // as requested (the original URL, also in replay mode)
  long status = 0;  // 0: no HTTP answer
  header_map headers;
  std::string body;
  std::string error;          // empty: an HTTP answer arrived (status may still be an error)
  bool not_modified = false;  // 304 to a conditional request: nothing new
  int attempts = 0;
  double seconds = 0;  // from submit to the final answer, retries and waits included

  bool ok() const { return error.empty() && ((status >= 200 && status < 300) || not_modified); }
  // One line for logs and dead letters: "HTTP 503 after 4 attempts" / "timeout after ...".
  std::string describe() const;
};

struct fetch_stats {
  std::atomic<std::uint64_t> requests{0};  // HTTP exchanges started, retries included
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> failures{0};  // requests given up on
  std::atomic<std::uint64_t> not_modified{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> throttled{0};  // Retry-After / Remaining-Req holds
};

class fetcher {
 public:
  using callback = std::function<void(response&&)>;

  explicit fetcher(fetch_options o);
  ~fetcher();
  fetcher(const fetcher&) = delete;
  fetcher& operator=(const fetcher&) = delete;

  // Queues a request; `cb` runs inside run() with the final answer.
  void submit(request r, callback cb);
  // Runs until nothing is queued, waiting or in flight (callbacks may
  // submit more). false: `stop` was set (the rest is dropped, unanswered).
  bool run(const std::atomic<bool>* stop = nullptr);

  const fetch_stats& stats() const { return stats_; }
  const fetch_options& options() const { return opt_; }
  // Where a URL is really sent (the replay rewrite), "" if it is not http(s).
  std::string target_url(const std::string& url) const;

 private:
  struct impl;
  fetch_options opt_;
  fetch_stats stats_;
  std::unique_ptr<impl> impl_;
};

// Seconds from a Retry-After value (delta-seconds or an HTTP date); -1 if unreadable.
long parse_retry_after(const std::string& v, long now_epoch_s);
// `sec` of Upbit's Remaining-Req ("group=default; min=1800; sec=29"); -1 if absent.
int remaining_req_sec(const std::string& v);
// The lower-cased host of an http(s) URL, "" if it has none.
std::string url_host(const std::string& url);

}  // namespace ctk::crawler
