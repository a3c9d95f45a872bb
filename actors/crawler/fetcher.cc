#include "actors/crawler/fetcher.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <random>
#include <unordered_map>

#include "messages/text.h"

namespace ctk::crawler {

namespace {

using clock_type = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

struct curl_global {
  curl_global() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

bool retryable_status(long s) {
  return s == 408 || s == 425 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

bool retryable_curl(CURLcode c) {
  switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:  // a cut gzip stream
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string response::describe() const {
  std::string s;
  if (!error.empty())
    s = error;
  else if (not_modified)
    s = "HTTP 304 (not modified)";
  else
    s = "HTTP " + std::to_string(status);
  if (attempts > 1) s += " after " + std::to_string(attempts) + " attempts";
  return s;
}

long parse_retry_after(const std::string& v, long now_epoch_s) {
  const std::string t(text::trim(v));
  if (t.empty()) return -1;
  if (std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return t.size() > 9 ? -1 : std::stol(t);
  const time_t when = curl_getdate(t.c_str(), nullptr);
  if (when < 0) return -1;
  return std::max<long>(0, static_cast<long>(when) - now_epoch_s);
}

int remaining_req_sec(const std::string& v) {
  // "group=default; min=1800; sec=29"
  std::size_t pos = 0;
  while (pos < v.size()) {
    std::size_t end = v.find(';', pos);
    if (end == std::string::npos) end = v.size();
    std::string part(text::trim(std::string_view(v).substr(pos, end - pos)));
    if (part.starts_with("sec=")) {
      const std::string n = part.substr(4);
      if (!n.empty() && n.size() < 9 && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::stoi(n);
      return -1;
    }
    pos = end + 1;
  }
  return -1;
}

std::string url_host(const std::string& url) {
  CURLU* u = curl_url();
  std::string host;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* h = nullptr;
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) host = text::lower(h);
    curl_free(h);
  }
  curl_url_cleanup(u);
  return host;
}

struct fetcher::impl {
  struct job {
    request req;
    callback cb;
    std::string host;
    int attempt = 0;
    clock_type::time_point submitted, not_before;
    CURL* easy = nullptr;
    curl_slist* hdrs = nullptr;
    response res;
    bool too_big = false;
    std::int64_t cap = 0;
  };
  struct host_state {
    double rate = 1, tokens = 1, burst = 1;
    clock_type::time_point refilled = clock_type::now();
    clock_type::time_point blocked_until{};
    int inflight = 0, max_conn = 1;
    std::deque<std::unique_ptr<job>> queue;
  };
  struct validators {
    std::string etag, last_modified;
  };

  fetcher& f;
  CURLM* multi = nullptr;
  std::vector<CURL*> spare;  // easy handles kept for reuse
  std::unordered_map<std::string, host_state> hosts;
  std::vector<std::unique_ptr<job>> delayed;  // waiting for a retry
  std::unordered_map<CURL*, std::unique_ptr<job>> running;
  std::unordered_map<std::string, validators> cache;  // conditional GET
  std::mt19937_64 rng{std::random_device{}()};
  std::size_t queued = 0;

  explicit impl(fetcher& owner) : f(owner) {
    static curl_global g;
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(f.opt_.max_connections));
  }
  ~impl() {
    for (auto& [easy, j] : running) {
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
      curl_slist_free_all(j->hdrs);
    }
    for (CURL* e : spare) curl_easy_cleanup(e);
    curl_multi_cleanup(multi);
  }

  static std::size_t on_body(char* p, std::size_t size, std::size_t n, void* ud) {
    auto* j = static_cast<job*>(ud);
    const std::size_t len = size * n;
    if (static_cast<std::int64_t>(j->res.body.size() + len) > j->cap) {
      j->too_big = true;
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    j->res.body.append(p, len);
    return len;
  }
  static std::size_t on_header(char* p, std::size_t size, std::size_t n, void* ud) {
    auto* j = static_cast<job*>(ud);
    std::string_view line(p, size * n);
    if (line.starts_with("HTTP/")) {
      j->res.headers.clear();  // a redirect or 100-continue: keep the last response's headers
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      std::string name = text::lower(std::string(line.substr(0, colon)));
      std::string value(text::trim(line.substr(colon + 1)));
      if (name == "content-length") {  // one allocation for the body, not a doubling series
        const long long n = std::atoll(value.c_str());
        if (n > 0 && n <= j->cap) j->res.body.reserve(static_cast<std::size_t>(n));
      }
      j->res.headers[std::move(name)] = std::move(value);
    }
    return size * n;
  }

  host_state& host_for(const job& j) {
    auto [it, fresh] = hosts.try_emplace(j.host);
    host_state& h = it->second;
    const double rate = j.req.rate_per_s > 0 ? j.req.rate_per_s : 1e9;
    if (fresh || h.rate != rate) {
      h.rate = rate;
      h.burst = std::max(1.0, rate * 0.1);  // slow hosts: strictly spaced; fast ones: 100 ms of burst
      if (fresh) h.tokens = 1;
    }
    h.max_conn = j.req.max_connections > 0 ? j.req.max_connections : f.opt_.max_connections_per_host;
    return h;
  }

  void enqueue(std::unique_ptr<job> j, bool front) {
    host_state& h = host_for(*j);
    ++queued;
    if (front)
      h.queue.push_front(std::move(j));
    else
      h.queue.push_back(std::move(j));
  }

  void start(std::unique_ptr<job> j) {
    CURL* e;
    if (!spare.empty()) {
      e = spare.back();
      spare.pop_back();
      curl_easy_reset(e);
    } else {
      e = curl_easy_init();
    }
    ++j->attempt;
    j->res.body.clear();
    j->res.headers.clear();
    j->res.status = 0;
    j->res.error.clear();
    j->too_big = false;
    j->cap = f.opt_.max_body_bytes;
    const std::string target = f.target_url(j->req.url);
    curl_easy_setopt(e, CURLOPT_URL, target.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, j.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &impl::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &impl::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j.get());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(j->req.timeout_ms));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(f.opt_.connect_timeout.ms));
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, f.opt_.max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(f.opt_.max_redirects));
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding this libcurl decodes
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(f.opt_.max_body_bytes));
    curl_easy_setopt(e, CURLOPT_USERAGENT, f.opt_.user_agent.c_str());
    curl_slist_free_all(j->hdrs);
    j->hdrs = nullptr;
    const bool upbit = j->host == "upbit.com" || j->host.ends_with(".upbit.com");
    for (const auto& [k, v] : j->req.headers) {
      if (upbit && text::lower(k) == "origin") continue;  // never: Upbit limits requests with an Origin to 1 per 10 s
      j->hdrs = curl_slist_append(j->hdrs, (k + ": " + v).c_str());
    }
    if (j->req.conditional) {
      if (auto it = cache.find(j->req.url); it != cache.end()) {
        if (!it->second.etag.empty())
          j->hdrs = curl_slist_append(j->hdrs, ("If-None-Match: " + it->second.etag).c_str());
        if (!it->second.last_modified.empty())
          j->hdrs = curl_slist_append(j->hdrs, ("If-Modified-Since: " + it->second.last_modified).c_str());
      }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
    j->easy = e;
    ++f.stats_.requests;
    curl_multi_add_handle(multi, e);
    running.emplace(e, std::move(j));
  }

  // Starts whatever the buckets and caps allow; returns the time until the
  // next queued request could start (or a long wait if nothing is queued).
  ms dispatch() {
    const auto now = clock_type::now();
    for (auto it = delayed.begin(); it != delayed.end();) {
      if ((*it)->not_before <= now) {
        enqueue(std::move(*it), true);
        it = delayed.erase(it);
      } else {
        ++it;
      }
    }
    ms wait{200};
    for (const auto& d : delayed) wait = std::min(wait, std::chrono::duration_cast<ms>(d->not_before - now) + ms(1));
    for (auto& [name, h] : hosts) {
      if (h.queue.empty()) continue;
      h.tokens = std::min(h.burst, h.tokens + std::chrono::duration<double>(now - h.refilled).count() * h.rate);
      h.refilled = now;
      if (h.blocked_until > now) {
        wait = std::min(wait, std::chrono::duration_cast<ms>(h.blocked_until - now) + ms(1));
        continue;
      }
      while (!h.queue.empty() && h.inflight < h.max_conn && static_cast<int>(running.size()) < f.opt_.max_connections &&
             h.tokens >= 1.0) {
        h.tokens -= 1.0;
        ++h.inflight;
        --queued;
        auto j = std::move(h.queue.front());
        h.queue.pop_front();
        start(std::move(j));
      }
      if (!h.queue.empty() && h.tokens < 1.0)
        wait = std::min(wait, ms(static_cast<long>(std::ceil((1.0 - h.tokens) / h.rate * 1000.0)) + 1));
    }
    return wait;
  }

  ms backoff(int attempt) {
    const double cap =
        std::min<double>(f.opt_.backoff_max.ms, f.opt_.backoff_initial.ms * std::pow(2.0, std::min(attempt - 1, 30)));
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return ms(static_cast<long>(cap * jitter(rng)));
  }

  // finish()'s verdict on a transfer that failed (no HTTP answer): the
  // error said, and whether to retry.
  bool judge_failure(job& j, CURLcode code) {
    if (j.too_big || code == CURLE_FILESIZE_EXCEEDED) {
      j.res.error = "body larger than crawler.max_body_bytes (" + std::to_string(f.opt_.max_body_bytes) + " bytes)";
      return false;
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      j.res.error = "timeout after " + std::to_string(j.req.timeout_ms) + " ms";
      return true;
    }
    j.res.error = std::string(curl_easy_strerror(code));
    return retryable_curl(code);
  }

  // finish()'s verdict on an HTTP answer: the host's rate budget
  // (Remaining-Req, Retry-After) noted, validators cached, and whether to
  // retry (after `wait` at least).
  bool judge_answer(job& j, host_state& h, clock_type::time_point now, ms& wait) {
    const long status = j.res.status;
    if (auto it = j.res.headers.find("remaining-req"); it != j.res.headers.end()) {
      if (remaining_req_sec(it->second) == 0) {  // this second's budget is spent
        h.blocked_until = std::max(h.blocked_until, now + ms(1000));
        ++f.stats_.throttled;
      }
    }
    if (status == 304 && j.req.conditional) {
      j.res.not_modified = true;
      ++f.stats_.not_modified;
      return false;
    }
    if (status >= 200 && status < 300) {
      auto et = j.res.headers.find("etag");
      auto lm = j.res.headers.find("last-modified");
      if (et != j.res.headers.end() || lm != j.res.headers.end()) {
        if (cache.size() > 10'000) cache.clear();
        auto& v = cache[j.req.url];
        v.etag = et != j.res.headers.end() ? et->second : "";
        v.last_modified = lm != j.res.headers.end() ? lm->second : "";
      }
      return false;
    }
    if (!retryable_status(status) && status != 418) return false;
    long ra = -1;
    if (auto it = j.res.headers.find("retry-after"); it != j.res.headers.end())
      ra = parse_retry_after(it->second, static_cast<long>(std::time(nullptr)));
    if (ra * 1000 > f.opt_.retry_after_max.ms) {
      j.res.error = "HTTP " + std::to_string(status) + " with Retry-After " + std::to_string(ra) +
                    " s, longer than crawler.retry_after_max (" + f.opt_.retry_after_max.text + ")";
      return false;
    }
    if (ra >= 0) {  // the host asked everyone to wait, not just this request
      wait = ms(ra * 1000);
      h.blocked_until = std::max(h.blocked_until, now + wait);
      ++f.stats_.throttled;
    }
    return status != 418;  // 418: Upbit's "blocked"; waiting out Retry-After is all we may do
  }

  void finish(CURL* e, CURLcode code) {
    auto node = running.extract(e);
    std::unique_ptr<job> j = std::move(node.mapped());
    curl_multi_remove_handle(multi, e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    spare.push_back(e);
    j->easy = nullptr;
    host_state& h = hosts[j->host];
    --h.inflight;
    const auto now = clock_type::now();
    j->res.url = j->req.url;
    j->res.attempts = j->attempt;
    f.stats_.bytes += j->res.body.size();

    ms wait{0};
    j->res.status = status;
    const bool retry = code != CURLE_OK ? judge_failure(*j, code) : judge_answer(*j, h, now, wait);
    if (retry && j->attempt <= j->req.retries) {
      ++f.stats_.retries;
      const ms delay = std::max(wait, backoff(j->attempt));
      spdlog::debug("fetch {}: {}; retry {}/{} in {} ms", j->req.url,
                    j->res.error.empty() ? "HTTP " + std::to_string(status) : j->res.error, j->attempt, j->req.retries,
                    delay.count());
      j->not_before = now + delay;
      delayed.push_back(std::move(j));
      return;
    }
    if (!j->res.ok()) ++f.stats_.failures;
    j->res.seconds = std::chrono::duration<double>(now - j->submitted).count();
    auto cb = std::move(j->cb);
    curl_slist_free_all(j->hdrs);
    j->hdrs = nullptr;
    cb(std::move(j->res));
  }
};

fetcher::fetcher(fetch_options o) : opt_(std::move(o)) {
  while (!opt_.replay.empty() && opt_.replay.back() == '/') opt_.replay.pop_back();
  impl_ = std::make_unique<impl>(*this);
}

fetcher::~fetcher() = default;

void fetcher::submit(request r, callback cb) {
  auto j = std::make_unique<impl::job>();
  j->host = url_host(r.url);
  j->req = std::move(r);
  j->cb = std::move(cb);
  j->submitted = clock_type::now();
  if (j->host.empty()) {  // not an http(s) URL: answer at once, nothing to fetch
    response res;
    res.url = j->req.url;
    res.error = "not an http(s) URL";
    ++stats_.failures;
    j->cb(std::move(res));
    return;
  }
  impl_->enqueue(std::move(j), false);
}

bool fetcher::run(const std::atomic<bool>* stop) {
  impl& m = *impl_;
  for (;;) {
    if (stop && stop->load()) return false;
    const ms wait = m.dispatch();
    if (m.running.empty() && m.queued == 0 && m.delayed.empty()) return true;
    int still = 0;
    curl_multi_perform(m.multi, &still);
    int left = 0;
    bool any = false;
    while (CURLMsg* msg = curl_multi_info_read(m.multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      any = true;
      m.finish(msg->easy_handle, msg->data.result);  // may submit more (callbacks)
    }
    if (any) continue;  // finished transfers may have freed capacity: dispatch again first
    curl_multi_poll(m.multi, nullptr, 0, static_cast<int>(std::max<long>(1, wait.count())), nullptr);
  }
}

std::string fetcher::target_url(const std::string& url) const {
  if (opt_.replay.empty()) return url;
  CURLU* u = curl_url();
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *host = nullptr, *path = nullptr, *query = nullptr;
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    out = opt_.replay + "/" + text::lower(host ? host : "") + (path ? path : "/");
    if (query) out += std::string("?") + query;
    curl_free(host);
    curl_free(path);
    curl_free(query);
  }
  curl_url_cleanup(u);
  return out;
}

}  // namespace ctk::crawler
