// The request side of `cointicker serve`: refusals (status, message, the
// parameter at fault), checked query parameters, and the reply cache.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <regex>
#include <string>
#include <unordered_map>

#include "actors/validator/normalize.h"

namespace ctk::serve {

// A request that cannot be answered: the status and what the client reads.
struct refusal {
  int status;
  std::string error, parameter;
};

// Query parameters, checked: each getter throws a refusal naming the parameter.
class params {
 public:
  params(const httplib::Request& r, int page_max) : r_(r), page_max_(page_max) {}

  std::string text(const std::string& name, std::size_t max_len, const std::regex* pattern = nullptr) const {
    if (!r_.has_param(name)) return {};
    std::string v = r_.get_param_value(name);
    if (v.size() > max_len) throw refusal{400, name + " is longer than " + std::to_string(max_len), name};
    if (pattern && !v.empty() && !std::regex_match(v, *pattern))
      throw refusal{400, name + " '" + v.substr(0, 40) + "' is not valid", name};
    return v;
  }
  std::string one_of(const std::string& name, std::initializer_list<const char*> allowed) const {
    std::string v = text(name, 32);
    if (v.empty()) return v;
    for (const char* a : allowed)
      if (v == a) return v;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    throw refusal{400, name + " must be one of " + list, name};
  }
  std::int64_t integer(const std::string& name, std::int64_t def, std::int64_t lo, std::int64_t hi) const {
    if (!r_.has_param(name)) return def;
    const std::string v = r_.get_param_value(name);
    std::size_t used = 0;
    std::int64_t x = 0;
    try {
      x = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v.size() || x < lo || x > hi)
      throw refusal{400, name + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi),
                    name};
    return x;
  }
  std::int64_t limit(std::int64_t def) const {
    return integer("limit", std::min<std::int64_t>(def, page_max_), 1, page_max_);
  }
  // A time in any of the validator's formats (ISO-8601, epoch ms, ...); UTC ISO out.
  std::string time(const std::string& name) const {
    const std::string v = text(name, 64);
    if (v.empty()) return v;
    std::string why;
    auto t = validator::parse_time_ms(v, "UTC", why);
    if (!t) throw refusal{400, name + ": " + why, name};
    return validator::format_utc_ms(*t);
  }

 private:
  const httplib::Request& r_;
  int page_max_;
};

// Answers of GETs by URL for api.cache_ttl: a dashboard polls the same few
// URLs from every open browser, and the data changes at crawl pace. When an
// answer expires, one request asks the database again while the others get
// the expired answer meanwhile: without that, every request arriving during
// the refresh asked too (measured: p99 1.3 s for the markets endpoint at 50
// connections, each expiry a storm of 12 ms queries through 4 connections).
class reply_cache {
 public:
  explicit reply_cache(int ttl_ms) : ttl_(std::chrono::milliseconds(ttl_ms)) {}
  // True: `res` is the answer. False: the caller asks the database and
  // then calls put() (also when that fails, to end its refresh).
  bool get(const std::string& key, httplib::Response& res) {
    if (ttl_.count() == 0) return false;
    std::lock_guard l(m_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    entry& e = it->second;
    if (e.expires < std::chrono::steady_clock::now() && !e.refreshing) {
      e.refreshing = true;  // this caller refreshes; the others keep the old answer meanwhile
      return false;
    }
    res.status = 200;
    res.set_content(e.body, "application/json");
    return true;
  }
  void put(const std::string& key, const httplib::Response& res) {
    if (ttl_.count() == 0) return;
    std::lock_guard l(m_);
    if (res.status != 200) {
      if (auto it = entries_.find(key); it != entries_.end()) it->second.refreshing = false;
      return;
    }
    if (entries_.size() >= 1000) entries_.clear();  // bounded; many distinct URLs are rare
    entries_[key] = {std::chrono::steady_clock::now() + ttl_, res.body, false};
  }

 private:
  struct entry {
    std::chrono::steady_clock::time_point expires;
    std::string body;
    bool refreshing = false;
  };
  std::chrono::milliseconds ttl_;
  std::mutex m_;
  std::unordered_map<std::string, entry> entries_;
};

}  // namespace ctk::serve
